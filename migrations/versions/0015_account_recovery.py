"""account recovery: single-use tokens for password resets and email verification, a fan's locale

``account_tokens`` keeps only the SHA-256 of each random token (the token itself is only in the
email sent to the owner); a token is spent by one conditional ``UPDATE ... WHERE used_at IS NULL AND
expires_at > now() RETURNING``, so two requests with the same token cannot both use it. Users get
``email_verified_at`` and ``locale`` (``phone`` is there since 0003). A waiting room may ask for a
verified email before a fan joins (``gate_queues.verified_email_required``, false by default).

Revision ID: 0015_account_recovery
Revises: 0014_state_figure_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_account_recovery"
down_revision = "0014_state_figure_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("locale", sa.Text(), nullable=True))
    op.create_table(
        "account_tokens",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False, unique=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("purpose IN ('password_reset', 'email_verification')", name="purpose_known"),
        sa.CheckConstraint("octet_length(token_hash) = 32", name="token_hash_sha256"),
    )
    op.create_index("ix_account_tokens_user", "account_tokens", ["user_id", "purpose"])
    op.add_column(
        "gate_queues",
        sa.Column("verified_email_required", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade():
    op.drop_column("gate_queues", "verified_email_required")
    op.drop_index("ix_account_tokens_user", table_name="account_tokens")
    op.drop_table("account_tokens")
    op.drop_column("users", "locale")
    op.drop_column("users", "email_verified_at")
