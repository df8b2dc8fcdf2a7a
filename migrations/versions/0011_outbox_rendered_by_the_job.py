"""notifications are rendered by the job that sends them: the row keeps the context to render from

``context`` (JSON) is what the message's templates need; ``subject`` and ``body`` are filled in by
the job when it sends the message, so the request that records a booking renders nothing. Rows
written before keep their text and have no context; every row has one or the other.

Revision ID: 0011_outbox_rendered_by_the_job
Revises: 0010_unpaid_hold_expiry_index
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_outbox_rendered_by_the_job"
down_revision = "0010_unpaid_hold_expiry_index"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("notifications", sa.Column("context", postgresql.JSONB(), nullable=True))
    op.alter_column("notifications", "subject", nullable=True)
    op.alter_column("notifications", "body", nullable=True)
    op.create_check_constraint("renderable", "notifications", "body IS NOT NULL OR context IS NOT NULL")


def downgrade():
    # Messages not yet rendered cannot be rendered in SQL: they go out with an empty text.
    op.drop_constraint("renderable", "notifications", type_="check")
    op.execute("UPDATE notifications SET subject = coalesce(subject, ''), body = coalesce(body, '')")
    op.alter_column("notifications", "body", nullable=False)
    op.alter_column("notifications", "subject", nullable=False)
    op.drop_column("notifications", "context")
