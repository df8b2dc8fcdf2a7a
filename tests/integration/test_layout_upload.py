"""The dashboard's CSV layout import takes files up to its own documented limit (8 MiB), though every
other form is limited to 64 KiB: the limit is raised before the CSRF check reads the form."""

from __future__ import annotations

import io
import re

from app.manage.venues import IMPORT_LIMIT
from tests.integration.test_manage_pages import signed_in, token_of
from tests.support.db import fetch

FORM_LIMIT = 64 * 1024


def new_venue(client, make) -> str:
    manager = make.fan(role="manager")
    make.show(city="London", timezone_name="Europe/London")
    signed_in(client, manager)
    page = client.get("/manage/venues/new")
    city = re.search(r'<option value="(\d+)"', page.get_data(as_text=True)).group(1)
    r = client.post(
        "/manage/venues/new",
        data={"csrf_token": token_of(page), "cityId": city, "name": "Big Hall", "kind": "theatre", "address": ""},
    )
    assert r.status_code == 303
    return r.headers["Location"]


def big_layout(rows: int, per_row: int) -> bytes:
    lines = ["section,row,number,tier"] + [
        f"Stalls,R{r:02d},{n},standard" for r in range(1, rows + 1) for n in range(1, per_row + 1)
    ]
    return ("\n".join(lines) + "\n").encode()


def upload(client, venue_url, body: bytes, token: str | None = None):
    token = token or token_of(client.get(venue_url))
    return client.post(
        f"{venue_url}/import",
        data={"csrf_token": token, "file": (io.BytesIO(body), "layout.csv")},
        content_type="multipart/form-data",
    )


def seats_of(app) -> int:
    return fetch(
        app, "SELECT count(*) FROM venue_seats v JOIN venues ve ON ve.id = v.venue_id WHERE ve.name = 'Big Hall'"
    )[0][0]


def test_a_layout_file_larger_than_the_form_limit_imports(app, client, make):
    venue_url = new_venue(client, make)
    body = big_layout(80, 50)
    assert FORM_LIMIT < len(body) < IMPORT_LIMIT
    r = upload(client, venue_url, body)
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    assert seats_of(app) == 4000


def test_a_large_upload_still_needs_its_csrf_token(app, client, make):
    venue_url = new_venue(client, make)
    r = upload(client, venue_url, big_layout(80, 50), token="not-the-token")
    assert r.status_code == 400
    assert seats_of(app) == 0


def test_a_file_over_the_import_limit_gets_a_clear_answer_and_changes_nothing(app, client, make):
    venue_url = new_venue(client, make)
    body = big_layout(80, 50)
    body += b"Stalls,R999,1,standard\n" * ((IMPORT_LIMIT - len(body)) // 23 + 10)
    assert len(body) > IMPORT_LIMIT
    r = upload(client, venue_url, body)
    assert r.status_code == 413
    assert "at most 8 MiB" in r.get_data(as_text=True)
    assert seats_of(app) == 0


def test_other_forms_keep_the_small_limit(app, client, make):
    venue_url = new_venue(client, make)
    page = client.get(venue_url)
    r = client.post(
        f"{venue_url}/blocks",
        data={
            "csrf_token": token_of(page),
            "section": "x" * (FORM_LIMIT + 1),
            "rows": "A",
            "seatsPerRow": "1",
            "tier": "standard",
        },
    )
    assert r.status_code == 413
