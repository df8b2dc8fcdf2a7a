"""Presale codes and vouchers (README "Presale codes and vouchers") through the real app, real
Postgres and the gateway simulator: managers create, list, change and deactivate codes; fans hold
seats with them; each refusal changes nothing; a code's uses follow its holds exactly (taken by a
hold, given back when the hold ends unbooked, kept by a booking), also under 50 concurrent fans."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest

from app.booking import sweeper
from app.booking.invariants import money_invariant_violations
from app.unit_of_work import unit_of_work
from tests.support.contract import ContractClient
from tests.support.db import fetch, run_jobs, run_sql
from tests.support.races import Attempt, run_together
from tests.support.snapshot import differences, snapshot


@pytest.fixture
def api(app):
    """A test client that also checks every answer against the OpenAPI document."""
    return ContractClient(app, app.response_class)


def event_of(app, show) -> int:
    return fetch(app, "SELECT event_id FROM shows WHERE id = :s", s=show.show_id)[0].event_id


def create_code(api, manager, show=None, event=None, **body):
    path = (
        f"/api/v1/manage/shows/{show.show_id}/access-codes" if show else f"/api/v1/manage/events/{event}/access-codes"
    )
    r = api.post(path, json={"kind": "VOUCHER", "maxUses": 10, **body}, headers=manager.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def hold(api, fan, show, seats, code=None):
    body = {"seatIds": seats} | ({"accessCode": code} if code is not None else {})
    return api.post(f"/api/v1/shows/{show.show_id}/holds", json=body, headers=fan.headers)


def used(app, code) -> int:
    return fetch(app, "SELECT used FROM access_codes WHERE id = :c", c=int(code["accessCodeId"]))[0].used


def lapse(app, hold_id) -> None:
    """The hold's time runs out, seats included, as if its minutes had passed."""
    run_sql(
        app,
        "UPDATE holds SET created_at = now() - interval '1 hour', expires_at = now() - interval '1 second' "
        "WHERE id = :h",
        h=hold_id,
    )
    run_sql(app, "UPDATE show_seats SET hold_expires_at = now() - interval '1 second' WHERE hold_id = :h", h=hold_id)


def sweep(app) -> None:
    with app.app_context(), unit_of_work() as uow:
        while sweeper.release_expired_holds(uow, batch=100):
            pass


def code_uses_agree(app) -> None:
    """Every code's ``used`` is the number of its holds that are active or booked."""
    rows = fetch(
        app,
        """SELECT c.code, c.used, (SELECT count(*) FROM holds h WHERE h.access_code_id = c.id
                                  AND h.status IN ('ACTIVE', 'CONFIRMED')) AS holding
           FROM access_codes c""",
    )
    assert [(r.code, r.used) for r in rows] == [(r.code, r.holding) for r in rows]


# ---------------------------------------------------------------- the manager API


def test_a_manager_creates_lists_changes_and_deactivates_codes_and_each_change_is_audited(app, api, make):
    show, manager = make.show(), make.fan(role="manager")
    event = event_of(app, show)
    mine = create_code(api, manager, show, code="Friends10", percentOff=10)
    assert mine["showId"] == str(show.show_id) and mine["eventId"] is None
    assert (mine["kind"], mine["percentOff"], mine["amountOff"], mine["used"], mine["remaining"]) == (
        "VOUCHER",
        10,
        None,
        0,
        10,
    )
    ours = create_code(
        api, manager, event=event, code="FANCLUB", kind="PRESALE", maxUses=3, opensAt="2026-01-01T10:00:00+05:30"
    )
    # The show's list has its own codes first, then its event's; the event's list only the event's.
    listed = api.get(f"/api/v1/manage/shows/{show.show_id}/access-codes", headers=manager.headers).get_json()
    assert [c["code"] for c in listed["accessCodes"]] == ["Friends10", "FANCLUB"]
    listed = api.get(f"/api/v1/manage/events/{event}/access-codes", headers=manager.headers).get_json()
    assert [c["code"] for c in listed["accessCodes"]] == ["FANCLUB"]

    changed = api.patch(
        f"/api/v1/manage/access-codes/{mine['accessCodeId']}",
        json={"maxUses": 20, "closesAt": "2030-01-01T00:00:00Z"},
        headers=manager.headers,
    )
    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["maxUses"], changed.get_json()["remaining"]) == (20, 20)
    gone = api.delete(f"/api/v1/manage/access-codes/{ours['accessCodeId']}", headers=manager.headers)
    assert gone.status_code == 200 and gone.get_json()["active"] is False
    again = api.delete(f"/api/v1/manage/access-codes/{ours['accessCodeId']}", headers=manager.headers)
    assert again.status_code == 200 and again.get_json() == gone.get_json()
    back = api.patch(
        f"/api/v1/manage/access-codes/{ours['accessCodeId']}", json={"active": True}, headers=manager.headers
    )
    assert back.get_json()["active"] is True
    actions = [
        r.action for r in fetch(app, "SELECT action FROM audit_log WHERE subject_type = 'access_code' ORDER BY id")
    ]
    assert actions == [
        "access_code.create",
        "access_code.create",
        "access_code.update",
        "access_code.deactivate",
        "access_code.update",
    ]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"code": "ab", "kind": "VOUCHER", "percentOff": 5, "maxUses": 1}, "code"),
        ({"code": "has space", "kind": "VOUCHER", "percentOff": 5, "maxUses": 1}, "code"),
        ({"code": "OK10", "kind": "VOUCHER", "maxUses": 1}, "percentOff"),
        ({"code": "OK10", "kind": "VOUCHER", "percentOff": 5, "amountOff": 100, "maxUses": 1}, "amountOff"),
        ({"code": "OK10", "kind": "VOUCHER", "percentOff": 0, "maxUses": 1}, "percentOff"),
        ({"code": "OK10", "kind": "VOUCHER", "percentOff": 101, "maxUses": 1}, "percentOff"),
        ({"code": "OK10", "kind": "VOUCHER", "amountOff": -5, "maxUses": 1}, "amountOff"),
        ({"code": "OK10", "kind": "VOUCHER", "percentOff": 5, "maxUses": 0}, "maxUses"),
        ({"code": "OK10", "kind": "GIFT", "percentOff": 5, "maxUses": 1}, "kind"),
        ({"code": "OK10", "kind": "PRESALE", "maxUses": 1, "opensAt": "2026-01-02T00:00:00"}, "opensAt"),
        (
            {
                "code": "OK10",
                "kind": "PRESALE",
                "maxUses": 1,
                "opensAt": "2026-01-02T00:00:00Z",
                "closesAt": "2026-01-01T00:00:00Z",
            },
            "closesAt",
        ),
    ],
)
def test_bad_codes_are_400_and_change_nothing(app, api, make, body, field):
    show, manager = make.show(), make.fan(role="manager")
    before = snapshot(app)
    r = api.post(f"/api/v1/manage/shows/{show.show_id}/access-codes", json=body, headers=manager.headers)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "VALIDATION_FAILED", r.get_json()
    assert field in str(r.get_json()["error"]), r.get_json()
    assert differences(before, snapshot(app)) == []


def test_a_duplicate_code_in_any_case_is_409_but_another_show_may_use_the_text(app, api, make):
    show, other, manager = make.show(), make.show(), make.fan(role="manager")
    create_code(api, manager, show, code="SUMMER", percentOff=5)
    before = snapshot(app)
    r = api.post(
        f"/api/v1/manage/shows/{show.show_id}/access-codes",
        json={"code": "summer", "kind": "VOUCHER", "amountOff": 100, "maxUses": 1},
        headers=manager.headers,
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "ACCESS_CODE_EXISTS"
    assert differences(before, snapshot(app)) == []
    create_code(api, manager, other, code="summer", percentOff=5)
    bad_patch = api.patch(
        f"/api/v1/manage/access-codes/{fetch(app, 'SELECT min(id) AS id FROM access_codes')[0].id}",
        json={"maxUses": None},
        headers=manager.headers,
    )
    assert bad_patch.status_code == 400 and bad_patch.get_json()["error"]["code"] == "VALIDATION_FAILED"
    empty = api.patch("/api/v1/manage/access-codes/1", json={}, headers=manager.headers)
    assert empty.status_code == 400


def test_another_organisations_show_event_and_code_are_404_and_fans_403(app, api, make):
    show, manager = make.show(), make.fan(role="manager")
    rival = make.fan(role="manager", organisation="Rival Venues")
    code = create_code(api, manager, show, code="MINE", percentOff=5)
    fan = make.fan()
    before = snapshot(app)
    event = event_of(app, show)
    for method, path, body in [
        (
            "POST",
            f"/api/v1/manage/shows/{show.show_id}/access-codes",
            {"code": "X123", "kind": "PRESALE", "maxUses": 1},
        ),
        ("GET", f"/api/v1/manage/shows/{show.show_id}/access-codes", None),
        ("POST", f"/api/v1/manage/events/{event}/access-codes", {"code": "X123", "kind": "PRESALE", "maxUses": 1}),
        ("GET", f"/api/v1/manage/events/{event}/access-codes", None),
        ("PATCH", f"/api/v1/manage/access-codes/{code['accessCodeId']}", {"active": False}),
        ("DELETE", f"/api/v1/manage/access-codes/{code['accessCodeId']}", None),
    ]:
        r = api.open(path, method=method, json=body, headers=rival.headers)
        assert r.status_code == 404, (method, path, r.get_json())
        r = api.open(path, method=method, json=body, headers=fan.headers)
        assert r.status_code == 403, (method, path)
    assert differences(before, snapshot(app)) == []


# ---------------------------------------------------------------- holds with a code


def test_vouchers_price_the_hold_and_an_event_code_works_for_each_of_its_shows(app, api, make):
    show, manager, fan = make.show(prices={"gold": 50000, "silver": 25000}), make.fan(role="manager"), make.fan()
    create_code(api, manager, show, code="TENOFF", percentOff=10)
    create_code(api, manager, show, code="FLAT", amountOff=30000)
    create_code(api, manager, event=event_of(app, show), code="ALLSHOWS", percentOff=50)

    r = hold(api, fan, show, ["A1", "B1"], code="tenoff")  # any case
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["amount"], r.get_json()["discount"], r.get_json()["accessCode"]) == (67500, 7500, "TENOFF")
    assert api.get(r.headers["Location"], headers=fan.headers).get_json()["amount"] == 67500
    r = hold(api, make.fan(), show, ["B2"], code="FLAT")  # 25000 - 30000: never below 0, a free hold
    assert (r.get_json()["amount"], r.get_json()["discount"]) == (0, 25000)
    r = hold(api, make.fan(), show, ["B3"], code="AllShows")
    assert (r.get_json()["amount"], r.get_json()["discount"]) == (12500, 12500)
    assert [
        (a.action, a.details["discount"])
        for a in fetch(app, "SELECT action, details FROM audit_log WHERE action = 'hold.code_used' ORDER BY id")
    ] == [("hold.code_used", 7500), ("hold.code_used", 25000), ("hold.code_used", 12500)]
    code_uses_agree(app)


def test_a_free_hold_from_a_full_voucher_is_booked_without_a_payment(app, api, make):
    show, manager, fan = make.show(), make.fan(role="manager"), make.fan()
    code = create_code(api, manager, show, code="COMP", percentOff=100, maxUses=1)
    held = hold(api, fan, show, ["C1", "C2"], code="COMP").get_json()
    assert held["amount"] == 0
    refused = api.post(f"/api/v1/holds/{held['holdId']}/payment-intents", headers=fan.headers)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "PAYMENT_NOT_NEEDED"
    r = api.post(f"/api/v1/holds/{held['holdId']}/confirm", json={}, headers=fan.headers)
    assert r.status_code == 201, r.get_json()
    booking = api.get(f"/api/v1/bookings/{r.get_json()['bookingId']}", headers=fan.headers).get_json()
    assert booking["amount"] == 0
    assert used(app, code) == 1


@pytest.mark.parametrize(
    "case",
    ["unknown", "inactive", "not yet valid", "expired", "another show's", "malformed", "exhausted"],
)
def test_every_refused_code_changes_nothing(app, api, make, case):
    show, other, manager, fan = make.show(), make.show(), make.fan(role="manager"), make.fan()
    now = datetime.now(UTC)
    codes = {
        "inactive": {"code": "SLEEPY", "active": False},
        "not yet valid": {"code": "LATER", "opensAt": (now + timedelta(days=1)).isoformat()},
        "expired": {
            "code": "PAST",
            "opensAt": (now - timedelta(days=2)).isoformat(),
            "closesAt": (now - timedelta(days=1)).isoformat(),
        },
        "exhausted": {"code": "ONCE", "maxUses": 1},
    }
    if case in codes:
        create_code(api, manager, show, percentOff=20, **codes[case])
    create_code(api, manager, other, code="ELSEWHERE", percentOff=20)
    if case == "exhausted":
        assert hold(api, make.fan(), show, ["A5"], code="ONCE").status_code == 201
    text = {"unknown": "NOPE", "another show's": "ELSEWHERE", "malformed": "no such code!"}.get(
        case, codes.get(case, {}).get("code")
    )
    before = snapshot(app)
    r = hold(api, fan, show, ["A1", "A2"], code=text)
    expected = "CODE_EXHAUSTED" if case == "exhausted" else "CODE_INVALID"
    assert r.status_code == 422 and r.get_json()["error"]["code"] == expected, r.get_json()
    assert differences(before, snapshot(app)) == []
    assert hold(api, fan, show, ["A1", "A2"]).status_code == 201  # without the code, the seats were free all along


def test_a_presale_code_opens_the_sale_early_and_nothing_else_does(app, api, make):
    show, manager, fan = make.show(sale_opens_in=timedelta(days=1)), make.fan(role="manager"), make.fan()
    now = datetime.now(UTC)
    create_code(api, manager, show, code="EARLY", kind="PRESALE", opensAt=(now - timedelta(hours=1)).isoformat())
    create_code(api, manager, show, code="EARLYDEAL", kind="PRESALE", percentOff=25)  # opens at once
    create_code(api, manager, show, code="TOOSOON", kind="PRESALE", opensAt=(now + timedelta(hours=1)).isoformat())
    create_code(api, manager, show, code="DISCOUNT", percentOff=10)
    before = snapshot(app)
    r = hold(api, fan, show, ["A1"])
    assert r.status_code == 422 and r.get_json()["error"]["saleStatus"] == "NOT_OPEN"
    r = hold(api, fan, show, ["A1"], code="DISCOUNT")  # a voucher does not open the sale
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "SALE_CLOSED"
    r = hold(api, fan, show, ["A1"], code="TOOSOON")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "CODE_INVALID"
    assert differences(before, snapshot(app)) == []
    r = hold(api, fan, show, ["A1"], code="early")
    assert r.status_code == 201 and r.get_json()["amount"] == 50000 and r.get_json()["discount"] == 0
    r = hold(api, make.fan(), show, ["A2"], code="EARLYDEAL")
    assert r.status_code == 201 and r.get_json()["amount"] == 37500


def test_a_voucher_is_what_is_charged_booked_refunded_and_reported(app, api, make, gateway):
    show, manager, fan = make.show(prices={"gold": 50000, "silver": 25000}), make.fan(role="manager"), make.fan()
    code = create_code(api, manager, show, code="HALF", percentOff=50, maxUses=5)
    held = hold(api, fan, show, ["A1", "A2"], code="HALF").get_json()
    assert held["amount"] == 50000
    intent = api.post(f"/api/v1/holds/{held['holdId']}/payment-intents", headers=fan.headers).get_json()
    assert intent["amount"] == 50000
    assert gateway.intent(intent["paymentIntentId"])["amount"] == 50000
    gateway.succeed(intent["paymentIntentId"])
    r = api.post(
        f"/api/v1/holds/{held['holdId']}/confirm",
        json={"paymentIntentId": intent["paymentIntentId"]},
        headers=fan.headers,
    )
    assert r.status_code == 201, r.get_json()
    booking_id = r.get_json()["bookingId"]
    booking = api.get(f"/api/v1/bookings/{booking_id}", headers=fan.headers).get_json()
    assert (booking["amount"], booking["discount"], booking["accessCode"]) == (50000, 50000, "HALF")
    assert used(app, code) == 1  # a booked hold keeps its use
    report = api.get("/api/v1/manage/reports/sales", headers=manager.headers).get_json()
    assert report["totals"][0]["sales"] == 50000, report["totals"]
    csv = api.get(f"/api/v1/manage/shows/{show.show_id}/bookings.csv", headers=manager.headers).get_data(as_text=True)
    header, line = csv.splitlines()[:2]
    assert header.endswith(",discount,access_code") and line.endswith(",500.00,HALF") and ",500.00," in line
    run_jobs(app)
    cancelled = api.post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers)
    assert cancelled.status_code == 200 and cancelled.get_json()["refundAmount"] == 50000  # all of what was paid
    run_jobs(app)
    assert gateway.intent(intent["paymentIntentId"])["amount_refunded"] == 50000
    with app.app_context(), unit_of_work() as uow:
        assert money_invariant_violations(uow, gateway.intents()) == {}
    assert used(app, code) == 1  # the hold was booked: a cancelled booking does not give the use back


def test_a_use_is_given_back_once_when_a_hold_is_released_lapses_or_its_payment_is_cancelled(
    app, api, make, gateway, rds
):
    show, manager = make.show(), make.fan(role="manager")
    code = create_code(api, manager, show, code="TWO", percentOff=10, maxUses=2)
    first, second, third = make.fan(), make.fan(), make.fan()
    a = hold(api, first, show, ["A1"], code="TWO").get_json()
    b = hold(api, second, show, ["A2"], code="TWO").get_json()
    assert hold(api, third, show, ["A3"], code="TWO").get_json()["error"]["code"] == "CODE_EXHAUSTED"
    assert used(app, code) == 2

    assert api.delete(f"/api/v1/holds/{a['holdId']}", headers=first.headers).status_code == 200
    assert used(app, code) == 1
    assert api.delete(f"/api/v1/holds/{a['holdId']}", headers=first.headers).status_code == 200  # again: no change
    assert used(app, code) == 1

    lapse(app, b["holdId"])
    sweep(app)
    assert used(app, code) == 0
    sweep(app)
    assert used(app, code) == 0

    # A lapsed hold whose seats another fan takes over ends in the hold statement itself.
    c = hold(api, third, show, ["A3"], code="TWO").get_json()
    lapse(app, c["holdId"])
    assert used(app, code) == 1
    rds.flushdb()  # the seat hints still think A3 held until its first expiry; Postgres decides
    assert hold(api, make.fan(), show, ["A3"]).status_code == 201
    assert fetch(app, "SELECT status FROM holds WHERE id = :h", h=c["holdId"])[0].status == "EXPIRED"
    assert used(app, code) == 0

    # A paying hold released: its payment is cancelled at the gateway first, then the use comes back.
    d = hold(api, first, show, ["A4"], code="TWO").get_json()
    api.post(f"/api/v1/holds/{d['holdId']}/payment-intents", headers=first.headers)
    assert used(app, code) == 1
    assert api.delete(f"/api/v1/holds/{d['holdId']}", headers=first.headers).status_code == 200
    assert used(app, code) == 0
    code_uses_agree(app)


# ---------------------------------------------------------------- the race

FANS = 50
USES = 10


def test_fifty_fans_racing_for_ten_uses_get_exactly_ten_holds(app, make):
    show, manager = make.show(rows=6, per_row=10), make.fan(role="manager")
    code = create_code(ContractClient(app, app.response_class), manager, show, code="RACE", percentOff=20, maxUses=USES)
    fans = [make.fan() for _ in range(FANS)]

    def attempt(i: int, start_line: threading.Barrier) -> Attempt:
        client = app.test_client()
        seat = show.seat_ids[i]
        start_line.wait()
        r = client.post(
            f"/api/v1/shows/{show.show_id}/holds",
            json={"seatIds": [seat], "accessCode": "race"},
            headers=fans[i].headers,
        )
        return Attempt(fans[i].user_id, [seat], r.status_code, r.get_json())

    attempts = run_together(FANS, attempt)
    assert sum(a.status == 201 for a in attempts) == USES
    assert {a.body["error"]["code"] for a in attempts if a.status != 201} == {"CODE_EXHAUSTED"}
    assert used(app, code) == USES
    held = fetch(app, "SELECT count(*) AS n FROM show_seats WHERE show_id = :s AND status = 'HELD'", s=show.show_id)
    assert held[0].n == USES
    code_uses_agree(app)


# ---------------------------------------------------------------- the dashboard and the fans' pages


def csrf_of(response) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)


def signed_in(client, user, role: str) -> None:
    with client.session_transaction() as session:
        session["user_id"], session["role"] = user.user_id, role


def test_the_dashboard_creates_lists_and_deactivates_codes_with_and_without_htmx(app, client, make):
    show, manager = make.show(currency="GBP"), make.fan(role="manager")
    signed_in(client, manager, "manager")
    page = client.get(f"/manage/shows/{show.show_id}")
    assert page.status_code == 200 and "No codes yet." in page.get_data(as_text=True)
    form = {
        "csrf_token": csrf_of(page),
        "code": "Staff5",
        "scope": "event",
        "kind": "VOUCHER",
        "amountOff": "5.50",
        "maxUses": "4",
        "opensAt": "2026-01-01T09:00",
        "closesAt": "",
    }
    # A plain form post comes back to the page.
    r = client.post(f"/manage/shows/{show.show_id}/access-codes", data=form)
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/manage/shows/{show.show_id}#access-codes")
    (row,) = fetch(app, "SELECT code, show_id, event_id, amount_off, max_uses, opens_at FROM access_codes")
    assert (row.code, row.show_id, row.event_id, row.amount_off, row.max_uses) == (
        "Staff5",
        None,
        event_of(app, show),
        550,
        4,
    )
    assert row.opens_at.isoformat() == "2026-01-01T03:30:00+00:00"  # 09:00 at the venue (Asia/Kolkata)
    # htmx gets the section back, with the refusal said and nothing stored.
    hx = {"HX-Request": "true"}
    r = client.post(
        f"/manage/shows/{show.show_id}/access-codes", data=form | {"scope": "show", "maxUses": "0"}, headers=hx
    )
    assert r.status_code == 200 and 'id="access-codes"' in r.get_data(as_text=True)
    assert "maxUses" in r.get_data(as_text=True)
    r = client.post(f"/manage/shows/{show.show_id}/access-codes", data=form, headers=hx)
    assert "already exists" in r.get_data(as_text=True)
    assert fetch(app, "SELECT count(*) AS n FROM access_codes")[0].n == 1
    r = client.post(
        f"/manage/shows/{show.show_id}/access-codes",
        data=form | {"code": "EARLY", "scope": "show", "kind": "PRESALE", "amountOff": "", "opensAt": ""},
        headers=hx,
    )
    text = r.get_data(as_text=True)
    assert "Code EARLY created." in text and "Staff5" in text and "£5.50 off" in text
    code_id = fetch(app, "SELECT id FROM access_codes WHERE code = 'EARLY'")[0].id
    r = client.post(
        f"/manage/shows/{show.show_id}/access-codes/{code_id}/deactivate",
        data={"csrf_token": csrf_of(page)},
        headers=hx,
    )
    assert "Code EARLY deactivated." in r.get_data(as_text=True)
    assert fetch(app, "SELECT active FROM access_codes WHERE id = :c", c=code_id)[0].active is False
    # Another organisation's manager cannot see or change them.
    rival = make.fan(role="manager", organisation="Rival Venues")
    signed_in(client, rival, "manager")
    assert client.get(f"/manage/shows/{show.show_id}").status_code == 404
    r = client.post(f"/manage/shows/{show.show_id}/access-codes", data=form | {"code": "RIVAL1"})
    assert r.status_code == 404
    assert fetch(app, "SELECT count(*) AS n FROM access_codes")[0].n == 2


def test_a_fan_checks_a_code_on_the_show_page_and_holds_with_it_without_a_script(app, client, api, make):
    show, manager, fan = make.show(prices={"gold": 50000, "silver": 25000}), make.fan(role="manager"), make.fan()
    create_code(api, manager, show, code="QUARTER", percentOff=25)
    signed_in(client, fan, "fan")
    page = client.get(f"/shows/{show.show_id}?section=Main")
    assert 'name="accessCode"' in page.get_data(as_text=True)
    check = client.get(f"/shows/{show.show_id}/access-code?accessCode=quarter")
    assert check.status_code == 200 and "QUARTER: 25% off your seats." in check.get_data(as_text=True)
    bad = client.get(f"/shows/{show.show_id}/access-code?accessCode=NOPE")
    assert "That code cannot be used for this show now." in bad.get_data(as_text=True)
    r = client.post(
        f"/shows/{show.show_id}/hold", data={"csrf_token": csrf_of(page), "seat": ["B1", "B2"], "accessCode": "Quarter"}
    )
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    hold_page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "₹375.00" in hold_page and "Code QUARTER took ₹125.00 off." in hold_page
    r = client.post(
        f"/shows/{show.show_id}/hold", data={"csrf_token": csrf_of(page), "seat": ["B3"], "accessCode": "NOPE"}
    )
    assert r.status_code == 422 and "That code cannot be used for this show now." in r.get_data(as_text=True)


def test_a_lapsed_hold_booked_after_all_takes_its_use_again(app, api, make):
    """A hold that ended EXPIRED and is then booked (its payment came through and its seats were still
    free, README "How money stays correct") holds a use again: the trigger follows every status change."""
    show, manager, fan = make.show(), make.fan(role="manager"), make.fan()
    code = create_code(api, manager, show, code="LATE", percentOff=10, maxUses=1)
    held = hold(api, fan, show, ["A1"], code="LATE").get_json()
    run_sql(app, "UPDATE holds SET status = 'EXPIRED', ended_at = now() WHERE id = :h", h=held["holdId"])
    assert used(app, code) == 0
    run_sql(app, "UPDATE holds SET status = 'CONFIRMED', ended_at = NULL WHERE id = :h", h=held["holdId"])
    assert used(app, code) == 1
    run_sql(app, "UPDATE holds SET amount = amount WHERE id = :h", h=held["holdId"])  # no status change: no change
    assert used(app, code) == 1
    code_uses_agree(app)


def test_standing_places_take_presale_codes_and_vouchers_as_seats_do(app, api, make):
    """README "General admission (standing)": a hold of places by quantity takes a code like a hold of seats."""
    from tests.integration.test_general_admission import add_floor

    show, manager = make.show(rows=1, per_row=2, sale_opens_in=timedelta(days=1)), make.fan(role="manager")
    add_floor(api, manager, show.venue_id, capacity=6, tier="silver")
    code = create_code(api, manager, show, code="FLOORFIRST", kind="PRESALE", percentOff=20, maxUses=1)

    def standing(fan, code=None):
        body = {"gaSection": "Floor", "quantity": 2} | ({"accessCode": code} if code is not None else {})
        return api.post(f"/api/v1/shows/{show.show_id}/holds", json=body, headers=fan.headers)

    first, second, third = make.fan(), make.fan(), make.fan()
    before = snapshot(app)
    r = standing(first)
    assert r.status_code == 422 and r.get_json()["error"]["saleStatus"] == "NOT_OPEN"
    r = standing(first, "NOSUCHCODE")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "CODE_INVALID"
    assert differences(before, snapshot(app)) == []
    r = standing(second, "floorfirst")
    assert r.status_code == 201, r.get_json()
    held = r.get_json()
    assert held["gaSection"] == "Floor" and held["quantity"] == 2 and held["accessCode"] == "FLOORFIRST"
    assert held["amount"] == 2 * 25000 - held["discount"] and held["discount"] == 2 * 25000 // 5
    assert used(app, code) == 1
    before = snapshot(app)
    r = standing(third, "FLOORFIRST")  # its one use is taken
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "CODE_EXHAUSTED"
    assert differences(before, snapshot(app)) == []
    code_uses_agree(app)
