"""Hosted checkout (README "Hosted checkout"): a hold paid on the gateway's own payment page.

``open_session`` gives a hold its one open Checkout Session. The session's payment intent carries the
hold's id in its metadata, so whatever settles it (the gateway's ``checkout.session.completed`` and
``payment_intent.*`` webhooks, the fan's return to the site) ends in ``saga.settle_intent`` like any
other payment: one booking per intent, a seat never booked twice, and money that arrives when the
hold's seats are gone refunded in full.

Starting a session does not protect the hold's seats (``saga.start_payment`` does, for an intent the
fan pays through the API): the hold lapses at its ``expiresAt`` as if no payment had started. The
gateway keeps a session open for at least 30 minutes, so a session outlives a shorter hold; a payment
made on it after the hold lapsed still books the seats if they are free, and is refunded otherwise
(``saga._refund_instead``, reason ``HOLD_LAPSED``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from app.booking import queries, saga
from app.errors import Degraded, HoldExpired, HoldNotFound, PaymentInProgress, PaymentNotNeeded, PaymentRefused
from app.payments.gateway import ChargeRefused, GatewayUnavailable, PaymentGateway
from app.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenSession:
    session_id: str
    url: str
    created: bool


def session_idempotency_key(hold_id: uuid.UUID, attempt: int) -> str:
    return f"seatline-hold-{hold_id}-checkout-{attempt}"


# The hold's row, written before the gateway is asked: its attempt and expires_at make the request, so
# every caller for the hold sends the same one under the same key. A new attempt replaces a session
# that expired, and a session never made whose expires_at would now be too close for the gateway
# (at least 30 minutes ahead, Stripe's rule; 31 asked, for the clocks and the trip).
CLAIM_SESSION = """
    INSERT INTO checkout_sessions (hold_id, expires_at)
    VALUES (:id, LEAST(GREATEST(:hold_expires_at, now() + interval '31 minutes'), now() + interval '23 hours'))
    ON CONFLICT (hold_id) DO UPDATE
    SET attempt = checkout_sessions.attempt + 1, expires_at = EXCLUDED.expires_at, session_id = NULL, url = NULL,
        status = 'open', created_at = now()
    WHERE checkout_sessions.status <> 'complete' AND (
        checkout_sessions.status = 'expired'
        OR checkout_sessions.expires_at <= now() + interval '5 seconds'
        OR (checkout_sessions.session_id IS NULL AND checkout_sessions.expires_at < now() + interval '30 minutes 30 seconds')
    )
    RETURNING attempt
"""

SESSION_ROW = """
    SELECT attempt, CAST(extract(epoch FROM expires_at) AS bigint) AS expires_at, session_id, url, status
    FROM checkout_sessions WHERE hold_id = :id
"""


def open_session(
    uow: UnitOfWork, gateway: PaymentGateway, user_id: int, hold_id: uuid.UUID, success_url: str, cancel_url: str
) -> OpenSession:
    """The hold's open Checkout Session, made if need be (``created``). ``success_url`` may hold the
    gateway's ``{CHECKOUT_SESSION_ID}`` placeholder."""
    hold = queries.lock_hold(uow, hold_id)
    if hold is None or hold.user_id != user_id:
        raise HoldNotFound(f"hold {hold_id} does not exist")
    if hold.status != "ACTIVE" or not hold.live:
        raise HoldExpired("this hold has run out; hold the seats again", status=hold.status)
    if hold.amount == 0:
        raise PaymentNotNeeded(
            "these seats are free: confirm the hold without a payment", amount=0, currency=hold.currency
        )
    if hold.payment_started_at is not None:
        raise PaymentInProgress("this hold's payment was started with a payment intent: pay that intent")
    uow.execute(CLAIM_SESSION, {"id": hold.id, "hold_expires_at": hold.expires_at})
    row = uow.execute(SESSION_ROW, {"id": hold.id}).one()
    uow.commit()  # never hold a row lock across a gateway call
    if row.session_id is not None and row.url:
        return OpenSession(row.session_id, row.url, created=False)
    try:
        session = gateway.create_checkout_session(
            amount=hold.amount,
            currency=hold.currency,
            description="Seats " + ", ".join(hold.seat_ids),
            metadata=_metadata(hold),
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=row.expires_at,
            idempotency_key=session_idempotency_key(hold.id, row.attempt),
        )
    except ChargeRefused as exc:
        raise PaymentRefused(
            f"the payment service will not take this payment: {exc}",
            gatewayCode=exc.code,
            param=exc.param,
            amount=hold.amount,
            currency=hold.currency,
        ) from exc
    except GatewayUnavailable as exc:
        log.warning("payment gateway unavailable: %s", exc)
        raise Degraded(
            "the payment service is not answering; your seats stay held, try again in a moment",
            retryAfter=getattr(exc, "retry_after", 5),
        ) from exc
    recorded = uow.execute(
        """
        UPDATE checkout_sessions SET session_id = :sid, url = :url
        WHERE hold_id = :id AND attempt = :attempt AND session_id IS NULL
        RETURNING session_id
        """,
        {"sid": session.id, "url": session.url, "id": hold.id, "attempt": row.attempt},
    ).first()
    uow.commit()
    return OpenSession(session.id, session.url or "", created=recorded is not None)


def _metadata(hold: Any) -> dict[str, str]:
    # The same metadata as an API intent's (``saga._intent_metadata``): ``saga._hold_of`` reads hold_id.
    return {"hold_id": str(hold.id), "user_id": str(hold.user_id), "show_id": str(hold.show_id)}


def close_session(uow: UnitOfWork, gateway: PaymentGateway, session_id: str) -> str:
    """The sweeper's step for a session whose hold has ended: closes it at the gateway, so the hosted
    page takes no payment for seats the fan no longer holds. If it was paid meanwhile (and its
    webhooks were lost), the payment is settled here like any other: booked if the seats are free,
    refunded otherwise. Returns the session's status. Raises GatewayUnavailable (the next sweep
    tries again)."""
    session = gateway.expire_checkout_session(session_id)
    if session.status == "complete" and session.payment_intent:
        saga.settle_intent(uow, gateway, gateway.retrieve_intent(session.payment_intent), path=saga.RECONCILE)
    record_session_status(uow, session_id, session.status)
    uow.commit()
    return session.status


def record_session_status(uow: UnitOfWork, session_id: str, status: str) -> None:
    """Follows a ``checkout.session.completed`` / ``.expired`` event; a complete session stays complete."""
    uow.execute(
        "UPDATE checkout_sessions SET status = :status WHERE session_id = :sid AND status = 'open'",
        {"status": status, "sid": session_id},
    )


def session_of_hold(uow: UnitOfWork, user_id: int, hold_id: uuid.UUID) -> Any:
    """The fan's hold with its session and booking, for the page that waits for the payment to land."""
    return uow.execute(
        """
        SELECT h.id, h.status, cs.session_id, cs.status AS session_status, b.id AS booking_id,
               EXISTS (SELECT 1 FROM refunds r JOIN payments p ON p.payment_intent_id = r.payment_intent_id
                       WHERE p.hold_id = h.id) AS refunded
        FROM holds h
        LEFT JOIN checkout_sessions cs ON cs.hold_id = h.id
        LEFT JOIN bookings b ON b.hold_id = h.id
        WHERE h.id = :id AND h.user_id = :user_id
        """,
        {"id": hold_id, "user_id": user_id},
    ).first()
