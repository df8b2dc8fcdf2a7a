"""organisations own venues and events; layouts know companion and unsellable seats;
the box office can take a show's seats out of sale; shows record their cancellation

Managers belong to an organisation and see only what it owns (admins see all).
Rows that existed before organisations are given to one organisation created
here, so no venue or event is left without an owner.

Revision ID: 0005_organisations
Revises: 0004_queue_gate
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_organisations"
down_revision = "0004_queue_gate"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "organisations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 120", name="name_length"),
    )
    op.add_column(
        "users", sa.Column("organisation_id", sa.BigInteger(), sa.ForeignKey("organisations.id"), nullable=True)
    )
    op.add_column(
        "venues", sa.Column("organisation_id", sa.BigInteger(), sa.ForeignKey("organisations.id"), nullable=True)
    )
    op.add_column(
        "events", sa.Column("organisation_id", sa.BigInteger(), sa.ForeignKey("organisations.id"), nullable=True)
    )
    op.execute(
        """
        INSERT INTO organisations (name)
        SELECT 'Seatline Venues' WHERE EXISTS (SELECT 1 FROM venues UNION ALL SELECT 1 FROM events
                                               UNION ALL SELECT 1 FROM users WHERE role = 'manager')
        """
    )
    for table, where in (("venues", "true"), ("events", "true"), ("users", "role = 'manager'")):
        op.execute(f"UPDATE {table} SET organisation_id = (SELECT min(id) FROM organisations) WHERE {where}")
    op.alter_column("venues", "organisation_id", nullable=False)
    op.alter_column("events", "organisation_id", nullable=False)
    op.create_index("ix_venues_organisation", "venues", ["organisation_id"])
    op.create_index("ix_events_organisation", "events", ["organisation_id"])
    # A manager always acts for an organisation; fans and admins belong to none.
    op.create_check_constraint(
        "manager_has_organisation", "users", "(role = 'manager') = (organisation_id IS NOT NULL)"
    )
    # Event titles are unique within an organisation, not across all of them.
    op.drop_constraint("events_title_key", "events", type_="unique")
    op.create_unique_constraint("events_organisation_title_key", "events", ["organisation_id", "title"])

    # Layout: companion seats (next to wheelchair spaces) and seats never sold (camera positions, pillars).
    op.add_column("venue_seats", sa.Column("companion", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.add_column("venue_seats", sa.Column("sellable", sa.Boolean(), server_default=sa.text("true"), nullable=False))

    # Box office: a show's seat can be taken out of sale, as a kill (never sold) or held for the house.
    op.drop_constraint("status_known", "show_seats", type_="check")
    op.create_check_constraint("status_known", "show_seats", "status IN ('AVAILABLE', 'HELD', 'BOOKED', 'BLOCKED')")
    op.add_column("show_seats", sa.Column("block_kind", sa.String(8), nullable=True))
    op.create_check_constraint("block_iff_blocked", "show_seats", "(status = 'BLOCKED') = (block_kind IS NOT NULL)")
    op.create_check_constraint(
        "block_kind_known", "show_seats", "block_kind IS NULL OR block_kind IN ('KILL', 'HOUSE')"
    )
    # Cheap live figures: counts by status, and activity per minute, without reading every row.
    op.create_index("ix_show_seats_show_status", "show_seats", ["show_id", "status"])
    op.create_index("ix_holds_show_created", "holds", ["show_id", "created_at"])
    op.create_index("ix_bookings_show_created", "bookings", ["show_id", "created_at"])

    op.add_column("shows", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("shows", sa.Column("cancel_reason", sa.Text(), nullable=True))
    op.execute("UPDATE shows SET cancelled_at = now() WHERE status = 'CANCELLED'")
    op.create_check_constraint(
        "cancelled_iff_cancelled_at", "shows", "(status = 'CANCELLED') = (cancelled_at IS NOT NULL)"
    )


def downgrade():
    op.drop_constraint("cancelled_iff_cancelled_at", "shows", type_="check")
    op.drop_column("shows", "cancel_reason")
    op.drop_column("shows", "cancelled_at")
    op.drop_index("ix_bookings_show_created", "bookings")
    op.drop_index("ix_holds_show_created", "holds")
    op.drop_index("ix_show_seats_show_status", "show_seats")
    op.execute("UPDATE show_seats SET status = 'AVAILABLE', block_kind = NULL WHERE status = 'BLOCKED'")
    op.drop_constraint("block_kind_known", "show_seats", type_="check")
    op.drop_constraint("block_iff_blocked", "show_seats", type_="check")
    op.drop_column("show_seats", "block_kind")
    op.drop_constraint("status_known", "show_seats", type_="check")
    op.create_check_constraint("status_known", "show_seats", "status IN ('AVAILABLE', 'HELD', 'BOOKED')")
    op.drop_column("venue_seats", "sellable")
    op.drop_column("venue_seats", "companion")
    op.drop_constraint("events_organisation_title_key", "events", type_="unique")
    op.create_unique_constraint("events_title_key", "events", ["title"])
    op.drop_constraint("manager_has_organisation", "users", type_="check")
    op.drop_index("ix_events_organisation", "events")
    op.drop_index("ix_venues_organisation", "venues")
    op.drop_column("events", "organisation_id")
    op.drop_column("venues", "organisation_id")
    op.drop_column("users", "organisation_id")
    op.drop_table("organisations")
