"""checkout sessions: a hold's payment on the gateway's hosted page (README "Hosted checkout")

One row per hold that was sent to the hosted payment page: the gateway's session id and address, the
``expires_at`` asked of the gateway, and the ``attempt`` whose idempotency key made it (a session
that expired while its hold is still active is replaced by the next attempt). The row is written,
under the hold's row lock, before the gateway is asked, so concurrent calls for one hold send the
same request with the same key and get the same session. ``status`` follows the gateway's
``checkout.session.*`` webhooks.

Revision ID: 0019_checkout_sessions
Revises: 0018_event_images
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0019_checkout_sessions"
down_revision = "0018_event_images"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "checkout_sessions",
        sa.Column("hold_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("holds.id"), primary_key=True),
        sa.Column("attempt", sa.Integer(), server_default="1", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=True, unique=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("status IN ('open', 'complete', 'expired')", name="status_known"),
        sa.CheckConstraint("attempt >= 1", name="attempt_positive"),
    )


def downgrade():
    op.drop_table("checkout_sessions")
