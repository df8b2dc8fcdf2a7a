"""What a seat map costs to build and to serve, by venue size and encoding.

Run after `make run` has set up the demo data:
    .venv/bin/python -m bench.seatmap_cost
Cold = rendered from Postgres (cache miss); warm = served from the Redis cache
through the whole Flask stack. Prints bytes and median/p95 milliseconds.
"""

from __future__ import annotations

import statistics
import time

from app import create_app
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
                redis_store.client.delete(*redis_store.client.keys(f"seatmap:{venue.show_id}:*") or ["none"])
                client.get(path)  # fill the cache

                def warm() -> int:
                    return len(client.get(path).data)

                warm_samples, _ = _time(warm, runs=5)  # within the cache's 1 s lifetime
            print(f"{venue.name:<24} {venue.seats:>6} {name:<10} {size:>10,} {_fmt(cold_samples)} {_fmt(warm_samples)}")


if __name__ == "__main__":
    main()
