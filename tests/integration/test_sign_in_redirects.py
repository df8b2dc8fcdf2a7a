"""After signing in or up the browser goes to a page of this site, whatever ``next`` says."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.support.redirects import HOSTILE_NEXT, ORIGIN, browser_target

PASSWORD = "correct horse"


def _csrf(response) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)


def _ends_on_this_site(response, default: str) -> None:
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    location = response.headers["Location"]
    assert browser_target(location).startswith(ORIGIN), location
    assert location.startswith("/") and not location.startswith("//"), location
    assert location.isascii() and location.isprintable() and "\\" not in location, location
    if location not in (default, "/"):
        assert location.startswith("/") and re.fullmatch(r"/[\x21-\x7e]*", location), location


def _each_spelling():
    for target in HOSTILE_NEXT:
        yield {"next": target}  # encoded by the client: the app decodes exactly this string
    for target in HOSTILE_NEXT:
        if "%" in target:
            yield "next=" + target  # sent as written: the app decodes the percent escapes


@pytest.mark.parametrize("query", list(_each_spelling()), ids=repr)
def test_signing_in_never_leaves_the_site(app, client, query):
    email = f"next-{uuid.uuid4().hex[:12]}@example.com"
    assert (
        client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Fan"}).status_code
        == 201
    )
    form = client.get("/login")
    response = client.post(
        "/login", query_string=query, data={"csrf_token": _csrf(form), "email": email, "password": PASSWORD}
    )
    _ends_on_this_site(response, "/")


@pytest.mark.parametrize("query", list(_each_spelling()), ids=repr)
def test_signing_up_never_leaves_the_site(app, client, query):
    form = client.get("/signup")
    response = client.post(
        "/signup",
        query_string=query,
        data={
            "csrf_token": _csrf(form),
            "name": "Fan",
            "email": f"up-{uuid.uuid4().hex[:12]}@example.com",
            "password": PASSWORD,
        },
    )
    _ends_on_this_site(response, "/")


def test_a_same_site_next_is_kept(client):
    email = "next-kept@example.com"
    client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Fan"})
    form = client.get("/login")
    response = client.post(
        "/login",
        query_string={"next": "/shows/7?date=2030-01-01"},
        data={"csrf_token": _csrf(form), "email": email, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/shows/7?date=2030-01-01"
