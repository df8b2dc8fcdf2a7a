"""the lapsed-hold index covers unpaid holds only, so the hold statement cannot pick it

``ix_holds_expiry_active`` (every ACTIVE hold, by expiry) could serve any query on ACTIVE holds
as a full index scan. When the statistics said there were next to no ACTIVE holds (a fresh
database, or one analysed between sales), the planner chose it for the per-fan cap's sum and for
the lapsed-hold update inside the hold statement, and kept that plan in each connection: every
hold then read every ACTIVE hold of every show (800+ buffers a hold in the benchmark instead of
about 70). Its one reader, the sweeper's expiry of lapsed holds, asks only for unpaid holds
(``payment_started_at IS NULL``), which the cap's and the takeover's conditions do not imply,
so the narrower index keeps the sweeper's plan and leaves the hold statement only the
(user, show) index and the primary key.

Revision ID: 0010_unpaid_hold_expiry_index
Revises: 0009_token_revocation
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_unpaid_hold_expiry_index"
down_revision = "0009_token_revocation"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_holds_unpaid_expiry",
        "holds",
        ["expires_at"],
        postgresql_where=sa.text("status = 'ACTIVE' AND payment_started_at IS NULL"),
    )
    op.drop_index("ix_holds_expiry_active", table_name="holds")


def downgrade():
    op.create_index("ix_holds_expiry_active", "holds", ["expires_at"], postgresql_where=sa.text("status = 'ACTIVE'"))
    op.drop_index("ix_holds_unpaid_expiry", table_name="holds")
