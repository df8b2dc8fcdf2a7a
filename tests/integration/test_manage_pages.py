"""The manager dashboard's pages: build a venue, schedule a show, watch it, take seats out of sale."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from tests.support.booking import book
from tests.support.db import fetch


def token_of(response) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)


def signed_in(client, user) -> None:
    with client.session_transaction() as session:
        session["user_id"], session["role"] = user.user_id, "manager"


def test_build_a_venue_schedule_a_show_and_watch_it(client, app, make, gateway):
    manager = make.fan(role="manager")
    make.show(
        city="London", timezone_name="Europe/London"
    )  # a city to choose; the builder's show belongs to the same organisation
    signed_in(client, manager)
    page = client.get("/manage/venues/new")
    assert page.status_code == 200
    city = re.search(r'<option value="(\d+)"', page.get_data(as_text=True)).group(1)
    r = client.post(
        "/manage/venues/new",
        data={"csrf_token": token_of(page), "cityId": city, "name": "Tiny Hall", "kind": "theatre", "address": ""},
    )
    assert r.status_code == 303
    venue_url = r.headers["Location"]
    venue_page = client.get(venue_url)
    assert "No seats yet" in venue_page.get_data(as_text=True)

    bad = client.post(
        f"{venue_url}/blocks",
        data={
            "csrf_token": token_of(venue_page),
            "section": "Stalls",
            "rows": "C-A",
            "seatsPerRow": "4",
            "tier": "standard",
        },
    )
    assert bad.status_code == 422 and "row" in bad.get_data(as_text=True)
    r = client.post(
        f"{venue_url}/blocks",
        data={
            "csrf_token": token_of(venue_page),
            "section": "Stalls",
            "rows": "A-B",
            "seatsPerRow": "4",
            "tier": "Standard",
            "aislesAfter": "2",
            "accessible": "A1",
            "notForSale": "B4",
        },
    )
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    venue_page = client.get(venue_url)
    text = venue_page.get_data(as_text=True)
    assert "8 seats" in text and 'data-testid="plan-Stalls"' in text

    upload = client.post(
        f"{venue_url}/import",
        data={
            "csrf_token": token_of(venue_page),
            "file": (
                __import__("io").BytesIO(b"section,row,number,tier\nStalls,A,1,standard\nStalls,A,x,standard\n"),
                "bad.csv",
            ),
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 422 and "line 3" in upload.get_data(as_text=True)
    assert (
        fetch(
            app,
            "SELECT count(*) AS n FROM venue_seats v JOIN venues ve ON ve.id = v.venue_id WHERE ve.name = 'Tiny Hall'",
        )[0].n
        == 8
    )

    event_page = client.get("/manage/events/new")
    r = client.post(
        "/manage/events/new",
        data={
            "csrf_token": token_of(event_page),
            "title": "Quiet Songs",
            "category": "concert",
            "durationMinutes": "75",
        },
    )
    assert r.status_code == 303
    venue_id = venue_url.rsplit("/", 1)[1]
    form = client.get(f"/manage/shows/new?venueId={venue_id}")
    assert 'name="price-standard"' in form.get_data(as_text=True)
    event_id = fetch(app, "SELECT id FROM events WHERE title = 'Quiet Songs'")[0].id
    day = datetime.now(ZoneInfo("Europe/London")).date() + timedelta(days=5)
    data = {
        "csrf_token": token_of(form),
        "eventId": str(event_id),
        "venueId": venue_id,
        "currency": "gbp",
        "startTime": f"{day}T20:00",
        "saleOpensAt": f"{day - timedelta(days=10)}T09:00",
        "price-standard": "12.50",
        "refundFullHours": "48",
        "refundHalfHours": "",
        "refundFee": "1.00",
    }
    r = client.post("/manage/shows/new", data={**data, "price-standard": "lots"})
    assert (
        r.status_code == 422 and fetch(app, "SELECT count(*) AS n FROM shows WHERE event_id = :e", e=event_id)[0].n == 0
    )
    r = client.post("/manage/shows/new", data=data)
    assert r.status_code == 303, r.get_data(as_text=True)[:800]
    show_url = r.headers["Location"]
    show_id = show_url.rsplit("/", 1)[1]
    show = fetch(app, "SELECT starts_at, refund_policy FROM shows WHERE id = :s", s=int(show_id))[0]
    assert show.starts_at.astimezone(ZoneInfo("Europe/London")).strftime("%H:%M") == "20:00"
    assert show.refund_policy == {"rules": [{"hoursBefore": 48, "refundPercent": 100}], "feeMinor": 100}
    assert fetch(app, "SELECT price FROM show_prices WHERE show_id = :s", s=int(show_id))[0].price == 1250

    # Transfers close a number of minutes before the start (README "Tickets and transfer"); a bad
    # number is named and changes nothing.
    edit = client.get(f"{show_url}/edit")
    assert 'name="transferCutoffMinutes"' in edit.get_data(as_text=True) and 'value="60"' in edit.get_data(as_text=True)
    edited = {k: v for k, v in data.items() if k not in ("eventId", "venueId", "currency")}
    for bad in ("-5", "soon", "20000"):
        refused = client.post(
            f"{show_url}/edit", data={**edited, "csrf_token": token_of(edit), "transferCutoffMinutes": bad}
        )
        assert refused.status_code == 422 and "transferCutoffMinutes" in refused.get_data(as_text=True)
    cutoff = "SELECT transfer_cutoff_minutes AS m FROM shows WHERE id = :s"
    assert fetch(app, cutoff, s=int(show_id))[0].m == 60
    saved = client.post(
        f"{show_url}/edit", data={**edited, "csrf_token": token_of(edit), "transferCutoffMinutes": "15"}
    )
    assert saved.status_code == 303 and fetch(app, cutoff, s=int(show_id))[0].m == 15

    # Rotating codes at the door (README "Rotating codes"): a mode that does not exist changes nothing.
    assert 'name="ticketCodes"' in edit.get_data(as_text=True)
    mode = (
        "SELECT ticket_codes, static_codes_allowed, rotation_key_sealed IS NOT NULL AS keyed FROM shows WHERE id = :s"
    )
    refused = client.post(f"{show_url}/edit", data={**edited, "csrf_token": token_of(edit), "ticketCodes": "SPIN"})
    assert refused.status_code == 422 and tuple(fetch(app, mode, s=int(show_id))[0]) == ("STATIC", False, False)
    rotating = {**edited, "csrf_token": token_of(edit), "ticketCodes": "ROTATING", "staticCodesAllowed": "1"}
    assert client.post(f"{show_url}/edit", data=rotating).status_code == 303
    assert tuple(fetch(app, mode, s=int(show_id))[0]) == ("ROTATING", True, True)
    again = client.get(f"{show_url}/edit").get_data(as_text=True)
    assert re.search(r'value="ROTATING"\s+selected', again) and re.search(
        r'name="staticCodesAllowed" value="1"\s+checked', again
    )

    fan = make.fan()
    book(client, gateway, fan, show_id, ["A2", "A3"])
    dashboard = client.get(show_url).get_data(as_text=True)
    assert re.search(r'data-testid="booked">2<', dashboard) and "£25.00" in dashboard
    assert 'hx-trigger="every 3s"' in dashboard
    fragment = client.get(f"{show_url}/figures")
    assert fragment.headers["Cache-Control"] == "no-store" and 'id="figures"' in fragment.get_data(as_text=True)

    seats = client.get(f"{show_url}/seats")
    text = seats.get_data(as_text=True)
    assert "Test User" in text and 'data-status="BOOKED"' in text
    r = client.post(f"{show_url}/seats", data={"csrf_token": token_of(seats), "seat": ["A1", "A4"], "action": "HOUSE"})
    assert r.status_code == 303
    assert dict(
        fetch(
            app, "SELECT seat_id, block_kind FROM show_seats WHERE show_id = :s AND status = 'BLOCKED'", s=int(show_id)
        )
    ) == {"A1": "HOUSE", "A4": "HOUSE", "B4": "KILL"}
    refused = client.post(
        f"{show_url}/seats",
        data={"csrf_token": token_of(seats), "seat": ["A2"], "action": "KILL"},
        follow_redirects=True,
    )
    assert "held or booked" in refused.get_data(as_text=True)

    # Cancelling needs the typed confirmation.
    unconfirmed = client.post(
        f"{show_url}/cancel", data={"csrf_token": token_of(seats), "confirm": "yes"}, follow_redirects=True
    )
    assert "not cancelled" in unconfirmed.get_data(as_text=True)
    assert fetch(app, "SELECT status FROM shows WHERE id = :s", s=int(show_id))[0].status == "SCHEDULED"
    done = client.post(
        f"{show_url}/cancel",
        data={"csrf_token": token_of(seats), "confirm": "CANCEL", "reason": "Flooded"},
        follow_redirects=True,
    )
    assert 'data-testid="cancel-progress"' in done.get_data(as_text=True)
    assert fetch(app, "SELECT cancel_reason FROM shows WHERE id = :s", s=int(show_id))[0].cancel_reason == "Flooded"


def test_fans_are_sent_away_and_managers_land_on_their_dashboard(client, make):
    fan = make.fan()
    signed_in(client, fan)
    assert client.get("/manage").status_code == 403
    with client.session_transaction() as session:
        session.clear()
    r = client.get("/manage/shows/1")
    assert r.status_code == 303 and r.headers["Location"].startswith("/login?next=/manage/shows/1")
    r = client.get("/manage/shows/new?venueId=3")  # back to the page as it was asked for
    assert parse_qs(urlsplit(r.headers["Location"]).query) == {"next": ["/manage/shows/new?venueId=3"]}
