"""event images: an event's poster, stored by content hash

``events.poster`` names the stored renditions of the event's poster (``posters/<sha256>-card.webp``
and ``-hero.webp``, app/images/); empty when the event has none. The name changes whenever the
poster does, so every copy of a rendition (the browser's, the edge's, a CDN's) can be kept for a
year: README, "Event images".

Revision ID: 0018_event_images
Revises: 0015_account_recovery
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_event_images"
down_revision = "0015_account_recovery"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("events", sa.Column("poster", sa.Text(), nullable=True))


def downgrade():
    op.drop_column("events", "poster")
