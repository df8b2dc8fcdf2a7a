"""What a seat map costs to build and to serve, by venue size and encoding; and the fan's show page.

Run after `make run` has set up the demo data:
    .venv/bin/python -m bench.seatmap_cost          (add `pages` for the show page alone)
Cold = rendered from Postgres (cache miss); warm = served from the Redis cache
through the whole Flask stack. Prints bytes and median/p95 milliseconds.

The show page (``/shows/{id}``, one show per venue that needs no waiting room): its bytes, for an
anonymous visitor and a signed-in fan, gzipped too (the edge compresses); the process CPU one
request costs (``time.process_time``, median), cold (its shared body rebuilt, as once a second
per key) and warm (the body from Redis, as every other request); and the requests the page's own
script makes after it loads, each from the same cache. CPU time, not wall time: the machine is
shared, and CPU per request is what the browse processes spend.
"""

from __future__ import annotations

import gzip
import re
import statistics
import sys
import time

from app import create_app
from app.demo.seed import DEMO_FAN, DEMO_PASSWORD
from app.extensions import redis_store
from app.inventory import seatmap
from app.unit_of_work import unit_of_work

RUNS = 15


def _time(fn, runs: int = RUNS) -> tuple[list[float], int]:
    samples, size = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        size = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples, size


def _fmt(samples: list[float]) -> str:
    ordered = sorted(samples)
    return f"{statistics.median(ordered):8.1f} {ordered[int(len(ordered) * 0.95) - 1]:8.1f}"


def main() -> None:
    app = create_app()
    client = app.test_client()
    with app.app_context(), unit_of_work() as uow:
        venues = uow.execute(
            """
            SELECT DISTINCT ON (v.id) v.name, s.id AS show_id, count(*) OVER (PARTITION BY v.id) AS shows,
                   (SELECT count(*) FROM venue_seats vs WHERE vs.venue_id = v.id) AS seats,
                   (SELECT min(section) FROM venue_seats vs WHERE vs.venue_id = v.id) AS section
            FROM shows s JOIN venues v ON v.id = s.venue_id ORDER BY v.id, s.starts_at
            """
        ).all()
    print(
        f"{'venue':<24} {'seats':>6} {'shape':<10} {'bytes':>10} {'cold p50':>8} {'p95':>8} {'warm p50':>8} {'p95':>8}"
    )
    for venue in sorted(venues, key=lambda v: v.seats):
        shapes = {
            "full": (lambda uow: seatmap.render_full(uow, venue.show_id), ""),
            "section": (
                lambda uow: seatmap.render_full(uow, venue.show_id, venue.section),
                f"?section={venue.section}",
            ),
            "compact": (lambda uow: seatmap.render_compact(uow, venue.show_id), "?format=compact"),
            "sections": (lambda uow: seatmap.render_sections(uow, venue.show_id), None),
        }
        for name, (render, query) in shapes.items():
            with app.app_context():

                def cold() -> int:
                    with unit_of_work() as uow:
                        return len(render(uow))

                cold_samples, size = _time(cold)
                path = (
                    f"/api/v1/shows/{venue.show_id}/seatmap/sections"
                    if query is None
                    else f"/api/v1/shows/{venue.show_id}/seatmap{query}"
                )
                redis_store.cache.delete(*redis_store.cache.keys(f"{{seatmap:{venue.show_id}:*") or ["none"])
                client.get(path)  # fill the cache

                def warm() -> int:
                    return len(client.get(path).data)

                warm_samples, _ = _time(warm, runs=5)  # within the cache's 1 s lifetime
            print(f"{venue.name:<24} {venue.seats:>6} {name:<10} {size:>10,} {_fmt(cold_samples)} {_fmt(warm_samples)}")


def _cpu_ms(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        samples.append((time.process_time() - start) * 1000)
    return statistics.median(samples)


def pages(app) -> None:
    """The show page's bytes and CPU per request, per venue (see the module)."""
    with app.app_context(), unit_of_work() as uow:
        shows = uow.execute(
            """
            SELECT DISTINCT ON (v.id) v.name, s.id AS show_id,
                   (SELECT count(*) FROM venue_seats vs WHERE vs.venue_id = v.id) AS seats,
                   (SELECT section FROM venue_seats vs WHERE vs.venue_id = v.id
                    GROUP BY section ORDER BY count(*) DESC, section LIMIT 1) AS biggest_section
            FROM shows s JOIN venues v ON v.id = s.venue_id
            WHERE NOT s.queue_required ORDER BY v.id, s.starts_at
            """
        ).all()
    anonymous = app.test_client()
    fan = app.test_client()
    login = fan.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
    fan.post("/login", data={"csrf_token": token, "email": DEMO_FAN, "password": DEMO_PASSWORD})
    print()
    print(
        f"{'show page':<24} {'seats':>6} {'visitor':<10} {'bytes':>9} {'gzipped':>8} "
        f"{'cold cpu':>8} {'warm cpu':>8}  then fetched by the page's script"
    )
    # Each venue's page, then its biggest section's page (the seats listed in the HTML: the form
    # without JavaScript, and how a stadium is browsed).
    views = [
        view
        for show in sorted(shows, key=lambda s: s.seats)
        for view in (
            (show.name, show.seats, f"/shows/{show.show_id}"),
            (f"  section {show.biggest_section}", None, f"/shows/{show.show_id}?section={show.biggest_section}"),
        )
    ]
    for name, seats, path in views:
        for who, client in (("anonymous", anonymous), ("signed in", fan)):
            with app.app_context():

                def cold(client=client, path=path) -> None:
                    redis_store.cache.delete(*redis_store.cache.keys("{page:show:*") or ["none"])
                    client.get(path)

                cold_ms = _cpu_ms(cold, RUNS)
                html = client.get(path).data
                warm_ms = _cpu_ms(lambda client=client, path=path: client.get(path), RUNS)
            fetched = [
                f"{url} {len(client.get(url).data):,} B {_cpu_ms(lambda client=client, url=url: client.get(url), 5):.1f} ms"
                for url in _script_fetches(html.decode())
            ]
            print(
                f"{name:<24} {seats or '':>6} {who:<10} {len(html):>9,} {len(gzip.compress(html)):>8,} "
                f"{cold_ms:>8.1f} {warm_ms:>8.1f}  {'; '.join(fetched) or '-'}"
            )


def _script_fetches(html: str) -> list[str]:
    """The seat-map URLs the page's script asks for: on load (``data-layout``) and every 2 s
    (``data-seatmap``)."""
    urls = []
    for attribute in ("data-layout", "data-seatmap"):
        if f'{attribute}="' in html:
            urls.append(html.split(f'{attribute}="', 1)[1].split('"', 1)[0].replace("&amp;", "&"))
    return urls


if __name__ == "__main__":
    if sys.argv[1:] != ["pages"]:  # `python -m bench.seatmap_cost pages`: the show page alone
        main()
    pages(create_app())
