"""``next`` after signing in or up: every spelling a browser could read as another origin gives None."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from app.site.redirects import same_origin_path
from tests.support.redirects import HOSTILE_NEXT, browser_target


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_no_spelling_of_another_origin_passes(target):
    for spelling in {target, unquote(target)}:  # as sent, and as the query string decodes it
        result = same_origin_path(spelling)
        assert result is None or browser_target(result).startswith("http://seatline.test/"), (spelling, result)


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/shows/1", "/shows/1"),
        ("/shows/1?date=2030-01-01", "/shows/1?date=2030-01-01"),
        ("/manage/", "/manage/"),
        ("/a//b", "/a/b"),
        ("/./a/../b", "/b"),
        ("/.//evil.example", "/evil.example"),
        ("/..//evil.example", "/evil.example"),
        ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),  # a path on this site, however odd
    ],
)
def test_same_origin_paths_are_kept_normalised(target, expected):
    assert same_origin_path(target) == expected


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "https://evil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
        None,
        "/\u2215evil",
        "/" + "a" * 3000,
    ],
)
def test_others_are_refused(target):
    assert same_origin_path(target) is None
