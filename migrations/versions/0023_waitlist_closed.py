"""A waiting list whose show was cancelled or whose sale ended is closed: its WAITING entries end CLOSED
(README "Waiting list").

Revision ID: 0023_waitlist_closed
Revises: 0022_rescheduling
"""

from alembic import op

revision = "0023_waitlist_closed"
down_revision = "0022_rescheduling"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_constraint("status_known", "waitlist_entries", type_="check")
    op.create_check_constraint(
        "status_known", "waitlist_entries", "status IN ('WAITING', 'OFFERED', 'CLAIMED', 'MISSED', 'LEFT', 'CLOSED')"
    )
    op.drop_constraint("ended_iff_over", "waitlist_entries", type_="check")
    op.create_check_constraint(
        "ended_iff_over",
        "waitlist_entries",
        "(status IN ('CLAIMED', 'MISSED', 'LEFT', 'CLOSED')) = (ended_at IS NOT NULL)",
    )


def downgrade():
    op.execute("UPDATE waitlist_entries SET status = 'LEFT' WHERE status = 'CLOSED'")
    op.drop_constraint("ended_iff_over", "waitlist_entries", type_="check")
    op.create_check_constraint(
        "ended_iff_over", "waitlist_entries", "(status IN ('CLAIMED', 'MISSED', 'LEFT')) = (ended_at IS NOT NULL)"
    )
    op.drop_constraint("status_known", "waitlist_entries", type_="check")
    op.create_check_constraint(
        "status_known", "waitlist_entries", "status IN ('WAITING', 'OFFERED', 'CLAIMED', 'MISSED', 'LEFT')"
    )
