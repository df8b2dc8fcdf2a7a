"""a hold's seat updates are HOT: no index on show_seats.hold_id, room on every seat page

A hold's seat update changes ``status``, ``hold_id`` and ``hold_expires_at``. While
``ix_show_seats_hold_id`` indexed one of them, no such update could be HOT: each taken or freed
seat wrote a new entry in every index of ``show_seats`` (its primary key, the booking index and
that one). The statements that found a hold's seats through it (release, payment protection, the
sweeper's expiry, a cancelled show's holds) now find them through the hold's own seat list, by
primary key (``seat_state._SEATS_OF_THE_HOLD``), and the sweep of seats left behind by a hold that
lost only some of its seats reads the recently ended holds (``ix_holds_ended``, written once when a
hold ends, never when one is made).

``fillfactor = 90`` leaves a tenth of each page of seats free, so the new version of a seat fits
on its page (a HOT update needs that); it applies to pages written from now on (new shows' seats),
and to a show's existing pages once they are rewritten.

Revision ID: 0013_hot_seat_updates
Revises: 0012_fewer_index_writes_per_hold
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_hot_seat_updates"
down_revision = "0012_fewer_index_writes_per_hold"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_holds_ended", "holds", ["ended_at"], postgresql_where=sa.text("ended_at IS NOT NULL"))
    op.drop_index("ix_show_seats_hold_id", table_name="show_seats")
    op.execute("ALTER TABLE show_seats SET (fillfactor = 90)")


def downgrade():
    op.execute("ALTER TABLE show_seats RESET (fillfactor)")
    op.create_index("ix_show_seats_hold_id", "show_seats", ["hold_id"], postgresql_where=sa.text("hold_id IS NOT NULL"))
    op.drop_index("ix_holds_ended", table_name="holds")
