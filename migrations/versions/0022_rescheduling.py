"""A show's start may move after fans booked it: the last move and its full-refund window; an index for sales reports

``shows.rescheduled_at`` is when the start last moved, from ``rescheduled_from`` (the start before that
move); until ``full_refund_until`` a fan whose booking was made before the move may cancel it for all of
their money, whatever the refund policy says (README "Rescheduling a show"). ``reschedule_count`` names
each move, so a move's email to a fan is written once (``notifications.dedupe_key``).

``ix_refunds_created`` and ``ix_bookings_created`` let the sales report (README "Sales reports") find a date
range's refunds and bookings without reading them all (an admin's report spans every show; a manager's
goes through their shows and ``ix_bookings_show_created``).

Revision ID: 0022_rescheduling
Revises: 0021_door_checkin
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_rescheduling"
down_revision = "0021_door_checkin"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("shows", sa.Column("rescheduled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("shows", sa.Column("rescheduled_from", sa.DateTime(timezone=True), nullable=True))
    op.add_column("shows", sa.Column("full_refund_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("shows", sa.Column("reschedule_count", sa.Integer(), server_default="0", nullable=False))
    op.create_check_constraint(
        "rescheduled_together",
        "shows",
        "(rescheduled_at IS NULL) = (rescheduled_from IS NULL) AND (rescheduled_at IS NULL) = (full_refund_until IS NULL)",
    )
    op.create_index("ix_refunds_created", "refunds", ["created_at"])
    op.create_index("ix_bookings_created", "bookings", ["created_at"])


def downgrade():
    op.drop_index("ix_bookings_created", table_name="bookings")
    op.drop_index("ix_refunds_created", table_name="refunds")
    op.drop_constraint("rescheduled_together", "shows", type_="check")
    for column in ("reschedule_count", "full_refund_until", "rescheduled_from", "rescheduled_at"):
        op.drop_column("shows", column)
