"""access codes: presale codes and vouchers of a show or an event, and the code a hold used

README "Presale codes and vouchers". ``access_codes.used`` counts the holds that hold a use of the
code: a hold takes one with a conditional update in its own transaction (``used < max_uses``), and
the trigger ``holds_give_back_code_use`` gives it back when the hold ends without a booking (EXPIRED or
RELEASED), whichever statement ends it, and takes it again if a lapsed hold is booked after all
(ARCHITECTURE.md "Access code uses"). ``holds.discount`` is what the code took off the hold's amount.

Revision ID: 0025_access_codes
Revises: 0024_rotating_codes
"""

import sqlalchemy as sa
from alembic import op

revision = "0025_access_codes"
down_revision = "0024_rotating_codes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "access_codes",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("show_id", sa.BigInteger, sa.ForeignKey("shows.id", ondelete="CASCADE"), nullable=True),
        sa.Column("event_id", sa.BigInteger, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=True),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("percent_off", sa.Integer, nullable=True),
        sa.Column("amount_off", sa.Integer, nullable=True),
        sa.Column("max_uses", sa.Integer, nullable=False),
        sa.Column("used", sa.Integer, nullable=False, server_default="0"),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_by", sa.BigInteger, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("(show_id IS NULL) <> (event_id IS NULL)", name="show_or_event"),
        sa.CheckConstraint("kind IN ('PRESALE', 'VOUCHER')", name="kind_known"),
        sa.CheckConstraint("code ~ '^[A-Za-z0-9_-]{3,32}$'", name="code_form"),
        sa.CheckConstraint("percent_off IS NULL OR percent_off BETWEEN 1 AND 100", name="percent_in_range"),
        sa.CheckConstraint("amount_off IS NULL OR amount_off >= 1", name="amount_positive"),
        sa.CheckConstraint("percent_off IS NULL OR amount_off IS NULL", name="one_discount"),
        sa.CheckConstraint(
            "kind = 'PRESALE' OR percent_off IS NOT NULL OR amount_off IS NOT NULL", name="voucher_discounts"
        ),
        sa.CheckConstraint("max_uses >= 1", name="max_uses_positive"),
        sa.CheckConstraint("used >= 0", name="used_not_negative"),
        sa.CheckConstraint("closes_at IS NULL OR opens_at IS NULL OR closes_at > opens_at", name="window_order"),
    )
    op.create_index(
        "ix_access_codes_show_code",
        "access_codes",
        ["show_id", sa.text("lower(code)")],
        unique=True,
        postgresql_where=sa.text("show_id IS NOT NULL"),
    )
    op.create_index(
        "ix_access_codes_event_code",
        "access_codes",
        ["event_id", sa.text("lower(code)")],
        unique=True,
        postgresql_where=sa.text("event_id IS NOT NULL"),
    )
    op.add_column("holds", sa.Column("access_code_id", sa.BigInteger, sa.ForeignKey("access_codes.id"), nullable=True))
    op.add_column("holds", sa.Column("discount", sa.Integer, nullable=False, server_default="0"))
    op.create_check_constraint("discount_not_negative", "holds", "discount >= 0")
    op.create_check_constraint("discount_needs_code", "holds", "discount = 0 OR access_code_id IS NOT NULL")
    # A hold holds a use of its code while ACTIVE or CONFIRMED; EXPIRED and RELEASED do not. Every
    # change of a hold between the two gives the use back or takes it again, exactly once.
    op.execute(
        """
        CREATE FUNCTION holds_give_back_code_use() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (OLD.status IN ('ACTIVE', 'CONFIRMED')) AND NEW.status IN ('EXPIRED', 'RELEASED') THEN
                UPDATE access_codes SET used = used - 1 WHERE id = NEW.access_code_id;
            ELSIF OLD.status IN ('EXPIRED', 'RELEASED') AND NEW.status IN ('ACTIVE', 'CONFIRMED') THEN
                UPDATE access_codes SET used = used + 1 WHERE id = NEW.access_code_id;
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER holds_give_back_code_use AFTER UPDATE OF status ON holds
        FOR EACH ROW WHEN (NEW.access_code_id IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status)
        EXECUTE FUNCTION holds_give_back_code_use()
        """
    )


def downgrade():
    op.execute("DROP TRIGGER holds_give_back_code_use ON holds")
    op.execute("DROP FUNCTION holds_give_back_code_use()")
    op.drop_constraint("discount_needs_code", "holds", type_="check")
    op.drop_constraint("discount_not_negative", "holds", type_="check")
    op.drop_column("holds", "discount")
    op.drop_column("holds", "access_code_id")
    op.drop_table("access_codes")
