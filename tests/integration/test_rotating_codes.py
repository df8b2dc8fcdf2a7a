"""Rotating codes at the door (README "Rotating codes"): a show switched to them by its manager, codes
computed as a fan's live ticket computes them (the secrets its page receives), checked in over the API
against real Postgres; clock windows, a stale code, a replay at a second gate, a transfer, a batch."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from app.tickets import codes, rotating
from tests.integration.test_checkin import checkins_url, nonce, scan, stored
from tests.integration.test_tickets import qr_texts, site_fan
from tests.support.booking import book
from tests.support.db import fetch
from tests.support.snapshot import differences, snapshot


def b64(raw: str) -> bytes:
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


def make_rotating(client, manager, show_id, static_allowed=False):
    body = {"ticketCodes": "ROTATING", "staticCodesAllowed": static_allowed}
    r = client.patch(f"/api/v1/manage/shows/{show_id}", json=body, headers=manager.headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["ticketCodes"] == "ROTATING" and r.get_json()["staticCodesAllowed"] is static_allowed


@pytest.fixture
def rotating_show(app, client, make, gateway):
    show = make.show(rows=3, per_row=6, title="Rotating Night")
    manager, door = make.fan(role="manager"), make.fan(role="door")
    make_rotating(client, manager, show.show_id)
    site, headers = site_fan(app, f"rot-{uuid.uuid4().hex[:8]}@example.com")
    fan = SimpleNamespace(headers=headers)
    booking_id = book(client, gateway, fan, show.show_id, ["B1", "B2"])
    return SimpleNamespace(show=show, manager=manager, door=door, site=site, fan=fan, booking_id=booking_id)


def live(site, booking_id):
    r = site.get(f"/bookings/{booking_id}/live.json")
    assert r.status_code == 200, r.status_code
    return {t["seatId"]: t for t in r.get_json()["tickets"]}


def text_at(ticket, unix: float) -> str:
    return rotating.rotating_text(ticket["code"], b64(ticket["secret"]), unix)


def test_the_booking_api_keeps_the_static_code_and_links_the_live_ticket(client, rotating_show):
    s = rotating_show
    r = client.get(f"/api/v1/bookings/{s.booking_id}", headers=s.fan.headers).get_json()
    for t in r["tickets"]:
        assert t["rotating"] is True and t["liveUrl"] == f"/bookings/{s.booking_id}/live"
        codes.read(t["code"])  # the signed static code, as before
    data = live(s.site, s.booking_id)
    assert {seat: t["code"] for seat, t in data.items()} == {t["seatId"]: t["code"] for t in r["tickets"]}
    assert all(len(b64(t["secret"])) == 32 for t in data.values())


def test_a_live_code_admits_once_and_its_replay_at_a_second_gate_is_already_checked_in(app, client, rotating_show):
    s = rotating_show
    text = text_at(live(s.site, s.booking_id)["B1"], time.time())
    first = scan(client, s.door, s.show.show_id, text, gate="North")
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["seatId"] == "B1"
    replay = scan(client, s.door, s.show.show_id, text, gate="South")  # the same code, within its 30 s
    assert replay.status_code == 409
    assert replay.get_json()["error"]["code"] == "ALREADY_CHECKED_IN" and replay.get_json()["error"]["gate"] == "North"
    assert fetch(app, "SELECT count(*) AS n FROM checkins")[0].n == 1


@pytest.mark.parametrize("seconds_ago", [30, 45, 600])
def test_a_stale_code_is_expired_and_admits_nothing(app, client, rotating_show, seconds_ago):
    s = rotating_show
    text = text_at(live(s.site, s.booking_id)["B1"], time.time() - seconds_ago)
    before = stored(app)
    r = scan(client, s.door, s.show.show_id, text)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "TICKET_CODE_EXPIRED"
    assert r.get_json()["error"]["seatId"] == "B1"
    assert stored(app)[0] == before[0]


def test_the_previous_step_still_admits(client, rotating_show):
    s = rotating_show
    text = text_at(live(s.site, s.booking_id)["B1"], time.time() - rotating.STEP_SECONDS)
    assert scan(client, s.door, s.show.show_id, text).status_code == 201


@pytest.mark.parametrize("value", ["00000000", "1234567", "ABCDEFGH", "", "123456789"])
def test_a_wrong_value_is_refused(client, rotating_show, value):
    s = rotating_show
    code = live(s.site, s.booking_id)["B1"]["code"]
    right = text_at(live(s.site, s.booking_id)["B1"], time.time()).split(":")[1]
    if value == right:  # one chance in 10^8
        return
    r = scan(client, s.door, s.show.show_id, f"{code}:{value}")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "TICKET_CODE_EXPIRED"


def test_a_static_code_at_a_rotating_show_is_refused_unless_printed_tickets_are_allowed(app, client, rotating_show):
    s = rotating_show
    code = live(s.site, s.booking_id)["B1"]["code"]
    r = scan(client, s.door, s.show.show_id, code)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "TICKET_STATIC_NOT_ALLOWED"
    assert fetch(app, "SELECT count(*) AS n FROM checkins")[0].n == 0
    # The PDF carries no code while printed tickets are not allowed; the booking page offers none.
    pdf = s.site.get(f"/bookings/{s.booking_id}/tickets.pdf")
    assert pdf.status_code == 200 and qr_texts(pdf.data) == [[], []]
    page = s.site.get(f"/bookings/{s.booking_id}").get_data(as_text=True)
    assert "tickets.pdf" not in page and f"/bookings/{s.booking_id}/live" in page

    make_rotating(client, s.manager, s.show.show_id, static_allowed=True)
    assert scan(client, s.door, s.show.show_id, code).status_code == 201
    pdf = s.site.get(f"/bookings/{s.booking_id}/tickets.pdf")
    assert qr_texts(pdf.data)[0] == [code]
    assert "tickets.pdf" in s.site.get(f"/bookings/{s.booking_id}").get_data(as_text=True)


def test_a_static_show_takes_the_static_code_and_ignores_a_value(client, make, gateway):
    show = make.show(rows=2, per_row=4)
    door = make.fan(role="door")
    fan = make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["A1", "A2"])
    t = {
        x["seatId"]: x for x in client.get(f"/api/v1/bookings/{booking_id}", headers=fan.headers).get_json()["tickets"]
    }
    assert t["A1"]["rotating"] is False and t["A1"]["liveUrl"] is None
    assert scan(client, door, show.show_id, t["A1"]["code"]).status_code == 201
    assert scan(client, door, show.show_id, t["A2"]["code"] + ":12345678").status_code == 201


def test_a_transfer_moves_the_secret(app, client, make, rotating_show):
    s = rotating_show
    old = live(s.site, s.booking_id)["B1"]
    friend_site, friend_headers = site_fan(app, f"friend-{uuid.uuid4().hex[:8]}@example.com")
    email = fetch(app, "SELECT email FROM users ORDER BY id DESC LIMIT 1")[0].email
    r = client.post(f"/api/v1/bookings/{s.booking_id}/transfer", json={"email": email}, headers=s.fan.headers)
    assert r.status_code == 200, r.get_json()
    # The old page's data is gone for the old owner; its code, fresh as it is, no longer admits.
    assert s.site.get(f"/bookings/{s.booking_id}/live.json").status_code == 404
    refused = scan(client, s.door, s.show.show_id, text_at(old, time.time()))
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "TICKET_REVOKED"
    new = live(friend_site, s.booking_id)["B1"]
    assert new["secret"] != old["secret"] and new["code"] != old["code"]
    # The new code with the old secret's value is not the new ticket's.
    mixed = rotating.rotating_text(new["code"], b64(old["secret"]), time.time())
    r = scan(client, s.door, s.show.show_id, mixed)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "TICKET_CODE_EXPIRED"
    admitted = scan(client, s.door, s.show.show_id, text_at(new, time.time()))
    assert admitted.status_code == 201 and admitted.get_json()["version"] == 2


def test_a_batch_judges_each_value_at_its_scanned_at(app, client, rotating_show):
    s = rotating_show
    tickets = live(s.site, s.booking_id)
    earlier = datetime.now(UTC) - timedelta(minutes=10)
    scans = [
        # scanned ten minutes ago with that moment's code: admitted
        {
            "ticket": text_at(tickets["B1"], earlier.timestamp()),
            "gate": "East",
            "nonce": nonce(),
            "scannedAt": earlier.isoformat(),
        },
        # a code of now, said to be scanned ten minutes ago: it did not exist then
        {
            "ticket": text_at(tickets["B2"], time.time()),
            "gate": "East",
            "nonce": nonce(),
            "scannedAt": earlier.isoformat(),
        },
    ]
    r = client.post(checkins_url(s.show.show_id) + "/batch", json={"scans": scans}, headers=s.door.headers)
    assert r.status_code == 200, r.get_json()
    assert [x["result"] for x in r.get_json()["results"]] == ["ADMITTED", "TICKET_CODE_EXPIRED"]


def test_the_bundle_carries_the_show_key_that_derives_the_fans_secrets(app, client, rotating_show):
    s = rotating_show
    bundle = client.get(f"/api/v1/manage/shows/{s.show.show_id}/checkin-bundle", headers=s.door.headers).get_json()
    assert bundle["ticketCodes"] == "ROTATING" and bundle["staticCodesAllowed"] is False
    rules = bundle["rotation"]
    assert (rules["stepSeconds"], rules["digits"], rules["previousSteps"], rules["separator"]) == (15, 8, 1, ":")
    key = b64(rules["key"])
    for seat, t in live(s.site, s.booking_id).items():
        assert rotating.ticket_secret(key, uuid.UUID(s.booking_id), seat, 1) == b64(t["secret"])
    # The fan's page never sees the show key.
    assert rules["key"] not in s.site.get(f"/bookings/{s.booking_id}/live.json").get_data(as_text=True)


def test_the_live_ticket_is_its_owner_s_only(app, client, make, rotating_show):
    s = rotating_show
    stranger, _ = site_fan(app, f"stranger-{uuid.uuid4().hex[:8]}@example.com")
    for path in ("/live", "/live.json"):
        assert stranger.get(f"/bookings/{s.booking_id}{path}").status_code == 404
        assert stranger.get(f"/bookings/{uuid.uuid4()}{path}").status_code == 404
    anonymous = app.test_client()
    assert anonymous.get(f"/bookings/{s.booking_id}/live").status_code in (302, 303)
    assert anonymous.get(f"/bookings/{s.booking_id}/live.json").status_code == 404
    assert stranger.get("/bookings/not-a-uuid/live.json").status_code == 404
    page = s.site.get(f"/bookings/{s.booking_id}/live")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    manifest = anonymous.get(f"/bookings/{s.booking_id}/live.webmanifest").get_json(force=True)
    assert manifest["start_url"] == f"/bookings/{s.booking_id}/live" and len(manifest["icons"]) == 2
    for icon in manifest["icons"]:
        assert anonymous.get(icon["src"]).status_code == 200
    worker = anonymous.get(f"/bookings/{s.booking_id}/live-sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"


@pytest.mark.parametrize(
    "body",
    [
        {"ticketCodes": "SPINNING"},
        {"ticketCodes": "rotating"},
        {"ticketCodes": 1},
        {"staticCodesAllowed": "yes"},
        {"ticketCodes": ["ROTATING"]},
    ],
)
def test_bad_code_settings_are_refused_and_change_nothing(app, client, make, body):
    show = make.show(rows=1, per_row=2)
    manager = make.fan(role="manager")
    before = snapshot(app)
    r = client.patch(f"/api/v1/manage/shows/{show.show_id}", json=body, headers=manager.headers)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_FAILED"
    assert differences(before, snapshot(app)) == []


def test_a_show_starts_static_and_keeps_its_key_when_switched_back(app, client, make):
    show = make.show(rows=1, per_row=2)
    manager = make.fan(role="manager")
    got = client.get(f"/api/v1/manage/shows/{show.show_id}", headers=manager.headers).get_json()
    assert got["ticketCodes"] == "STATIC" and got["staticCodesAllowed"] is False
    make_rotating(client, manager, show.show_id)
    [sealed] = [
        r.rotation_key_sealed
        for r in fetch(app, "SELECT rotation_key_sealed FROM shows WHERE id = :id", id=show.show_id)
    ]
    r = client.patch(f"/api/v1/manage/shows/{show.show_id}", json={"ticketCodes": "STATIC"}, headers=manager.headers)
    assert r.status_code == 200 and r.get_json()["ticketCodes"] == "STATIC"
    make_rotating(client, manager, show.show_id)
    [again] = [
        r.rotation_key_sealed
        for r in fetch(app, "SELECT rotation_key_sealed FROM shows WHERE id = :id", id=show.show_id)
    ]
    assert bytes(again) == bytes(sealed)
    bundle = client.get(f"/api/v1/manage/shows/{show.show_id}/checkin-bundle", headers=manager.headers).get_json()
    assert bundle["rotation"] is not None
