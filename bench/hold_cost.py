"""CPU milliseconds per hold request in-process: Seatline's ``POST /api/v1/shows/{id}/holds`` against the
minimal Flask hold endpoint (bench/hello_app.py), each fed WSGI environs straight into the app in one
thread, with no HTTP server and no load generator. Process CPU time counts this process only (Python,
psycopg and redis-py client work), not PostgreSQL's or Redis's: it does not depend on what else the
machine is doing, unlike requests per second.

Run after ``python -m bench.suite --only holds`` has prepared the bench database (its 1,000 small shows
and 20,000 fans' tokens in .run/bench-tokens.txt), with the same BENCH_DB and BENCH_REDIS_URL:

    BENCH_DB=... BENCH_REDIS_URL=... .venv/bin/python -m bench.hold_cost [--requests 3000] [--only app|minimal]

Each hold takes two adjacent seats of a random small show for a random fan (nearly all answered 201);
``--hot`` aims them all at the 2,000-seat show instead (mostly 409s once it fills up). Prints CPU and wall
ms per request and the answers' status counts. Under ``py-spy record -- python -m bench.hold_cost`` it
shows where the time goes.
"""

from __future__ import annotations

import argparse
import collections
import io
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import harness
from bench.harness import ROOT

HOLD_TTL = "3"


def _environ(path: str, body: bytes, token: str | None) -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    builder = EnvironBuilder(path=path, method="POST", data=body, headers=headers)
    environ = builder.get_environ()
    builder.close()
    return environ


def _requests(shows: list[int], prefix: str, seats: int, tokens: list[str], path: str, n: int, seed: int) -> list:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        show = rng.choice(shows)
        seat = rng.randint(1, seats - 1)
        body = f'{{"seatIds":["{prefix}{seat}","{prefix}{seat + 1}"]}}'.encode()
        out.append((_environ(f"{path}{show}/holds", body, _fan(rng, tokens, i, seed)), body))
    return out


def _fan(rng: random.Random, tokens: list[str], i: int, seed: int) -> str | None:
    """A random fan's token; every fan in turn on the warm-up (seed 0)."""
    if not tokens:
        return None
    return tokens[i % len(tokens)] if seed == 0 else rng.choice(tokens)


def run(app: Callable[..., Any], requests: list) -> tuple[float, float, collections.Counter[str]]:
    statuses: collections.Counter[str] = collections.Counter()

    def start_response(status: str, headers: list, exc_info: Any = None) -> None:
        statuses[status.split(" ", 1)[0]] += 1

    cpu, wall = time.process_time(), time.perf_counter()
    for environ, body in requests:
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(body)
        result = app(env, start_response)
        for _ in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()
    n = len(requests)
    return (time.process_time() - cpu) * 1000 / n, (time.perf_counter() - wall) * 1000 / n, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--only", choices=("app", "minimal"))
    parser.add_argument("--hot", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--fans",
        type=int,
        default=300,
        help="how many of the bench's fans take the holds (each one's revocation copy is put in Redis first)",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    env = harness.base_env(HOLD_TTL_SECONDS=HOLD_TTL, DB_POOL_SIZE="8", DB_MAX_OVERFLOW="8", ENV="development")
    os.environ.update(env)
    os.environ["BENCH_MIN_DSN"] = harness.PG
    if args.hot:
        arena = "SELECT s.id FROM shows s JOIN venues v ON v.id = s.venue_id WHERE v.name = 'Bench Arena'"
        shows = [harness.sql(arena)[0][0]]
        prefix, seats = "S", 2000
    else:
        shows = [
            r[0]
            for r in harness.sql(
                "SELECT s.id FROM shows s JOIN venues v ON v.id = s.venue_id WHERE v.name = 'Bench Club' ORDER BY s.id"
            )
        ]
        prefix, seats = "C", 100
    tokens = (ROOT / ".run" / "bench-tokens.txt").read_text().split()[: args.fans]
    targets: list[tuple[str, Callable[..., Any], str, list[str]]] = []
    if args.only in (None, "app"):
        from app import create_app
        from app.config import Settings

        targets.append(
            ("Seatline POST /api/v1/shows/{id}/holds", create_app(Settings.from_env(env)), "/api/v1/shows/", tokens)
        )
    if args.only in (None, "minimal"):
        from bench.hello_app import app as minimal
        from bench.suite import prepare_minimal

        prepare_minimal(min(shows), max(shows) - min(shows) + 1)
        targets.append(("minimal Flask hold endpoint", minimal, "/shows/", []))
    for name, app, path, toks in targets:
        # Warm up: connections, caches, and (one request per fan) the fans' revocation copies in Redis.
        run(app, _requests(shows, prefix, seats, toks, path, max(200, len(toks)), 0))
        for r in range(args.rounds):
            cpu, wall, statuses = run(app, _requests(shows, prefix, seats, toks, path, args.requests, r + 1))
            print(
                f"{name:<42} CPU {cpu:6.3f} ms/request  wall {wall:6.3f} ms  {dict(sorted(statuses.items()))}",
                flush=True,
            )


if __name__ == "__main__":
    main()
