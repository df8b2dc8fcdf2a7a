"""The door scanner's pages and their JSON routes (README "The scanner page"): signed in on the site,
they answer exactly as the check-in API does, with the session's CSRF token; real Postgres, Redis and
the gateway simulator, tickets from real bookings."""

from __future__ import annotations

import html
import json
import re
import secrets
from datetime import timedelta

import pytest

from tests.integration.test_checkin import BAD_BODIES, TRANSFER, email_of, stored, tickets
from tests.integration.test_manage_authz import sign_in
from tests.support.booking import book
from tests.support.db import fetch, run_sql


def nonce() -> str:
    return secrets.token_hex(8)


@pytest.fixture
def door_show(app, client, make, gateway):
    show = make.show(rows=2, per_row=4, title="Scanner Night")
    fan = make.fan()
    booking_id = book(client, gateway, fan, show.show_id, ["A1", "A2"])
    return show, fan, booking_id, tickets(client, fan, booking_id)


def as_user(client, user) -> dict[str, str]:
    """Signs ``user`` in on the site: the headers the scanner page's script sends."""
    return {"X-CSRFToken": sign_in(client, user)}


def scan_url(show_id) -> str:
    return f"/door/shows/{show_id}/checkins"


def test_door_staff_land_on_their_shows_after_logging_in(app, client, make):
    mine = make.show(rows=1, per_row=2, title="Tonight's Gig", starts_in=timedelta(hours=3))
    make.show(rows=1, per_row=2, title="Rival Gig", organisation="Rival Venues", city="Rivaltown")
    cancelled = make.show(rows=1, per_row=2, title="Called Off", starts_in=timedelta(days=2))
    run_sql(app, "UPDATE shows SET status = 'CANCELLED', cancelled_at = now() WHERE id = :s", s=cancelled.show_id)
    ended = make.show(rows=1, per_row=2, title="Last Week's Gig", starts_in=timedelta(days=4))
    run_sql(
        app,
        "UPDATE shows SET sale_opens_at = now() - interval '9 days', starts_at = now() - interval '7 days', "
        "sale_closes_at = now() - interval '7 days' WHERE id = :s",
        s=ended.show_id,
    )
    r = client.post(
        "/api/v1/auth/register", json={"email": "steward@example.com", "password": "correct horse", "name": "Stew"}
    )
    assert r.status_code == 201, r.get_json()
    manager = make.fan(role="manager")
    r = client.post("/api/v1/manage/door-staff", json={"email": "steward@example.com"}, headers=manager.headers)
    assert r.status_code == 201, r.get_json()

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"email": "steward@example.com", "password": "correct horse", "csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"].endswith("/door")
    listing = client.get("/door")
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    assert "Tonight&#39;s Gig" in text and f"/door/shows/{mine.show_id}" in text
    for hidden in ("Rival Gig", "Called Off", "Last Week"):
        assert hidden not in text
    scanner = client.get(f"/door/shows/{mine.show_id}")
    assert scanner.status_code == 200 and "data-scanner" in scanner.get_data(as_text=True)
    # Door staff see nothing else of the dashboard.
    assert client.get("/manage").status_code == 403


def test_the_manager_s_show_page_links_the_scanner(client, make):
    show = make.show(rows=1, per_row=2)
    sign_in(client, make.fan(role="manager"))
    page = client.get(f"/manage/shows/{show.show_id}").get_data(as_text=True)
    assert f'href="/door/shows/{show.show_id}"' in page
    assert client.get(f"/door/shows/{show.show_id}").status_code == 200


def test_the_pages_refuse_everyone_but_the_show_s_organisation(app, client, make, door_show):
    show, fan, _, _ = door_show
    paths = ("/door", f"/door/shows/{show.show_id}")
    for path in paths:
        r = client.get(path)
        assert r.status_code == 303 and "/login" in r.headers["Location"], path
    sign_in(client, fan)
    for path in paths:
        assert client.get(path).status_code == 403, path
    rival = make.fan(role="door", organisation="Rival Venues")
    sign_in(client, rival)
    assert client.get("/door").status_code == 200
    assert "Scanner Night" not in client.get("/door").get_data(as_text=True)
    for path in (f"/door/shows/{show.show_id}", "/door/shows/not-a-number", "/door/shows/99999999"):
        r = client.get(path)
        assert r.status_code == 404 and "Scanner Night" not in r.get_data(as_text=True), path


def test_a_scan_through_the_page_s_route_answers_as_the_api(app, client, make, door_show):
    show, _, booking_id, codes_by_seat = door_show
    headers = as_user(client, make.fan(role="door"))
    first = client.post(
        scan_url(show.show_id),
        json={"ticket": codes_by_seat["A1"], "gate": "North gate", "nonce": "n-000001"},
        headers=headers,
    )
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["result"] == "ADMITTED" and body["seatId"] == "A1" and body["bookingId"] == booking_id
    assert first.headers["Cache-Control"] == "no-store"
    # The same nonce: the same answer; another scan: already admitted, where and when.
    again = client.post(
        scan_url(show.show_id),
        json={"ticket": codes_by_seat["A1"], "gate": "South", "nonce": "n-000001"},
        headers=headers,
    )
    assert again.status_code == 201 and again.get_json() == body
    second = client.post(
        scan_url(show.show_id), json={"ticket": codes_by_seat["A1"], "gate": "South", "nonce": nonce()}, headers=headers
    )
    assert second.status_code == 409
    assert second.get_json()["error"]["gate"] == "North gate" and second.get_json()["error"]["at"] == body["at"]
    # The bundle lists it, as the API's does.
    bundle = client.get(f"/door/shows/{show.show_id}/checkin-bundle")
    assert bundle.status_code == 200
    assert [(c["seatId"], c["gate"]) for c in bundle.get_json()["checkins"]] == [("A1", "North gate")]
    assert set(bundle.get_json()) == {
        "showId",
        "generatedAt",
        "checkinOpensAt",
        "checkinClosesAt",
        "keys",
        "revoked",
        "checkins",
        "ticketCodes",
        "staticCodesAllowed",
        "rotation",
        "standing",
    }
    logged = fetch(app, "SELECT actor_kind FROM audit_log WHERE action = 'ticket.checkin'")
    assert {r.actor_kind for r in logged} == {"door"} and len(logged) == 2


def test_a_revoked_code_and_another_show_s_code(app, client, make, gateway, door_show):
    show, fan, booking_id, old = door_show
    friend = make.fan()
    assert (
        client.post(TRANSFER.format(booking_id), json={"email": email_of(app, friend)}, headers=fan.headers).status_code
        == 200
    )
    other = make.show(rows=1, per_row=2, title="Other Night", starts_in=timedelta(days=5))
    other_code = tickets(client, fan, book(client, gateway, fan, other.show_id, ["A1"]))["A1"]
    headers = as_user(client, make.fan(role="door"))
    r = client.post(scan_url(show.show_id), json={"ticket": old["A1"], "gate": "N", "nonce": nonce()}, headers=headers)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "TICKET_REVOKED"
    r = client.post(scan_url(show.show_id), json={"ticket": other_code, "gate": "N", "nonce": nonce()}, headers=headers)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "WRONG_SHOW"
    assert fetch(app, "SELECT count(*) AS n FROM checkins")[0].n == 0


def test_an_offline_upload_through_the_page_s_route(app, client, make, door_show):
    show, _, _, codes_by_seat = door_show
    manager = make.fan(role="manager")
    r = client.post(
        f"/api/v1/manage/shows/{show.show_id}/checkins",
        json={"ticket": codes_by_seat["A2"], "gate": "North gate", "nonce": nonce()},
        headers=manager.headers,
    )
    assert r.status_code == 201
    headers = as_user(client, make.fan(role="door"))
    later = "2099-01-01T00:00:00Z"  # ahead of the server's clock: counts as now, after the API's scan
    scans = [
        {"ticket": codes_by_seat["A1"], "gate": "Side", "nonce": nonce(), "scannedAt": later},
        {"ticket": codes_by_seat["A2"], "gate": "Side", "nonce": nonce(), "scannedAt": later},
    ]
    r = client.post(f"/door/shows/{show.show_id}/checkins/batch", json={"scans": scans}, headers=headers)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert [x["status"] for x in body["results"]] == [201, 409] and body["admitted"] == 2
    assert [(c["seatId"], c["admittedGate"]) for c in body["conflicts"]] == [("A2", "North gate")]
    again = client.post(f"/door/shows/{show.show_id}/checkins/batch", json={"scans": scans}, headers=headers)
    assert again.get_json()["results"] == body["results"]


def test_who_may_use_the_json_routes(app, client, make, door_show):
    show, fan, _, codes_by_seat = door_show
    scan = {"ticket": codes_by_seat["A1"], "gate": "N", "nonce": nonce()}
    batch = {"scans": [{**scan, "scannedAt": "2030-01-01T00:00:00Z"}]}
    calls = (
        ("POST", scan_url(show.show_id), scan),
        ("POST", f"/door/shows/{show.show_id}/checkins/batch", batch),
        ("GET", f"/door/shows/{show.show_id}/checkin-bundle", None),
    )
    with client.session_transaction() as session:
        session.clear()
    for method, path, body in calls:
        r = client.open(path, method=method, json=body)
        assert r.status_code in (400, 401), path  # no session: no CSRF token either
        assert "error" in r.get_json()
    r = client.get(f"/door/shows/{show.show_id}/checkin-bundle")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "AUTH_REQUIRED"
    for who, status in ((fan, 403), (make.fan(role="door", organisation="Rival Venues"), 404)):
        headers = as_user(client, who)
        for method, path, body in calls:
            r = client.open(path, method=method, json=body, headers=headers)
            assert r.status_code == status, (path, r.status_code)
            assert "Scanner Night" not in r.get_data(as_text=True)
    # Signed in but without the page's CSRF token: refused, nothing kept.
    sign_in(client, make.fan(role="door"))
    r = client.post(scan_url(show.show_id), json=scan)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_FAILED"
    assert [f["field"] for f in r.get_json()["error"]["fields"]] == ["X-CSRFToken"]
    r = client.post(scan_url(show.show_id), json=scan, headers={"X-CSRFToken": "not-the-token"})
    assert r.status_code == 400 and r.get_json()["error"]["fields"][0]["field"] == "X-CSRFToken"
    assert stored(app) == (0, 0)


@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_bodies_are_refused_and_change_nothing(app, client, make, door_show, body):
    show, _, _, _ = door_show
    headers = as_user(client, make.fan(role="door"))
    r = client.post(scan_url(show.show_id), json=body, headers=headers)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_FAILED"
    r = client.post(f"/door/shows/{show.show_id}/checkins/batch", json={"scans": [body]}, headers=headers)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_FAILED"
    assert stored(app) == (0, 0)


def test_broken_and_huge_bodies(app, client, make, door_show):
    show, _, _, _ = door_show
    headers = as_user(client, make.fan(role="door"))
    for raw in ("{ticket:", "[]", "null", ""):
        r = client.post(scan_url(show.show_id), data=raw, content_type="application/json", headers=headers)
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_FAILED", raw
    r = client.post(f"/door/shows/{show.show_id}/checkins/batch", json={"scans": []}, headers=headers)
    assert r.status_code == 400
    huge = {"ticket": "X" * 200_000, "gate": "N", "nonce": "abcdefgh12"}
    r = client.post(scan_url(show.show_id), json=huge, headers=headers)
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    r = client.post("/door/shows/abc/checkins", json={"ticket": "X", "gate": "N", "nonce": nonce()}, headers=headers)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "SHOW_NOT_FOUND"
    assert stored(app) == (0, 0)


def test_the_service_worker_is_served_for_the_door_pages(client):
    r = client.get("/door/sw.js")
    assert r.status_code == 200 and r.mimetype == "text/javascript"
    text = r.get_data(as_text=True)
    assert "/static/js/scanner.js?v=" in text and "/static/vendor/noble-ed25519-3.2.0.js?v=" in text
    assert r.headers["Cache-Control"] == "no-cache"


def test_the_scanner_speaks_hindi(client, make, door_show):
    show, _, _, _ = door_show
    sign_in(client, make.fan(role="door"))
    page = client.get(f"/door/shows/{show.show_id}", headers={"Accept-Language": "hi"}).get_data(as_text=True)
    assert "टिकट जाँचें" in page and "आप किस गेट पर हैं?" in page
    # The answers the script shows come in the page's language too.
    words = json.loads(html.unescape(re.search(r"data-text='([^']*)'", page).group(1)))
    assert words["wrongShow"] == "गलत शो"
    assert words["alreadyAdmitted"] == "{time} पर {gate} पर पहले ही प्रवेश दिया जा चुका है"
