"""The home page and the show page come from the shared cache (app/site/shared_pages.py): the body is
the same for every fan, the personal parts never cross from one fan to another, a taken seat shows
within the seat maps' bound, and the pages go on without Redis or, from the last good copy,
without Postgres."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import make_url

from app import admission, create_app
from app.response_cache import STALE_WARNING
from queue_gate import create_gate_app
from tests.conftest import settings_for_tests
from tests.integration.test_degraded_mode import app_through
from tests.integration.test_gate import admitted_token
from tests.integration.test_site import token_of
from tests.support.faults import TcpProxy
from tests.support.polling import wait_for


@pytest.fixture(scope="module")
def gate_app(app):
    return create_gate_app(app.extensions["seatline.settings"])


@pytest.fixture
def gate(gate_app):
    return gate_app.test_client()


def signed_in_as(app, name: str, email: str):
    client = app.test_client()
    client.post("/api/v1/auth/register", json={"email": email, "password": "correct horse", "name": name})
    login = client.get("/login")
    client.post("/login", data={"csrf_token": token_of(login), "email": email, "password": "correct horse"})
    return client


def csrf_tokens(html: str) -> set[str]:
    return set(re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', html)) | set(
        re.findall(r'"X-CSRFToken": "([^"]+)"', html)
    )


def test_two_fans_share_the_body_and_never_see_each_others_personal_parts(app, make, rds):
    local = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=2)).replace(hour=18, minute=0, second=0)
    show = make.show(city="Kolkata", starts_at=local, title="Shared Film", rows=2, per_row=4)
    ada, bob = signed_in_as(app, "Ada", "ada@example.com"), signed_in_as(app, "Bob", "bob@example.com")
    anonymous = app.test_client()
    for path, query in (
        ("/", {"city": str(show.city_id), "date": local.date().isoformat()}),
        (f"/shows/{show.show_id}", {}),
    ):
        pages = {name: c.get(path, query_string=query) for name, c in (("Ada", ada), ("Bob", bob), ("", anonymous))}
        assert rds.keys("page:*"), "the body is kept in the shared cache"
        html = {name: page.get_data(as_text=True) for name, page in pages.items()}
        assert all(page.status_code == 200 for page in pages.values())
        assert all(page.headers["Cache-Control"] == "private, no-cache" for page in pages.values())
        assert "Shared Film" in html["Ada"] and "Shared Film" in html["Bob"] and "Shared Film" in html[""]
        assert "Hello, Ada" in html["Ada"] and "Bob" not in html["Ada"]
        assert "Hello, Bob" in html["Bob"] and "Ada" not in html["Bob"]
        assert "Hello," not in html[""] and "Log in" in html[""]
        tokens = {name: csrf_tokens(page) for name, page in html.items()}
        assert all(len(t) == 1 for t in tokens.values()), tokens  # one token per page, in every form
        assert len(set().union(*tokens.values())) == 3
        assert "<!--seatline:" not in html["Ada"] + html["Bob"] + html[""]
    # Each fan's token is the one their own session accepts: Bob's form posts as Bob.
    page = bob.get(f"/shows/{show.show_id}")
    held = bob.post(f"/shows/{show.show_id}/hold", data={"csrf_token": token_of(page), "seat": ["A1"]})
    assert held.status_code == 303
    assert "Hello, Bob" in bob.get(held.headers["Location"]).get_data(as_text=True)
    stolen = ada.post(f"/shows/{show.show_id}/hold", data={"csrf_token": token_of(page), "seat": ["A2"]})
    assert stolen.status_code == 400


def test_a_failed_hold_keeps_only_that_fans_picks_and_message(app, make):
    show, rival = make.show(rows=2, per_row=4), make.fan()
    ada, bob = signed_in_as(app, "Ada", "ada2@example.com"), signed_in_as(app, "Bob", "bob2@example.com")
    page = ada.get(f"/shows/{show.show_id}")
    app.test_client().post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A3"]}, headers=rival.headers)
    lost = ada.post(f"/shows/{show.show_id}/hold", data={"csrf_token": token_of(page), "seat": ["A2", "A3"]})
    assert lost.status_code == 409 and re.search(r'value="A2"[^>]*checked', lost.get_data(as_text=True))
    other = bob.get(f"/shows/{show.show_id}").get_data(as_text=True)
    assert "just taken" not in other and not re.search(r'value="A2"[^>]*checked', other)


def test_admission_is_the_fans_own(app, gate_app, gate, make):
    show, _event_id, _fan, token = admitted_token(gate_app, gate, make)
    admitted = app.test_client()
    admitted.set_cookie(admission.COOKIE, token)
    page = admitted.get(f"/shows/{show.show_id}")
    assert page.status_code == 200 and 'data-testid="admitted"' in page.get_data(as_text=True)
    waiting = app.test_client().get(f"/shows/{show.show_id}")  # same second, same shared body
    assert waiting.status_code == 403 and 'data-testid="join"' in waiting.get_data(as_text=True)
    assert 'data-testid="admitted"' not in waiting.get_data(as_text=True)
    assert 'data-testid="admitted"' in admitted.get(f"/shows/{show.show_id}").get_data(as_text=True)


def test_a_taken_seat_shows_as_taken_within_the_bound(app, client, make):
    show, fan = make.show(rows=1, per_row=4), make.fan()
    assert not re.search(r'value="A2"[^>]*disabled', client.get(f"/shows/{show.show_id}").get_data(as_text=True))
    held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A2"]}, headers=fan.headers)
    assert held.status_code == 201
    # The page may be the copy of the second it was built in; within the bound (2 s) the seat is taken.
    wait_for(
        lambda: re.search(r'value="A2"[^>]*disabled', client.get(f"/shows/{show.show_id}").get_data(as_text=True)),
        timeout=2.5,
    )


def test_pages_are_served_without_redis(app, make):
    local = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=2)).replace(hour=18, minute=0, second=0)
    show = make.show(city="Kolkata", starts_at=local, title="No Redis Film")
    cut_off = create_app(settings_for_tests(redis_url="redis://127.0.0.1:1/0")).test_client()
    home = cut_off.get("/", query_string={"city": str(show.city_id), "date": local.date().isoformat()})
    assert home.status_code == 200 and "No Redis Film" in home.get_data(as_text=True)
    page = cut_off.get(f"/shows/{show.show_id}")
    assert page.status_code == 200 and page.get_data(as_text=True).count('name="seat"') == 50


def test_pages_are_served_from_the_last_good_copy_while_postgres_is_down(app, make):
    local = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=2)).replace(hour=18, minute=0, second=0)
    show = make.show(city="Kolkata", starts_at=local, title="Outage Film")
    url = app.extensions["seatline.settings"].database_url
    parsed = make_url(url)
    proxy = TcpProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
    try:
        web = app_through(parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
        client = web.test_client()
        query = {"city": str(show.city_id), "date": local.date().isoformat()}
        assert "Outage Film" in client.get("/", query_string=query).get_data(as_text=True)
        assert client.get(f"/shows/{show.show_id}").status_code == 200
        proxy.cut()
        time.sleep(1.1)  # the 1 s copies are gone: only the last good ones are left
        home = client.get("/", query_string=query)
        assert home.status_code == 200 and home.headers["Warning"] == STALE_WARNING
        assert "Outage Film" in home.get_data(as_text=True)
        page = client.get(f"/shows/{show.show_id}")
        assert page.status_code == 200 and page.headers["Warning"] == STALE_WARNING
        assert page.get_data(as_text=True).count('name="seat"') == 50
    finally:
        proxy.close()
