"""audit log: who changed seats or money, and what a manager changed, one row per change

Rows are written in the same transaction as the change they record, so a change that
rolls back leaves no row and a committed one always has its row.

Append-only, enforced here: a statement-level trigger raises on every UPDATE and DELETE,
whoever runs it (even a statement that would touch no row). TRUNCATE stays allowed: it
fires no UPDATE or DELETE trigger, and only the table's owner (the role that runs the
migrations) may truncate, which is how the tests clear the database between cases. The
owner could also drop the trigger; the log guards against the application and its bugs,
not against the database's owner.

Revision ID: 0006_audit_log
Revises: 0005_organisations
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_audit_log"
down_revision = "0005_organisations"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        # NULL when nobody signed in acted: the system (expiry, sweeper, jobs) or the gateway's webhook.
        sa.Column("actor_user_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("subject_type", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.Text(), nullable=False),
        sa.Column("show_id", sa.BigInteger(), nullable=True),
        sa.Column("details", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.CheckConstraint("actor_kind IN ('fan', 'manager', 'admin', 'system', 'gateway')", name="actor_kind_known"),
        sa.CheckConstraint("actor_kind IN ('system', 'gateway') OR actor_user_id IS NOT NULL", name="people_are_named"),
        sa.CheckConstraint("action ~ '^[a-z_]+\\.[a-z_]+$'", name="action_shape"),
    )
    # No foreign keys: the record outlives what it describes.
    op.create_index("ix_audit_log_subject", "audit_log", ["subject_type", "subject_id"])
    op.create_index("ix_audit_log_show_at", "audit_log", ["show_id", "at"])
    op.execute(
        """
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
        """
    )


def downgrade():
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table("audit_log")
