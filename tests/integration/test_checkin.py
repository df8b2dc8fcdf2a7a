"""Door check-in (README "Door check-in"): real Postgres, Redis and the gateway simulator; tickets come
from real bookings, their codes as the booking API lists them."""

from __future__ import annotations

import secrets
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.manage.checkin import NONCE_KEPT_FOR
from app.tickets import codes, keys
from tests.integration.test_manage_authz import sign_in
from tests.support.booking import book
from tests.support.db import fetch, run_sql

TRANSFER = "/api/v1/bookings/{}/transfer"


def checkins_url(show_id) -> str:
    return f"/api/v1/manage/shows/{show_id}/checkins"


def nonce() -> str:
    return secrets.token_hex(8)


def tickets(client, fan, booking_id) -> dict[str, str]:
    r = client.get(f"/api/v1/bookings/{booking_id}", headers=fan.headers)
    assert r.status_code == 200
    return {t["seatId"]: t["code"] for t in r.get_json()["tickets"]}


def email_of(app, fan) -> str:
    return fetch(app, "SELECT email FROM users WHERE id = :id", id=fan.user_id)[0].email


def stored(app):
    """What check-in keeps: admissions and answered nonces."""
    return (
        fetch(app, "SELECT count(*) AS n FROM checkins")[0].n,
        fetch(app, "SELECT count(*) AS n FROM checkin_nonces")[0].n,
    )


@pytest.fixture
def door_show(app, client, make, gateway):
    show = make.show(rows=3, per_row=6, title="Door Night")
    fan = make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["B1", "B2"])
    return show, fan, booking_id, tickets(client, fan, booking_id)


def scan(client, who, show_id, ticket, gate="North", n=None):
    return client.post(
        checkins_url(show_id), json={"ticket": ticket, "gate": gate, "nonce": n or nonce()}, headers=who.headers
    )


def test_a_ticket_is_admitted_once_and_a_retried_nonce_gets_the_first_answer(app, client, make, door_show):
    show, _, booking_id, codes_by_seat = door_show
    door = make.fan(role="door")
    first_nonce = nonce()
    r = scan(client, door, show.show_id, codes_by_seat["B1"], gate="North", n=first_nonce)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["result"] == "ADMITTED" and body["seatId"] == "B1" and body["bookingId"] == booking_id
    assert body["gate"] == "North" and body["version"] == 1

    again = scan(client, door, show.show_id, codes_by_seat["B1"], gate="South", n=first_nonce)
    assert again.status_code == 201 and again.get_json() == body

    second = scan(client, door, show.show_id, codes_by_seat["B1"], gate="South")
    assert second.status_code == 409
    err = second.get_json()["error"]
    assert err["code"] == "ALREADY_CHECKED_IN" and err["gate"] == "North" and err["at"] == body["at"]
    # The other seat of the booking is a ticket of its own.
    assert scan(client, door, show.show_id, codes_by_seat["B2"]).status_code == 201
    assert fetch(app, "SELECT count(*) AS n FROM checkins")[0].n == 2
    logged = fetch(
        app, "SELECT actor_kind, details->>'result' AS result FROM audit_log WHERE action = 'ticket.checkin'"
    )
    assert sorted(r.result for r in logged) == ["ADMITTED", "ADMITTED", "ALREADY_CHECKED_IN"]
    assert {r.actor_kind for r in logged} == {"door"}


def _forged(code: str) -> str:
    ticket, _, _ = codes.read(code)
    return codes.sign(ticket, Ed25519PrivateKey.generate())


def _unknown_key(code: str) -> str:
    ticket, _, _ = codes.read(code)
    other = codes.Ticket("0badcafe", ticket.booking_id, ticket.show_id, ticket.seat_id, ticket.version)
    return codes.sign(other, Ed25519PrivateKey.generate())


def _tampered(code: str) -> str:
    return code[:-10] + ("A" if code[-10] != "A" else "B") + code[-9:]


@pytest.mark.parametrize(
    "make_code",
    [
        lambda c: "NOT A TICKET",
        lambda c: "A" * 400,
        lambda c: c[:40],
        _tampered,
        _forged,
        _unknown_key,
        lambda c: "€" * 10,
    ],
)
def test_codes_seatline_did_not_sign_are_invalid(app, client, make, door_show, make_code):
    show, _, _, codes_by_seat = door_show
    door = make.fan(role="door")
    r = scan(client, door, show.show_id, make_code(codes_by_seat["B1"]))
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "TICKET_INVALID"
    assert fetch(app, "SELECT count(*) AS n FROM checkins")[0].n == 0


def test_a_ticket_for_another_show_is_the_wrong_show(app, client, make, gateway, door_show):
    show, fan, _, _ = door_show
    other = make.show(rows=2, per_row=4, title="Other Night", starts_in=timedelta(days=4))
    other_booking = book(client, gateway, fan, other.show_id, ["A2"])
    door = make.fan(role="door")
    r = scan(client, door, show.show_id, tickets(client, fan, other_booking)["A2"])
    assert r.status_code == 422
    assert r.get_json()["error"]["code"] == "WRONG_SHOW"
    assert r.get_json()["error"]["ticketShowId"] == str(other.show_id)
    assert fetch(app, "SELECT count(*) AS n FROM checkins")[0].n == 0


def test_a_transferred_ticket_s_old_code_is_revoked_and_the_new_one_admits(app, client, make, door_show):
    show, fan, booking_id, old = door_show
    friend = make.fan()
    r = client.post(TRANSFER.format(booking_id), json={"email": email_of(app, friend)}, headers=fan.headers)
    assert r.status_code == 200, r.get_json()
    new = tickets(client, friend, booking_id)
    door = make.fan(role="door")
    refused = scan(client, door, show.show_id, old["B1"])
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "TICKET_REVOKED"
    assert refused.get_json()["error"]["seatId"] == "B1"
    admitted = scan(client, door, show.show_id, new["B1"])
    assert admitted.status_code == 201 and admitted.get_json()["version"] == 2


def test_a_cancelled_booking_s_codes_are_revoked(app, client, make, door_show):
    show, fan, booking_id, codes_by_seat = door_show
    assert client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers).status_code == 200
    door = make.fan(role="door")
    for seat in ("B1", "B2"):
        r = scan(client, door, show.show_id, codes_by_seat[seat])
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "TICKET_REVOKED"
    assert fetch(app, "SELECT count(*) AS n FROM checkins")[0].n == 0


def test_check_in_is_refused_outside_the_window(app, client, make, door_show):
    show, _, _, codes_by_seat = door_show
    manager, door = make.fan(role="manager"), make.fan(role="door")
    now = datetime.now(UTC)
    window = f"/api/v1/manage/shows/{show.show_id}/checkin-window"
    later = {"opensAt": (now + timedelta(hours=1)).isoformat(), "closesAt": (now + timedelta(hours=2)).isoformat()}
    r = client.put(window, json=later, headers=manager.headers)
    assert r.status_code == 200, r.get_json()
    closed = scan(client, door, show.show_id, codes_by_seat["B1"])
    assert closed.status_code == 422 and closed.get_json()["error"]["code"] == "CHECKIN_CLOSED"
    # Door staff cannot change the window.
    assert client.put(window, json={}, headers=door.headers).status_code == 403
    assert (
        client.put(
            window, json={"closesAt": now.isoformat(), "opensAt": now.isoformat()}, headers=manager.headers
        ).status_code
        == 400
    )
    # Back to the default (until the show ends): open.
    r = client.put(window, json={"opensAt": None, "closesAt": None}, headers=manager.headers)
    assert r.status_code == 200 and r.get_json()["opensAt"] is None
    assert scan(client, door, show.show_id, codes_by_seat["B1"]).status_code == 201


def test_a_show_that_has_ended_is_closed_for_check_in(app, client, make, door_show):
    show, _, _, codes_by_seat = door_show
    # Started two days ago; the event lasts 90 minutes.
    run_sql(
        app,
        "UPDATE shows SET sale_opens_at = now() - interval '3 days', starts_at = now() - interval '2 days', "
        "sale_closes_at = now() - interval '2 days' WHERE id = :s",
        s=show.show_id,
    )
    r = scan(client, make.fan(role="door"), show.show_id, codes_by_seat["B1"])
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "CHECKIN_CLOSED"


BAD_BODIES = [
    {},
    {"gate": "N", "nonce": "abcdefgh12"},
    {"ticket": "X", "nonce": "abcdefgh12"},
    {"ticket": "X", "gate": "N"},
    {"ticket": 5, "gate": "N", "nonce": "abcdefgh12"},
    {"ticket": "X", "gate": ["N"], "nonce": "abcdefgh12"},
    {"ticket": "X", "gate": "N", "nonce": 12345678901},
    {"ticket": "X" * 401, "gate": "N", "nonce": "abcdefgh12"},
    {"ticket": "X", "gate": "N" * 41, "nonce": "abcdefgh12"},
    {"ticket": "X", "gate": "   ", "nonce": "abcdefgh12"},
    {"ticket": "X", "gate": "N", "nonce": "short"},
    {"ticket": "X", "gate": "N", "nonce": "has space in it"},
    {"ticket": "X", "gate": "N", "nonce": "n" * 65},
    {"ticket": "X", "gate": "N", "nonce": "abcdefgh12", "extra": 1},
    {"ticket": "", "gate": "N", "nonce": "abcdefgh12"},
    {"ticket": None, "gate": "N", "nonce": "abcdefgh12"},
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_bodies_are_refused_and_change_nothing(app, client, make, door_show, body):
    show, _, _, _ = door_show
    door = make.fan(role="door")
    r = client.post(checkins_url(show.show_id), json=body, headers=door.headers)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_FAILED"
    r = client.post(checkins_url(show.show_id), data="{ticket:", content_type="application/json", headers=door.headers)
    assert r.status_code == 400
    assert stored(app) == (0, 0)


def test_a_huge_body_is_too_large_and_changes_nothing(app, client, make, door_show):
    show, _, _, _ = door_show
    body = {"ticket": "X" * 2_000_000, "gate": "N", "nonce": "abcdefgh12"}
    r = client.post(checkins_url(show.show_id), json=body, headers=make.fan(role="door").headers)
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert stored(app) == (0, 0)


def test_who_may_check_in(app, client, make, gateway, door_show):
    show, fan, _, codes_by_seat = door_show
    rival_door = make.fan(role="door", organisation="Rival Venues")
    rival_manager = make.fan(role="manager", organisation="Rival Venues")
    for who, status in ((None, 401), (fan, 403), (rival_door, 404), (rival_manager, 404)):
        headers = who.headers if who else {}
        r = client.post(
            checkins_url(show.show_id),
            json={"ticket": codes_by_seat["B1"], "gate": "N", "nonce": nonce()},
            headers=headers,
        )
        assert r.status_code == status, (who, r.get_json())
        assert client.get(f"/api/v1/manage/shows/{show.show_id}/checkin-bundle", headers=headers).status_code == status
    assert stored(app) == (0, 0)
    # The organisation's manager and an admin check in too.
    assert scan(client, make.fan(role="manager"), show.show_id, codes_by_seat["B1"]).status_code == 201
    assert scan(client, make.fan(role="admin"), show.show_id, codes_by_seat["B2"]).status_code == 201
    # Door staff can use nothing else of the manager API.
    door = make.fan(role="door")
    for path in ("/api/v1/manage/shows", f"/api/v1/manage/shows/{show.show_id}", "/api/v1/manage/door-staff"):
        r = client.get(path, headers=door.headers)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "FORBIDDEN", path


def test_managers_add_and_remove_door_staff(app, client, make, door_show):
    show, _, _, codes_by_seat = door_show
    manager, rival = make.fan(role="manager"), make.fan(role="manager", organisation="Rival Venues")
    admin, staff, other_manager = make.fan(role="admin"), make.fan(), make.fan(role="manager")
    email = email_of(app, staff)
    assert scan(client, staff, show.show_id, codes_by_seat["B1"]).status_code == 403

    r = client.post("/api/v1/manage/door-staff", json={"email": email.upper()}, headers=manager.headers)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["userId"] == str(staff.user_id)
    assert client.post("/api/v1/manage/door-staff", json={"email": email}, headers=manager.headers).status_code == 200
    listed = client.get("/api/v1/manage/door-staff", headers=manager.headers).get_json()["doorStaff"]
    assert [m["email"] for m in listed] == [email]
    assert client.get("/api/v1/manage/door-staff", headers=rival.headers).get_json()["doorStaff"] == []
    # Another organisation's door staff cannot be taken or removed; a manager cannot become door staff.
    assert client.post("/api/v1/manage/door-staff", json={"email": email}, headers=rival.headers).status_code == 409
    assert client.delete(f"/api/v1/manage/door-staff/{staff.user_id}", headers=rival.headers).status_code == 404
    r = client.post("/api/v1/manage/door-staff", json={"email": email_of(app, other_manager)}, headers=manager.headers)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "ACCOUNT_NOT_ELIGIBLE"
    r = client.post("/api/v1/manage/door-staff", json={"email": "nobody@example.com"}, headers=manager.headers)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "ACCOUNT_NOT_FOUND"
    for bad in ({}, {"email": 5}, {"email": "x" * 300 + "@e.com"}, {"email": "no-at-sign"}):
        assert client.post("/api/v1/manage/door-staff", json=bad, headers=manager.headers).status_code == 400
    assert client.post("/api/v1/manage/door-staff", json={"email": email}, headers=admin.headers).status_code == 400
    assert client.post("/api/v1/manage/door-staff", json={"email": email}, headers=staff.headers).status_code == 403

    assert scan(client, staff, show.show_id, codes_by_seat["B1"]).status_code == 201
    assert client.delete(f"/api/v1/manage/door-staff/{staff.user_id}", headers=manager.headers).status_code == 204
    assert client.delete(f"/api/v1/manage/door-staff/{staff.user_id}", headers=manager.headers).status_code == 404
    assert client.delete("/api/v1/manage/door-staff/abc", headers=manager.headers).status_code == 404
    assert scan(client, staff, show.show_id, codes_by_seat["B2"]).status_code == 403
    assert fetch(app, "SELECT role FROM users WHERE id = :u", u=staff.user_id)[0].role == "fan"
    actions = [
        r.action for r in fetch(app, "SELECT action FROM audit_log WHERE action LIKE 'door_staff.%' ORDER BY id")
    ]
    assert actions == ["door_staff.add", "door_staff.remove"]


def test_twenty_scanners_at_once_admit_each_ticket_exactly_once(app, client, make, gateway, web_server):
    show = make.show(rows=3, per_row=6, title="Rush Night")
    fans = [make.fan() for _ in range(2)]
    all_codes = []
    for fan, seats in zip(fans, (["A1", "A2", "A3", "A4"], ["C1", "C2", "C3", "C4"]), strict=True):
        all_codes += list(tickets(client, fan, book(client, gateway, fan, show.show_id, seats)).values())
    doors = [make.fan(role="door") for _ in range(20)]
    start = threading.Barrier(20)
    answers: list[tuple[int, str, str]] = []
    lock = threading.Lock()

    def scanner(i: int) -> None:
        session = requests.Session()
        start.wait()
        for code in all_codes:
            r = session.post(
                f"{web_server.url}{checkins_url(show.show_id)}",
                json={"ticket": code, "gate": f"Gate {i}", "nonce": nonce()},
                headers=doors[i].headers,
                timeout=30,
            )
            with lock:
                answers.append((r.status_code, code, r.json().get("result") or r.json()["error"]["code"]))

    threads = [threading.Thread(target=scanner, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 20 * len(all_codes)
    for code in all_codes:
        statuses = sorted(status for status, c, _ in answers if c == code)
        assert statuses == [201] + [409] * 19, statuses
    assert fetch(app, "SELECT count(*) AS n FROM checkins WHERE show_id = :s", s=show.show_id)[0].n == len(all_codes)


def test_twenty_retries_of_one_nonce_at_once_are_one_scan(app, client, make, door_show, web_server):
    show, _, _, codes_by_seat = door_show
    door = make.fan(role="door")
    the_nonce = nonce()
    start = threading.Barrier(20)
    bodies: list[tuple[int, dict]] = []

    def retry() -> None:
        start.wait()
        r = requests.post(
            f"{web_server.url}{checkins_url(show.show_id)}",
            json={"ticket": codes_by_seat["B1"], "gate": "East", "nonce": the_nonce},
            headers=door.headers,
            timeout=30,
        )
        bodies.append((r.status_code, r.json()))

    threads = [threading.Thread(target=retry) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(bodies) == 20 and all(b == bodies[0] for b in bodies)
    assert bodies[0][0] == 201
    assert stored(app) == (1, 1)


def test_the_bundle_lets_a_scanner_verify_offline(app, client, make, door_show):
    show, fan, booking_id, codes_by_seat = door_show
    friend = make.fan()
    door = make.fan(role="door")
    assert scan(client, door, show.show_id, codes_by_seat["B2"], gate="West").status_code == 201
    old = codes_by_seat["B1"]
    assert (
        client.post(TRANSFER.format(booking_id), json={"email": email_of(app, friend)}, headers=fan.headers).status_code
        == 200
    )
    r = client.get(f"/api/v1/manage/shows/{show.show_id}/checkin-bundle", headers=door.headers)
    assert r.status_code == 200
    bundle = r.get_json()
    by_kid = {kid: keys.public_key_from_jwk(jwk) for kid, jwk in bundle["keys"].items()}
    ticket = codes.verify(old, by_kid.get)  # the public keys alone verify a code
    revoked = {(x["bookingId"], x["seatId"], x["version"]) for x in bundle["revoked"]}
    assert (str(ticket.booking_id), ticket.seat_id, ticket.version) in revoked
    assert [(c["seatId"], c["gate"]) for c in bundle["checkins"]] == [("B2", "West")]
    assert bundle["generatedAt"] and bundle["checkinClosesAt"]


def test_offline_scans_upload_with_the_earliest_winning_and_retries_answer_the_same(app, client, make, door_show):
    show, _, booking_id, codes_by_seat = door_show
    door = make.fan(role="door")
    now = datetime.now(UTC)
    url = f"{checkins_url(show.show_id)}/batch"
    north_late = {
        "ticket": codes_by_seat["B1"],
        "gate": "North",
        "nonce": nonce(),
        "scannedAt": (now - timedelta(minutes=5)).isoformat(),
    }
    south_early = {
        "ticket": codes_by_seat["B1"],
        "gate": "South",
        "nonce": nonce(),
        "scannedAt": (now - timedelta(minutes=9)).isoformat(),
    }
    b2 = {
        "ticket": codes_by_seat["B2"],
        "gate": "North",
        "nonce": nonce(),
        "scannedAt": (now - timedelta(minutes=4)).isoformat(),
    }
    junk = {"ticket": "JUNK", "gate": "North", "nonce": nonce(), "scannedAt": now.isoformat()}

    # The North scanner uploads first: its (later) scan of B1 is admitted for now.
    first = client.post(url, json={"scans": [north_late, b2, junk]}, headers=door.headers)
    assert first.status_code == 200, first.get_json()
    assert [x["result"] for x in first.get_json()["results"]] == ["ADMITTED", "ADMITTED", "TICKET_INVALID"]
    assert first.get_json()["conflicts"] == [] and first.get_json()["admitted"] == 2

    # South scanned B1 earlier: it wins, North's scan is reported as the one replaced.
    second = client.post(url, json={"scans": [south_early]}, headers=door.headers)
    result = second.get_json()["results"][0]
    assert result["result"] == "ADMITTED" and result["body"]["gate"] == "South"
    assert result["body"]["replaced"]["gate"] == "North"
    row = fetch(app, "SELECT gate FROM checkins WHERE booking_id = :b AND seat_id = 'B1'", b=uuid.UUID(booking_id))
    assert [r.gate for r in row] == ["South"]

    # A third scan of B1, later than South's, is a conflict naming South's.
    east = {
        "ticket": codes_by_seat["B1"],
        "gate": "East",
        "nonce": nonce(),
        "scannedAt": (now - timedelta(minutes=1)).isoformat(),
    }
    third = client.post(url, json={"scans": [east]}, headers=door.headers).get_json()
    assert third["results"][0]["result"] == "ALREADY_CHECKED_IN"
    assert [(c["gate"], c["admittedGate"]) for c in third["conflicts"]] == [("East", "South")]

    # Uploading the first batch again answers exactly as before and changes nothing.
    before = fetch(app, "SELECT booking_id, seat_id, gate, at FROM checkins ORDER BY seat_id")
    again = client.post(url, json={"scans": [north_late, b2, junk]}, headers=door.headers)
    assert again.get_json()["results"] == first.get_json()["results"]
    assert fetch(app, "SELECT booking_id, seat_id, gate, at FROM checkins ORDER BY seat_id") == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"scans": []},
        {"scans": "x"},
        {"scans": [{"ticket": "X", "gate": "N", "nonce": "abcdefgh12"}]},
        {"scans": [{"ticket": "X", "gate": "N", "nonce": "abcdefgh12", "scannedAt": "yesterday"}]},
        {"scans": [{"ticket": "X", "gate": "N", "nonce": "abcdefgh12", "scannedAt": "2026-12-01T10:00:00"}]},
        {"scans": [{"ticket": "X", "gate": "N", "nonce": "abcdefgh12", "scannedAt": 1700000000}]},
        {"scans": [{"ticket": "X", "gate": "N", "nonce": "abcdefgh12", "scannedAt": "2026-12-01T10:00:00Z"}] * 201},
    ],
)
def test_bad_batches_are_refused_whole(app, client, make, door_show, body):
    show, _, _, _ = door_show
    r = client.post(f"{checkins_url(show.show_id)}/batch", json=body, headers=make.fan(role="door").headers)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_FAILED"
    assert stored(app) == (0, 0)


def test_the_show_page_counts_the_admitted(app, client, make, door_show):
    show, _, _, codes_by_seat = door_show
    manager = make.fan(role="manager")
    sign_in(client, manager)
    page = client.get(f"/manage/shows/{show.show_id}").get_data(as_text=True)
    assert "Admitted 0 of 2" in page
    assert scan(client, make.fan(role="door"), show.show_id, codes_by_seat["B1"]).status_code == 201
    fragment = client.get(f"/manage/shows/{show.show_id}/figures").get_data(as_text=True)
    assert "Admitted 1 of 2" in fragment


def test_managers_add_and_remove_door_staff_on_the_dashboard(app, client, make):
    manager, staff = make.fan(role="manager"), make.fan()
    email = email_of(app, staff)
    csrf = sign_in(client, manager)
    page = client.get("/manage").get_data(as_text=True)
    assert "No door staff yet." in page
    # The section is in the page's content, once, and not in its title.
    assert "<title>Manager dashboard · Seatline</title>" in page and page.count('id="door-staff-heading"') == 1
    r = client.post("/manage/door-staff", data={"email": email, "csrf_token": csrf})
    assert r.status_code == 303
    page = client.get("/manage").get_data(as_text=True)
    assert f"{email} is now door staff." in page and f"/manage/door-staff/{staff.user_id}/remove" in page
    assert fetch(app, "SELECT role FROM users WHERE id = :u", u=staff.user_id)[0].role == "door"
    # A bad email is refused with a message; without the CSRF token nothing happens.
    client.post("/manage/door-staff", data={"email": "nobody@example.com", "csrf_token": csrf})
    assert "No account has that email." in client.get("/manage").get_data(as_text=True)
    assert client.post(f"/manage/door-staff/{staff.user_id}/remove").status_code == 400
    assert fetch(app, "SELECT role FROM users WHERE id = :u", u=staff.user_id)[0].role == "door"
    r = client.post(f"/manage/door-staff/{staff.user_id}/remove", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert fetch(app, "SELECT role FROM users WHERE id = :u", u=staff.user_id)[0].role == "fan"
    # A fan (and door staff) cannot use the pages.
    sign_in(client, staff)
    assert client.get("/manage").status_code == 403


def test_one_upload_with_a_ticket_scanned_at_two_gates_admits_the_earliest(app, client, make, door_show):
    show, _, booking_id, codes_by_seat = door_show
    door = make.fan(role="door")
    now = datetime.now(UTC)
    late = {
        "ticket": codes_by_seat["B2"],
        "gate": "West",
        "nonce": nonce(),
        "scannedAt": (now - timedelta(minutes=2)).isoformat(),
    }
    early = {
        "ticket": codes_by_seat["B2"],
        "gate": "East",
        "nonce": nonce(),
        "scannedAt": (now - timedelta(minutes=7)).isoformat(),
    }
    r = client.post(f"{checkins_url(show.show_id)}/batch", json={"scans": [late, early]}, headers=door.headers)
    assert r.status_code == 200
    body = r.get_json()
    # Results come in the order sent; the earlier scan (sent second) is the one admitted.
    assert [x["result"] for x in body["results"]] == ["ALREADY_CHECKED_IN", "ADMITTED"]
    assert body["conflicts"] == [
        {
            "nonce": late["nonce"],
            "bookingId": booking_id,
            "seatId": "B2",
            "gate": "West",
            "admittedAt": body["results"][1]["body"]["at"],
            "admittedGate": "East",
        }
    ]
    assert body["admitted"] == 1
    # Online, the ticket is now already checked in, at East.
    again = scan(client, door, show.show_id, codes_by_seat["B2"])
    assert again.status_code == 409 and again.get_json()["error"]["gate"] == "East"


# Scan answers kept under their nonces are forgotten once a show's check-in closed long ago, and only then.
def nonces_of(app, show_id) -> int:
    return fetch(app, "SELECT count(*) AS n FROM checkin_nonces WHERE show_id = :s", s=show_id)[0].n


def ended_ago(app, show_id, hours: int) -> None:
    """Moves the show (and its sale before it) so that it ended ``hours`` ago."""
    run_sql(
        app,
        "UPDATE shows s SET starts_at = now() - make_interval(hours => :h, mins => e.duration_minutes),"
        " sale_opens_at = now() - make_interval(hours => :h + 240), sale_closes_at = now() - make_interval(hours => :h + 48)"
        " FROM events e WHERE e.id = s.event_id AND s.id = :s",
        h=hours,
        s=show_id,
    )


def test_the_hourly_job_forgets_only_the_nonces_of_shows_whose_check_in_closed_long_ago(
    app, client, make, gateway, door_show
):
    from workers.jobs import forget_checkin_nonces

    old, _, _, old_codes = door_show
    recent = make.show(rows=2, per_row=4, title="Recent Night")
    fan = make.fan()
    recent_booking = book(client, gateway, fan, recent.show_id, ["A1"])
    recent_code = client.get(f"/api/v1/bookings/{recent_booking}", headers=fan.headers).get_json()["tickets"][0]
    door = make.fan(role="door")
    answered = []
    for code in old_codes.values():
        first = nonce()
        response = scan(client, door, old.show_id, code, n=first)
        assert response.status_code == 201
        answered.append((first, code, response.get_json()))
    assert scan(client, door, recent.show_id, recent_code["code"]).status_code == 201

    # Just inside the time kept: nothing is forgotten, and a retry still gets its first answer.
    kept_hours = int(NONCE_KEPT_FOR.total_seconds() // 3600)
    ended_ago(app, old.show_id, kept_hours - 1)
    assert forget_checkin_nonces() == 0
    first, code, body = answered[0]
    retried = scan(client, door, old.show_id, code, n=first)
    assert (retried.status_code, retried.get_json()) == (201, body)

    # Past the time kept, the old show's nonces go; the recent show's stay.
    ended_ago(app, old.show_id, kept_hours + 1)
    assert forget_checkin_nonces() == len(old_codes)
    assert nonces_of(app, old.show_id) == 0
    assert nonces_of(app, recent.show_id) == 1
    assert fetch(app, "SELECT count(*) AS n FROM checkins WHERE show_id = :s", s=old.show_id)[0].n == len(old_codes)
    assert forget_checkin_nonces() == 0
