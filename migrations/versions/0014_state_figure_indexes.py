"""the state figures a scrape reads are counted through indexes: dead letters, failed refunds, declined payments

``app/ops/state.py`` reads, at every scrape, how many outbox messages are DEAD, how many refunds
FAILED and when the oldest payment still open was recorded. Pending messages and payments awaiting
payment or processing had partial indexes already (``ix_notifications_pending``, ``ix_payments_open``);
without these three, the rest were sequential scans of tables that grow with every booking. Each
index holds only the rows in that state (a few: dead letters, refunds the gateway refused, payments
whose card was declined and that may still be paid), so a row that never reaches it costs no write.

Revision ID: 0014_state_figure_indexes
Revises: 0013_hot_seat_updates
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_state_figure_indexes"
down_revision = "0013_hot_seat_updates"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_notifications_dead", "notifications", ["created_at"], postgresql_where=sa.text("status = 'DEAD'")
    )
    op.create_index("ix_refunds_failed", "refunds", ["created_at"], postgresql_where=sa.text("status = 'FAILED'"))
    op.create_index("ix_payments_declined", "payments", ["created_at"], postgresql_where=sa.text("status = 'FAILED'"))


def downgrade():
    op.drop_index("ix_payments_declined", table_name="payments")
    op.drop_index("ix_refunds_failed", table_name="refunds")
    op.drop_index("ix_notifications_dead", table_name="notifications")
