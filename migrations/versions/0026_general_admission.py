"""Standing sections: a venue seat may be a numbered admission place of a standing section

A standing section (README "General admission (standing)") is stored as ``capacity`` places, each an
ordinary row of ``venue_seats`` and ``show_seats`` with ``standing`` true, so that every rule about
seats (conditional updates, expiry, payment protection, booking, cancellation, blocks, tickets)
holds for them unchanged. ``ix_venue_seats_standing`` finds a venue's standing places by section in
place order, for a hold that names a quantity.

Revision ID: 0026_general_admission
Revises: 0025_access_codes
"""

import sqlalchemy as sa
from alembic import op

revision = "0026_general_admission"
down_revision = "0025_access_codes"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("venue_seats", sa.Column("standing", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.create_index(
        "ix_venue_seats_standing",
        "venue_seats",
        ["venue_id", "section", "ordinal"],
        postgresql_where=sa.text("standing"),
    )


def downgrade():
    op.drop_index("ix_venue_seats_standing", table_name="venue_seats")
    op.drop_column("venue_seats", "standing")
