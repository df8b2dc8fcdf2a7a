"""payments saga: payment state on holds, refunds, notifications, SMS outbox

Revision ID: 0003_payments_saga
Revises: 0002_venue_layout_version
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_payments_saga"
down_revision = "0002_venue_layout_version"
branch_labels = None
depends_on = None


def upgrade():
    # A hold's payment is "in flight" from the moment we start creating its intent until the
    # gateway settles it; meanwhile its seats carry hold_expires_at = 'infinity' (rule 4).
    op.add_column("holds", sa.Column("payment_started_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("holds", sa.Column("payment_intent_id", sa.Text(), nullable=True))
    op.create_unique_constraint("holds_payment_intent_id_key", "holds", ["payment_intent_id"])
    op.create_check_constraint(
        "intent_needs_payment_start", "holds", "payment_intent_id IS NULL OR payment_started_at IS NOT NULL"
    )
    op.create_index(
        "ix_holds_payment_in_flight",
        "holds",
        ["expires_at"],
        postgresql_where=sa.text("status = 'ACTIVE' AND payment_started_at IS NOT NULL"),
    )
    op.add_column("users", sa.Column("phone", sa.Text(), nullable=True))
    op.add_column("payments", sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=True))
    op.create_index(
        "ix_payments_open",
        "payments",
        ["updated_at"],
        postgresql_where=sa.text("status IN ('REQUIRES_PAYMENT', 'PROCESSING')"),
    )
    op.create_index(
        "ix_webhook_events_unprocessed",
        "webhook_events",
        ["received_at"],
        postgresql_where=sa.text("processed_at IS NULL"),
    )

    op.create_table(
        "refunds",
        sa.Column("id", sa.UUID(), primary_key=True),
        # One refund per payment, whatever the reason: a refund is never issued twice.
        sa.Column(
            "payment_intent_id", sa.Text(), sa.ForeignKey("payments.payment_intent_id"), nullable=False, unique=True
        ),
        sa.Column("booking_id", sa.UUID(), sa.ForeignKey("bookings.id"), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), server_default="PENDING", nullable=False),
        sa.Column("gateway_refund_id", sa.Text(), nullable=True, unique=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("status IN ('PENDING', 'SUCCEEDED', 'FAILED')", name="status_known"),
        sa.CheckConstraint(
            "reason IN ('CUSTOMER_CANCELLED', 'SHOW_CANCELLED', 'HOLD_LAPSED', 'AMOUNT_MISMATCH')", name="reason_known"
        ),
        sa.CheckConstraint(
            "(status = 'SUCCEEDED') = (gateway_refund_id IS NOT NULL AND completed_at IS NOT NULL)",
            name="succeeded_iff_gateway_refund",
        ),
    )
    op.create_index("ix_refunds_pending", "refunds", ["created_at"], postgresql_where=sa.text("status = 'PENDING'"))

    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        # e.g. "booking-confirmed:<booking id>:email": each message is sent once per event and channel.
        sa.Column("dedupe_key", sa.Text(), nullable=False, unique=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), server_default="PENDING", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("channel IN ('email', 'sms')", name="channel_known"),
        sa.CheckConstraint("status IN ('PENDING', 'SENT', 'FAILED')", name="status_known"),
        sa.CheckConstraint("(status = 'SENT') = (sent_at IS NOT NULL)", name="sent_iff_sent_at"),
    )
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("to_number", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("provider_message_id", sa.Text(), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )


def downgrade():
    op.drop_table("sms_outbox")
    op.drop_table("notifications")
    op.drop_index("ix_refunds_pending", table_name="refunds")
    op.drop_table("refunds")
    op.drop_index("ix_webhook_events_unprocessed", table_name="webhook_events")
    op.drop_index("ix_payments_open", table_name="payments")
    op.drop_column("payments", "user_id")
    op.drop_column("users", "phone")
    op.drop_index("ix_holds_payment_in_flight", table_name="holds")
    op.drop_constraint("intent_needs_payment_start", "holds")
    op.drop_constraint("holds_payment_intent_id_key", "holds")
    op.drop_column("holds", "payment_intent_id")
    op.drop_column("holds", "payment_started_at")
