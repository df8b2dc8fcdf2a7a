"""queue gate: the durable record of waiting rooms and their tickets

Redis runs the waiting room; these tables let the gate rebuild it after Redis
loses its data, without giving a position twice (unique per queue) or admitting
past the cap (serving_up_to and admission times are kept here).

Revision ID: 0004_queue_gate
Revises: 0003_payments_saga
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_queue_gate"
down_revision = "0003_payments_saga"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "gate_queues",
        sa.Column("event_id", sa.BigInteger(), sa.ForeignKey("events.id"), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False, server_default="PREQUEUE"),
        sa.Column("batch_size", sa.Integer(), nullable=False, server_default="1000"),
        sa.Column("admission_interval_seconds", sa.Float(), nullable=False, server_default="10"),
        sa.Column("max_active", sa.Integer(), nullable=False, server_default="5000"),
        sa.Column("session_seconds", sa.Integer(), nullable=False, server_default="600"),
        sa.Column("sale_opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("serving_up_to", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("state IN ('PREQUEUE', 'OPEN', 'PAUSED', 'DRAINING', 'CLOSED')", name="state_known"),
        sa.CheckConstraint("batch_size > 0 AND max_active > 0 AND session_seconds > 0", name="limits_positive"),
        sa.CheckConstraint("admission_interval_seconds > 0", name="interval_positive"),
        sa.CheckConstraint("serving_up_to >= 0", name="serving_not_negative"),
    )
    op.create_table(
        "gate_tickets",
        sa.Column(
            "event_id", sa.BigInteger(), sa.ForeignKey("gate_queues.event_id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("ticket", sa.Text(), nullable=False, unique=True),
        # Joined before the sale opened: placed by the lottery at opening time.
        sa.Column("prequeue", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("event_id", "position", name="gate_tickets_position_once"),
        sa.CheckConstraint("position IS NULL OR position > 0", name="position_positive"),
        sa.CheckConstraint("admitted_at IS NULL OR position IS NOT NULL", name="admitted_has_position"),
    )


def downgrade():
    op.drop_table("gate_tickets")
    op.drop_table("gate_queues")
