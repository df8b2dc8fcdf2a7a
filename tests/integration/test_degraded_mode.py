"""Degraded mode: the booking path fails fast behind circuit breakers while Postgres or the payment
gateway is down, browsing keeps being served from the cache's last good copy, and fans are told
what is happening. Faults are real: a TCP proxy in front of the test database that is cut, and a
"gateway" that hangs up on every connection."""

from __future__ import annotations

import re
import time

from app import create_app
from app.response_cache import STALE_WARNING
from tests.conftest import settings_for_tests
from tests.support.db import fetch
from tests.support.faults import hang_up_listener


def app_through(database_url: str, **overrides):
    degraded = create_app(
        settings_for_tests(
            database_url=database_url,
            db_pool_timeout_seconds=1.0,
            breaker_fail_max=3,
            breaker_reset_seconds=1.0,
            **overrides,
        )
    )
    degraded.config["WTF_CSRF_SSL_STRICT"] = False
    return degraded


def assert_degraded(response, busy: bool) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.json["error"]["code"] == "DEGRADED"
    assert int(response.headers["Retry-After"]) >= 1
    assert ("booking is busy" in response.json["error"]["message"]) is busy


def test_booking_fails_fast_while_postgres_is_down_browsing_goes_on_and_both_recover(app, make, database_proxy):
    proxy, url = database_proxy
    fan, show, other = make.fan(), make.show(), make.show(city="Elsewhere")
    web = app_through(url).test_client()

    def hold(seat: str):
        return web.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": [seat]}, headers=fan.headers)

    assert hold("A1").status_code == 201
    seatmap = web.get(f"/api/v1/shows/{show.show_id}/seatmap")
    assert seatmap.status_code == 200 and "Warning" not in seatmap.headers

    proxy.cut()
    for seat in ("A2", "A3", "A4"):  # each waits for the database and fails: the breaker counts them
        assert_degraded(hold(seat), busy=False)
    tried = proxy.attempts
    for seat in ("A5", "A6", "A7", "A8"):  # the breaker is open: no connection is even tried
        assert_degraded(hold(seat), busy=True)
    assert proxy.attempts == tried

    # Browsing: the seat map seen before the outage is served again once its 1 s copy has expired,
    # marked stale; a seat map nobody has looked at cannot be made up.
    time.sleep(1.1)
    stale = web.get(f"/api/v1/shows/{show.show_id}/seatmap")
    assert stale.status_code == 200 and stale.headers["Warning"] == STALE_WARNING
    assert stale.json["seats"] == seatmap.json["seats"]
    assert_degraded(web.get(f"/api/v1/shows/{other.show_id}/seatmap"), busy=False)

    # Nothing was held but A1 (checked on the real database, not through the proxy).
    assert [
        tuple(r)
        for r in fetch(app, "SELECT seat_id FROM show_seats WHERE show_id = :s AND status = 'HELD'", s=show.show_id)
    ] == [("A1",)]

    proxy.restore()
    time.sleep(1.1)  # the breaker's reset time: the next request is let through, and closes it
    assert hold("A9").status_code == 201
    assert hold("A10").status_code == 201
    fresh = web.get(f"/api/v1/shows/{show.show_id}/seatmap")
    assert fresh.status_code == 200 and "Warning" not in fresh.headers


def test_the_hold_call_is_behind_its_limits_and_then_the_breaker(app, make, database_proxy):
    """The hold call is marked ``@rate_limited(HOLDS)`` and ``@behind_breaker``: the app wraps it in
    both, the limits outside, so a fan over the limit is told so even while the breaker is open."""
    proxy, url = database_proxy
    fan, show = make.fan(), make.show()
    web = app_through(url, rate_limit_holds="5/minute").test_client()

    def hold(seat: str):
        return web.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": [seat]}, headers=fan.headers)

    assert hold("A1").status_code == 201
    proxy.cut()
    for seat in ("A2", "A3", "A4"):  # the breaker counts these failures, and the limit counts the calls
        assert_degraded(hold(seat), busy=False)
    assert_degraded(hold("A5"), busy=True)  # the breaker is open
    over = hold("A6")  # the sixth hold in a minute: the limit answers before the breaker is asked
    assert over.status_code == 429 and over.json["error"]["code"] == "RATE_LIMITED"
    assert int(over.headers["Retry-After"]) >= 1


def test_the_fan_s_page_says_booking_is_busy(app, make, database_proxy):
    proxy, url = database_proxy
    fan, show = make.fan(), make.show()
    site = app_through(url).test_client()
    login = site.get("/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login.get_data(as_text=True)).group(1)
    with site.session_transaction() as session:
        session["user_id"] = fan.user_id
    proxy.cut()
    for _ in range(5):
        page = site.post(f"/shows/{show.show_id}/hold", data={"csrf_token": token, "seat": "B1"})
    assert page.status_code == 503 and int(page.headers["Retry-After"]) >= 1
    text = page.get_data(as_text=True)
    assert 'data-testid="booking-busy"' in text and "Booking is busy right now" in text
    assert "stay held" in text


def test_a_dead_gateway_trips_its_breaker_and_the_hold_is_kept(app, client, make):
    fan, show = make.fan(), make.show()
    held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["C1", "C2"]}, headers=fan.headers)
    assert held.status_code == 201
    hold_id = held.json["holdId"]
    with hang_up_listener() as gateway:
        web = create_app(
            settings_for_tests(
                gateway_api_base=f"http://127.0.0.1:{gateway.port}",
                gateway_max_retries=0,
                breaker_fail_max=2,
                breaker_reset_seconds=30.0,
            )
        ).test_client()
        for _ in range(2):
            assert_degraded(web.post(f"/api/v1/holds/{hold_id}/payment-intents", headers=fan.headers), busy=False)
        tried = gateway.attempts
        assert tried >= 2
        for _ in range(3):
            answer = web.post(f"/api/v1/holds/{hold_id}/payment-intents", headers=fan.headers)
            assert_degraded(answer, busy=False)
            assert "try again" in answer.json["error"]["message"]
        assert gateway.attempts == tried  # open: the gateway is not called at all
    mine = client.get(f"/api/v1/holds/{hold_id}", headers=fan.headers)
    assert mine.status_code == 200 and mine.json["status"] == "ACTIVE"
    assert fetch(app, "SELECT count(*) FROM show_seats WHERE hold_id = :h AND status = 'HELD'", h=hold_id)[0][0] == 2
