"""notifications may end DROPPED: an SMS whose fan removed their phone number before it was sent

An SMS goes to the phone on the fan's profile at the time it is sent (app/notifications/delivery.py);
with none there, nothing is sent and the row says so, apart from DEAD (which means it kept failing).

Revision ID: 0020_dropped_sms
Revises: 0019_checkout_sessions
"""

from alembic import op

revision = "0020_dropped_sms"
down_revision = "0019_checkout_sessions"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_constraint("status_known", "notifications", type_="check")
    op.create_check_constraint(
        "status_known", "notifications", "status IN ('PENDING', 'SENT', 'FAILED', 'DEAD', 'DROPPED')"
    )


def downgrade():
    op.execute("UPDATE notifications SET status = 'FAILED' WHERE status = 'DROPPED'")
    op.drop_constraint("status_known", "notifications", type_="check")
    op.create_check_constraint("status_known", "notifications", "status IN ('PENDING', 'SENT', 'FAILED', 'DEAD')")
