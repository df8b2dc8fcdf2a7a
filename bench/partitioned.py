"""The hold path on today's tables against the same tables hash-partitioned by show, in one run
(README "Scaling out"; results in bench/RESULTS.md, "Hash-partitioned by show").

    .venv/bin/python -m bench.partitioned [--seconds 5] [--rounds 2] [--partitions 8,32]

It builds a database of its own (``seatline_partitioned``, and Redis db 11 for the flush the bench's
set-up does; ``BENCH_PARTITIONED_DB`` and ``BENCH_PARTITIONED_REDIS_URL`` override them) with the
suite's data without the demo (``bench.suite.prepare`` and ``add_shows``: the hot show of 2,000
seats, 1,000 shows of 100 seats, 20,000 fans). Today's tables stay in ``public``; for each partition
count N a schema ``hashN`` gets the show's tables that the hold statement reads or writes
(``show_seats``, ``holds``, ``bookings``, ``audit_log``) hash-partitioned by ``show_id`` into N
partitions (:func:`partitioned_ddl`), with the same columns and checks, the keys changed to contain
the show, and a copy of the rows. Every other table (shows, users, venue seats, prices) is the
one in ``public``.

pgbench runs the suite's own hold script (``bench.suite.hold_sql_script``: the app's
``LOCK_USER_SHOW`` and ``HOLD_FREE_SEATS`` text, prepared, with the generic plan the app asks for,
committed only when the hold is made) with ``search_path`` set to the layout's schema first, so the
same text lands on today's tables or on the partitioned ones; and again with the hold statement's
two steps that reach a show's table only through a join or a list of ids saying the show too
(:data:`SHOW_NAMED`), on every layout. The variants run in turn, in rounds whose order alternates
(A B C, then C B A) after an uncounted warm-up, on the 1,000 shows and on the hot show; each run
prints its transactions per second (a 409 is a transaction too) and the holds it made. Before
the runs, one hold of each variant is explained (``EXPLAIN (ANALYZE, BUFFERS)``, rolled back) with a
custom plan and with the generic plan: planning and execution times, partitions pruned
at run time, and the relation locks one hold takes. The generic plans go to
``.run/partitioned-plans.txt``. About 2.5 minutes.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
import uuid

import psycopg

from bench import harness, suite
from bench.harness import ROOT

DB = os.environ.get("BENCH_PARTITIONED_DB", "seatline_partitioned")
REDIS_URL = os.environ.get("BENCH_PARTITIONED_REDIS_URL", "redis://127.0.0.1:6379/11")

# The show's tables that the hold statement touches: it writes holds, show_seats and audit_log and
# reads bookings (the per-fan cap). Created in this order (foreign keys point backwards).
PARTITIONED = ("holds", "bookings", "show_seats", "audit_log")


def partitioned_ddl(schema: str, n: int) -> list[str]:
    """The show's tables hash-partitioned by ``show_id`` into ``n`` partitions, in ``schema``.

    A primary key or unique constraint of a partitioned table must contain the partition key, so
    ``holds`` is keyed (show_id, id), ``bookings`` (show_id, id) with its one-per-hold and
    one-per-intent rules per show, and what points at a hold or a booking names the show too
    (``show_seats`` (show_id, hold_id) and (show_id, booking_id)). ``show_seats`` keeps its key
    (show_id, seat_id). ``audit_log`` gets no primary key: its ``show_id`` is NULL for rows about
    no show (hash partitioning sends those to the partition of remainder 0), and a key's columns
    must be NOT NULL; its ids stay unique by their sequence."""
    ddl = [
        f"DROP SCHEMA IF EXISTS {schema} CASCADE",
        f"CREATE SCHEMA {schema}",
        f"""CREATE TABLE {schema}.holds (
            LIKE public.holds INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
            PRIMARY KEY (show_id, id),
            FOREIGN KEY (show_id) REFERENCES public.shows (id),
            FOREIGN KEY (user_id) REFERENCES public.users (id)
        ) PARTITION BY HASH (show_id)""",
        f"CREATE INDEX ON {schema}.holds (ended_at) WHERE ended_at IS NOT NULL",
        f"CREATE INDEX ON {schema}.holds (expires_at) WHERE status = 'ACTIVE' AND payment_started_at IS NOT NULL",
        f"CREATE INDEX ON {schema}.holds (expires_at) WHERE status = 'ACTIVE' AND payment_started_at IS NULL",
        f"CREATE UNIQUE INDEX ON {schema}.holds (show_id, payment_intent_id) WHERE payment_intent_id IS NOT NULL",
        f"CREATE INDEX ON {schema}.holds (show_id, created_at)",
        f"CREATE INDEX ON {schema}.holds (user_id, show_id) WHERE status = 'ACTIVE'",
        f"""CREATE TABLE {schema}.bookings (
            LIKE public.bookings INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
            PRIMARY KEY (show_id, id),
            UNIQUE (show_id, hold_id),
            UNIQUE (show_id, payment_intent_id),
            FOREIGN KEY (show_id, hold_id) REFERENCES {schema}.holds (show_id, id),
            FOREIGN KEY (show_id) REFERENCES public.shows (id),
            FOREIGN KEY (user_id) REFERENCES public.users (id)
        ) PARTITION BY HASH (show_id)""",
        f"CREATE INDEX ON {schema}.bookings (show_id, created_at)",
        f"CREATE INDEX ON {schema}.bookings (user_id)",
        f"""CREATE TABLE {schema}.show_seats (
            LIKE public.show_seats INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
            PRIMARY KEY (show_id, seat_id),
            FOREIGN KEY (show_id, venue_id) REFERENCES public.shows (id, venue_id) ON DELETE CASCADE,
            FOREIGN KEY (venue_id, seat_id) REFERENCES public.venue_seats (venue_id, seat_id),
            FOREIGN KEY (show_id, hold_id) REFERENCES {schema}.holds (show_id, id),
            FOREIGN KEY (show_id, booking_id) REFERENCES {schema}.bookings (show_id, id)
        ) PARTITION BY HASH (show_id)""",
        f"CREATE INDEX ON {schema}.show_seats (booking_id) WHERE booking_id IS NOT NULL",
        f"""CREATE TABLE {schema}.audit_log (
            LIKE public.audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS
        ) PARTITION BY HASH (show_id)""",
        f"CREATE INDEX ON {schema}.audit_log (show_id, at)",
        f"CREATE INDEX ON {schema}.audit_log (subject_type, subject_id)",
        f"""CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON {schema}.audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION public.audit_log_append_only()""",
    ]
    for table in PARTITIONED:
        # Seat pages keep a tenth free so that a seat's new version fits on its page (HOT updates,
        # migration 0013); a partitioned table has no storage of its own, so each partition says it.
        storage = " WITH (fillfactor = 90)" if table == "show_seats" else ""
        ddl += [
            f"CREATE TABLE {schema}.{table}_p{r} PARTITION OF {schema}.{table}"
            f" FOR VALUES WITH (MODULUS {n}, REMAINDER {r}){storage}"
            for r in range(n)
        ]
    return ddl


def build_layout(schema: str, n: int) -> None:
    with psycopg.connect(harness.PG) as c:
        for statement in partitioned_ddl(schema, n):
            c.execute(statement)
        for table in PARTITIONED:
            c.execute(f"INSERT INTO {schema}.{table} SELECT * FROM public.{table}")
    analyze(schema)


def analyze(schema: str) -> None:
    # The bench's Postgres does not autovacuum: statistics are taken before every run, as the suite does.
    harness.sql(f"ANALYZE {schema}.holds, {schema}.show_seats, {schema}.audit_log, {schema}.bookings")


# ---------------------------------------------------------------- the hold statement's two texts

# Where the hold statement reaches a show's table through a join or a list of ids only, it says the
# show as well, so that the step can be pruned to the show's partition in a generic plan too (the
# seats it takes are the show's, and so are the lapsed holds it ends). Today's tables need neither:
# the primary keys find the rows. Each must match the app's text exactly once.
SHOW_NAMED = (
    (
        "WHERE ss.show_id = c.show_id AND ss.seat_id = c.seat_id",
        "WHERE ss.show_id = :show_id AND ss.show_id = c.show_id AND ss.seat_id = c.seat_id",
    ),
    (
        "WHERE id = ANY(ARRAY(SELECT lapsed_hold_id",
        "WHERE show_id = :show_id AND id = ANY(ARRAY(SELECT lapsed_hold_id",
    ),
)


def hold_statement(show_named: bool) -> str:
    """The app's hold statement (``seat_state.HOLD_FREE_SEATS``), or with the show named in every step."""
    from app.inventory import seat_state

    text = seat_state.HOLD_FREE_SEATS
    for old, new in SHOW_NAMED if show_named else ():
        if text.count(old) != 1:
            raise RuntimeError(f"the hold statement no longer says {old!r} once: update bench/partitioned.py")
        text = text.replace(old, new)
    return text


# ---------------------------------------------------------------- one hold, explained

# The hold statement with positional parameters, for PREPARE: the types the app's values have.
EXPLAIN_PARAMS = {
    "hold_id": "CAST($1 AS uuid)",
    "user_id": "CAST($2 AS bigint)",
    "show_id": "CAST($3 AS bigint)",
    "seat_ids": "CAST($4 AS text[])",
    "ttl": "CAST($5 AS int)",
    "max_seats": "CAST($6 AS int)",
    "presale_from": "CAST(NULL AS timestamptz)",
}


def explain_hold(
    schema: str, show_named: bool, user: int, show: int, seats: list[str], repeats: int = 7
) -> dict[str, object]:
    """One hold on ``show`` (seats free), on a fresh connection, rolled back: its plans and costs.

    Custom plans are planned on every call with the values known (pruning at plan time); the
    generic plan, which the app asks for (``LOCK_USER_SHOW`` sets ``plan_cache_mode``), is planned
    once per connection for every partition and pruned when it runs; in PostgreSQL 15 each reuse
    first locks every relation the plan names, pruned or not."""
    text = suite.pgbench_statement(hold_statement(show_named), EXPLAIN_PARAMS)
    array = "ARRAY[" + ", ".join(f"'{s}'" for s in seats) + "]"

    def execute() -> str:
        return f"EXECUTE hold('{uuid.uuid4()}', {user}, {show}, {array}, 3, {suite.HOLD_CAP})"

    out: dict[str, object] = {}
    with psycopg.connect(harness.PG, prepare_threshold=None) as c:
        c.execute(f"SET search_path = {schema}, public")
        c.execute(f"PREPARE hold AS {text}")
        for mode in ("force_custom_plan", "force_generic_plan"):
            c.execute(f"SET plan_cache_mode = {mode}")
            plans, executions, plan_lines = [], [], []
            for i in range(repeats):
                c.execute("SAVEPOINT one")
                lines = [r[0] for r in c.execute(f"EXPLAIN (ANALYZE, BUFFERS) {execute()}")]
                if i == 0:
                    locks = c.execute(
                        "SELECT count(*), count(*) FILTER (WHERE NOT fastpath) FROM pg_locks "
                        "WHERE pid = pg_backend_pid() AND locktype = 'relation'"
                    ).fetchone()
                    plan_lines = lines
                c.execute("ROLLBACK TO SAVEPOINT one")
                plans.append(_ms(lines, "Planning Time"))
                executions.append(_ms(lines, "Execution Time"))
            short = "custom" if mode == "force_custom_plan" else "generic"
            out[short] = {
                # The generic plan's first call plans it; later calls reuse it (and lock what it names).
                "first plan ms": round(plans[0], 3),
                "plan ms (median of the rest)": round(statistics.median(plans[1:]), 3),
                "execution ms (median)": round(statistics.median(executions), 3),
                "relation locks held after one hold (not fast-path)": f"{locks[0]} ({locks[1]})",
                "partitions pruned at run time (Subplans Removed)": sum(
                    int(m) for line in plan_lines for m in re.findall(r"Subplans Removed: (\d+)", line)
                ),
                "partition scans in the plan": sum(1 for line in plan_lines if re.search(r"_p\d+ ", line)),
            }
            if short == "generic":
                out["generic plan"] = plan_lines
        c.rollback()
    return out


def _ms(lines: list[str], label: str) -> float:
    return next(float(m.group(1)) for line in lines if (m := re.search(rf"{label}: ([\d.]+) ms", line)))


# ---------------------------------------------------------------- the runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--partitions", default="8,32")
    args = parser.parse_args()
    harness.use(DB, REDIS_URL)
    started = time.time()
    env = harness.base_env(HOLD_TTL_SECONDS=str(suite.HOLD_TTL))
    print(f"preparing {DB} ...", flush=True)
    data = suite.prepare(env, demo=False)
    spread = suite.add_shows(data, suite.SPREAD_SHOWS)
    layouts = ["public"] + [f"hash{n}" for n in map(int, args.partitions.split(","))]
    for schema in layouts[1:]:
        build_layout(schema, int(schema.removeprefix("hash")))
    harness.sql("ANALYZE")
    print(f"  built in {time.time() - started:.0f} s: {harness.machine()}", flush=True)

    # (label, schema, show named): the largest partition count runs only with the show named (with
    # the app's text its generic plan scans every partition of the seats: see the explained plans).
    variants = [("today", "public", False), ("today, show named", "public", True)]
    for schema in layouts[1:]:
        if schema != layouts[-1]:
            variants.append((schema, schema, False))
        variants.append((f"{schema}, show named", schema, True))
    explained = [*variants, *((schema, schema, False) for schema in layouts[-1:] if schema != "public")]
    plans_file = ROOT / ".run" / "partitioned-plans.txt"
    plans_file.parent.mkdir(exist_ok=True)
    plans = []
    print("one hold explained (a small show's C1, C2; the hot show's S1, S2), median of 7 per plan kind:", flush=True)
    for label, schema, named in explained:
        for show_label, show, seats in (
            ("small show", spread[0], ["C1", "C2"]),
            ("hot show", data["hot"], ["S1", "S2"]),
        ):
            e = explain_hold(schema, named, data["users"][0], show, seats)
            for kind in ("custom", "generic"):
                print(f"  {label:<18} {show_label:<10} {kind:<7} {e[kind]}", flush=True)
            plans.append(f"==== {label}, {show_label}, generic plan\n" + "\n".join(e["generic plan"]))
    plans_file.write_text("\n\n".join(plans) + "\n")
    print(f"  the generic plans, in full: {plans_file}", flush=True)

    scenarios = (
        ("1,000 shows", spread[0], len(spread), suite.SPREAD_SEATS, "C"),
        ("hot show", data["hot"], 1, suite.HOT_SEATS, "S"),
    )
    runs: dict[tuple[str, str], list[tuple[float, float, float, int]]] = {}
    for scenario, first, count, seats, prefix in scenarios:
        print(f"pgbench, Seatline's hold SQL, {scenario}, 16 clients, {args.seconds} s a run:", flush=True)
        # Not counted: the first run of a group has run slowest here (bench/RESULTS.md), whatever it was.
        harness.pgbench(
            "warm-up",
            suite.hold_sql_script(),
            3,
            clients=16,
            protocol="prepared",
            cap=suite.HOLD_CAP,
            **suite.hold_variables(data, first, count, seats, prefix),
        )
        for round_ in range(args.rounds):
            for label, schema, named in variants if round_ % 2 == 0 else list(reversed(variants)):
                analyze(schema)
                since = harness.sql("SELECT clock_timestamp()")[0][0]
                r = harness.pgbench(
                    f"{scenario}, {label}",
                    suite.hold_sql_script(hold_statement(named)),
                    args.seconds,
                    clients=16,
                    protocol="prepared",
                    pg_options=f"-c search_path={schema},public",
                    cap=suite.HOLD_CAP,
                    **suite.hold_variables(data, first, count, seats, prefix),
                )
                made = harness.sql(f"SELECT count(*) FROM {schema}.holds WHERE created_at >= %s", (since,))[0][0]
                runs.setdefault((scenario, label), []).append((r.rps, r.p50_ms, r.p99_ms, made))
                print(
                    f"  round {round_ + 1} {label:<18} {r.rps:6.0f} TPS  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms"
                    f"  holds made {made / args.seconds:5.0f}/s  errors {r.errors}  pgbench CPU {r.generator_cpu:4.0%}",
                    flush=True,
                )
    print(
        "summary: TPS per round; ratio to today's tables with the app's text, and with the same text, in the same round:",
        flush=True,
    )
    for scenario, *_ in scenarios:
        for label, _, named in variants:
            mine, today = runs[(scenario, label)], runs[(scenario, "today")]
            same = runs[(scenario, "today, show named" if named else "today")]
            print(
                f"  {scenario:<12} {label:<18} TPS {', '.join(f'{m[0]:.0f}' for m in mine)}"
                f"  ratio {', '.join(f'{m[0] / b[0]:.2f}' for m, b in zip(mine, today))}"
                f" / {', '.join(f'{m[0] / b[0]:.2f}' for m, b in zip(mine, same))}"
                f"  p99 {', '.join(f'{m[2]:.0f}' for m in mine)} ms"
                f"  holds made/s {', '.join(f'{m[3] / args.seconds:.0f}' for m in mine)}",
                flush=True,
            )
    violations = {
        schema: harness.sql(
            f"SELECT count(*) FROM {schema}.show_seats ss JOIN {schema}.holds h ON h.show_id = ss.show_id "
            "AND h.id = ss.hold_id WHERE ss.status = 'HELD' AND NOT (ss.seat_id = ANY(h.seat_ids))"
        )[0][0]
        for schema in layouts
    }
    print(f"seats held by a hold that does not list them, per layout: {violations}", flush=True)
    print(f"elapsed {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
