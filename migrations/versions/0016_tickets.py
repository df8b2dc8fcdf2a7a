"""tickets: signing keys per organisation, a ticket version per booking, revoked ticket codes, a
transfer cut-off per show

A booking's seats are its tickets; each ticket's code names the booking, show, seat and the booking's
``ticket_version`` and is signed with the show's organisation's Ed25519 key (README "Tickets and
transfer"). ``ticket_keys`` keeps each key's public half in the clear (a scanner fetches it) and its
private half sealed (AES-GCM under TICKET_KEYS_SECRET); one key per organisation is in use (no
``retired_at``). A transfer bumps ``ticket_version``; the codes it replaces, and a cancelled booking's,
are listed in ``revoked_tickets``. ``shows.transfer_cutoff_minutes``: no transfer this close to the start.

Revision ID: 0016_tickets
Revises: 0015_account_recovery
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0016_tickets"
down_revision = "0015_account_recovery"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ticket_keys",
        sa.Column("kid", sa.Text(), primary_key=True),
        sa.Column("organisation_id", sa.BigInteger(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kid ~ '^[0-9a-f]{8}$'", name="kid_hex"),
        sa.CheckConstraint("octet_length(public_key) = 32", name="public_key_ed25519"),
    )
    op.create_index(
        "ix_ticket_keys_one_in_use",
        "ticket_keys",
        ["organisation_id"],
        unique=True,
        postgresql_where=sa.text("retired_at IS NULL"),
    )
    op.add_column("bookings", sa.Column("ticket_version", sa.Integer(), server_default="1", nullable=False))
    op.create_check_constraint("ticket_version_positive", "bookings", "ticket_version >= 1")
    op.create_table(
        "revoked_tickets",
        sa.Column("booking_id", UUID(as_uuid=True), sa.ForeignKey("bookings.id"), primary_key=True),
        sa.Column("seat_id", sa.Text(), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("show_id", sa.BigInteger(), sa.ForeignKey("shows.id"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("reason IN ('TRANSFERRED', 'CANCELLED')", name="reason_known"),
    )
    op.create_index("ix_revoked_tickets_show", "revoked_tickets", ["show_id", "revoked_at"])
    op.add_column("shows", sa.Column("transfer_cutoff_minutes", sa.Integer(), server_default="60", nullable=False))
    op.create_check_constraint("transfer_cutoff_not_negative", "shows", "transfer_cutoff_minutes >= 0")


def downgrade():
    op.drop_constraint("transfer_cutoff_not_negative", "shows", type_="check")
    op.drop_column("shows", "transfer_cutoff_minutes")
    op.drop_index("ix_revoked_tickets_show", table_name="revoked_tickets")
    op.drop_table("revoked_tickets")
    op.drop_constraint("ticket_version_positive", "bookings", type_="check")
    op.drop_column("bookings", "ticket_version")
    op.drop_index("ix_ticket_keys_one_in_use", table_name="ticket_keys")
    op.drop_table("ticket_keys")
