"""A show may require rotating ticket codes at its door (README "Rotating codes")

``shows.ticket_codes`` is ``STATIC`` (the signed code alone admits, the default) or ``ROTATING`` (the
door wants the signed code followed by a time-based code that changes every 15 s); with
``static_codes_allowed`` a rotating show still admits printed (static) tickets. ``rotation_key_sealed``
is the show's random 32-byte rotation key, sealed like the organisations' ticket keys (AES-256-GCM under
a key derived from TICKET_KEYS_SECRET, the show's id as associated data); made the first time the show
is switched to rotating codes and kept after, so fans' live tickets keep working if it is switched back.

Revision ID: 0024_rotating_codes
Revises: 0023_waitlist_closed
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_rotating_codes"
down_revision = "0023_waitlist_closed"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("shows", sa.Column("ticket_codes", sa.Text(), server_default="STATIC", nullable=False))
    op.add_column(
        "shows", sa.Column("static_codes_allowed", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.add_column("shows", sa.Column("rotation_key_sealed", sa.LargeBinary(), nullable=True))
    op.create_check_constraint("ticket_codes_known", "shows", "ticket_codes IN ('STATIC', 'ROTATING')")
    op.create_check_constraint(
        "rotating_has_key", "shows", "ticket_codes = 'STATIC' OR rotation_key_sealed IS NOT NULL"
    )


def downgrade():
    op.drop_constraint("rotating_has_key", "shows")
    op.drop_constraint("ticket_codes_known", "shows")
    op.drop_column("shows", "rotation_key_sealed")
    op.drop_column("shows", "static_codes_allowed")
    op.drop_column("shows", "ticket_codes")
