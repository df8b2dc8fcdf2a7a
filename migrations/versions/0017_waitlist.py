"""waiting list for sold-out shows: one row per fan's place in a show's line

A fan waits for ``quantity`` seats (of ``tier``, or of any tier) of a sold-out show. ``seq`` orders
the line. An entry is WAITING, then OFFERED (``hold_id``: the hold made for the fan on returned
seats), then CLAIMED (that hold was paid) or MISSED (it lapsed or was released unpaid); LEFT when
the fan leaves. One active (WAITING or OFFERED) entry per fan and show. While a WAITING entry
matches a free seat, the public hold statement leaves that seat to the line (ARCHITECTURE.md,
rule 8); the partial index on WAITING entries keeps that check a probe of an empty index for shows
without a line.

Revision ID: 0017_waitlist
Revises: 0016_tickets
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0017_waitlist"
down_revision = "0016_tickets"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "waitlist_entries",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False, unique=True),
        sa.Column("show_id", sa.BigInteger(), sa.ForeignKey("shows.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="WAITING", nullable=False),
        sa.Column("hold_id", UUID(as_uuid=True), sa.ForeignKey("holds.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("quantity BETWEEN 1 AND 8", name="quantity_in_range"),
        sa.CheckConstraint("status IN ('WAITING', 'OFFERED', 'CLAIMED', 'MISSED', 'LEFT')", name="status_known"),
        sa.CheckConstraint(
            "(status IN ('OFFERED', 'CLAIMED', 'MISSED')) = (hold_id IS NOT NULL)", name="offer_iff_hold"
        ),
        sa.CheckConstraint("(status IN ('CLAIMED', 'MISSED', 'LEFT')) = (ended_at IS NOT NULL)", name="ended_iff_over"),
    )
    op.create_index(
        "ux_waitlist_one_active",
        "waitlist_entries",
        ["show_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('WAITING', 'OFFERED')"),
    )
    op.create_index(
        "ix_waitlist_line", "waitlist_entries", ["show_id", "seq"], postgresql_where=sa.text("status = 'WAITING'")
    )
    op.create_index(
        "ix_waitlist_offered", "waitlist_entries", ["show_id"], postgresql_where=sa.text("status = 'OFFERED'")
    )
    op.create_index("ix_waitlist_user", "waitlist_entries", ["user_id", "seq"])
    op.create_index(
        "ix_waitlist_hold", "waitlist_entries", ["hold_id"], postgresql_where=sa.text("hold_id IS NOT NULL")
    )


def downgrade():
    op.drop_table("waitlist_entries")
