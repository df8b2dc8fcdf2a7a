"""fewer index entries written per hold: the seats' (show, status) index goes, and the holds'
payment-intent key indexes only the holds that have one

A hold that takes two seats wrote 17 index entries (bench/RESULTS.md "Hold SQL"). Two of them are
dropped here:

- ``ix_show_seats_show_status`` got a new entry for every seat a hold took or let go, as
  ``status`` changes each time. Every query that filters seats by status also names the show,
  which the primary key (show_id, seat_id) serves; the dashboard's count of a show's seats by
  status reads the show's rows from it (a stadium: 62,400 rows, in order, once per dashboard).
- ``holds_payment_intent_id_key`` indexed every hold, though only paying holds have an intent:
  each new hold and each hold that lapsed wrote a NULL entry. A partial unique index keeps the
  same rule (no two holds with one intent) for the holds that have one.

Revision ID: 0012_fewer_index_writes_per_hold
Revises: 0011_outbox_rendered_by_the_job
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_fewer_index_writes_per_hold"
down_revision = "0011_outbox_rendered_by_the_job"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_show_seats_show_status", table_name="show_seats")
    op.create_index(
        "ix_holds_payment_intent_id",
        "holds",
        ["payment_intent_id"],
        unique=True,
        postgresql_where=sa.text("payment_intent_id IS NOT NULL"),
    )
    op.drop_constraint("holds_payment_intent_id_key", "holds")


def downgrade():
    op.create_unique_constraint("holds_payment_intent_id_key", "holds", ["payment_intent_id"])
    op.drop_index("ix_holds_payment_intent_id", table_name="holds")
    op.create_index("ix_show_seats_show_status", "show_seats", ["show_id", "status"])
