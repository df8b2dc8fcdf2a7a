"""The home page and the show page come from the shared cache (app/site/shared_pages.py): the body is
the same for every fan, the personal parts never cross from one fan to another, a taken seat shows
within the seat maps' bound, and the pages go on without Redis or, from the last good copy,
without Postgres."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url

from app import admission, create_app
from app.response_cache import STALE_WARNING
from tests.conftest import settings_for_tests
from tests.integration.test_degraded_mode import app_through
from tests.integration.test_gate import admitted_token
from tests.integration.test_site import token_of
from tests.support.faults import TcpProxy
from tests.support.polling import wait_for


def signed_in_as(app, name: str, email: str):
    client = app.test_client()
    client.post("/api/v1/auth/register", json={"email": email, "password": "correct horse", "name": name})
    login = client.get("/login")
    client.post("/login", data={"csrf_token": token_of(login), "email": email, "password": "correct horse"})
    return client


def without_tokens(html: str) -> str:
    for token in csrf_tokens(html):
        html = html.replace(token, "")
    return html


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
        assert rds.keys("{page:*"), "the body is kept in the shared cache"
        html = {name: page.get_data(as_text=True) for name, page in pages.items()}
        assert all(page.status_code == 200 for page in pages.values())
        assert pages["Ada"].headers["Cache-Control"] == pages["Bob"].headers["Cache-Control"] == "private, no-cache"
        assert pages[""].headers["Cache-Control"] == "public, max-age=1, stale-while-revalidate=1"
        assert "Shared Film" in html["Ada"] and "Shared Film" in html["Bob"] and "Shared Film" in html[""]
        # Names are looked for outside the CSRF tokens: a random token can spell "Bob".
        text = {name: without_tokens(page) for name, page in html.items()}
        assert "Hello, Ada" in text["Ada"] and "Bob" not in text["Ada"]
        assert "Hello, Bob" in text["Bob"] and "Ada" not in text["Bob"]
        assert "Hello," not in html[""] and "Log in" in html[""]
        tokens = {name: csrf_tokens(page) for name, page in html.items()}
        assert len(tokens["Ada"]) == len(tokens["Bob"]) == 1, tokens  # one token per page, in every form
        assert tokens["Ada"] != tokens["Bob"] and tokens[""] == set()
        assert "<!--seatline:" not in html["Ada"] + html["Bob"] + html[""]
    # Each fan's token is the one their own session accepts: Bob's form posts as Bob.
    page = bob.get(f"/shows/{show.show_id}")
    held = bob.post(f"/shows/{show.show_id}/hold", data={"csrf_token": token_of(page), "seat": ["A1"]})
    assert held.status_code == 303
    assert "Hello, Bob" in bob.get(held.headers["Location"]).get_data(as_text=True)
    stolen = ada.post(f"/shows/{show.show_id}/hold", data={"csrf_token": token_of(page), "seat": ["A2"]})
    assert stolen.status_code == 400


def test_anonymous_visitors_share_one_page_the_edge_may_keep_and_get_no_session(app, make, rds):
    local = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=2)).replace(hour=18, minute=0, second=0)
    show = make.show(city="Kolkata", starts_at=local, title="Open Film", rows=2, per_row=4)
    ada = signed_in_as(app, "Adaline Lovelace", "adaline@example.com")
    for path, query, vary in (
        ("/", {"city": str(show.city_id), "date": local.date().isoformat()}, "HX-Request, Accept-Language"),
        (f"/shows/{show.show_id}", {}, "Accept-Language"),
    ):
        mine = ada.get(path, query_string=query)  # the signed-in fan first: the body is cached by then
        first, second = (app.test_client().get(path, query_string=query) for _ in range(2))
        assert mine.status_code == first.status_code == second.status_code == 200
        assert "Hello, Adaline Lovelace" in mine.get_data(as_text=True)
        assert mine.headers["Cache-Control"] == "private, no-cache" and "X-Accel-Expires" not in mine.headers
        for anonymous in (first, second):
            assert "Set-Cookie" not in anonymous.headers, "no session for an anonymous visitor"
            assert anonymous.headers["Cache-Control"] == "public, max-age=1, stale-while-revalidate=1"
            assert anonymous.headers["X-Accel-Expires"].startswith("@")
            assert anonymous.headers["Vary"] == vary
            html = anonymous.get_data(as_text=True)
            assert "Adaline" not in html and "Hello," not in html and "Open Film" in html
            assert "csrf" not in html.lower() and "<!--seatline:" not in html
        assert first.data == second.data, "every anonymous visitor gets the same bytes"
    sessions = rds.keys("seatline:session:*")
    assert sessions == [f"seatline:session:{ada.get_cookie('seatline_session').value}".encode()], (
        "only the signed-in fan has a session"
    )


def test_an_anonymous_show_page_leads_to_signing_in_instead_of_posting(app, make):
    show = make.show(rows=2, per_row=4)
    anonymous = app.test_client()
    for query, back in (({}, f"/shows/{show.show_id}"), ({"section": "Main"}, f"/shows/{show.show_id}?section=Main")):
        html = anonymous.get(f"/shows/{show.show_id}", query_string=query).get_data(as_text=True)
        if query:
            assert html.count('name="seat"') == 8, "the section's seats are all there"
        else:
            assert 'data-layout="' in html, "the script draws the seat map"
        assert 'type="submit"' not in html, "nothing to post without a CSRF token"
        links = re.findall(r'<a href="([^"]+)" data-testid="sign-in">([^<]+)</a>', html)
        assert [text for _, text in links] == ["Sign in to choose seats", "Sign in to find and hold seats"]
        assert {urlsplit(unescape(href)).path for href, _ in links} == {"/login"}
        assert {tuple(parse_qs(urlsplit(unescape(href)).query)["next"]) for href, _ in links} == {(back,)}
    # Following it: the login page, then back to the show, signed in, with the forms to post.
    login = anonymous.get(unescape(links[0][0]))
    anonymous.post(
        "/api/v1/auth/register", json={"email": "late@example.com", "password": "correct horse", "name": "Late"}
    )
    back_here = anonymous.post(
        unescape(links[0][0]),
        data={"csrf_token": token_of(login), "email": "late@example.com", "password": "correct horse"},
    )
    assert back_here.status_code == 303 and back_here.headers["Location"] == f"/shows/{show.show_id}?section=Main"
    page = anonymous.get(back_here.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "private, no-cache" and "Hello, Late" in html
    assert html.count('<button type="submit">') >= 2 and 'data-testid="sign-in"' not in html


def test_anonymous_pages_are_written_in_the_visitors_language(app, make):
    show = make.show(rows=1, per_row=2)
    english = app.test_client().get(f"/shows/{show.show_id}").get_data(as_text=True)
    german = app.test_client().get(f"/shows/{show.show_id}", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert "₹500.00" in english and "500,00" not in english
    assert "500,00" in german.get_data(as_text=True) and german.headers["Vary"] == "Accept-Language"


def test_a_failed_hold_keeps_only_that_fans_picks_and_message(app, make):
    show, rival = make.show(rows=2, per_row=4), make.fan()
    ada, bob = signed_in_as(app, "Ada", "ada2@example.com"), signed_in_as(app, "Bob", "bob2@example.com")
    page = ada.get(f"/shows/{show.show_id}")
    app.test_client().post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A3"]}, headers=rival.headers)
    lost = ada.post(f"/shows/{show.show_id}/hold", data={"csrf_token": token_of(page), "seat": ["A2", "A3"]})
    assert lost.status_code == 409 and """data-selected='["A2"]'""" in lost.get_data(as_text=True)
    other = bob.get(f"/shows/{show.show_id}").get_data(as_text=True)
    # Ada's message is hers alone (the seat map's own wording of it, in its data attributes, is on every page).
    assert 'data-testid="message"' in lost.get_data(as_text=True)
    assert 'data-testid="message"' not in other and "data-selected='[]'" in other


def test_admission_is_the_fans_own(app, gate_app, gate, make):
    show, _event_id, _fan, token = admitted_token(gate_app, gate, make)
    admitted = app.test_client()
    admitted.set_cookie(admission.COOKIE, token)
    page = admitted.get(f"/shows/{show.show_id}")
    assert page.status_code == 200 and 'data-testid="admitted"' in page.get_data(as_text=True)
    waiting = app.test_client().get(f"/shows/{show.show_id}")  # same second, same shared body
    assert waiting.status_code == 403 and 'data-testid="join"' in waiting.get_data(as_text=True)
    assert 'data-testid="admitted"' not in waiting.get_data(as_text=True)
    # Not admitted and without a session: the same page for everyone, which the edge may keep.
    assert "Set-Cookie" not in waiting.headers and waiting.headers["Cache-Control"].startswith("public,")
    assert page.headers["Cache-Control"] == "private, no-cache"
    assert 'data-testid="admitted"' in admitted.get(f"/shows/{show.show_id}").get_data(as_text=True)


def test_a_taken_seat_shows_as_taken_within_the_bound(app, client, make):
    show, fan = make.show(rows=1, per_row=4), make.fan()
    # A section's page lists its seats; the show's own page draws them from the seat map, tested in
    # tests/integration/test_seatmap.py and in Chromium (tests/e2e/test_site_browser.py).
    path = f"/shows/{show.show_id}?section=Main"
    assert not re.search(r'value="A2"[^>]*disabled', client.get(path).get_data(as_text=True))
    held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A2"]}, headers=fan.headers)
    assert held.status_code == 201
    # The page may be the copy of the second it was built in; within the bound (2 s) the seat is taken.
    wait_for(lambda: re.search(r'value="A2"[^>]*disabled', client.get(path).get_data(as_text=True)), timeout=2.5)


def test_pages_are_served_without_redis(app, make):
    local = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=2)).replace(hour=18, minute=0, second=0)
    show = make.show(city="Kolkata", starts_at=local, title="No Redis Film")
    cut_off = create_app(settings_for_tests(redis_url="redis://127.0.0.1:1/0")).test_client()
    home = cut_off.get("/", query_string={"city": str(show.city_id), "date": local.date().isoformat()})
    assert home.status_code == 200 and "No Redis Film" in home.get_data(as_text=True)
    page = cut_off.get(f"/shows/{show.show_id}?section=Main")
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
        assert client.get(f"/shows/{show.show_id}?section=Main").status_code == 200
        proxy.cut()
        time.sleep(1.1)  # the 1 s copies are gone: only the last good ones are left
        home = client.get("/", query_string=query)
        assert home.status_code == 200 and home.headers["Warning"] == STALE_WARNING
        assert "Outage Film" in home.get_data(as_text=True)
        page = client.get(f"/shows/{show.show_id}?section=Main")
        assert page.status_code == 200 and page.headers["Warning"] == STALE_WARNING
        assert page.get_data(as_text=True).count('name="seat"') == 50
    finally:
        proxy.close()
