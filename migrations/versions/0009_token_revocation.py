"""token revocation: a per-user session epoch and the bearer tokens revoked one by one

``users.auth_epoch`` goes up on "log out everywhere" and on a password change: a bearer token
or site session made under an older epoch no longer works, except the one token a password
change was made with (``auth_kept_jti``). ``revoked_tokens`` holds tokens logged out one at a
time until they would have expired anyway. ``auth_version`` goes up on every change, so the
copy in Redis is never replaced by an older one. ``revocation_copies_pending`` lists users whose
change could not be copied to Redis when it was made.

Revision ID: 0009_token_revocation
Revises: 0008_top_ups_and_dead_letters
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_token_revocation"
down_revision = "0008_top_ups_and_dead_letters"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("auth_epoch", sa.Integer(), server_default="0", nullable=False))
    op.add_column("users", sa.Column("auth_kept_jti", sa.Text(), nullable=True))
    op.add_column("users", sa.Column("auth_version", sa.BigInteger(), server_default="0", nullable=False))
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.Text(), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_revoked_tokens_user", "revoked_tokens", ["user_id", "expires_at"])
    # Users whose revocation could not be copied to Redis when it was made; a periodic job copies it.
    op.create_table(
        "revocation_copies_pending",
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("since", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )


def downgrade():
    op.drop_table("revocation_copies_pending")
    op.drop_table("revoked_tokens")
    op.drop_column("users", "auth_version")
    op.drop_column("users", "auth_kept_jti")
    op.drop_column("users", "auth_epoch")
