"""What one refresh of a show's live-sale figures costs the database, next to what the same show's
compact seat map costs (the shape fans' pages poll), measured in the same run.

Run after `make run` has set up the demo data:
    .venv/bin/python -m bench.dashboard_cost
"Figures" is one uncached computation (the Redis-shared result then serves every open
dashboard for 2 s); "x compact map" is its cost as a multiple of one compact seat-map render.
"""

from __future__ import annotations

import statistics
import time

from app import create_app
from app.inventory import seatmap
from app.manage import access, dashboard
from app.manage.access import Actor
from app.unit_of_work import unit_of_work

RUNS = 25


def _median_ms(fn) -> tuple[float, float]:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    app = create_app()
    admin = Actor(0, "admin", None)
    with app.app_context(), unit_of_work() as uow:
        shows = uow.execute(
            """
            SELECT DISTINCT ON (v.id) v.name, s.id AS show_id,
                   (SELECT count(*) FROM venue_seats vs WHERE vs.venue_id = v.id) AS seats
            FROM shows s JOIN venues v ON v.id = s.venue_id ORDER BY v.id, s.starts_at
            """
        ).all()
    print(
        f"{'venue':<24} {'seats':>6} {'figures p50':>11} {'p95':>7} {'compact p50':>11} {'p95':>7} {'x compact map':>13}"
    )
    for show in sorted(shows, key=lambda s: s.seats):
        with app.app_context():

            def figures() -> None:
                with unit_of_work() as uow:
                    dashboard._compute(uow, access.show(uow, admin, show.show_id), None)

            def compact() -> None:
                with unit_of_work() as uow:
                    seatmap.render_compact(uow, show.show_id)

            figures()
            compact()  # warm the per-process layout cache, as a running server has it
            f50, f95 = _median_ms(figures)
            c50, c95 = _median_ms(compact)
        print(
            f"{show.name:<24} {show.seats:>6} {f50:>9.1f}ms {f95:>5.1f}ms {c50:>9.1f}ms {c95:>5.1f}ms {f50 / c50:>13.2f}"
        )


if __name__ == "__main__":
    main()
