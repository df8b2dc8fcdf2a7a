"""venues.layout_version, renewed by the database whenever a venue's seats change

Seat-map renderers cache a venue's layout per process and key it on this
version, so any change to venue_seats, by any code path, invalidates them.
Versions come from one sequence, so no two layouts ever share one (not even
after a venue id is reused).

Revision ID: 0002_venue_layout_version
Revises: 0001_core_schema
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_venue_layout_version"
down_revision = "0001_core_schema"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE SEQUENCE venue_layout_versions")
    op.add_column(
        "venues",
        sa.Column(
            "layout_version",
            sa.BigInteger(),
            server_default=sa.text("nextval('venue_layout_versions')"),
            nullable=False,
        ),
    )
    op.execute(
        """
        CREATE FUNCTION bump_layout_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE venues SET layout_version = nextval('venue_layout_versions')
            WHERE id IN (SELECT venue_id FROM changed_seats);
            RETURN NULL;
        END $$;
        CREATE TRIGGER venue_seats_inserted AFTER INSERT ON venue_seats
            REFERENCING NEW TABLE AS changed_seats FOR EACH STATEMENT EXECUTE FUNCTION bump_layout_version();
        CREATE TRIGGER venue_seats_updated AFTER UPDATE ON venue_seats
            REFERENCING NEW TABLE AS changed_seats FOR EACH STATEMENT EXECUTE FUNCTION bump_layout_version();
        CREATE TRIGGER venue_seats_deleted AFTER DELETE ON venue_seats
            REFERENCING OLD TABLE AS changed_seats FOR EACH STATEMENT EXECUTE FUNCTION bump_layout_version();
        """
    )


def downgrade():
    op.execute(
        """
        DROP TRIGGER venue_seats_deleted ON venue_seats;
        DROP TRIGGER venue_seats_updated ON venue_seats;
        DROP TRIGGER venue_seats_inserted ON venue_seats;
        DROP FUNCTION bump_layout_version();
        """
    )
    op.drop_column("venues", "layout_version")
    op.execute("DROP SEQUENCE venue_layout_versions")
