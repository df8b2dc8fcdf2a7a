"""Access codes on the hold path (README "Presale codes and vouchers").

A hold that names a code first finds it (:func:`find`: a read, before any seat is locked): a code
of the show, or of its event, matched case-insensitively, active and inside its window, else
``CODE_INVALID``; one whose uses are all taken is ``CODE_EXHAUSTED`` at once. A presale code opens
the sale to its holder from the code's ``opens_at`` (the hold statement's ``:presale_from``). Once
the hold statement has made the hold, :func:`redeem` takes one use with a conditional update
(``used < max_uses``) in the same transaction and prices the hold; if no use is left the caller
rolls the whole hold back. The use goes back when the hold ends without a booking: the trigger of
migration 0025_access_codes does that for every statement that ends a hold (ARCHITECTURE.md
"Access code uses"). The code's row is locked last, after the seats, as everywhere a hold ends.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from app.errors import CodeExhausted, CodeInvalid
from app.unit_of_work import UnitOfWork

# What a code may look like; anything else cannot match one and is refused without a look-up.
CODE_FORM = re.compile(r"^[A-Za-z0-9_-]{3,32}$")
# A presale code without an opening time opens the sale to its holders at once.
ALWAYS = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CodeGrant:
    """A code that may be used for this hold: its id, text, and from when it opens the sale (presale
    codes only; None: the public sale window applies)."""

    code_id: int
    code: str
    presale_from: datetime | None
    kind: str = "VOUCHER"
    percent_off: int | None = None
    amount_off: int | None = None


class Priced(NamedTuple):
    amount: int
    discount: int


# The show's own code first: a show code and an event code may share a text.
_FIND = """
    SELECT c.id, c.code, c.kind, c.percent_off, c.amount_off, c.active, c.opens_at, c.closes_at, c.used, c.max_uses, now() AS db_now
    FROM shows s JOIN access_codes c ON (c.show_id = s.id OR c.event_id = s.event_id)
    WHERE s.id = :show_id AND lower(c.code) = lower(:code)
    ORDER BY c.show_id NULLS LAST
    LIMIT 1
"""


def find(uow: UnitOfWork, show_id: int, code: str) -> CodeGrant:
    """The code ``code`` for the show, if it may be used now; else ``CODE_INVALID`` or ``CODE_EXHAUSTED``."""
    row = uow.execute(_FIND, {"show_id": show_id, "code": code}).first() if CODE_FORM.match(code) else None
    if row is None:
        raise CodeInvalid("this code does not exist for this show", reason="UNKNOWN")
    if not row.active:
        raise CodeInvalid("this code is no longer valid", reason="INACTIVE")
    if row.opens_at is not None and row.db_now < row.opens_at:
        raise CodeInvalid("this code is not valid yet", reason="NOT_YET_VALID", validFrom=row.opens_at.isoformat())
    if row.closes_at is not None and row.db_now >= row.closes_at:
        raise CodeInvalid("this code is no longer valid", reason="EXPIRED")
    if row.used >= row.max_uses:
        raise CodeExhausted("this code has no uses left")
    presale_from = (row.opens_at or ALWAYS) if row.kind == "PRESALE" else None
    return CodeGrant(row.id, row.code, presale_from, row.kind, row.percent_off, row.amount_off)


# Takes one use of the code, if one is left and the code still active, and prices the hold: a percent
# off (rounded in the fan's favour by no more than one minor unit: the discount is rounded down) or an
# amount off, never below 0. Audited as ``hold.code_used``.
REDEEM = """
    WITH use AS (
        UPDATE access_codes SET used = used + 1
        WHERE id = :code_id AND used < max_uses AND active
        RETURNING id, code, percent_off, amount_off
    ), priced AS (
        UPDATE holds h
        SET access_code_id = use.id,
            discount = CASE WHEN use.percent_off IS NOT NULL THEN CAST(h.amount AS bigint) * use.percent_off / 100
                            ELSE LEAST(h.amount, coalesce(use.amount_off, 0)) END,
            amount = h.amount - CASE WHEN use.percent_off IS NOT NULL THEN CAST(h.amount AS bigint) * use.percent_off / 100
                                     ELSE LEAST(h.amount, coalesce(use.amount_off, 0)) END
        FROM use WHERE h.id = :hold_id
        RETURNING h.id, h.show_id, h.user_id, h.amount, h.discount
    ), audit AS (
        INSERT INTO audit_log (actor_user_id, actor_kind, action, subject_type, subject_id, show_id, details)
        SELECT p.user_id, 'fan', 'hold.code_used', 'hold', CAST(p.id AS text), p.show_id,
               jsonb_build_object('accessCodeId', CAST(use.id AS text), 'code', use.code,
                                  'discount', p.discount, 'amount', p.amount)
        FROM priced p, use
    )
    SELECT p.amount, p.discount, (SELECT active FROM access_codes WHERE id = :code_id) AS active
    FROM (SELECT 1) one LEFT JOIN priced p ON true
"""


def redeem(uow: UnitOfWork, grant: CodeGrant, hold_id: uuid.UUID) -> Priced:
    """Takes a use of the code for the hold just made, in its transaction, and prices it. No use left
    (or the code deactivated meanwhile): ``CODE_EXHAUSTED`` (``CODE_INVALID``); the caller rolls back."""
    row: Any = uow.execute(REDEEM, {"code_id": grant.code_id, "hold_id": hold_id}).one()
    if row.amount is None:
        if not row.active:
            raise CodeInvalid("this code is no longer valid", reason="INACTIVE")
        raise CodeExhausted("this code has no uses left")
    return Priced(row.amount, row.discount)
