"""Ticket codes, booking transfer and the printable tickets (README "Tickets and transfer"): real
Postgres, Redis, the gateway simulator and the SMTP sink; codes checked with the public keys only, as
a scanner would, and QR codes read back with a real decoder (zxing-cpp)."""

from __future__ import annotations

import io
import re
import threading
import uuid
from datetime import UTC, timedelta
from email.message import Message
from zoneinfo import ZoneInfo

import pytest
import segno
import zxingcpp
from icalendar import Calendar
from pypdf import PdfReader

from app.tickets import codes, keys
from app.unit_of_work import unit_of_work
from devstack.mail import text_body
from tests.support.booking import book
from tests.support.db import fetch, run_jobs, run_sql
from tests.support.polling import wait_for
from tests.support.snapshot import differences, snapshot

TRANSFER = "/api/v1/bookings/{}/transfer"


def email_of(app, fan) -> str:
    return fetch(app, "SELECT email FROM users WHERE id = :id", id=fan.user_id)[0].email


def public_key_for(app, show_id: int):
    """What a scanner would hold: the show's organisation's public keys (JWKs), nothing private."""
    with app.app_context(), unit_of_work() as uow:
        org = uow.execute(
            "SELECT e.organisation_id FROM shows s JOIN events e ON e.id = s.event_id WHERE s.id = :id", {"id": show_id}
        ).scalar_one()
        jwks = keys.public_keys(uow, org)
    by_kid = {k["kid"]: keys.public_key_from_jwk(k) for k in jwks}
    return by_kid.get


def booking(client, fan, booking_id):
    r = client.get(f"/api/v1/bookings/{booking_id}", headers=fan.headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def revoked(app, booking_id):
    return sorted(
        (r.seat_id, r.version, r.reason)
        for r in fetch(app, "SELECT seat_id, version, reason FROM revoked_tickets WHERE booking_id = :b", b=booking_id)
    )


def attachments(message: Message) -> dict[str, bytes]:
    return {part.get_content_type(): part.get_payload(decode=True) for part in message.walk() if part.get_filename()}


def qr_texts(pdf: bytes) -> list[list[str]]:
    """The text of every QR code on each page of the PDF, read from the page's image by zxing-cpp."""
    return [
        [found.text for image in page.images for found in zxingcpp.read_barcodes(image.image)]
        for page in PdfReader(io.BytesIO(pdf)).pages
    ]


def test_each_seat_has_a_code_that_verifies_with_the_public_key_alone(app, client, make, gateway):
    show = make.show(title="Ticket Code Night")
    fan = make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["B1", "B2"])

    b = booking(client, fan, booking_id)
    assert [t["seatId"] for t in b["tickets"]] == ["B1", "B2"]
    verify = public_key_for(app, show.show_id)
    for t in b["tickets"]:
        assert re.fullmatch(r"[A-Z2-7]+", t["code"]) and len(t["code"]) < 200  # QR alphanumeric mode
        ticket = codes.verify(t["code"], verify)
        assert (ticket.booking_id, ticket.show_id, ticket.seat_id, ticket.version) == (
            uuid.UUID(booking_id),
            show.show_id,
            t["seatId"],
            1,
        )
    listed = client.get("/api/v1/bookings", headers=fan.headers).get_json()["bookings"]
    assert listed[0]["tickets"] == b["tickets"]
    # The same codes on every read: nothing about a ticket changes until it is transferred.
    assert booking(client, fan, booking_id)["tickets"] == b["tickets"]


def test_a_tampered_forged_or_truncated_code_does_not_verify(app, client, make, gateway):
    show = make.show()
    fan = make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["C3"])
    code = booking(client, fan, booking_id)["tickets"][0]["code"]
    verify = public_key_for(app, show.show_id)
    ticket = codes.verify(code, verify)

    for i in (3, 12, 40, len(code) - 5):  # a changed kid, booking, seat or signature
        flipped = code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1 :]
        with pytest.raises(codes.TicketCodeInvalid):
            codes.verify(flipped, verify)
    with pytest.raises(codes.TicketCodeInvalid):
        codes.verify(code[:-8], verify)
    with pytest.raises(codes.TicketCodeInvalid):
        codes.verify("seatline:" + booking_id + ":C3", verify)
    # Another seat, signed by a key that claims the organisation's kid: the signature gives it away.
    forger = codes.Ticket(ticket.kid, ticket.booking_id, ticket.show_id, "A1", ticket.version)
    forged = codes.sign(forger, keys.Ed25519PrivateKey.generate())
    with pytest.raises(codes.TicketCodeInvalid):
        codes.verify(forged, verify)
    with pytest.raises(codes.TicketCodeInvalid):
        codes.verify(code, lambda kid: None)  # an unknown key


def test_private_keys_are_stored_sealed(app, client, make, gateway):
    show = make.show()
    fan = make.fan()
    booking(client, fan, book(client, gateway, fan, show.show_id, ["D1"]))
    [row] = fetch(app, "SELECT kid, public_key, private_key_sealed FROM ticket_keys")
    secret = app.extensions["seatline.settings"].ticket_keys_secret
    private = keys.unseal(secret, row.kid, bytes(row.private_key_sealed))
    raw = private.private_bytes(keys._RAW, keys.serialization.PrivateFormat.Raw, keys.serialization.NoEncryption())
    assert raw not in bytes(row.private_key_sealed)
    assert keys.public_bytes(private.public_key()) == bytes(row.public_key)
    with pytest.raises(keys.KeySealBroken):
        keys.unseal("another secret", row.kid, bytes(row.private_key_sealed))
    with pytest.raises(keys.KeySealBroken):
        keys.unseal(secret, "00000000", bytes(row.private_key_sealed))  # a sealed key moved to another kid


def test_transfer_moves_the_booking_revokes_the_old_codes_and_emails_both(app, client, make, gateway, mail):
    show = make.show(title="Transfer Gala")
    sender, recipient = make.fan(), make.fan()
    booking_id = book(client, gateway, sender, show.show_id, ["B4", "B5"])
    run_jobs(app)
    old = booking(client, sender, booking_id)["tickets"]
    mail.clear()

    r = client.post(
        TRANSFER.format(booking_id), json={"email": email_of(app, recipient).upper()}, headers=sender.headers
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"bookingId": booking_id, "recipientEmail": email_of(app, recipient), "ticketVersion": 2}

    assert client.get(f"/api/v1/bookings/{booking_id}", headers=sender.headers).status_code == 404
    assert client.get("/api/v1/bookings", headers=sender.headers).get_json()["bookings"] == []
    new = booking(client, recipient, booking_id)["tickets"]
    assert [t["seatId"] for t in new] == ["B4", "B5"]
    assert {t["code"] for t in new}.isdisjoint(t["code"] for t in old)
    verify = public_key_for(app, show.show_id)
    assert {codes.verify(t["code"], verify).version for t in new} == {2}
    # The old codes still carry Seatline's signature: what stops them is the revocation record.
    assert {codes.verify(t["code"], verify).version for t in old} == {1}
    assert revoked(app, booking_id) == [("B4", 1, "TRANSFERRED"), ("B5", 1, "TRANSFERRED")]
    [audit] = fetch(app, "SELECT details FROM audit_log WHERE action = 'booking.transferred'")
    assert audit.details["toUserId"] == recipient.user_id and audit.details["ticketVersion"] == 2

    run_jobs(app)
    [received] = mail.to(email_of(app, recipient))
    assert "transferred to you" in received["Subject"] and "Transfer Gala" in received["Subject"]
    files = attachments(received)
    assert set(files) == {"application/pdf", "text/calendar"}
    assert qr_texts(files["application/pdf"]) == [[new[0]["code"]], [new[1]["code"]]]
    [sent] = mail.to(email_of(app, sender))
    assert "are transferred" in sent["Subject"] and email_of(app, recipient) in text_body(sent)
    assert attachments(sent) == {}  # the sender gets no codes


def test_the_new_owner_can_transfer_on_and_each_transfer_revokes_a_version(app, client, make, gateway):
    show = make.show()
    a, b, c = make.fan(), make.fan(), make.fan()
    booking_id = book(client, gateway, a, show.show_id, ["E1"])
    assert (
        client.post(TRANSFER.format(booking_id), json={"email": email_of(app, b)}, headers=a.headers).status_code == 200
    )
    assert (
        client.post(TRANSFER.format(booking_id), json={"email": email_of(app, c)}, headers=b.headers).status_code == 200
    )
    assert revoked(app, booking_id) == [("E1", 1, "TRANSFERRED"), ("E1", 2, "TRANSFERRED")]
    [t] = booking(client, c, booking_id)["tickets"]
    assert codes.verify(t["code"], public_key_for(app, show.show_id)).version == 3


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": ""},
        {"email": "not-an-email"},
        {"email": 42},
        {"email": None},
        {"email": "x@example.com", "extra": 1},
        {"email": "a" * 250 + "@example.com"},
        [],
        "not json",
    ],
)
def test_bad_transfer_bodies_are_refused_and_change_nothing(app, client, make, gateway, body):
    show = make.show()
    fan, other = make.fan(), make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["A5"])
    booking(client, fan, booking_id)  # the organisation's key exists before the snapshot
    before = snapshot(app)
    if body == "not json":
        r = client.post(
            TRANSFER.format(booking_id), data="{email:", content_type="application/json", headers=fan.headers
        )
    else:
        r = client.post(TRANSFER.format(booking_id), json=body, headers=fan.headers)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_FAILED", r.get_json()
    assert differences(before, snapshot(app)) == []
    assert client.get(f"/api/v1/bookings/{booking_id}", headers=other.headers).status_code == 404


def test_transfers_that_cannot_be_made_answer_404_or_422_and_change_nothing(app, client, make, gateway):
    show = make.show()
    fan, other = make.fan(), make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["A6"])
    booking(client, fan, booking_id)
    before = snapshot(app)

    def refused(who, bid, email):
        r = client.post(TRANSFER.format(bid), json={"email": email}, headers=who.headers)
        return r.status_code, r.get_json()["error"]

    status, error = refused(fan, booking_id, "nobody-here@example.com")
    assert (status, error["code"]) == (422, "RECIPIENT_NOT_FOUND")
    status, error = refused(fan, booking_id, email_of(app, fan))
    assert (status, error["code"], error["reason"]) == (422, "TRANSFER_NOT_ALLOWED", "SAME_ACCOUNT")
    assert refused(other, booking_id, email_of(app, other))[0] == 404  # someone else's booking
    assert refused(fan, uuid.uuid4(), email_of(app, other))[0] == 404
    assert refused(fan, "not-a-uuid", email_of(app, other))[0] == 404
    assert client.post(TRANSFER.format(booking_id), json={"email": email_of(app, other)}).status_code == 401
    assert differences(before, snapshot(app)) == []


def test_no_transfer_of_a_cancelled_booking_a_cancelled_or_past_show_or_within_the_cut_off(app, client, make, gateway):
    fan, friend = make.fan(), make.fan()
    to_friend = {"email": email_of(app, friend)}

    def reason(booking_id):
        r = client.post(TRANSFER.format(booking_id), json=to_friend, headers=fan.headers)
        assert r.status_code == 422, r.get_json()
        error = r.get_json()["error"]
        assert error["code"] == "TRANSFER_NOT_ALLOWED"
        return error["reason"], error.get("cutoffMinutes")

    cancelled = book(client, gateway, fan, make.show(starts_in=timedelta(days=5)).show_id, ["A1"])
    assert client.post(f"/api/v1/bookings/{cancelled}/cancel", headers=fan.headers).status_code == 200
    assert reason(cancelled) == ("BOOKING_CANCELLED", None)

    show = make.show()
    show_off = book(client, gateway, fan, show.show_id, ["A1"])
    run_sql(app, "UPDATE shows SET status = 'CANCELLED', cancelled_at = now() WHERE id = :id", id=show.show_id)
    assert reason(show_off) == ("SHOW_CANCELLED", None)

    show = make.show()
    past = book(client, gateway, fan, show.show_id, ["A1"])
    run_sql(
        app,
        """UPDATE shows SET sale_opens_at = now() - interval '3 hours', sale_closes_at = now() - interval '2 hours',
           starts_at = now() - interval '1 hour' WHERE id = :id""",
        id=show.show_id,
    )
    assert reason(past) == ("SHOW_STARTED", None)

    soon = make.show(starts_in=timedelta(minutes=30))
    close = book(client, gateway, fan, soon.show_id, ["A1"])
    assert reason(close) == ("TRANSFER_CUTOFF", 60)
    assert revoked(app, close) == []
    # The cut-off is the show's: a show that allows transfers until 10 minutes before lets this one go.
    run_sql(app, "UPDATE shows SET transfer_cutoff_minutes = 10 WHERE id = :id", id=soon.show_id)
    assert client.post(TRANSFER.format(close), json=to_friend, headers=fan.headers).status_code == 200


def test_cancelling_revokes_the_codes(app, client, make, gateway):
    show = make.show(starts_in=timedelta(days=5))
    fan = make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["C4", "C5"])
    assert len(booking(client, fan, booking_id)["tickets"]) == 2
    assert client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers).status_code == 200
    assert booking(client, fan, booking_id)["tickets"] == []
    assert revoked(app, booking_id) == [("C4", 1, "CANCELLED"), ("C5", 1, "CANCELLED")]
    assert client.get(f"/api/v1/bookings/{booking_id}/tickets.pdf", headers=fan.headers).status_code == 404


def test_a_show_cancellation_revokes_every_booking_s_codes(app, client, make, gateway):
    show = make.show()
    fans = [make.fan(), make.fan()]
    ids = [book(client, gateway, f, show.show_id, [seat]) for f, seat in zip(fans, ["D1", "D2"])]
    manager = make.fan("manager")
    r = client.post(f"/api/v1/manage/shows/{show.show_id}/cancel", json={"reason": "Flood."}, headers=manager.headers)
    assert r.status_code in (200, 202), r.get_json()
    run_jobs(app)
    assert [revoked(app, i) for i in ids] == [[("D1", 1, "CANCELLED")], [("D2", 1, "CANCELLED")]]


TRANSFERS, CANCELS = 10, 10


def test_concurrent_transfers_and_cancels_of_one_booking_have_exactly_one_outcome(app, client, make, gateway):
    show = make.show(starts_in=timedelta(days=5))
    owner = make.fan()
    recipients = [make.fan() for _ in range(TRANSFERS)]
    emails = [email_of(app, r) for r in recipients]
    booking_id = book(client, gateway, owner, show.show_id, ["E1", "E2"])
    booking(client, owner, booking_id)
    start = threading.Barrier(TRANSFERS + CANCELS)
    results: list[tuple[str, int, dict]] = []

    def transfer(email):
        c = app.test_client()
        start.wait()
        r = c.post(TRANSFER.format(booking_id), json={"email": email}, headers=owner.headers)
        results.append(("transfer", r.status_code, r.get_json()))

    def cancel():
        c = app.test_client()
        start.wait()
        r = c.post(f"/api/v1/bookings/{booking_id}/cancel", headers=owner.headers)
        results.append(("cancel", r.status_code, r.get_json()))

    threads = [threading.Thread(target=transfer, args=(e,)) for e in emails]
    threads += [threading.Thread(target=cancel) for _ in range(CANCELS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        assert not t.is_alive()

    transferred = [r for r in results if r[0] == "transfer" and r[1] == 200]
    cancelled = [r for r in results if r[0] == "cancel" and r[1] == 200]
    [row] = fetch(app, "SELECT user_id, status, ticket_version FROM bookings WHERE id = :b", b=booking_id)
    events = fetch(
        app,
        "SELECT action FROM audit_log WHERE subject_id = :b AND action IN ('booking.transferred', 'booking.cancelled')",
        b=str(booking_id),
    )
    if transferred:
        # A transfer came first: the booking left the owner, whose every later call finds nothing.
        assert len(transferred) == 1 and cancelled == []
        assert {r[1] for r in results} == {200, 404}, results
        winner = recipients[emails.index(transferred[0][2]["recipientEmail"])]
        assert (row.user_id, row.status, row.ticket_version) == (winner.user_id, "CONFIRMED", 2)
        assert revoked(app, booking_id) == [("E1", 1, "TRANSFERRED"), ("E2", 1, "TRANSFERRED")]
        assert [e.action for e in events] == ["booking.transferred"]
        assert fetch(app, "SELECT count(*) AS n FROM refunds")[0].n == 0
    else:
        # A cancel came first: every cancel answers the same, every transfer finds a cancelled booking.
        assert len(cancelled) == CANCELS, results
        assert all(
            r[1] == 422 and r[2]["error"]["reason"] == "BOOKING_CANCELLED" for r in results if r[0] == "transfer"
        )
        assert (row.user_id, row.status, row.ticket_version) == (owner.user_id, "CANCELLED", 1)
        assert revoked(app, booking_id) == [("E1", 1, "CANCELLED"), ("E2", 1, "CANCELLED")]
        assert [e.action for e in events] == ["booking.cancelled"]
        assert fetch(app, "SELECT count(*) AS n FROM refunds")[0].n == 1


def test_transfers_are_rate_limited_per_fan(app, client, make, gateway):
    show = make.show()
    fan = make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["A9"])
    self_transfer = {"email": email_of(app, fan)}
    answers = [
        client.post(TRANSFER.format(booking_id), json=self_transfer, headers=fan.headers).status_code for _ in range(11)
    ]
    assert answers[:10] == [422] * 10 and answers[10] == 429


def test_the_pdf_has_a_page_per_seat_with_its_qr_code_and_details(app, client, make, gateway):
    show = make.show(title="PDF Proms", timezone_name="Asia/Kolkata")
    fan, other = make.fan(), make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["A3", "B7"])
    tickets = booking(client, fan, booking_id)["tickets"]

    r = client.get(f"/api/v1/bookings/{booking_id}/tickets.pdf", headers=fan.headers)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "attachment" in r.headers["Content-Disposition"] and r.headers["Cache-Control"] == "no-store"
    pages = PdfReader(io.BytesIO(r.data)).pages
    assert len(pages) == 2
    [starts] = fetch(app, "SELECT starts_at FROM shows WHERE id = :id", id=show.show_id)
    local = starts.starts_at.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%H:%M")
    for page, seat, row, number in zip(pages, ["A3", "B7"], ["A", "B"], ["3", "7"]):
        text = page.extract_text()
        assert "PDF Proms" in text and f"Seat {seat}" in text and f"row {row}, number {number}" in text
        assert booking_id in text and "Hall 5x10" in text and local in text and "IST" in text
    assert "500.00" in pages[0].extract_text() and "250.00" in pages[1].extract_text()  # gold, silver
    assert qr_texts(r.data) == [[t["code"]] for t in tickets]

    assert client.get(f"/api/v1/bookings/{booking_id}/tickets.pdf", headers=other.headers).status_code == 404
    assert client.get(f"/api/v1/bookings/{booking_id}/tickets.pdf").status_code == 401


def test_the_confirmation_email_carries_the_pdf_and_a_calendar_entry(app, client, make, gateway, mail):
    show = make.show(title="Mail Matinee")
    fan = make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["C1", "C2"])
    run_jobs(app)
    [confirmation] = mail.to(email_of(app, fan))
    files = attachments(confirmation)
    assert set(files) == {"application/pdf", "text/calendar"}
    tickets = booking(client, fan, booking_id)["tickets"]
    assert qr_texts(files["application/pdf"]) == [[t["code"]] for t in tickets]

    [event] = Calendar.from_ical(files["text/calendar"]).walk("VEVENT")
    [row] = fetch(
        app,
        "SELECT s.starts_at, e.duration_minutes FROM shows s JOIN events e ON e.id = s.event_id WHERE s.id = :id",
        id=show.show_id,
    )
    assert str(event["SUMMARY"]) == "Mail Matinee"
    assert event.decoded("DTSTART") == row.starts_at.replace(microsecond=0).astimezone(UTC)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=row.duration_minutes)
    assert "Hall 5x10" in str(event["LOCATION"])
    assert str(event["UID"]) == f"booking-{booking_id}@seatline.example"


def test_a_confirmation_sent_after_the_booking_was_transferred_carries_no_codes(app, client, make, gateway, mail):
    show = make.show()
    fan, friend = make.fan(), make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["D5"])
    r = client.post(TRANSFER.format(booking_id), json={"email": email_of(app, friend)}, headers=fan.headers)
    assert r.status_code == 200
    run_jobs(app)  # the confirmation goes out only now
    confirmations = [m for m in mail.to(email_of(app, fan)) if "transferred" not in m["Subject"]]
    assert len(confirmations) == 1 and attachments(confirmations[0]) == {}
    assert set(attachments(mail.to(email_of(app, friend))[0])) == {"application/pdf", "text/calendar"}


def test_the_outbox_row_keeps_no_attachment(app, client, make, gateway, mail):
    """Attachments are built by the job that sends the message, from the database: the row keeps
    only the booking's id, before and after sending, so a retry builds them anew."""
    show = make.show()
    fan = make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["E5"])
    [row] = fetch(app, "SELECT id, context FROM notifications WHERE kind = 'booking_confirmed' AND channel = 'email'")
    assert set(row.context) == {"show_id", "booking"}
    run_jobs(app)
    [sent] = fetch(app, "SELECT status, context, body FROM notifications WHERE id = :id", id=row.id)
    assert sent.status == "SENT" and set(sent.context) == {"show_id", "booking"} and "%PDF" not in sent.body
    assert set(attachments(mail.to(email_of(app, fan))[0])) == {"application/pdf", "text/calendar"}
    assert row.context["booking"] == booking_id


def test_the_manager_sets_the_transfer_cut_off_and_fans_see_it(app, client, make, gateway):
    show = make.show(starts_in=timedelta(minutes=45))
    manager, fan, friend = make.fan("manager"), make.fan(), make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["B9"])
    assert client.get(f"/api/v1/shows/{show.show_id}").get_json()["transferCutoffMinutes"] == 60
    to_friend = {"email": email_of(app, friend)}
    assert client.post(TRANSFER.format(booking_id), json=to_friend, headers=fan.headers).status_code == 422

    for bad in (-1, 10081, "30", 1.5):
        r = client.patch(
            f"/api/v1/manage/shows/{show.show_id}", json={"transferCutoffMinutes": bad}, headers=manager.headers
        )
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_FAILED", (bad, r.get_json())
    r = client.patch(
        f"/api/v1/manage/shows/{show.show_id}", json={"transferCutoffMinutes": 30}, headers=manager.headers
    )
    assert r.status_code == 200, r.get_json()
    managed = client.get(f"/api/v1/manage/shows/{show.show_id}", headers=manager.headers).get_json()
    assert managed["transferCutoffMinutes"] == 30
    # The public show detail is shared through the response cache: it shows the change once renewed.
    wait_for(lambda: client.get(f"/api/v1/shows/{show.show_id}").get_json()["transferCutoffMinutes"] == 30)
    assert client.post(TRANSFER.format(booking_id), json=to_friend, headers=fan.headers).status_code == 200


def site_fan(app, email: str):
    """A test client signed in on the site as a new fan, and that fan's API headers."""
    c = app.test_client()
    token = c.post("/api/v1/auth/register", json={"email": email, "password": "correct horse", "name": "Fan"})
    login = c.get("/login")
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login.get_data(as_text=True)).group(1)
    c.post("/login", data={"csrf_token": csrf, "email": email, "password": "correct horse"})
    return c, {"Authorization": f"Bearer {token.get_json()['token']}"}


def test_the_booking_page_shows_each_code_and_serves_the_pdf_and_ics_to_its_owner_only(app, make, gateway):
    show = make.show(title="Site Soirée")
    owner, headers = site_fan(app, "site-owner@example.com")
    stranger, _ = site_fan(app, "site-stranger@example.com")
    hold = owner.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A7"]}, headers=headers).get_json()
    intent = owner.post(f"/api/v1/holds/{hold['holdId']}/payment-intents", headers=headers).get_json()
    gateway.succeed(intent["paymentIntentId"])
    booking_id = owner.post(
        f"/api/v1/holds/{hold['holdId']}/confirm", json={"paymentIntentId": intent["paymentIntentId"]}, headers=headers
    ).get_json()["bookingId"]
    [ticket] = owner.get(f"/api/v1/bookings/{booking_id}", headers=headers).get_json()["tickets"]

    page = owner.get(f"/bookings/{booking_id}").get_data(as_text=True)
    assert "tickets.pdf" in page and "event.ics" in page and 'name="email"' in page
    # The page's QR code is the ticket's code (segno draws the same matrix into the SVG).
    assert segno.make(ticket["code"], error="m").svg_inline(scale=3).split(">", 1)[1][:200] in page

    pdf = owner.get(f"/bookings/{booking_id}/tickets.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert qr_texts(pdf.data) == [[ticket["code"]]]
    ics = owner.get(f"/bookings/{booking_id}/event.ics")
    assert ics.status_code == 200 and ics.mimetype == "text/calendar"
    [event] = Calendar.from_ical(ics.data).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Site Soirée" and str(event["UID"]) == f"booking-{booking_id}@seatline.example"
    assert owner.get(f"/bookings/{booking_id}/event.ics").data.count(b"UID:") == 1

    for path in ("", "/tickets.pdf", "/event.ics"):
        assert stranger.get(f"/bookings/{booking_id}{path}").status_code == 404
    assert app.test_client().get(f"/bookings/{booking_id}/tickets.pdf").status_code in (302, 303)


def test_the_transfer_form_refuses_bad_input_and_changes_nothing(app, make, gateway):
    show = make.show()
    owner, headers = site_fan(app, "form-owner@example.com")
    site_fan(app, "form-friend@example.com")
    hold = owner.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A8"]}, headers=headers).get_json()
    intent = owner.post(f"/api/v1/holds/{hold['holdId']}/payment-intents", headers=headers).get_json()
    gateway.succeed(intent["paymentIntentId"])
    booking_id = owner.post(
        f"/api/v1/holds/{hold['holdId']}/confirm", json={"paymentIntentId": intent["paymentIntentId"]}, headers=headers
    ).get_json()["bookingId"]
    page = owner.get(f"/bookings/{booking_id}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    before = snapshot(app)
    url = f"/bookings/{booking_id}/transfer"
    assert owner.post(url, data={"email": "form-friend@example.com", "confirm": "y"}).status_code == 400  # no CSRF
    for form in (
        {"email": "form-friend@example.com"},  # not confirmed
        {"email": "not an email", "confirm": "y"},
        {"confirm": "y"},
    ):
        assert owner.post(url, data={"csrf_token": csrf, **form}).status_code == 400, form
    refused = owner.post(url, data={"csrf_token": csrf, "email": "nobody@example.com", "confirm": "y"})
    assert refused.status_code == 422 and "No Seatline account" in refused.get_data(as_text=True)
    assert differences(before, snapshot(app)) == []
    done = owner.post(url, data={"csrf_token": csrf, "email": "FORM-friend@example.com", "confirm": "y"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/bookings?transferred=1")
    assert owner.get(f"/bookings/{booking_id}").status_code == 404


def test_readers_racing_to_make_an_organisation_s_first_key_all_sign_with_the_same_one(app, client, make, gateway):
    show = make.show()
    fan = make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["B8"])
    assert fetch(app, "SELECT count(*) AS n FROM ticket_keys")[0].n == 0
    start = threading.Barrier(12)
    seen: list[str] = []

    def read():
        c = app.test_client()
        start.wait()
        r = c.get(f"/api/v1/bookings/{booking_id}", headers=fan.headers)
        seen.append(r.get_json()["tickets"][0]["code"])

    threads = [threading.Thread(target=read) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    [key] = fetch(app, "SELECT kid FROM ticket_keys")
    verify = public_key_for(app, show.show_id)
    assert len(seen) == 12 and {codes.verify(code, verify).kid for code in seen} == {key.kid}
