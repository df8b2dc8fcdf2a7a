"""refund top-ups for cancelled shows; notifications that give up, and whose organisation they serve

Refunds: a payment had at most one refund. A fan who cancelled under the refund policy, then
saw the show cancelled, must get the rest back too (README "How money stays correct"), so a
payment may now have two: its first refund and at most one top-up (``top_up``), unique per
(payment, top_up). The top-up is always the booking's amount less what was refunded before,
decided under the booking's row lock, so the two never add up to more than was paid.

Notifications: a message that fails ``MAX_ATTEMPTS`` times ends DEAD with its last error
instead of being re-queued for ever (README "What happens when…"), and carries the
organisation whose show it is about, so the sweeper can share each pass among organisations.

Revision ID: 0008_top_ups_and_dead_letters
Revises: 0007_free_bookings
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_top_ups_and_dead_letters"
down_revision = "0007_free_bookings"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("refunds", sa.Column("top_up", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.drop_constraint("refunds_payment_intent_id_key", "refunds", type_="unique")
    op.create_unique_constraint("refunds_payment_intent_id_top_up_key", "refunds", ["payment_intent_id", "top_up"])
    # A top-up is only ever the rest of a cancelled show's booking.
    op.create_check_constraint("top_up_is_show_cancelled", "refunds", "NOT top_up OR reason = 'SHOW_CANCELLED'")

    op.add_column("notifications", sa.Column("last_error", sa.Text(), nullable=True))
    op.add_column(
        "notifications", sa.Column("organisation_id", sa.BigInteger(), sa.ForeignKey("organisations.id"), nullable=True)
    )
    # Messages already written: their dedupe key ("kind:<booking id or payment intent id>:channel")
    # names the booking or payment, and so the show and its organisation.
    op.execute("""
        UPDATE notifications n SET organisation_id = e.organisation_id
        FROM bookings b JOIN shows s ON s.id = b.show_id JOIN events e ON e.id = s.event_id
        WHERE split_part(n.dedupe_key, ':', 2) = CAST(b.id AS text)
    """)
    op.execute("""
        UPDATE notifications n SET organisation_id = e.organisation_id
        FROM payments p JOIN holds h ON h.id = p.hold_id JOIN shows s ON s.id = h.show_id
        JOIN events e ON e.id = s.event_id
        WHERE n.organisation_id IS NULL AND split_part(n.dedupe_key, ':', 2) = p.payment_intent_id
    """)
    op.drop_constraint("status_known", "notifications", type_="check")
    op.create_check_constraint("status_known", "notifications", "status IN ('PENDING', 'SENT', 'FAILED', 'DEAD')")
    op.create_index(
        "ix_notifications_pending",
        "notifications",
        ["organisation_id", "created_at"],
        postgresql_where=sa.text("status = 'PENDING'"),
    )


def downgrade():
    op.drop_index("ix_notifications_pending", table_name="notifications")
    op.execute("UPDATE notifications SET status = 'FAILED' WHERE status = 'DEAD'")
    op.drop_constraint("status_known", "notifications", type_="check")
    op.create_check_constraint("status_known", "notifications", "status IN ('PENDING', 'SENT', 'FAILED')")
    op.drop_column("notifications", "organisation_id")
    op.drop_column("notifications", "last_error")
    if op.get_bind().execute(sa.text("SELECT EXISTS (SELECT 1 FROM refunds WHERE top_up)")).scalar():
        raise RuntimeError("refund top-ups exist: the one-refund-per-payment schema cannot hold them")
    op.drop_constraint("top_up_is_show_cancelled", "refunds", type_="check")
    op.drop_constraint("refunds_payment_intent_id_top_up_key", "refunds", type_="unique")
    op.create_unique_constraint("refunds_payment_intent_id_key", "refunds", ["payment_intent_id"])
    op.drop_column("refunds", "top_up")
