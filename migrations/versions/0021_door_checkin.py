"""door check-in: door staff (role ``door``), admissions, answered scan nonces, a show's check-in window

README "Door check-in". ``checkins`` holds one row per admitted seat of a booking: its primary key
(show, booking, seat) is what admits a ticket exactly once, however many scanners race. Every
answer given to a scan is kept under its nonce in ``checkin_nonces``, so a retried upload gets the
first answer back. Door staff belong to an organisation, as managers do.

Revision ID: 0021_door_checkin
Revises: 0020_dropped_sms
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0021_door_checkin"
down_revision = "0020_dropped_sms"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_constraint("role_known", "users", type_="check")
    op.create_check_constraint("role_known", "users", "role IN ('fan', 'manager', 'admin', 'door')")
    op.drop_constraint("manager_has_organisation", "users", type_="check")
    op.create_check_constraint(
        "manager_has_organisation", "users", "(role IN ('manager', 'door')) = (organisation_id IS NOT NULL)"
    )
    op.drop_constraint("actor_kind_known", "audit_log", type_="check")
    op.create_check_constraint(
        "actor_kind_known", "audit_log", "actor_kind IN ('fan', 'manager', 'admin', 'door', 'system', 'gateway')"
    )
    op.add_column("shows", sa.Column("checkin_opens_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("shows", sa.Column("checkin_closes_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "checkins",
        sa.Column("show_id", sa.BigInteger, sa.ForeignKey("shows.id"), primary_key=True),
        sa.Column("booking_id", UUID(as_uuid=True), sa.ForeignKey("bookings.id"), primary_key=True),
        sa.Column("seat_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("gate", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("by_user_id", sa.BigInteger, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("nonce", sa.Text, nullable=False),
        sa.Column("offline", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_checkins_show_at", "checkins", ["show_id", "at"])
    op.create_table(
        "checkin_nonces",
        sa.Column("show_id", sa.BigInteger, sa.ForeignKey("shows.id"), primary_key=True),
        sa.Column("nonce", sa.Text, primary_key=True),
        sa.Column("status", sa.SmallInteger, nullable=True),
        sa.Column("body", JSONB, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade():
    op.drop_table("checkin_nonces")
    op.drop_table("checkins")
    op.drop_column("shows", "checkin_closes_at")
    op.drop_column("shows", "checkin_opens_at")
    # The audit log is append-only (a trigger refuses UPDATE and DELETE): rows of door staff stay, and the
    # old rule holds for new rows only.
    op.drop_constraint("actor_kind_known", "audit_log", type_="check")
    op.execute(
        "ALTER TABLE audit_log ADD CONSTRAINT actor_kind_known "
        "CHECK (actor_kind IN ('fan', 'manager', 'admin', 'system', 'gateway')) NOT VALID"
    )
    op.execute("UPDATE users SET role = 'fan', organisation_id = NULL WHERE role = 'door'")
    op.drop_constraint("manager_has_organisation", "users", type_="check")
    op.create_check_constraint(
        "manager_has_organisation", "users", "(role = 'manager') = (organisation_id IS NOT NULL)"
    )
    op.drop_constraint("role_known", "users", type_="check")
    op.create_check_constraint("role_known", "users", "role IN ('fan', 'manager', 'admin')")
