"""Event posters: the manager API's multipart upload and the event page's form, their limits and
refusals (nothing stored, nothing changed), and the renditions served with long cache headers."""

from __future__ import annotations

import io
import os
import re

import pytest
from PIL import Image

from tests.conftest import MEDIA_DIR
from tests.support.db import fetch
from tests.support.images import GPS_IFD, image_bytes, png_claiming


def token_of(response) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)


def event_of(app, make, **kwargs) -> tuple[int, str]:
    show = make.show(**kwargs)
    event_id = fetch(app, "SELECT event_id FROM shows WHERE id = :s", s=show.show_id)[0][0]
    return show.show_id, str(event_id)


def stored_files() -> set[str]:
    return {os.path.join(d, f) for d, _, files in os.walk(MEDIA_DIR) for f in files}


def poster_of(app, event_id: str) -> str | None:
    return fetch(app, "SELECT poster FROM events WHERE id = :e", e=int(event_id))[0][0]


def upload(client, event_id, data: bytes, headers, filename="poster.jpg", content_type="image/jpeg"):
    return client.post(
        f"/api/v1/manage/events/{event_id}/poster",
        data={"file": (io.BytesIO(data), filename, content_type)},
        content_type="multipart/form-data",
        headers=headers,
    )


def test_a_manager_uploads_a_poster_and_its_renditions_are_served(app, client, make):
    manager = make.fan(role="manager")
    show_id, event_id = event_of(app, make, title="Poster Night")
    raw = image_bytes("JPEG", (2000, 1200), orientation=6)
    r = upload(client, event_id, raw, manager.headers)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["eventId"] == event_id and poster_of(app, event_id) == body["poster"]
    card, hero = body["images"]["card"], body["images"]["hero"]
    assert (card["width"], card["height"]) == (384, 640) and (hero["width"], hero["height"]) == (960, 1600)
    for rendition in (card, hero):
        assert rendition["url"] == f"/media/posters/{body['poster']}-{'card' if rendition is card else 'hero'}.webp"
        served = client.get(rendition["url"])
        assert served.status_code == 200 and served.mimetype == "image/webp"
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        image = Image.open(io.BytesIO(served.get_data()))
        assert image.size == (rendition["width"], rendition["height"]) and not image.getexif().get_ifd(GPS_IFD)
    # The fan's pages link the poster: the home page's card and the show page's hero.
    assert card["url"] in client.get(
        f"/?q=Poster+Night&city={fetch(app, 'SELECT city_id FROM venues v JOIN shows s ON s.venue_id = v.id WHERE s.id = :s', s=show_id)[0][0]}"
    ).get_data(as_text=True)
    assert hero["url"] in client.get(f"/shows/{show_id}").get_data(as_text=True)
    listed = client.get("/api/v1/manage/events", headers=manager.headers).get_json()["events"]
    assert next(e for e in listed if e["eventId"] == event_id)["posterUrl"] == card["url"]
    assert client.get("/media/posters/../../etc/passwd").status_code == 404
    assert client.get("/media/posters/nothing-card.webp").status_code == 404


BAD = {
    "not an image": (b"hello, I am a text file", "poster.jpg", "image/jpeg"),
    "a gif called png": (image_bytes("GIF"), "poster.png", "image/png"),
    "a tiff": (image_bytes("TIFF"), "poster.tiff", "image/tiff"),
    "truncated": (image_bytes("PNG")[:300], "poster.png", "image/png"),
    "too many pixels": (png_claiming(9000, 9000), "bomb.png", "image/png"),
    "a bomb": (png_claiming(100000, 100000), "bomb.png", "image/png"),
    "empty": (b"", "poster.png", "image/png"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_images_are_400_and_store_nothing(app, client, make, case):
    manager = make.fan(role="manager")
    _, event_id = event_of(app, make)
    before = stored_files()
    data, filename, content_type = BAD[case]
    r = upload(client, event_id, data, manager.headers, filename, content_type)
    assert r.status_code == 400, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "VALIDATION_FAILED" and error["fields"][0]["field"] == "file"
    assert poster_of(app, event_id) is None and stored_files() == before


def test_too_big_is_413_and_stores_nothing(app, client, make):
    manager = make.fan(role="manager")
    _, event_id = event_of(app, make)
    before = stored_files()
    # Just over the image limit (the body fits the request limit: the image's own check refuses it).
    just_over = image_bytes("PNG") + b"\0" * (10 * 1024 * 1024)
    # Far over: refused from the body's length before it is read.
    for data in (just_over, just_over + b"\0" * (2 * 1024 * 1024)):
        r = upload(client, event_id, data, manager.headers, "big.png", "image/png")
        assert r.status_code == 413 and r.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert poster_of(app, event_id) is None and stored_files() == before


def test_wrong_request_shapes_and_callers_are_refused(app, client, make):
    manager = make.fan(role="manager")
    stranger = make.fan(role="manager", organisation="Somebody Else Ltd")
    fan = make.fan()
    _, event_id = event_of(app, make)
    good = image_bytes("PNG")
    before = stored_files()
    as_json = client.post(f"/api/v1/manage/events/{event_id}/poster", json={"file": "x"}, headers=manager.headers)
    assert as_json.status_code == 400 and as_json.get_json()["error"]["code"] == "VALIDATION_FAILED"
    raw_body = client.post(
        f"/api/v1/manage/events/{event_id}/poster", data=good, content_type="image/png", headers=manager.headers
    )
    assert raw_body.status_code == 400
    no_part = client.post(
        f"/api/v1/manage/events/{event_id}/poster",
        data={"image": (io.BytesIO(good), "p.png", "image/png")},
        content_type="multipart/form-data",
        headers=manager.headers,
    )
    assert no_part.status_code == 400 and no_part.get_json()["error"]["fields"][0]["field"] == "file"
    others = upload(client, event_id, good, stranger.headers)
    assert others.status_code == 404 and others.get_json()["error"]["code"] == "EVENT_NOT_FOUND"
    assert upload(client, "999999999", good, manager.headers).status_code == 404
    assert upload(client, "abc", good, manager.headers).status_code == 404
    assert upload(client, event_id, good, fan.headers).status_code == 403
    assert upload(client, event_id, good, {}).status_code == 401
    assert poster_of(app, event_id) is None and stored_files() == before


def test_the_event_page_uploads_a_poster_and_explains_a_refusal(app, client, make):
    manager = make.fan(role="manager")
    _, event_id = event_of(app, make)
    with client.session_transaction() as session:
        session["user_id"], session["role"] = manager.user_id, "manager"
    page = client.get(f"/manage/events/{event_id}/edit")
    assert page.status_code == 200 and "No poster yet" in page.get_data(as_text=True)
    refused = client.post(
        f"/manage/events/{event_id}/poster",
        data={"csrf_token": token_of(page), "file": (io.BytesIO(b"not an image"), "x.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and "not a JPEG, PNG or WebP" in refused.get_data(as_text=True)
    assert poster_of(app, event_id) is None
    r = client.post(
        f"/manage/events/{event_id}/poster",
        data={"csrf_token": token_of(page), "file": (io.BytesIO(image_bytes("WEBP")), "x.webp", "image/webp")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 303
    digest = poster_of(app, event_id)
    after = client.get(r.headers["Location"]).get_data(as_text=True)
    assert digest and f"/media/posters/{digest}-card.webp" in after and "Poster saved" in after
    stranger = make.fan(role="manager", organisation="Another Org Ltd")
    with client.session_transaction() as session:
        session["user_id"], session["role"] = stranger.user_id, "manager"
    theirs = client.post(
        f"/manage/events/{event_id}/poster",
        data={"csrf_token": token_of(page), "file": (io.BytesIO(image_bytes("PNG")), "x.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert theirs.status_code == 404 and poster_of(app, event_id) == digest
