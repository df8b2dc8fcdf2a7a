"""General admission (README "General admission (standing)"): a standing section's places are held
by quantity through the API, paid for and booked like seats, freed by expiry and cancellation, and
the section's capacity changes only as far as unsold, unheld places allow."""

from __future__ import annotations

import io

import pytest

import workers.jobs
from app.inventory.invariants import seat_invariant_violations
from app.unit_of_work import unit_of_work
from tests.integration.test_manage_authz import sign_in
from tests.support.db import fetch, run_jobs, run_sql

FLOOR = "Floor"


def add_floor(client, manager, venue_id: int, capacity: int = 10, tier: str = "silver", section: str = FLOOR):
    r = client.post(
        f"/api/v1/manage/venues/{venue_id}/layout/standing",
        json={"section": section, "tier": tier, "capacity": capacity},
        headers=manager.headers,
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def standing_show(client, make, capacity: int = 10, **show):
    s = make.show(rows=1, per_row=4, **show)
    add_floor(client, make.fan("manager"), s.venue_id, capacity)
    return s


def hold_places(client, fan, show_id, quantity, section=FLOOR):
    return client.post(
        f"/api/v1/shows/{show_id}/holds", json={"gaSection": section, "quantity": quantity}, headers=fan.headers
    )


def states(app, show_id):
    """(status, hold or booking) of each place of the show's standing section, by place id."""
    rows = fetch(
        app,
        """
        SELECT ss.seat_id, ss.status, coalesce(ss.hold_id::text, ss.booking_id::text) AS owner
        FROM show_seats ss JOIN venue_seats vs ON vs.venue_id = ss.venue_id AND vs.seat_id = ss.seat_id
        WHERE ss.show_id = :s AND vs.standing ORDER BY vs.ordinal
        """,
        s=show_id,
    )
    return {r.seat_id: (r.status, r.owner) for r in rows}


def no_invariant_broken(app):
    with app.app_context(), unit_of_work() as uow:
        assert seat_invariant_violations(uow) == {}


def test_a_standing_section_is_one_section_of_places_on_the_seat_map(app, client, make):
    s = standing_show(client, make, capacity=12)
    sections = client.get(f"/api/v1/shows/{s.show_id}/seatmap/sections").get_json()["sections"]
    floor = [x for x in sections if x["section"] == FLOOR]
    assert floor and floor[0]["standing"] is True and floor[0]["seats"] == 12 and floor[0]["available"] == 12
    assert all(not x["standing"] for x in sections if x["section"] != FLOOR)
    seats = client.get(f"/api/v1/shows/{s.show_id}/seatmap").get_json()["seats"]
    places = [x for x in seats if x.get("standing")]
    assert [p["seatId"] for p in places] == [f"FLOOR-{n:04d}" for n in range(1, 13)]
    assert all("standing" not in x for x in seats if x["section"] != FLOOR)


def test_a_fan_holds_places_by_quantity_and_the_hold_names_them(app, client, make):
    s = standing_show(client, make)
    fan = make.fan()
    r = hold_places(client, fan, s.show_id, 3)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["gaSection"] == FLOOR and body["quantity"] == 3
    assert body["seatIds"] == ["FLOOR-0001", "FLOOR-0002", "FLOOR-0003"]
    assert body["amount"] == 3 * 25000 and body["status"] == "ACTIVE"
    got = client.get(f"/api/v1/holds/{body['holdId']}", headers=fan.headers).get_json()
    assert got["gaSection"] == FLOOR and got["quantity"] == 3 and got["seatIds"] == body["seatIds"]
    held = {k for k, (status, owner) in states(app, s.show_id).items() if status == "HELD"}
    assert held == set(body["seatIds"])
    assert all(states(app, s.show_id)[p][1] == body["holdId"] for p in held)
    # The next fan gets the next places; a hold of seats still answers without the standing fields.
    second = hold_places(client, make.fan(), s.show_id, 2).get_json()
    assert second["seatIds"] == ["FLOOR-0004", "FLOOR-0005"]
    seated = client.post(f"/api/v1/shows/{s.show_id}/holds", json={"seatIds": ["A1"]}, headers=fan.headers)
    assert seated.status_code == 201 and seated.get_json()["gaSection"] is None
    no_invariant_broken(app)


def _unchanged(app, show_id):
    return (
        states(app, show_id),
        fetch(app, "SELECT count(*) AS n FROM holds WHERE show_id = :s", s=show_id)[0].n,
    )


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"gaSection": FLOOR, "quantity": 5}, 409, "SEATS_UNAVAILABLE"),  # 4 left
        ({"gaSection": "Balcony", "quantity": 1}, 400, "VALIDATION_FAILED"),  # no such standing section
        ({"gaSection": "Main", "quantity": 1}, 400, "VALIDATION_FAILED"),  # a seated section
        ({"gaSection": FLOOR, "quantity": 0}, 400, "VALIDATION_FAILED"),
        ({"gaSection": FLOOR, "quantity": 9}, 400, "VALIDATION_FAILED"),  # over the per-hold limit
        ({"gaSection": FLOOR, "quantity": 101}, 400, "VALIDATION_FAILED"),
        ({"gaSection": FLOOR, "quantity": "2"}, 400, "VALIDATION_FAILED"),
        ({"gaSection": FLOOR, "quantity": True}, 400, "VALIDATION_FAILED"),
        ({"gaSection": FLOOR}, 400, "VALIDATION_FAILED"),
        ({"quantity": 2}, 400, "VALIDATION_FAILED"),
        ({"gaSection": "", "quantity": 2}, 400, "VALIDATION_FAILED"),
        ({"gaSection": "x" * 41, "quantity": 2}, 400, "VALIDATION_FAILED"),
        ({"gaSection": FLOOR, "quantity": 1, "seatIds": ["A1"]}, 400, "VALIDATION_FAILED"),
        ({"gaSection": None, "quantity": None}, 400, "VALIDATION_FAILED"),
    ],
)
def test_every_refusal_changes_nothing(app, client, make, body, status, code):
    s = standing_show(client, make, capacity=6)
    assert hold_places(client, make.fan(), s.show_id, 2).status_code == 201
    before = _unchanged(app, s.show_id)
    r = client.post(f"/api/v1/shows/{s.show_id}/holds", json=body, headers=make.fan().headers)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"]["code"] == code
    if status == 409:
        assert r.get_json()["error"]["available"] == 4 and r.get_json()["error"]["seatIds"] == []
    assert _unchanged(app, s.show_id) == before
    no_invariant_broken(app)


def test_standing_holds_keep_the_sale_window_and_the_fans_cap(app, client, make):
    closed = standing_show(client, make, sale_opens_in=__import__("datetime").timedelta(days=1))
    r = hold_places(client, make.fan(), closed.show_id, 1)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "SALE_CLOSED"
    s = make.show(rows=1, per_row=5)
    add_floor(client, make.fan("manager"), s.venue_id, 20)
    fan = make.fan()
    assert hold_places(client, fan, s.show_id, 6).status_code == 201
    r = hold_places(client, fan, s.show_id, 3)  # 6 + 3 places > 8
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "SEAT_LIMIT_EXCEEDED"
    assert r.get_json()["error"]["held"] == 6
    assert hold_places(client, fan, s.show_id, 2).status_code == 201
    no_invariant_broken(app)


def test_places_kept_for_the_waiting_line_are_not_held_by_the_public(app, client, make):
    s = standing_show(client, make, capacity=2)
    # The show is sold out: everything held, and a fan waits in line for silver.
    assert (
        client.post(
            f"/api/v1/shows/{s.show_id}/holds", json={"seatIds": ["A2", "A3", "A4"]}, headers=make.fan().headers
        ).status_code
        == 201
    )
    assert (
        client.post(
            f"/api/v1/shows/{s.show_id}/holds", json={"seatIds": ["A1"]}, headers=make.fan().headers
        ).status_code
        == 201
    )
    first = hold_places(client, make.fan(), s.show_id, 2)
    assert first.status_code == 201
    waiting = make.fan()
    r = client.post(
        f"/api/v1/shows/{s.show_id}/waitlist", json={"quantity": 1, "tier": "silver"}, headers=waiting.headers
    )
    assert r.status_code == 201, r.get_json()
    # The places come back while the line waits: they are the line's, not the public's.
    assert client.delete(f"/api/v1/holds/{first.get_json()['holdId']}", headers=make.fan().headers).status_code == 404
    run_sql(
        app,
        "UPDATE holds SET expires_at = now() - interval '1 second', created_at = now() - interval '1 hour' WHERE id = :h",
        h=first.get_json()["holdId"],
    )
    run_sql(
        app,
        "UPDATE show_seats SET hold_expires_at = now() - interval '1 second' WHERE hold_id = :h",
        h=first.get_json()["holdId"],
    )
    r = hold_places(client, make.fan(), s.show_id, 1)
    assert r.status_code == 409 and r.get_json()["error"]["available"] == 0


def _pay(client, gateway, fan, hold_id):
    r = client.post(f"/api/v1/holds/{hold_id}/payment-intents", headers=fan.headers)
    assert r.status_code == 201, r.get_json()
    intent = r.get_json()["paymentIntentId"]
    gateway.succeed(intent)
    r = client.post(f"/api/v1/holds/{hold_id}/confirm", json={"paymentIntentId": intent}, headers=fan.headers)
    assert r.status_code == 201, r.get_json()
    booking = client.get(f"/api/v1/bookings/{r.get_json()['bookingId']}", headers=fan.headers)
    assert booking.status_code == 200, booking.get_json()
    return booking.get_json()


def test_hold_pay_book_and_cancel_frees_the_places(app, client, make, gateway, mail):
    from pypdf import PdfReader

    from devstack.mail import text_body
    from tests.integration.test_tickets import attachments, email_of

    s = standing_show(client, make, capacity=5)
    fan = make.fan()
    hold = hold_places(client, fan, s.show_id, 2).get_json()
    booking = _pay(client, gateway, fan, hold["holdId"])
    # The confirmation names the places by their section, and so do the printed tickets.
    run_jobs(app)
    [confirmed] = mail.to(email_of(app, fan))
    assert "Standing, Floor × 2" in text_body(confirmed)
    pdf = PdfReader(io.BytesIO(attachments(confirmed)["application/pdf"]))
    assert "Standing, Floor (admission FLOOR-0001)" in "".join(page.extract_text() for page in pdf.pages)
    assert sorted(booking["seatIds"]) == sorted(hold["seatIds"]) and booking["amount"] == 2 * 25000
    booked = {k for k, (status, _) in states(app, s.show_id).items() if status == "BOOKED"}
    assert booked == set(hold["seatIds"])
    # One signed ticket code per place, as per seat.
    assert sorted(t["seatId"] for t in booking["tickets"]) == sorted(hold["seatIds"])
    assert len({t["code"] for t in booking["tickets"]}) == 2
    r = client.get(f"/api/v1/shows/{s.show_id}/seatmap/sections").get_json()["sections"]
    assert [x["available"] for x in r if x["section"] == FLOOR] == [3]
    hold_places(client, make.fan(), s.show_id, 1)
    manager = make.fan("manager")
    figures = client.get(f"/api/v1/manage/shows/{s.show_id}/dashboard", headers=manager.headers).get_json()
    assert figures["standing"] == [
        {"section": FLOOR, "capacity": 5, "available": 2, "held": 1, "booked": 2, "blocked": 0}
    ]
    sign_in(client, manager)
    page = client.get(f"/manage/shows/{s.show_id}").get_data(as_text=True)
    assert "2 sold, 1 held, 2 available of 5" in page
    r = client.post(f"/api/v1/bookings/{booking['bookingId']}/cancel", headers=fan.headers)
    assert r.status_code == 200, r.get_json()
    assert sum(status == "AVAILABLE" for status, _ in states(app, s.show_id).values()) == 4
    again = hold_places(client, make.fan(), s.show_id, 4)
    assert again.status_code == 201
    no_invariant_broken(app)


def test_expiry_frees_the_places(app, client, make):
    s = standing_show(client, make, capacity=3)
    hold = hold_places(client, make.fan(), s.show_id, 3).get_json()
    assert hold_places(client, make.fan(), s.show_id, 1).status_code == 409
    run_sql(app, "UPDATE holds SET expires_at = now() - interval '1 second', created_at = now() - interval '1 hour'")
    run_sql(app, "UPDATE show_seats SET hold_expires_at = now() - interval '1 second' WHERE status = 'HELD'")
    counts = workers.jobs.sweep()
    assert counts["holds_expired"] == 1
    assert fetch(app, "SELECT status FROM holds WHERE id = :h", h=hold["holdId"])[0].status == "EXPIRED"
    assert all(status == "AVAILABLE" for status, _ in states(app, s.show_id).values())
    assert hold_places(client, make.fan(), s.show_id, 3).status_code == 201
    no_invariant_broken(app)


def test_a_lapsed_hold_loses_its_places_to_the_next_fan_without_a_sweeper(app, client, make):
    s = standing_show(client, make, capacity=2)
    old = hold_places(client, make.fan(), s.show_id, 2).get_json()
    run_sql(app, "UPDATE holds SET expires_at = now() - interval '1 second', created_at = now() - interval '1 hour'")
    run_sql(app, "UPDATE show_seats SET hold_expires_at = now() - interval '1 second' WHERE status = 'HELD'")
    new = hold_places(client, make.fan(), s.show_id, 2).get_json()
    assert sorted(new["seatIds"]) == sorted(old["seatIds"])
    assert fetch(app, "SELECT status FROM holds WHERE id = :h", h=old["holdId"])[0].status == "EXPIRED"
    no_invariant_broken(app)


def test_capacity_grows_and_shrinks_only_by_unsold_unheld_places(app, client, make, gateway):
    s = make.show(rows=1, per_row=4)
    manager = make.fan("manager")
    add_floor(client, manager, s.venue_id, 4)
    url = f"/api/v1/manage/venues/{s.venue_id}/layout/standing"
    version = client.get(f"/api/v1/manage/venues/{s.venue_id}", headers=manager.headers).get_json()["layoutVersion"]
    r = client.put(url, json={"section": FLOOR, "capacity": 6}, headers=manager.headers)
    assert r.status_code == 200 and r.get_json()["added"] == 2, r.get_json()
    venue = client.get(f"/api/v1/manage/venues/{s.venue_id}", headers=manager.headers).get_json()
    assert venue["layoutVersion"] != version
    assert [x["seats"] for x in venue["sections"] if x["section"] == FLOOR] == [6]
    assert len(states(app, s.show_id)) == 6  # the scheduled show has the new places at once
    fan = make.fan()
    hold = hold_places(client, fan, s.show_id, 3).get_json()
    _pay(client, gateway, fan, hold["holdId"])
    hold_places(client, make.fan(), s.show_id, 1)  # place 4 held
    before = states(app, s.show_id)
    # 4 places are sold or held: the capacity can go down to 4, not to 3.
    r = client.put(url, json={"section": FLOOR, "capacity": 3}, headers=manager.headers)
    assert r.status_code == 409, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "LAYOUT_IN_USE" and error["lowestCapacity"] == 4 and error["capacity"] == 6
    assert states(app, s.show_id) == before
    r = client.put(url, json={"section": FLOOR, "capacity": 4}, headers=manager.headers)
    assert r.status_code == 200 and r.get_json()["removed"] == 2, r.get_json()
    assert set(states(app, s.show_id)) == {f"FLOOR-{n:04d}" for n in range(1, 5)}
    assert hold_places(client, make.fan(), s.show_id, 1).status_code == 409
    r = client.put(url, json={"section": FLOOR, "capacity": 7}, headers=manager.headers)
    assert r.status_code == 200 and r.get_json()["added"] == 3
    assert hold_places(client, make.fan(), s.show_id, 3).get_json()["seatIds"] == [
        "FLOOR-0005",
        "FLOOR-0006",
        "FLOOR-0007",
    ]
    no_invariant_broken(app)


@pytest.mark.parametrize(
    "path, body, status",
    [
        ("standing", {"section": FLOOR, "tier": "silver", "capacity": 0}, 400),
        ("standing", {"section": FLOOR, "tier": "silver", "capacity": 10001}, 400),
        ("standing", {"section": "Main", "tier": "silver", "capacity": 5}, 400),  # the name is taken
        ("standing", {"section": "Pit", "tier": "platinum", "capacity": 5}, 400),  # no price for the tier
        ("standing", {"section": " ", "tier": "silver", "capacity": 5}, 400),
        ("standing", {"section": "Pit", "tier": "Bad Tier", "capacity": 5}, 400),
        ("standing", {"section": "Pit", "tier": "silver"}, 400),
        ("standing", {"section": "Pit", "tier": "silver", "capacity": 5, "extra": 1}, 400),
        ("PUT", {"section": FLOOR, "capacity": 0}, 400),
        ("PUT", {"section": FLOOR, "capacity": "5"}, 400),
        ("PUT", {"capacity": 5}, 400),
        ("PUT", {"section": "Main", "capacity": 5}, 400),  # a seated section
        ("PUT", {"section": "Nowhere", "capacity": 5}, 400),
    ],
)
def test_bad_layout_changes_are_refused_and_change_nothing(app, client, make, path, body, status):
    s = make.show(rows=1, per_row=4)
    manager = make.fan("manager")
    add_floor(client, manager, s.venue_id, 3)
    before = fetch(app, "SELECT seat_id, standing FROM venue_seats ORDER BY seat_id"), states(app, s.show_id)
    send = client.post if path == "standing" else client.put
    r = send(f"/api/v1/manage/venues/{s.venue_id}/layout/standing", json=body, headers=manager.headers)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"]["code"] == "VALIDATION_FAILED"
    assert (fetch(app, "SELECT seat_id, standing FROM venue_seats ORDER BY seat_id"), states(app, s.show_id)) == before


def test_a_fan_cannot_change_a_layout(client, make):
    s = make.show(rows=1, per_row=4)
    fan = make.fan()
    r = client.post(
        f"/api/v1/manage/venues/{s.venue_id}/layout/standing",
        json={"section": FLOOR, "tier": "silver", "capacity": 5},
        headers=fan.headers,
    )
    assert r.status_code == 403
    r = client.put(
        f"/api/v1/manage/venues/{s.venue_id}/layout/standing",
        json={"section": FLOOR, "capacity": 5},
        headers=fan.headers,
    )
    assert r.status_code == 403


def test_the_layout_exports_and_imports_its_standing_places(app, client, make):
    s = make.show(rows=1, per_row=2)
    manager = make.fan("manager")
    add_floor(client, manager, s.venue_id, 3)
    csv = client.get(f"/api/v1/manage/venues/{s.venue_id}/layout?format=csv", headers=manager.headers).get_data(
        as_text=True
    )
    assert csv.splitlines()[0].endswith(",standing") and csv.splitlines()[-1].endswith(",yes")
    r = client.post(
        f"/api/v1/manage/venues/{s.venue_id}/layout/import",
        data=csv.encode(),
        headers={**manager.headers, "Content-Type": "text/csv"},
    )
    assert r.status_code == 200 and r.get_json()["changed"] == 0, r.get_json()
    assert fetch(app, "SELECT count(*) AS n FROM venue_seats WHERE standing")[0].n == 3


def test_the_box_office_blocks_and_releases_a_number_of_places(app, client, make):
    s = standing_show(client, make, capacity=6)
    hold_places(client, make.fan(), s.show_id, 2)  # places 1-2 held
    manager = make.fan("manager")
    csrf = sign_in(client, manager)
    page = client.get(f"/manage/shows/{s.show_id}/seats?section={FLOOR}").get_data(as_text=True)
    assert 'data-testid="box-office-standing"' in page
    url = f"/manage/shows/{s.show_id}/seats"
    form = {"csrf_token": csrf, "section": FLOOR, "action": "HOUSE"}
    assert client.post(url, data={**form, "quantity": "3"}).status_code == 303
    seats = states(app, s.show_id)
    assert [p for p, (status, _) in seats.items() if status == "BLOCKED"] == ["FLOOR-0004", "FLOOR-0005", "FLOOR-0006"]
    # One place is free: blocking two changes nothing.
    before = states(app, s.show_id)
    client.post(url, data={**form, "quantity": "2"})
    assert states(app, s.show_id) == before
    assert hold_places(client, make.fan(), s.show_id, 2).status_code == 409
    client.post(url, data={**form, "action": "release", "quantity": "2"})
    assert sum(status == "BLOCKED" for status, _ in states(app, s.show_id).values()) == 1
    assert hold_places(client, make.fan(), s.show_id, 3).status_code == 201
    for bad in ("0", "x", "5001"):
        before = states(app, s.show_id)
        client.post(url, data={**form, "quantity": bad})
        assert states(app, s.show_id) == before
    no_invariant_broken(app)


def test_the_show_page_offers_standing_places_by_quantity_without_a_script(app, client, make, gateway, mail):
    from tests.integration.test_site import signed_in, token_of

    s = standing_show(client, make, capacity=3)
    anonymous = client.get(f"/shows/{s.show_id}").get_data(as_text=True)
    assert "Standing — Floor: 3 left" in anonymous and "Sign in to hold standing places" in anonymous
    signed_in(client)
    page = client.get(f"/shows/{s.show_id}")
    assert "FLOOR-0001" not in page.get_data(as_text=True)  # one block, not a list of places
    r = client.post(
        f"/shows/{s.show_id}/standing", data={"csrf_token": token_of(page), "section": FLOOR, "quantity": "2"}
    )
    assert r.status_code == 303, r.get_data(as_text=True)[:300]
    hold_page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Standing, Floor × 2" in hold_page
    # Two more than are left: told on the show page, nothing held.
    before = _unchanged(app, s.show_id)
    r = client.post(
        f"/shows/{s.show_id}/standing", data={"csrf_token": token_of(page), "section": FLOOR, "quantity": "2"}
    )
    assert r.status_code == 409 and "only 1 place is left in Floor" in r.get_data(as_text=True)
    for bad in ("0", "x", "9"):
        r = client.post(
            f"/shows/{s.show_id}/standing", data={"csrf_token": token_of(page), "section": FLOOR, "quantity": bad}
        )
        assert r.status_code == 400
    assert _unchanged(app, s.show_id) == before
