"""Who may manage what: every manager endpoint and page, tried as anonymous, as a fan, as a manager of
another organisation, as the owner and as an admin. Only the owner and the admin succeed; the others
change nothing and learn nothing about the owner's venues, events, shows or bookings."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.support.booking import book
from tests.support.db import fetch
from tests.support.images import image_bytes

STATE = """
    SELECT (SELECT count(*) FROM venues) AS venues, (SELECT count(*) FROM venue_seats) AS seats,
           (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM shows) AS shows,
           (SELECT string_agg(status || block_kind, ',' ORDER BY seat_id) FROM show_seats WHERE status = 'BLOCKED')
               AS blocked,
           (SELECT string_agg(status, ',' ORDER BY id) FROM shows) AS show_statuses,
           (SELECT string_agg(price::text, ',' ORDER BY show_id, tier) FROM show_prices) AS prices,
           (SELECT string_agg(state, ',') FROM gate_queues) AS queues,
           (SELECT max(layout_version) FROM venues) AS layout,
           (SELECT string_agg(coalesce(poster, '-'), ',' ORDER BY id) FROM events) AS posters,
           (SELECT string_agg(concat_ws(':', code, kind, max_uses, used, active, opens_at, closes_at), ',' ORDER BY id)
              FROM access_codes) AS access_codes
"""
SECRET_NAME = "Owner's Secret Hall"


@dataclass
class World:
    owner: object
    other: object
    admin: object
    fan: object
    show_id: str
    venue_id: str
    event_id: str
    code_id: str


@pytest.fixture
def world(client, app, make, gateway):
    owner, other, admin, fan = (
        make.fan(role="manager"),
        make.fan(role="manager", organisation="Rival Venues"),
        make.fan(role="admin"),
        make.fan(),
    )
    show = make.show(rows=3, per_row=6)
    from tests.support.db import run_sql

    run_sql(app, "UPDATE venues SET name = :n WHERE id = :v", n=SECRET_NAME, v=show.venue_id)
    event_id = fetch(app, "SELECT event_id FROM shows WHERE id = :s", s=show.show_id)[0].event_id
    book(client, gateway, fan, show.show_id, ["A1"])
    # The rival organisation has its own show, so its lists are not empty.
    make.show(rows=2, per_row=2, city="Rivaltown", organisation="Rival Venues", title="Rival Night")
    # A voucher of the show, for the calls that change a code (README "Presale codes and vouchers").
    run_sql(
        app,
        "INSERT INTO access_codes (show_id, code, kind, percent_off, max_uses) VALUES (:s, 'OWNERS10', 'VOUCHER', 10, 5)",
        s=show.show_id,
    )
    code_id = fetch(app, "SELECT id FROM access_codes WHERE code = 'OWNERS10'")[0].id
    return World(owner, other, admin, fan, str(show.show_id), str(show.venue_id), str(event_id), str(code_id))


def poster_upload() -> dict:
    """A multipart body with a small PNG in its ``file`` part, as bytes: the same request kwargs can
    be sent any number of times (a file object would be read empty after the first)."""
    boundary = "seatline-poster-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + image_bytes("PNG", (64, 40))
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def api_calls(w: World) -> list[tuple[str, str, dict, int]]:
    """(method, path, request kwargs, the owner's success status). Order matters: later calls may
    depend on earlier ones having succeeded for the owner."""
    v, s, e, c = w.venue_id, w.show_id, w.event_id, w.code_id
    layout_csv = "section,row,number,tier\n" + "".join(
        f"Main,{r},{n},{'gold' if r == 'A' else 'silver'}\n" for r in "ABC" for n in range(1, 7)
    )
    return [
        ("GET", "/api/v1/manage/venues", {}, 200),
        ("GET", f"/api/v1/manage/venues/{v}", {}, 200),
        ("GET", f"/api/v1/manage/venues/{v}/layout", {}, 200),
        ("GET", f"/api/v1/manage/venues/{v}/layout?format=csv", {}, 200),
        ("POST", f"/api/v1/manage/venues/{v}/layout/import", {"data": layout_csv, "content_type": "text/csv"}, 200),
        (
            "PUT",
            f"/api/v1/manage/venues/{v}/layout",
            {
                "json": {
                    "seats": [
                        {
                            "seatId": f"{r}{n}",
                            "section": "Main",
                            "row": r,
                            "number": n,
                            "x": n,
                            "y": i,
                            "tier": "gold" if r == "A" else "silver",
                        }
                        for i, r in enumerate("ABC")
                        for n in range(1, 7)
                    ]
                }
            },
            200,
        ),
        (
            "POST",
            f"/api/v1/manage/venues/{v}/layout/blocks",
            {"json": {"section": "Annex", "rows": "X", "seatsPerRow": 2, "tier": "silver", "seatIdPrefix": "AX-"}},
            201,
        ),
        ("PATCH", f"/api/v1/manage/venues/{v}/layout/seats", {"json": {"seatIds": ["AX-X1"], "accessible": True}}, 200),
        (
            "POST",
            f"/api/v1/manage/venues/{v}/layout/standing",
            {"json": {"section": "Pit", "tier": "silver", "capacity": 3}},
            201,
        ),
        ("PUT", f"/api/v1/manage/venues/{v}/layout/standing", {"json": {"section": "Pit", "capacity": 4}}, 200),
        # Authorised, but a layout with bookings cannot lose seats.
        ("DELETE", f"/api/v1/manage/venues/{v}/layout/sections/Annex", {}, 409),
        ("GET", "/api/v1/manage/events", {}, 200),
        ("PATCH", f"/api/v1/manage/events/{e}", {"json": {"description": "Now with strings."}}, 200),
        ("POST", f"/api/v1/manage/events/{e}/poster", poster_upload(), 201),
        ("GET", "/api/v1/manage/shows", {}, 200),
        ("GET", f"/api/v1/manage/shows/{s}", {}, 200),
        ("PATCH", f"/api/v1/manage/shows/{s}", {"json": {"prices": {"gold": 50001}}}, 200),
        ("GET", f"/api/v1/manage/shows/{s}/dashboard", {}, 200),
        ("GET", f"/api/v1/manage/shows/{s}/seats", {}, 200),
        ("POST", f"/api/v1/manage/shows/{s}/seats/block", {"json": {"seatIds": ["B2"], "kind": "KILL"}}, 200),
        ("POST", f"/api/v1/manage/shows/{s}/seats/unblock", {"json": {"seatIds": ["B2"]}}, 200),
        ("GET", f"/api/v1/manage/shows/{s}/bookings.csv", {}, 200),
        ("GET", f"/api/v1/manage/shows/{s}/cancellation", {}, 200),
        # Reports span the caller's organisation: a rival gets their own (empty) report.
        ("GET", "/api/v1/manage/reports/sales", {}, 200),
        ("GET", "/api/v1/manage/reports/sales.csv", {}, 200),
        ("PUT", f"/api/v1/manage/events/{e}/queue", {"json": {"batchSize": 10}}, 200),
        ("GET", f"/api/v1/manage/events/{e}/queue", {}, 200),
        ("POST", f"/api/v1/manage/events/{e}/queue/pause", {}, 200),
        # Door check-in (README "Door check-in"): a code that is no ticket is refused once authorised.
        ("GET", f"/api/v1/manage/shows/{s}/checkin-bundle", {}, 200),
        ("PUT", f"/api/v1/manage/shows/{s}/checkin-window", {"json": {"closesAt": None}}, 200),
        (
            "POST",
            f"/api/v1/manage/shows/{s}/checkins",
            {"json": {"ticket": "JUNK", "gate": "N", "nonce": "authz-nonce-1"}},
            422,
        ),
        (
            "POST",
            f"/api/v1/manage/shows/{s}/checkins/batch",
            {
                "json": {
                    "scans": [
                        {"ticket": "JUNK", "gate": "N", "nonce": "authz-nonce-2", "scannedAt": "2026-01-01T00:00Z"}
                    ]
                }
            },
            200,
        ),
        ("GET", "/api/v1/manage/door-staff", {}, 200),
        ("POST", "/api/v1/manage/door-staff", {"json": {"email": "nobody@example.com"}}, 404),
        ("DELETE", "/api/v1/manage/door-staff/999999", {}, 404),
        # Presale codes and vouchers (README "Presale codes and vouchers").
        (
            "POST",
            f"/api/v1/manage/shows/{s}/access-codes",
            {"json": {"code": "SHOWCODE", "kind": "VOUCHER", "percentOff": 10, "maxUses": 5}},
            201,
        ),
        ("GET", f"/api/v1/manage/shows/{s}/access-codes", {}, 200),
        (
            "POST",
            f"/api/v1/manage/events/{e}/access-codes",
            {"json": {"code": "EVENTCODE", "kind": "PRESALE", "maxUses": 5}},
            201,
        ),
        ("GET", f"/api/v1/manage/events/{e}/access-codes", {}, 200),
        ("PATCH", f"/api/v1/manage/access-codes/{c}", {"json": {"maxUses": 6}}, 200),
        ("DELETE", f"/api/v1/manage/access-codes/{c}", {}, 200),
        ("POST", f"/api/v1/manage/shows/{s}/cancel", {"json": {"reason": "x"}}, 202),
    ]


CREATES = [
    ("/api/v1/manage/venues", lambda city: {"cityId": city, "name": "New Hall", "kind": "theatre"}),
    ("/api/v1/manage/events", lambda city: {"title": "New Event", "category": "concert", "durationMinutes": 60}),
]


def state(app):
    return fetch(app, STATE)[0]


def test_anonymous_fans_and_other_organisations_are_refused_and_change_nothing(client, app, world):
    before = state(app)
    for method, path, kwargs, _ in api_calls(world):
        anonymous = client.open(path, method=method, **kwargs)
        assert anonymous.status_code == 401, (method, path)
        fan = client.open(path, method=method, headers=world.fan.headers, **kwargs)
        assert fan.status_code == 403 and fan.get_json()["error"]["code"] == "FORBIDDEN", (method, path)
        rival = client.open(path, method=method, headers=world.other.headers, **kwargs)
        body = rival.get_data(as_text=True)
        if method == "GET" and re.search(
            r"/manage/(venues|events|shows|door-staff|reports/sales|reports/sales\.csv)$", path.split("?")[0]
        ):
            assert rival.status_code == 200, (method, path)  # a list or report: only the rival's own things
        else:
            assert rival.status_code == 404, (method, path, rival.status_code, body[:200])
        assert SECRET_NAME not in body and "Test User" not in body, (method, path)
    assert state(app) == before
    assert fetch(app, "SELECT status FROM shows WHERE id = :s", s=int(world.show_id))[0].status == "SCHEDULED"
    # The rival's lists hold only the rival's things.
    rival_shows = client.get("/api/v1/manage/shows", headers=world.other.headers).get_json()["shows"]
    assert [s["title"] for s in rival_shows] == ["Rival Night"]


def test_the_owner_succeeds_everywhere(client, app, world):
    for method, path, kwargs, expected in api_calls(world):
        r = client.open(path, method=method, headers=world.owner.headers, **kwargs)
        assert r.status_code == expected, (method, path, r.get_data(as_text=True)[:300])
    city = str(fetch(app, "SELECT id FROM cities ORDER BY id LIMIT 1")[0].id)
    for path, body in CREATES:
        assert client.post(path, json=body(city), headers=world.owner.headers).status_code == 201
    owned = fetch(
        app,
        "SELECT count(*) AS n FROM venues v JOIN users u ON u.organisation_id = v.organisation_id "
        "WHERE u.id = :u AND v.name = 'New Hall'",
        u=world.owner.user_id,
    )
    assert owned[0].n == 1


def test_an_admin_sees_and_changes_every_organisation(client, app, world):
    for method, path, kwargs, expected in api_calls(world):
        r = client.open(path, method=method, headers=world.admin.headers, **kwargs)
        assert r.status_code == expected, (method, path, r.get_data(as_text=True)[:300])
    titles = {s["title"] for s in client.get("/api/v1/manage/shows", headers=world.admin.headers).get_json()["shows"]}
    assert "Rival Night" in titles
    # The admin's sales report has every organisation's bookings; the owner's only their own.
    assert SECRET_NAME in client.get("/api/v1/manage/reports/sales", headers=world.admin.headers).get_data(as_text=True)
    city = str(fetch(app, "SELECT id FROM cities ORDER BY id LIMIT 1")[0].id)
    # An admin creating something says which organisation owns it.
    r = client.post(
        "/api/v1/manage/venues",
        json={"cityId": city, "name": "Admin Hall", "kind": "arena"},
        headers=world.admin.headers,
    )
    assert r.status_code == 400
    org = str(fetch(app, "SELECT id FROM organisations WHERE name = 'Rival Venues'")[0].id)
    r = client.post(
        "/api/v1/manage/venues",
        json={"cityId": city, "name": "Admin Hall", "kind": "arena", "organisationId": org},
        headers=world.admin.headers,
    )
    assert r.status_code == 201 and r.get_json()["organisationId"] == org


def test_a_token_role_is_not_trusted_over_the_database(client, app, world):
    """A manager demoted to fan keeps a token that says manager: the database decides."""
    from tests.support.db import run_sql

    run_sql(app, "UPDATE users SET role = 'fan', organisation_id = NULL WHERE id = :u", u=world.owner.user_id)
    r = client.get(f"/api/v1/manage/shows/{world.show_id}", headers=world.owner.headers)
    assert r.status_code == 403


def test_the_gate_controls_belong_to_the_owner_too(app, world):
    from queue_gate import create_gate_app

    gate = create_gate_app(app.extensions["seatline.settings"]).test_client()
    path = f"/gate/v1/queues/{world.event_id}"
    body = {"batchSize": 5, "admissionIntervalSeconds": 10, "maxActive": 8, "sessionSeconds": 600}
    assert gate.put(path, json=body).status_code == 401
    assert gate.put(path, json=body, headers=world.fan.headers).status_code == 403
    assert gate.put(path, json=body, headers=world.other.headers).status_code == 404
    assert gate.get(f"{path}/stats", headers=world.other.headers).status_code == 404
    assert gate.post(f"{path}/pause", headers=world.other.headers).status_code == 404
    assert fetch(app, "SELECT count(*) AS n FROM gate_queues")[0].n == 0
    assert gate.put(path, json=body, headers=world.owner.headers).status_code == 200
    assert gate.post(f"{path}/pause", headers=world.admin.headers).status_code == 200


# ---------------------------------------------------------------- pages


def page_calls(w: World) -> list[tuple[str, str, dict]]:
    v, s = w.venue_id, w.show_id
    return [
        ("GET", "/manage", {}),
        ("GET", "/manage/venues/new", {}),
        ("GET", "/manage/events/new", {}),
        ("GET", "/manage/shows/new", {}),
        ("GET", "/manage/reports", {}),
        ("GET", "/manage/reports/sales.csv", {}),
        ("GET", f"/manage/venues/{v}", {}),
        ("GET", f"/manage/events/{w.event_id}/edit", {}),
        (
            "POST",
            f"/manage/events/{w.event_id}/edit",
            {"title": "Renamed", "category": "concert", "durationMinutes": "90", "description": ""},
        ),
        ("GET", f"/manage/venues/{v}/tiers", {}),
        ("GET", f"/manage/venues/{v}/layout.csv", {}),
        ("GET", f"/manage/shows/{s}", {}),
        ("GET", f"/manage/shows/{s}/figures", {}),
        ("GET", f"/manage/shows/{s}/edit", {}),
        ("GET", f"/manage/shows/{s}/seats", {}),
        ("GET", f"/manage/shows/{s}/bookings.csv", {}),
        ("GET", "/door", {}),
        ("GET", f"/door/shows/{s}", {}),
        (
            "POST",
            f"/manage/venues/{v}/blocks",
            {"section": "Annex", "rows": "X", "seatsPerRow": "2", "tier": "silver", "seatIdPrefix": "AX-"},
        ),
        ("POST", f"/manage/venues/{v}/seats", {"seatIds": "B2", "mark": "accessible"}),
        ("POST", f"/manage/venues/{v}/sections/delete", {"section": "Annex"}),
        ("POST", f"/manage/shows/{s}/edit", {"startTime": "", "refundFullHours": "48"}),
        ("POST", f"/manage/shows/{s}/seats", {"seat": ["B3"], "action": "HOUSE"}),
        ("POST", f"/manage/shows/{s}/queue/pause", {}),
        ("POST", f"/manage/shows/{s}/cancel", {"confirm": "CANCEL"}),
    ]


def sign_in(client, user) -> str:
    """A signed-in session for ``user`` (as the login form makes it) and its CSRF token."""
    with client.session_transaction() as session:
        session.clear()
        session["user_id"], session["role"] = user.user_id, "user"
    page = client.get("/login")
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)


def test_pages_refuse_everyone_but_the_owner(client, app, world):
    before = state(app)
    for method, path, form in page_calls(world):
        anonymous = client.open(path, method=method, data=form)
        if method == "GET":
            assert anonymous.status_code == 303 and "/login" in anonymous.headers["Location"], path
        else:
            assert anonymous.status_code in (303, 400), path  # no session: no CSRF token either
    for user, expected in ((world.fan, 403), (world.other, 404)):
        for method, path, form in page_calls(world):
            token = sign_in(client, user)
            r = client.open(path, method=method, data={**form, "csrf_token": token})
            names_nothing = path in ("/manage", "/door") or path.endswith("/new") or path.startswith("/manage/reports")
            if names_nothing and user is world.other:
                assert r.status_code == 200, path  # their own dashboard and forms
            else:
                assert r.status_code == expected, (path, r.status_code)
            assert SECRET_NAME not in r.get_data(as_text=True), path
    assert state(app) == before

    for method, path, form in page_calls(world):
        token = sign_in(client, world.owner)
        r = client.open(path, method=method, data={**form, "csrf_token": token})
        # 422: authorised, but a layout with bookings cannot lose a section.
        allowed = (422,) if path.endswith("/sections/delete") else (200, 303)
        assert r.status_code in allowed, (path, r.status_code, r.get_data(as_text=True)[:300])
    assert fetch(app, "SELECT status FROM shows WHERE id = :s", s=int(world.show_id))[0].status == "CANCELLED"


def test_page_forms_need_the_csrf_token(client, app, world):
    sign_in(client, world.owner)
    r = client.post(f"/manage/shows/{world.show_id}/cancel", data={"confirm": "CANCEL"})
    assert r.status_code == 400
    assert fetch(app, "SELECT status FROM shows WHERE id = :s", s=int(world.show_id))[0].status == "SCHEDULED"


def test_who_you_are_is_checked_before_what_you_sent(client, world):
    """A stranger learns nothing from the validation of a body or an id: 401/403 come first."""
    for headers, status in (({}, 401), (world.fan.headers, 403)):
        assert client.post("/api/v1/manage/shows", data=b"{not json", headers=headers).status_code == status
        assert client.get("/api/v1/manage/shows/not-a-number", headers=headers).status_code == status
        assert (
            client.post(
                "/api/v1/manage/venues/1/layout/import", data="x", content_type="text/csv", headers=headers
            ).status_code
            == status
        )
