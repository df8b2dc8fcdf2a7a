"""The home page's search and filters (app/site/browse.py): title or venue, category, a day, a
range, this week, pages; bad values named on the page; every combination a shareable URL whose
results htmx swaps in; shared like the listing (app/site/shared_pages.py)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.site import browse
from tests.support.db import run_sql

ZONE = ZoneInfo("Asia/Kolkata")


def at(days: int, hour: int = 19) -> datetime:
    return (datetime.now(ZONE) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def titles(html: str) -> list[str]:
    return re.findall(r"<h3>([^<]+)</h3>", html)


@pytest.fixture
def city(app, make) -> str:
    """A city of its own with a few events: two concerts, a film, a far-off play."""
    name = f"Search City {datetime.now().timestamp()}"
    show = make.show(city=name, starts_at=at(1), title="Violet Quartet")
    make.show(city=name, starts_at=at(2), title="Violet Quartet")
    make.show(city=name, starts_at=at(3, 20), title="Brass 100% Live_Night")
    film = make.show(city=name, starts_at=at(4), title="Harbour Lights")
    play = make.show(city=name, starts_at=at(20), title="The Long Winter")
    run_sql(
        app,
        "UPDATE events SET category = 'movie' WHERE id = (SELECT event_id FROM shows WHERE id = :s)",
        s=film.show_id,
    )
    run_sql(
        app,
        "UPDATE events SET category = 'theatre' WHERE id = (SELECT event_id FROM shows WHERE id = :s)",
        s=play.show_id,
    )
    return str(show.city_id)


def page(client, **args) -> str:
    r = client.get("/", query_string={k.rstrip("_"): v for k, v in args.items()})
    assert r.status_code == 200
    return r.get_data(as_text=True)


def test_upcoming_cards_one_per_event_with_next_date_and_price(client, city):
    html = page(client, city=city)
    assert titles(html) == ["Violet Quartet", "Brass 100% Live_Night", "Harbour Lights", "The Long Winter"]
    card = html[html.index("<h3>Violet Quartet") :]
    card = card[: card.index("</article>")]
    assert "Next:" in card and at(1).strftime("%a %d %b, 19:00") in card
    assert "From ₹250" in card  # the cheaper of the show's two tiers (25000 paise)
    assert card.count('href="/shows/') == 2


def test_search_matches_title_or_venue_in_any_case_and_treats_wildcards_as_text(client, city):
    assert titles(page(client, city=city, q="violet")) == ["Violet Quartet"]
    assert titles(page(client, city=city, q="  HARBOUR   ")) == ["Harbour Lights"]
    assert len(titles(page(client, city=city, q="hall 5x10"))) == 4  # the venue's name
    assert titles(page(client, city=city, q="100%")) == ["Brass 100% Live_Night"]
    assert titles(page(client, city=city, q="%")) == ["Brass 100% Live_Night"], "% is a character, not a wildcard"
    assert titles(page(client, city=city, q="e_N")) == ["Brass 100% Live_Night"], "_ is a character too"
    none = page(client, city=city, q="zzz-nothing")
    assert titles(none) == [] and "No shows match" in none
    long = page(client, city=city, q="x" * 5000)
    assert titles(long) == []


def test_category_day_range_and_this_week(client, city):
    assert titles(page(client, city=city, category="movie")) == ["Harbour Lights"]
    assert titles(page(client, city=city, category="theatre", q="winter")) == ["The Long Winter"]
    assert titles(page(client, city=city, date=at(2).date().isoformat())) == ["Violet Quartet"]
    ranged = page(client, city=city, from_=at(3).date().isoformat(), to=at(25).date().isoformat())
    assert titles(ranged) == ["Brass 100% Live_Night", "Harbour Lights", "The Long Winter"]
    week = page(client, city=city, when="week")
    assert titles(week) == ["Violet Quartet", "Brass 100% Live_Night", "Harbour Lights"]
    assert 'aria-current="page">This week' in week


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"date": "2030-02-31"}, "is not a date"),
        ({"date": "junk"}, "is not a date"),
        ({"from_": "tomorrow"}, "is not a date"),
        ({"to": "12/31/2030"}, "is not a date"),
        ({"category": "opera"}, "There is no category"),
        ({"page": "-1"}, "is not a page number"),
        ({"page": "abc"}, "is not a page number"),
    ],
)
def test_bad_filters_are_named_on_the_page_and_the_rest_still_lists(client, city, args, message):
    html = page(client, city=city, **args)
    assert 'role="alert"' in html and message in html
    assert "Violet Quartet" in html  # the defaults for the bad value: the upcoming shows


def test_an_end_before_the_start_or_outside_the_horizon_is_explained(client, city):
    backwards = page(client, city=city, from_=at(5).date().isoformat(), to=at(1).date().isoformat())
    assert "The end date is before the start date" in backwards and "Violet Quartet" in backwards
    far = page(client, city=city, from_="2999-01-01", to="2999-01-02")
    assert "outside the dates on sale" in far
    wide = page(client, city=city, from_=at(0).date().isoformat(), to=at(300).date().isoformat())
    assert "too long" in wide and "The Long Winter" in wide


def test_pages_of_cards(app, client, make, monkeypatch):
    name = f"Paged City {datetime.now().timestamp()}"
    shows = [make.show(city=name, starts_at=at(1, 10) + timedelta(minutes=i), title=f"Paged {i:02d}") for i in range(5)]
    monkeypatch.setattr(browse, "PAGE_SIZE", 2)
    city = str(shows[0].city_id)
    first, third = page(client, city=city), page(client, city=city, page="3")
    assert titles(first) == ["Paged 00", "Paged 01"] and "page 1 of 3" in first and 'rel="next"' in first
    assert titles(third) == ["Paged 04"] and 'rel="prev"' in third and 'rel="next"' not in third
    assert titles(page(client, city=city, page="99")) == ["Paged 04"]  # past the end: the last page


def test_htmx_gets_the_results_alone_and_the_form_works_without_it(client, city):
    full = page(client, city=city, q="violet")
    assert '<form method="get" action="/"' in full and 'role="search"' in full
    assert 'hx-get="/"' in full and 'hx-push-url="true"' in full and 'value="violet"' in full
    fragment = client.get("/", query_string={"city": city, "q": "violet"}, headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and "<form" not in html and titles(html) == ["Violet Quartet"]
    assert "HX-Request" in fragment.headers["Vary"]


def test_filtered_pages_are_shared_per_arguments(client, city, rds):
    a = client.get("/", query_string={"city": city, "q": "violet"})
    b = client.get("/", query_string={"city": city, "q": "harbour"})
    assert a.headers["Cache-Control"] == "public, max-age=1, stale-while-revalidate=1"
    assert titles(a.get_data(as_text=True)) != titles(b.get_data(as_text=True))


def test_a_show_not_on_sale_in_a_waiting_room_says_so_on_its_card(app, client, make):
    name = f"Tagged City {datetime.now().timestamp()}"
    show = make.show(city=name, starts_at=at(2), title="Tagged Gala", sale_opens_in=timedelta(days=1))
    run_sql(app, "UPDATE shows SET queue_required = true WHERE id = :s", s=show.show_id)
    html = page(client, city=str(show.city_id))
    link = re.search(rf'<a href="/shows/{show.show_id}" aria-label="([^"]+)"', html).group(1)
    assert link.startswith(at(2).strftime("%a %d %b 19:00") + " not open waiting room, Tagged Gala, Hall")
    assert '<span class="tag">not open</span> <span class="tag">waiting room</span>' in html
