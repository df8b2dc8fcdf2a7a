"""event images: an event's poster, stored by content hash

``events.poster`` names the stored renditions of the event's poster (``posters/<sha256>-card.webp``
and ``-hero.webp``, app/images/); empty when the event has none. The name changes whenever the
poster does, so every copy of a rendition (the browser's, the edge's, a CDN's) can be kept for a
year: README, "Event images".

``shows (venue_id, starts_at)``: the home page's listing reads a city's shows in a window of days
(app/catalog/queries.py, ``browse_shows``): a city's few venues, then each venue's shows in the
window from this index, in time order (README, "Search and filters").

Revision ID: 0018_event_images
Revises: 0017_waitlist
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_event_images"
down_revision = "0017_waitlist"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("events", sa.Column("poster", sa.Text(), nullable=True))
    op.create_index("ix_shows_venue_starts", "shows", ["venue_id", "starts_at"])


def downgrade():
    op.drop_index("ix_shows_venue_starts", table_name="shows")
    op.drop_column("events", "poster")
