"""Door check-in's API, /api/v1/manage/shows/{showId}/checkins… (README "Door check-in").

A blueprint of its own because, unlike the rest of the manager API (app/manage/api.py), door staff may
use it: authentication (401) and the role (403: door staff, managers and admins) come first, then the
show, which must belong to the caller's organisation (404 otherwise; an admin sees every show).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g

from app.api.http import current_user, parse_body, parse_id
from app.contract import (
    ALREADY_CHECKED_IN,
    DEGRADED,
    DOOR_STAFF_ONLY,
    INTERNAL_ERROR,
    NO_STORE,
    PAYLOAD_TOO_LARGE,
    SHOW_NOT_FOUND,
    TICKET_REFUSED,
    UNAUTHORIZED,
    VALIDATION_FAILED,
    Answer,
    operation,
)
from app.errors import ShowNotFound
from app.manage import checkin
from app.manage.access import CHECKIN_ROLES, Actor, load_actor
from app.manage.request_models import CheckinBatchRequest, CheckinRequest
from app.manage.schemas import CheckinAdmitted, CheckinBatchResult, CheckinBundle
from app.ops.metrics import CHECKINS
from app.unit_of_work import unit_of_work

bp = Blueprint("checkin_api", __name__, url_prefix="/api/v1/manage")


@bp.before_request
def _door_staff_and_managers_only() -> None:
    with unit_of_work() as uow:
        g.checkin_actor = load_actor(uow, current_user().id, CHECKIN_ROLES)


def actor() -> Actor:
    return g.checkin_actor


def _show_id(raw: str) -> int:
    return parse_id(raw, ShowNotFound, "show")


@bp.post("/shows/<show_id>/checkins")
@operation(
    "checkInTicket",
    "Check a ticket in at the show's door",
    tags=("checkin",),
    body=CheckinRequest,
    body_examples={"scan": {"value": {"ticket": "AEBAGBAF…", "gate": "North 2", "nonce": "c1a7f0d3b2e84f6a"}}},
    answers={201: Answer("The ticket is admitted.", model=CheckinAdmitted, headers={"Cache-Control": NO_STORE})},
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: DOOR_STAFF_ONLY,
        404: SHOW_NOT_FOUND,
        409: ALREADY_CHECKED_IN,
        413: PAYLOAD_TOO_LARGE,
        422: TICKET_REFUSED,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def check_in(show_id: str):
    """Verifies the ticket's code with the show's organisation's public keys, checks that it is
    for this show and still valid (not replaced by a transfer, its booking not cancelled) and that
    check-in is open, and admits its seat once: the first scan of a ticket answers 201, every later
    one `409 ALREADY_CHECKED_IN` with the `at` and `gate` of the first, however many gates scan it at
    once. The same `nonce` again (a retried upload) gets the first answer back, status and body, and
    changes nothing. Door staff, managers and admins of the show's organisation may check in.

    Check-in is open until the show ends (its start plus the event's duration), from any time
    before it, unless the manager set a narrower window (`PUT /manage/shows/{showId}/checkin-window`).

    Checks, in order: authentication (401), the role (403), the show (404), the body (400), the
    nonce (an answered one is answered again), the window (`422 CHECKIN_CLOSED`), the code
    (`422 TICKET_INVALID`, `WRONG_SHOW`, then at a show with rotating codes `TICKET_STATIC_NOT_ALLOWED`
    or `TICKET_CODE_EXPIRED`, then `TICKET_REVOKED`), an earlier admission (409).

    At a show with rotating codes (README "Rotating codes") `ticket` is the live ticket's text, the
    static code, `:` and the 8-digit value of the moment, which admits during its own 15-second step
    and the next (and 5 s before its step begins); a bare static code is `TICKET_STATIC_NOT_ALLOWED`
    unless the show allows printed tickets.

    Errors: `400 VALIDATION_FAILED`; `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`;
    `404 SHOW_NOT_FOUND`; `409 ALREADY_CHECKED_IN`; `413 PAYLOAD_TOO_LARGE`;
    `422 TICKET_INVALID` / `WRONG_SHOW` / `TICKET_REVOKED` / `CHECKIN_CLOSED` /
    `TICKET_STATIC_NOT_ALLOWED` / `TICKET_CODE_EXPIRED`;
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = _show_id(show_id)
    with unit_of_work() as uow:
        checkin.visible_show(uow, actor(), sid)
    answer = answer_scan(actor(), sid, parse_body(CheckinRequest))
    return answer.body, answer.status, {"Cache-Control": "no-store"}


def answer_scan(who: Actor, sid: int, body: CheckinRequest) -> checkin.ScanAnswer:
    """One scan, answered and counted: the API's and the scanner page's (app/manage/door.py)."""
    with unit_of_work() as uow:
        answer = checkin.check_in(uow, who, sid, body.ticket, body.gate, body.nonce)
    CHECKINS.labels(answer.result).inc()
    return answer


@bp.post("/shows/<show_id>/checkins/batch")
@operation(
    "uploadOfflineCheckins",
    "Upload scans made offline",
    tags=("checkin",),
    body=CheckinBatchRequest,
    answers={200: Answer("Each scan's answer, and the conflicts.", model=CheckinBatchResult)},
    failures={
        400: VALIDATION_FAILED,
        401: UNAUTHORIZED,
        403: DOOR_STAFF_ONLY,
        404: SHOW_NOT_FOUND,
        413: PAYLOAD_TOO_LARGE,
        500: INTERNAL_ERROR,
        503: DEGRADED,
    },
)
def upload_batch(show_id: str):
    """Scans a scanner made offline (checked there against the check-in bundle), each answered as
    `POST /manage/shows/{showId}/checkins` would answer it, at its `scannedAt` (a time ahead of the
    server's counts as now). The earliest scan of a ticket wins, whichever was uploaded first: an
    earlier scan displaces a later admission (`replaced` in its body), a later one is a conflict.
    `conflicts` lists every scan of this upload refused because another scan admitted the ticket,
    with that scan's gate and time. Scans are taken in the order of their `scannedAt`; each is
    kept under its nonce, so uploading the batch again (all or part) answers the same and changes
    nothing. A bad body refuses the whole batch.

    Errors: `400 VALIDATION_FAILED`; `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`;
    `404 SHOW_NOT_FOUND`; `413 PAYLOAD_TOO_LARGE`; `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = _show_id(show_id)
    with unit_of_work() as uow:
        checkin.visible_show(uow, actor(), sid)
    return answer_batch(actor(), sid, parse_body(CheckinBatchRequest)), 200, {"Cache-Control": "no-store"}


def answer_batch(who: Actor, sid: int, body: CheckinBatchRequest) -> dict[str, Any]:
    """An offline scanner's upload, each scan answered at its ``scannedAt``, earliest first, and the
    conflicts: the API's and the scanner page's (app/manage/door.py)."""
    answers: dict[int, checkin.ScanAnswer] = {}
    for i in sorted(range(len(body.scans)), key=lambda i: body.scans[i].scannedAt):
        scan = body.scans[i]
        with unit_of_work() as uow:
            answers[i] = checkin.check_in(uow, who, sid, scan.ticket, scan.gate, scan.nonce, scan.scannedAt)
        CHECKINS.labels(answers[i].result).inc()
    results, conflicts = [], []
    for i, scan in enumerate(body.scans):
        answer = answers[i]
        results.append({"nonce": scan.nonce, "status": answer.status, "result": answer.result, "body": answer.body})
        if answer.result == "ALREADY_CHECKED_IN":
            err = answer.body["error"]
            conflicts.append(
                {
                    "nonce": scan.nonce,
                    "bookingId": err["bookingId"],
                    "seatId": err["seatId"],
                    "gate": scan.gate,
                    "admittedAt": err["at"],
                    "admittedGate": err["gate"],
                }
            )
    with unit_of_work() as uow:
        admitted = checkin.admitted_count(uow, sid)
    return {"results": results, "conflicts": conflicts, "admitted": admitted}


@bp.get("/shows/<show_id>/checkin-bundle")
@operation(
    "getCheckinBundle",
    "What a scanner needs to check tickets in offline",
    tags=("checkin",),
    answers={200: Answer("The show's bundle.", model=CheckinBundle, headers={"Cache-Control": NO_STORE})},
    failures={401: UNAUTHORIZED, 403: DOOR_STAFF_ONLY, 404: SHOW_NOT_FOUND, 500: INTERNAL_ERROR, 503: DEGRADED},
)
def checkin_bundle(show_id: str):
    """The show's organisation's public keys (JWKs by `kid`, retired ones too), the ticket codes
    revoked so far (booking, seat, version), the tickets admitted so far, the check-in window and
    when the bundle was made; the show's code mode and, at a show with rotating codes, its rotation
    key and clock rules (`rotation`; README "Rotating codes"). A scanner verifies codes with the keys alone, refuses revoked and
    admitted ones, and uploads what it scanned with `POST /manage/shows/{showId}/checkins/batch`.

    Errors: `401 AUTH_REQUIRED` / `INVALID_TOKEN`; `403 FORBIDDEN`; `404 SHOW_NOT_FOUND`;
    `500 INTERNAL_ERROR`; `503 DEGRADED`.
    """
    sid = _show_id(show_id)
    with unit_of_work() as uow:
        return checkin.bundle(uow, actor(), sid), 200, {"Cache-Control": "no-store"}
