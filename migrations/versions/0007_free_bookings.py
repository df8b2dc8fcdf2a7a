"""free bookings: a booking of seats that cost nothing has no payment intent

A hold whose total is 0 is confirmed without the gateway (it would refuse a charge of 0), so its
booking has no payment intent. Only such a booking may lack one.

Revision ID: 0007_free_bookings
Revises: 0006_audit_log
"""

from alembic import op

revision = "0007_free_bookings"
down_revision = "0006_audit_log"
branch_labels = None
depends_on = None


def upgrade():
    op.alter_column("bookings", "payment_intent_id", nullable=True)
    op.create_check_constraint("paid_unless_free", "bookings", "payment_intent_id IS NOT NULL OR amount = 0")


def downgrade():
    op.drop_constraint("paid_unless_free", "bookings", type_="check")
    op.alter_column("bookings", "payment_intent_id", nullable=False)
