"""`make bench`: Seatline's throughput and latency as a ratio to what this machine does at best,
each baseline measured in the same run. Results go to bench/RESULTS.md.

    .venv/bin/python -m bench.suite [--seconds 10] [--only holds,catalog,...]

Scenarios (see bench/RESULTS.md for the latest figures and what they mean):
- holds on one hot show and spread over 1,000 shows, against pgbench running the same SQL;
- catalog and seat maps app-only, against a bare Flask endpoint under the same gunicorn settings;
- the waiting room's join and status, against the same bare endpoint;
- through the edge (nginx): the catalog and the gate counter against nginx serving a static file
  of the same size;
- how cost grows: hold latency with few vs 10,000 shows and with 100,000 active holds; seat maps
  of 150, 2,000 and 62,400 seats;
- confirm after payment against pgbench of the confirm SQL, and the sweeper releasing 100,000
  expired holds against the same set-based SQL run by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import harness
from bench.harness import ROOT, Result, base_env, gunicorn, pgbench, sql, wrk
from devstack.processes import BIN

HOT_SEATS = 2000
SPREAD_SHOWS = 1000
SPREAD_SEATS = 100
USERS = 20000
HOLD_TTL = 3  # short, so lapsed seats come back and the hot show stays contended for the whole run
HOLD_CAP = 8  # seats one user may hold and have booked per show: the app's default (MAX_SEATS_PER_USER_SHOW)


# ---------------------------------------------------------------- data


def prepare(env: dict[str, str], demo: bool = True) -> dict[str, object]:
    """The demo data (unless ``demo`` is False) plus a 2,000-seat hot show, 1,000 small shows, and
    20,000 fans with tokens."""
    harness.fresh_database(env, demo=demo)
    sys.path.insert(0, str(ROOT))
    from app import create_app
    from app.accounts.tokens import issue_token
    from app.catalog import scheduling
    from app.catalog.layout import SeatSpec
    from app.config import Settings
    from app.unit_of_work import unit_of_work

    app = create_app(Settings.from_env(env))
    now = dt.datetime.now(dt.UTC)
    with app.app_context(), unit_of_work() as uow:
        org = scheduling.ensure_organisation(uow, "Bench Venues")
        city = scheduling.ensure_city(uow, "Benchville", "GB", "Europe/London")
        arena = scheduling.ensure_venue(
            uow,
            city,
            "Bench Arena",
            "arena",
            "",
            organisation_id=org,
            seats=[
                SeatSpec(f"S{n}", "Floor", str(n // 50), n, n % 50, n // 50, "std", False)
                for n in range(1, HOT_SEATS + 1)
            ],
        )
        club = scheduling.ensure_venue(
            uow,
            city,
            "Bench Club",
            "club",
            "",
            organisation_id=org,
            seats=[
                SeatSpec(f"C{n}", "Floor", str(n // 10), n, n % 10, n // 10, "std", False)
                for n in range(1, SPREAD_SEATS + 1)
            ],
        )
        hall = scheduling.ensure_venue(
            uow,
            city,
            "Bench Hall",
            "concert_hall",
            "",
            organisation_id=org,
            seats=[SeatSpec(f"K{n}", "Stalls", str(n // 50), n, n % 50, n // 50, "std", False) for n in range(1, 5001)],
        )
        event = scheduling.ensure_event(uow, "Bench Night", "concert", "", 120, organisation_id=org)
        confirm_show = scheduling.schedule_show(
            uow,
            event_id=event,
            venue_id=hall,
            starts_at=now + dt.timedelta(days=31),
            sale_opens_at=now - dt.timedelta(days=1),
            sale_closes_at=now + dt.timedelta(days=31),
            currency="GBP",
            prices={"std": 4000},
        )
        hot = scheduling.schedule_show(
            uow,
            event_id=event,
            venue_id=arena,
            starts_at=now + dt.timedelta(days=30),
            sale_opens_at=now - dt.timedelta(days=1),
            sale_closes_at=now + dt.timedelta(days=30),
            currency="GBP",
            prices={"std": 5000},
        )
        uow.commit()
    tokens_file = ROOT / ".run" / "bench-tokens.txt"
    tokens_file.parent.mkdir(exist_ok=True)
    sql(
        "INSERT INTO users (email, name, password_hash) SELECT 'bench' || g || '@example.com', 'Bench Fan', 'x' "
        "FROM generate_series(1, %s) g",
        (USERS,),
    )
    ids = [r[0] for r in sql("SELECT id FROM users WHERE email LIKE 'bench%%' ORDER BY id")]
    tokens = [issue_token(env["SECRET_KEY"], i, "fan", 6 * 3600) for i in ids]
    tokens_file.write_text("\n".join(tokens) + "\n")
    return {
        "app": app,
        "hot": hot,
        "confirm_show": confirm_show,
        "tokens_list": tokens,
        "club": club,
        "event": event,
        "city": city,
        "org": org,
        "users": (ids[0], ids[-1]),
        "tokens": str(tokens_file),
    }


def add_shows(data: dict, count: int) -> list[int]:
    """``count`` more shows at the club, each with its 100 seats, in set-based SQL."""
    first = sql(
        "SELECT coalesce(max(starts_at), now() + interval '40 days') FROM shows WHERE venue_id = %s", (data["club"],)
    )[0][0]
    rows = sql(
        """
        WITH new AS (
            INSERT INTO shows (event_id, venue_id, starts_at, sale_opens_at, sale_closes_at, currency)
            SELECT %(event)s, %(club)s, %(first)s + g * interval '1 hour', now() - interval '1 day',
                   %(first)s + g * interval '1 hour', 'GBP'
            FROM generate_series(1, %(n)s) g RETURNING id
        ), prices AS (INSERT INTO show_prices (show_id, tier, price) SELECT id, 'std', 3000 FROM new)
        INSERT INTO show_seats (show_id, seat_id, venue_id)
        SELECT new.id, vs.seat_id, vs.venue_id FROM new CROSS JOIN venue_seats vs WHERE vs.venue_id = %(club)s
        RETURNING show_id
        """,
        {"event": data["event"], "club": data["club"], "first": first, "n": count},
    )
    sql("ANALYZE shows, show_seats, show_prices, holds")
    return sorted({r[0] for r in rows})


# ---------------------------------------------------------------- holds

SEATS_PER_HOLD = 2  # every hold scenario asks for two adjacent seats (n, n + 1)

HOLD_LUA = """
local tokens = {}
for line in io.lines("%(tokens)s") do tokens[#tokens + 1] = line end
local first, count, seats, prefix = %(first)d, %(count)d, %(seats)d, "%(prefix)s"
local counter = 0
function setup(thread) thread:set("seed", counter); counter = counter + 1 end
function init(args) math.randomseed(os.time() * 1000 + (seed or 0)) end
request = function()
  local show = first + math.random(0, count - 1)
  local seat = math.random(1, seats - 1)
  local body = '{"seatIds":["' .. prefix .. seat .. '","' .. prefix .. (seat + 1) .. '"]}'
  return wrk.format("POST", "%(path)s" .. show .. "/holds",
    {["Authorization"] = "Bearer " .. tokens[math.random(#tokens)], ["Content-Type"] = "application/json"}, body)
end
"""


def hold_lua(data: dict, first: int, count: int, seats: int, prefix: str, path: str = "/api/v1/shows/") -> str:
    return HOLD_LUA % {
        "tokens": data["tokens"],
        "first": first,
        "count": count,
        "seats": seats,
        "prefix": prefix,
        "path": path,
    }


# pgbench's names for the parameters of the app's hold statements. The seats are two adjacent ones,
# as in the HTTP scenarios; the hold id is a random UUID, made from two random 62-bit numbers (pgbench's widest range).
# Both hold scripts run with prepared statements (`pgbench -M prepared`), as the app's do once psycopg
# has seen a statement five times on a connection, so every variable has a type PostgreSQL can tell.
PGBENCH_SEAT_IDS = (
    "CAST(ARRAY[CAST(:prefix AS text) || CAST(:seat AS int), CAST(:prefix AS text) || (CAST(:seat AS int) + 1)]"
    " AS text[])"
)
PGBENCH_HOLD_PARAMS = {
    "user_id": ":u",
    "user_key": ":u",
    "show_id": ":show",
    "show_key": ":show",
    "seat_ids": PGBENCH_SEAT_IDS,
    "hold_id": "CAST(lpad(to_hex(CAST(:hid_hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:hid_lo AS bigint)), 16, '0')"
    " AS uuid)",
    "ttl": ":ttl",
    "max_seats": ":cap",
    "presale_from": "CAST(NULL AS timestamptz)",
}


def pgbench_statement(statement: str, params: dict[str, str]) -> str:
    """One of the app's statements in pgbench's language: each bind parameter replaced by its pgbench
    expression (an unknown one is an error), blank lines dropped."""

    def sub(m: re.Match[str]) -> str:
        return params[m.group(1)]

    text = re.sub(r"(?<!:):(\w+)", sub, statement)
    return "\n".join(line for line in text.strip().splitlines() if line.strip())


def hold_sql_script(hold_statement: str | None = None) -> str:
    """pgbench's script for a hold: exactly the statements ``inventory.services.hold_seats`` runs,
    taken from the app's own text (``queries.LOCK_USER_SHOW``, ``seat_state.HOLD_FREE_SEATS``), so it
    cannot drift from them; committed when every seat was taken, rolled back otherwise, as the app does.
    ``hold_statement``: another text in the hold statement's place (``bench.partitioned``'s variant)."""
    from app.inventory import queries, seat_state

    lock = pgbench_statement(queries.LOCK_USER_SHOW, PGBENCH_HOLD_PARAMS)
    hold = pgbench_statement(hold_statement or seat_state.HOLD_FREE_SEATS, PGBENCH_HOLD_PARAMS)
    return f"""\\set u random(:u_first, :u_last)
\\set show random(:show_first, :show_last)
\\set seat random(1, :seats - 1)
\\set hid_hi random(0, 4611686018427387903)
\\set hid_lo random(0, 4611686018427387903)
BEGIN;
{lock};
{hold} \\gset
\\if :complete
COMMIT;
\\else
ROLLBACK;
\\endif
"""


def min_hold_sql_script() -> str:
    """pgbench's script for the minimal hold transaction (``bench.hello_app.MIN_HOLD_SQL``)."""
    from bench.hello_app import MIN_HOLD_SQL

    statement = pgbench_statement(
        MIN_HOLD_SQL, {"show": ":show", "user": ":u", "seat_ids": PGBENCH_SEAT_IDS, "ttl": ":ttl"}
    )
    return f"""\\set u random(:u_first, :u_last)
\\set show random(:show_first, :show_last)
\\set seat random(1, :seats - 1)
BEGIN;
{statement} \\gset
\\if :complete
COMMIT;
\\else
ROLLBACK;
\\endif
"""


def prepare_minimal(first: int, count: int) -> None:
    """The minimal hold's own tables, with the seats of shows ``first`` .. ``first + count - 1``, all free."""
    from bench.hello_app import MIN_SCHEMA

    for statement in filter(str.strip, MIN_SCHEMA.split(";")):
        sql(statement)
    sql(
        "INSERT INTO bench_min_seats (show_id, seat_id) SELECT show_id, seat_id FROM show_seats "
        "WHERE show_id BETWEEN %s AND %s",
        (first, first + count - 1),
    )
    sql("ANALYZE bench_min_seats")


def hold_pair(
    data: dict,
    base: str,
    name: str,
    first: int,
    count: int,
    seats: int,
    prefix: str,
    seconds: int,
    connections: int = 16,
) -> tuple[Result, Result]:
    """Seatline's hold endpoint, and pgbench running the app's own hold statements, on the same shows."""
    app_run = wrk(name, base, seconds, connections, script=hold_lua(data, first, count, seats, prefix))
    # The bench's Postgres does not autovacuum: statistics taken now, with the app's run's live and
    # lapsed holds in the table, stand for a running system's (plans made while `holds` was empty,
    # such as the seat -> hold foreign key's sequential scan, are made again; bench/RESULTS.md "Hold SQL").
    sql("ANALYZE holds, show_seats, audit_log")
    sql_run = pgbench(
        f"{name}: pgbench, Seatline's hold SQL",
        hold_sql_script(),
        seconds,
        clients=connections,
        protocol="prepared",
        cap=HOLD_CAP,
        **hold_variables(data, first, count, seats, prefix),
    )
    return app_run, sql_run


def hold_variables(data: dict, first: int, count: int, seats: int, prefix: str) -> dict[str, object]:
    """What both pgbench hold scripts draw their fan, show and seat from."""
    return {
        "u_first": data["users"][0],
        "u_last": data["users"][1],
        "show_first": first,
        "show_last": first + count - 1,
        "seats": seats,
        "prefix": prefix,
        "ttl": HOLD_TTL,
    }


def minimal_pair(
    data: dict,
    hello: str,
    name: str,
    first: int,
    count: int,
    seats: int,
    prefix: str,
    seconds: int,
    connections: int = 16,
) -> tuple[Result, Result]:
    """The baselines for holds: the minimal hold transaction under pgbench, and the minimal Flask hold
    endpoint (``bench/hello_app.py``) running it, each on fresh copies of the same shows' seats."""
    prepare_minimal(first, count)
    sql_run = pgbench(
        f"{name}: minimal hold transaction, pgbench",
        min_hold_sql_script(),
        seconds,
        clients=connections,
        protocol="prepared",
        **hold_variables(data, first, count, seats, prefix),
    )
    prepare_minimal(first, count)
    app_run = wrk(
        f"{name}: minimal Flask hold endpoint",
        hello,
        seconds,
        connections,
        script=hold_lua(data, first, count, seats, prefix, path="/shows/"),
    )
    return app_run, sql_run


def profile_holds(data: dict, base: str, seconds: int) -> list[str]:
    """py-spy samples every gunicorn worker while the hot show takes holds. Returns the functions with the
    largest inclusive share of the samples taken while a request was being handled."""
    import collections
    import re
    import subprocess

    port = base.rsplit(":", 1)[1]
    master = min(
        int(p)
        for p in subprocess.run(
            ["pgrep", "-f", f"gunicorn.*127.0.0.1:{port}"], capture_output=True, text=True
        ).stdout.split()
    )
    raw = ROOT / ".run" / "hold-profile.txt"
    recorder = subprocess.Popen(
        [
            str(BIN / "py-spy"),
            "record",
            "--format",
            "raw",
            "--subprocesses",
            "--nonblocking",
            "-r",
            "200",
            "-d",
            str(seconds),
            "-o",
            str(raw),
            "--pid",
            str(master),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    wrk(
        "holds under the profiler",
        base,
        seconds - 2,
        script=hold_lua(data, data["hot"], 1, HOT_SEATS, "S"),
    )
    recorder.wait(seconds + 30)
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "create_hold" not in stack:
            continue  # threads waiting for work, and gunicorn itself
        total += int(count)
        names = set()
        for frame in stack.split(";"):
            m = re.match(r"(.+) \((.+?):\d+\)$", frame)
            names.add(f"{m.group(1)} ({m.group(2).split('site-packages/')[-1]})" if m else frame)
        for name in names:
            inclusive[name] += int(count)
    return [f"{total} samples inside create_hold"] + [
        f"{n / total:6.1%}  {name}" for name, n in inclusive.most_common(30)
    ]


CHOICES = {
    "gthread, 4 workers x 4 threads (the default)": {},
    "gthread, 2 workers x 8 threads": {"WEB_WORKERS": "2", "WEB_THREADS": "8"},
    "gthread, 8 workers x 2 threads": {"WEB_WORKERS": "8", "WEB_THREADS": "2"},
    "gthread, 4 workers x 1 thread": {"WEB_WORKERS": "4", "WEB_THREADS": "1"},
    "pool pings on every checkout (SQLAlchemy's pre-ping)": {"DB_POOL_PING_IDLE_SECONDS": "0"},
    "no check of pooled connections": {"DB_POOL_PRE_PING": "false"},
    "psycopg never prepares statements": {"DB_PREPARE_THRESHOLD": "-1"},
    "psycopg prepares at once": {"DB_PREPARE_THRESHOLD": "0"},
    "pool of 2 (+2) connections per process": {"DB_POOL_SIZE": "2", "DB_MAX_OVERFLOW": "2"},
    # What the metrics cost: each process keeps its figures in its own memory (no files, no listener).
    "metrics in process memory, not multiprocess files": {"PROMETHEUS_MULTIPROC_DIR": None, "METRICS_BIND": None},
}
# BENCH_BEFORE=<commit>: the hot-show hold scenario also runs on that commit's code, beside the
# default's, in the same run (a before/after of a change; the schema must be the same).
BEFORE_REF_ENV = "BENCH_BEFORE"


def choice_runs(data: dict, env: dict[str, str], seconds: int) -> list[Result]:
    """The hot-show hold scenario under each server configuration worth trying."""
    out = []

    def holds(name: str, web: str) -> None:
        script = hold_lua(data, data["hot"], 1, HOT_SEATS, "S")
        out.append(wrk(f"holds, hot show: {name}", web, seconds, connections=16, script=script))

    for name, settings in CHOICES.items():
        with gunicorn("wsgi:app", env, **settings) as web:
            holds(name, web)
    # The same app through PgBouncer in transaction mode: nothing prepared, one more hop per statement.
    with harness.through_pgbouncer(env) as through, gunicorn("wsgi:app", env, **through) as web:
        holds("through PgBouncer (transaction mode)", web)
    before = os.environ.get(BEFORE_REF_ENV)
    if before:
        # Before, after, before, after: rows of the same code vary by a fifth within a run on this
        # machine, and the first of a group runs slowest, so each side is measured twice, alternated.
        with harness.checkout_of(before) as tree:
            for turn in (1, 2):
                with gunicorn("wsgi:app", env, tree=tree, PROMETHEUS_MULTIPROC_DIR=None, METRICS_BIND=None) as web:
                    holds(f"the code of {before[:12]} (before, {turn})", web)
                with gunicorn("wsgi:app", env) as web:
                    holds(f"this code (after, {turn})", web)
    return out


def oversold(data: dict) -> dict:
    from app.inventory.invariants import seat_invariant_violations
    from app.unit_of_work import unit_of_work

    with data["app"].app_context(), unit_of_work() as uow:
        return seat_invariant_violations(uow)


def hold_latency(data: dict, base: str, label: str, seconds: int) -> Result:
    """Hold latency at low load (4 connections), on the hot show: how cost grows with the data."""
    return wrk(
        f"hold latency, {label}",
        base,
        seconds,
        connections=4,
        script=hold_lua(data, data["hot"], 1, HOT_SEATS, "S"),
    )


# ---------------------------------------------------------------- reads

GET_LUA = """
local paths = {%(paths)s}
local counter = 0
function setup(thread) thread:set("seed", counter); counter = counter + 1 end
function init(args) math.randomseed(os.time() * 1000 + (seed or 0)) end
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
"""


def get_script(paths: list[str]) -> str:
    return GET_LUA % {"paths": ", ".join(json.dumps(p) for p in paths)}


def listing_paths(data: dict) -> list[str]:
    """City listings over the next 60 days in the demo's three cities: many keys, each cold at first."""
    cities = [r[0] for r in sql("SELECT id FROM cities WHERE name <> 'Benchville'")]
    today = dt.date.today()
    return [f"/api/v1/cities/{c}/shows?date={today + dt.timedelta(days=d)}" for c in cities for d in range(60)]


# ---------------------------------------------------------------- the waiting room

GATE_LUA = """
local tokens, tickets = {}, {}
for line in io.lines("%(tokens)s") do tokens[#tokens + 1] = line end
for line in io.lines("%(tickets)s") do tickets[#tickets + 1] = line end
local counter = 0
function setup(thread) thread:set("offset", counter * 7919); counter = counter + 1 end
local i = 0
request = function()
  i = i + 1
  if "%(mode)s" == "join" then
    local n = ((offset or 0) + i) %% #tokens + 1
    return wrk.format("POST", "/gate/v1/queues/%(event)s/join", {["Authorization"] = "Bearer " .. tokens[n]})
  end
  return wrk.format("GET", "/gate/v1/queues/%(event)s/status?ticket=" .. tickets[math.random(#tickets)])
end
"""


def gate_runs(data: dict, env: dict[str, str], seconds: int, bare: Result) -> list[tuple[Result, Result]]:
    """Joining (each request a fan joining for the first time, until all 20,000 have) and polling status."""
    event = sql("SELECT event_id FROM gate_queues LIMIT 1")[0][0]
    # Nobody is admitted during the run: status is the poll of a fan still waiting, as nearly all are.
    sql(
        "UPDATE gate_queues SET state = 'OPEN', max_active = 1, batch_size = 1, admission_interval_seconds = 3600 "
        "WHERE event_id = %s",
        (event,),
    )
    tickets = ROOT / ".run" / "bench-tickets.txt"
    tickets.write_text("none\n")
    out = []
    with gunicorn("queue_gate.wsgi:app", env) as gate:
        join = wrk(
            "gate join",
            gate,
            seconds,
            script=GATE_LUA % {"tokens": data["tokens"], "tickets": tickets, "mode": "join", "event": event},
        )
        tickets.write_text(
            "\n".join(r[0] for r in sql("SELECT ticket FROM gate_tickets WHERE event_id = %s", (event,)))
        )
        status = wrk(
            "gate status (waiting fans)",
            gate,
            seconds,
            script=GATE_LUA % {"tokens": data["tokens"], "tickets": tickets, "mode": "status", "event": event},
        )
        # The same polls from 1,000 of those fans, each asking many times as a fan does over a wait:
        # after a fan's first poll to a process, its polls are answered from that process's copy
        # (app/waiting_room/room.py, _StatusCopy). Above, nearly every poll is a ticket's first to
        # its process (6,000-odd tickets, 4 processes, a poll each at random).
        repeat_tickets = ROOT / ".run" / "bench-tickets-repeat.txt"
        repeat_tickets.write_text("\n".join(tickets.read_text().splitlines()[:1000]))
        repeat = wrk(
            "gate status (1,000 waiting fans polling again)",
            gate,
            seconds,
            script=GATE_LUA % {"tokens": data["tokens"], "tickets": repeat_tickets, "mode": "status", "event": event},
        )
        out += [(join, bare), (status, bare), (repeat, bare)]
    return out


# ---------------------------------------------------------------- through the edge


def edge_runs(data: dict, env: dict[str, str], web: str, seconds: int) -> list[tuple[Result, Result]]:
    """The catalog and the gate counter through nginx, each against nginx serving static files of the
    same size (what nginx does at best on this machine), asked the same way: the listing's many URLs
    and its baseline's as many files through the same wrk script, the counter's one URL and one file
    without one."""
    import requests

    event = sql("SELECT event_id FROM gate_queues LIMIT 1")[0][0]
    paths = listing_paths(data)
    static = Path(tempfile.mkdtemp())
    out = []
    with gunicorn("queue_gate.wsgi:app", env) as gate, harness.edge(web, gate, static) as front:
        sizes = {
            "listing": len(requests.get(front + paths[0], timeout=10).content),
            "counter": len(requests.get(f"{front}/gate/v1/queues/{event}/counter", timeout=10).content),
        }
        for name, size in sizes.items():
            (static / f"{name}.json").write_bytes(b"x" * size)
        # The listing's baseline is asked the way the listing is: as many files as it has URLs, one
        # picked at random for each request by the same wrk script, so wrk does the same work for both.
        (static / "listing").mkdir()
        static_paths = []
        for i in range(len(paths)):
            (static / "listing" / f"{i}.json").write_bytes(b"x" * sizes["listing"])
            static_paths.append(f"/static/listing/{i}.json")
        listing = wrk("shows by city and date, through the edge", front, seconds, script=get_script(paths))
        listing_static = wrk(
            f"nginx static files of the same size ({sizes['listing']} B, {len(paths)} rotated like the listing)",
            front,
            seconds,
            script=get_script(static_paths),
        )
        counter = wrk("gate counter, through the edge", f"{front}/gate/v1/queues/{event}/counter", seconds)
        counter_static = wrk(
            f"nginx static file of the same size ({sizes['counter']} B)", f"{front}/static/counter.json", seconds
        )
        out += [(listing_static, None), (listing, listing_static), (counter_static, None), (counter, counter_static)]
    return out


# ---------------------------------------------------------------- confirm after payment

CONFIRM_LUA = """
local items = {}
for line in io.lines("%(items)s") do
  local hold, intent, token = line:match("(%%S+) (%%S+) (%%S+)")
  items[#items + 1] = {hold, intent, token}
end
local counter, per = 0, math.floor(#items / %(threads)d)
function setup(thread) thread:set("first", counter * per); counter = counter + 1 end
local i = 0
request = function()
  local item = items[(first or 0) + (i %% per) + 1]
  i = i + 1
  return wrk.format("POST", "/api/v1/holds/" .. item[1] .. "/confirm",
    {["Authorization"] = "Bearer " .. item[3], ["Content-Type"] = "application/json"},
    '{"paymentIntentId":"' .. item[2] .. '"}')
end
"""

# pgbench's names for the parameters of a confirm's statements (simple protocol: pgbench puts each
# variable's text in place, so text values are quoted here). ``:n`` picks this transaction's paid hold
# from ``bench_confirm``; the lookup and the hold's row lock read the rest into ``:h_*`` variables, as
# the app reads them; the booking id is a random UUID, as the app's is.
CONFIRM_PARAMS = {
    "id": "CAST((SELECT hold_id FROM bench_confirm WHERE n = :n) AS uuid)",
    "pi": "':payment_intent_id'",
    "hold_id": "CAST(':h_id' AS uuid)",
    "show_id": ":h_show_id",
    "user_id": ":h_user_id",
    "seat_ids": "CAST(':h_seat_ids' AS text[])",
    "amount": ":h_amount",
    "currency": "':h_currency'",
    "actor_user_id": ":h_user_id",
    "actor_kind": "'fan'",
    "kind": "'booking_confirmed'",
    "event_key": "CAST(:booking AS text)",
    "context": "CAST(jsonb_build_object('show_id', :h_show_id, 'booking', CAST(:booking AS text)) AS text)",
}
BOOKING_ID = (
    "CAST(lpad(to_hex(CAST(:bid_hi AS bigint)), 16, '0') || lpad(to_hex(CAST(:bid_lo AS bigint)), 16, '0') AS uuid)"
)


def confirm_sql_script() -> str:
    """pgbench's script for a confirm after payment: exactly the statements the app runs for one
    (``saga.confirm``: the lookup on its own, then in one transaction the hold's row lock,
    ``queries.record_success``, ``seat_state.book_hold`` and the confirmation message's outbox row),
    taken from the app's own text so it cannot drift from them."""
    from app.booking import queries, saga
    from app.inventory import seat_state
    from app.notifications import outbox

    def statement(text: str, **extra: str) -> str:
        return pgbench_statement(text, {**CONFIRM_PARAMS, **extra})

    lookup = statement(saga.CONFIRM_LOOKUP)
    lock = statement(queries.LOCK_HOLD, id=CONFIRM_PARAMS["id"])
    paid = statement(queries.RECORD_SUCCESS)
    book = statement(seat_state.BOOK_HOLD, id=":booking")
    message = statement(outbox.QUEUE_MESSAGE)
    return f"""\\set n :client_id * 100000 + :tx
\\set tx :tx + 1
\\set bid_hi random(0, 4611686018427387903)
\\set bid_lo random(0, 4611686018427387903)
{lookup} \\gset
BEGIN;
{lock} \\gset h_
{paid};
{book.replace(":booking", BOOKING_ID)};
{message.replace(":booking", BOOKING_ID)};
COMMIT;
"""


def confirm_runs(data: dict, env: dict[str, str], seconds: int) -> tuple[Result, Result, dict]:
    """Confirming paid holds over HTTP (the gateway simulator settles at once), against the confirm's SQL."""
    import concurrent.futures

    import requests

    sim_env = {**env, "SIM_WEBHOOK_URL": ""}  # no webhooks: the confirm call does the booking
    count = 3000
    show = data["confirm_show"]
    tokens = data["tokens_list"]
    items_file = ROOT / ".run" / "bench-confirm.txt"
    with (
        gunicorn(
            "gateway_simulator.wsgi:app", sim_env, health="/_sim/payment_intents", WEB_WORKERS="1", WEB_THREADS="16"
        ) as sim,
        gunicorn("wsgi:app", {**env, "GATEWAY_API_BASE": sim, "HOLD_TTL_SECONDS": "600"}) as web,
    ):
        http = requests.Session()
        http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))

        def paid_hold(i: int) -> str:
            headers = {"Authorization": f"Bearer {tokens[i]}"}
            hold = http.post(
                f"{web}/api/v1/shows/{show}/holds", json={"seatIds": [f"K{i + 1}"]}, headers=headers, timeout=30
            ).json()
            intent = http.post(
                f"{web}/api/v1/holds/{hold['holdId']}/payment-intents", headers=headers, timeout=30
            ).json()
            http.post(f"{sim}/_sim/payment_intents/{intent['paymentIntentId']}/succeed", json={}, timeout=30)
            return f"{hold['holdId']} {intent['paymentIntentId']} {tokens[i]}"

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            items_file.write_text("\n".join(pool.map(paid_hold, range(count))) + "\n")
        app_run = wrk(
            "confirm after payment (simulator settles at once)",
            web,
            min(seconds, 5),
            connections=16,
            script=CONFIRM_LUA % {"items": items_file, "threads": 2},
        )
    booked = sql("SELECT count(*) FROM bookings WHERE show_id = %s", (show,))[0][0]
    prepare_confirm_sql(data, 16 * 2000)
    sql_run = pgbench("confirm SQL: pgbench", confirm_sql_script(), min(seconds, 5), clients=16, tx=0)
    return app_run, sql_run, {"bookings_made_over_http": booked, "paid_holds_prepared": count}


def prepare_confirm_sql(data: dict, count: int) -> None:
    """Paid-for holds for pgbench, numbered per client (client c takes c * 100000 + 0, 1, 2, ...)."""
    sql("CREATE TABLE IF NOT EXISTS bench_confirm (n bigint PRIMARY KEY, hold_id uuid NOT NULL)")
    sql(
        """
        WITH seats AS (
            SELECT ss.show_id, ss.seat_id, row_number() OVER (ORDER BY ss.show_id, ss.seat_id) - 1 AS k
            FROM show_seats ss JOIN shows s ON s.id = ss.show_id
            WHERE s.venue_id = %(club)s AND ss.status = 'AVAILABLE' LIMIT %(n)s
        ), made AS (
            SELECT show_id, seat_id, k, hold_id, 'pi_bench_' || hold_id AS pi FROM (SELECT *, gen_random_uuid() AS hold_id FROM seats) s
        ), h AS (
            INSERT INTO holds (id, show_id, user_id, seat_ids, amount, currency, created_at, expires_at,
                               payment_started_at, payment_intent_id)
            SELECT hold_id, show_id, %(u0)s + (k %% 20000), ARRAY[seat_id], 3000, 'GBP', now(), now() + interval '1 hour',
                   now(), pi FROM made
        ), p AS (
            INSERT INTO payments (payment_intent_id, hold_id, user_id, amount, currency, status)
            SELECT pi, hold_id, %(u0)s + (k %% 20000), 3000, 'GBP', 'REQUIRES_PAYMENT' FROM made
        ), numbered AS (
            INSERT INTO bench_confirm (n, hold_id) SELECT (k / 2000) * 100000 + (k %% 2000), hold_id FROM made
        )
        UPDATE show_seats ss SET status = 'HELD', hold_id = m.hold_id, hold_expires_at = 'infinity'
        FROM made m WHERE ss.show_id = m.show_id AND ss.seat_id = m.seat_id
        """,
        {"club": data["club"], "n": count, "u0": data["users"][0]},
    )
    sql("ANALYZE holds, payments, show_seats, bench_confirm")


# ---------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated scenario groups")
    args = parser.parse_args()
    groups = set(filter(None, args.only.split(","))) or {
        "holds",
        "reads",
        "gate",
        "edge",
        "growth",
        "confirm",
        "choices",
        "sweeper",
    }
    from queue_gate.keys import jwks, load_keys, new_key_entry

    keys = json.dumps([new_key_entry()])
    env = base_env(
        HOLD_TTL_SECONDS=str(HOLD_TTL),
        DB_POOL_SIZE="8",
        DB_MAX_OVERFLOW="8",
        GATE_SIGNING_KEYS=keys,
        GATE_JWKS=json.dumps(jwks(load_keys(keys))),
    )
    started = time.time()
    print("preparing the bench database ...", flush=True)
    data = prepare(env)
    results: list[tuple[str, Result, Result | None]] = []  # (group, result, baseline)
    notes: dict[str, object] = {}

    def show(group: str, result: Result, baseline: Result | None = None) -> None:
        results.append((group, result, baseline))
        ratio = f"{result.rps / baseline.rps:5.2f}" if baseline else "    -"
        print(
            f"  {result.name:<52} {result.rps:>9.0f}/s  p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms"
            f"  ratio {ratio}  errors {result.errors}  generator {result.generator_cpu:4.0%}",
            flush=True,
        )

    hold_ratios: dict[str, str] = {}

    def hold_group(label: str, hello: str, web: str, first: int, count: int, seats: int, prefix: str) -> None:
        """The minimal baselines, then Seatline's hold SQL and endpoint on the same shows, and the ratios."""
        min_app, min_sql = minimal_pair(data, hello, label, first, count, seats, prefix, args.seconds)
        app_run, sql_run = hold_pair(data, web, label, first, count, seats, prefix, args.seconds)
        show("holds", min_sql)
        show("holds", min_app, min_sql)
        show("holds", sql_run, min_sql)
        show("holds", app_run, min_app)
        hold_ratios[f"{label}: Seatline's endpoint / minimal Flask hold endpoint (target >= 1.0, p99 < 100 ms)"] = (
            f"{app_run.rps / min_app.rps:.2f} ({app_run.rps:,.0f}/s vs {min_app.rps:,.0f}/s), "
            f"p99 {app_run.p99_ms:.0f} ms"
        )
        hold_ratios[f"{label}: Seatline's hold SQL / minimal hold transaction, pgbench (target >= 0.5)"] = (
            f"{sql_run.rps / min_sql.rps:.2f} ({sql_run.rps:,.0f}/s vs {min_sql.rps:,.0f}/s)"
        )
        hold_ratios[f"{label}: Seatline's endpoint / its own hold SQL under pgbench"] = (
            f"{app_run.rps / sql_run.rps:.2f}"
        )

    hello_env = {**env, "BENCH_MIN_DSN": harness.PG}
    with gunicorn("bench.hello_app:app", hello_env, health="/hello") as hello, gunicorn("wsgi:app", env) as web:
        bare = wrk("bare Flask /hello", hello + "/hello", args.seconds)
        show("baseline", bare)
        if "holds" in groups:
            hold_group("holds, one hot show (2,000 seats)", hello, web, data["hot"], 1, HOT_SEATS, "S")
            notes["hot show violations"] = oversold(data)
            notes["hold path profile (py-spy, inclusive share of request-handling samples)"] = profile_holds(
                data, web, max(args.seconds, 8)
            )
        if "growth" in groups or "holds" in groups:
            latency_few = hold_latency(data, web, f"{sql('SELECT count(*) FROM shows')[0][0]} shows", args.seconds)
            show("growth", latency_few)
        spread = add_shows(data, SPREAD_SHOWS)
        if "holds" in groups:
            hold_group("holds spread over 1,000 shows", hello, web, spread[0], len(spread), SPREAD_SEATS, "C")
            notes["spread violations"] = oversold(data)
            notes["hold ratios"] = hold_ratios
            print("hold ratios:", flush=True)
            for what, value in hold_ratios.items():
                print(f"  {what}: {value}", flush=True)
        if "reads" in groups:
            show(
                "reads",
                wrk("shows by city and date, app only", web, args.seconds, script=get_script(listing_paths(data))),
                bare,
            )
            cinema = sql(
                "SELECT s.id FROM shows s JOIN venues v ON v.id = s.venue_id WHERE v.kind = 'cinema' "
                "ORDER BY s.starts_at LIMIT 1"
            )[0][0]
            show(
                "reads",
                wrk(
                    "seat map of the cinema (147 seats), app only",
                    web + f"/api/v1/shows/{cinema}/seatmap",
                    args.seconds,
                ),
                bare,
            )
        if "edge" in groups:
            for result, baseline in edge_runs(data, env, web, args.seconds):
                show("edge", result, baseline)
        if "gate" in groups:
            for result, baseline in gate_runs(data, env, args.seconds, bare):
                show("gate", result, baseline)
        if "confirm" in groups:
            app_run, sql_run, info = confirm_runs(data, env, args.seconds)
            show("confirm", sql_run)
            show("confirm", app_run, sql_run)
            notes["confirm"] = info
        if "growth" in groups:
            add_shows(data, max(0, 10000 - sql("SELECT count(*) FROM shows")[0][0]))
            show("growth", hold_latency(data, web, f"{sql('SELECT count(*) FROM shows')[0][0]} shows", args.seconds))
            active = add_active_holds(data, 100_000)
            show("growth", hold_latency(data, web, f"{active:,} active holds", args.seconds))
            notes["seat maps"] = seatmap_sizes(web)
        if "choices" in groups:
            for result in choice_runs(data, env, args.seconds):
                show("choices", result)
        if "sweeper" in groups:
            notes["sweeper"] = sweeper_run(data)
        bare_again = wrk("bare Flask /hello (again, drift check)", hello + "/hello", args.seconds)
        show("baseline", bare_again)
    notes["elapsed_s"] = round(time.time() - started)
    write_results(results, notes, args.seconds)


def add_active_holds(data: dict, count: int) -> int:
    """``count`` live holds (an hour long) on the club's shows, one seat each, written in SQL."""
    sql(
        """
        WITH picked AS (
            SELECT ss.show_id, ss.seat_id, gen_random_uuid() AS hold_id,
                   %(u0)s + (row_number() OVER () %% 20000) AS user_id
            FROM show_seats ss JOIN shows s ON s.id = ss.show_id
            WHERE s.venue_id = %(club)s AND ss.status = 'AVAILABLE' LIMIT %(n)s
        ), holds_made AS (
            INSERT INTO holds (id, show_id, user_id, seat_ids, amount, currency, created_at, expires_at)
            SELECT hold_id, show_id, user_id, ARRAY[seat_id], 3000, 'GBP', now(), now() + interval '1 hour' FROM picked
        )
        UPDATE show_seats ss SET status = 'HELD', hold_id = p.hold_id, hold_expires_at = now() + interval '1 hour'
        FROM picked p WHERE ss.show_id = p.show_id AND ss.seat_id = p.seat_id
        """,
        {"u0": data["users"][0], "club": data["club"], "n": count},
    )
    sql("ANALYZE holds, show_seats")
    return sql("SELECT count(*) FROM holds WHERE status = 'ACTIVE' AND expires_at > now()")[0][0]


def seatmap_sizes(web: str) -> list[dict]:
    """Seat-map bytes and time for each venue size, app only (server-side render from Postgres)."""
    import requests

    out = []
    for kind in ("cinema", "concert_hall", "stadium"):
        show_id, seats = sql(
            "SELECT s.id, (SELECT count(*) FROM show_seats WHERE show_id = s.id) FROM shows s "
            "JOIN venues v ON v.id = s.venue_id WHERE v.kind = %s ORDER BY s.starts_at LIMIT 1",
            (kind,),
        )[0]
        for shape, query in (("full", ""), ("compact", "?format=compact"), ("sections", "/sections")):
            samples, size = [], 0
            for _ in range(7):
                time.sleep(1.1)  # past the 1 s response cache: every sample is a render
                start = time.perf_counter()
                body = requests.get(f"{web}/api/v1/shows/{show_id}/seatmap{query}", timeout=30).content
                samples.append((time.perf_counter() - start) * 1000)
                size = len(body)
            out.append(
                {
                    "venue": kind,
                    "seats": seats,
                    "shape": shape,
                    "bytes": size,
                    "ms_p50": round(statistics.median(samples), 1),
                }
            )
    return out


def sweeper_run(data: dict) -> dict:
    """The sweeper releasing 100,000 expired holds, against its own SQL run by hand in the same batches."""
    from app.booking import sweeper
    from app.unit_of_work import unit_of_work

    timings = {}
    for how in ("by hand", "sweeper"):
        sql("UPDATE holds SET status = 'EXPIRED', ended_at = now() WHERE status = 'ACTIVE'")
        sql("UPDATE show_seats SET status = 'AVAILABLE', hold_id = NULL, hold_expires_at = NULL WHERE status = 'HELD'")
        add_active_holds(data, 100_000)
        sql(
            "UPDATE holds SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 minute' "
            "WHERE status = 'ACTIVE'"
        )
        sql("UPDATE show_seats SET hold_expires_at = now() - interval '1 minute' WHERE status = 'HELD'")
        sql("VACUUM ANALYZE holds")
        sql("VACUUM ANALYZE show_seats")
        start = time.perf_counter()
        if how == "sweeper":
            with data["app"].app_context(), unit_of_work() as uow:
                ended = 0
                while True:
                    n = sweeper.release_expired_holds(uow)
                    ended += n
                    if n == 0:
                        break
        else:
            import psycopg

            statement = sweeper_sql()
            ended = 0
            with psycopg.connect(harness.PG) as c:
                while True:
                    n = c.execute(statement).fetchone()[0]
                    c.commit()
                    ended += n
                    if n == 0:
                        break
        timings[how] = {"seconds": round(time.perf_counter() - start, 2), "holds": ended}
    timings["ratio"] = round(timings["sweeper"]["seconds"] / timings["by hand"]["seconds"], 2)
    return timings


def sweeper_sql() -> str:
    """The sweeper's own statement, for running by hand: the one release_expired_holds runs."""
    from app.inventory import seat_state

    return seat_state.EXPIRE_LAPSED_HOLDS.replace(":batch", "1000")


def write_results(results: list[tuple[str, Result, Result | None]], notes: dict, seconds: int) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Latest run: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}, {seconds} s per scenario, "
        f"{notes.get('elapsed_s')} s in all.",
        f"Machine: {harness.machine()}.",
        "",
        "Load generators (wrk, pgbench) run on the same two cores as the servers; their CPU share is shown.",
        "",
        "| scenario | req/s | p50 ms | p99 ms | ratio to baseline | 5xx/socket errors | generator CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r, baseline in results:
        ratio = f"{r.rps / baseline.rps:.2f} (of {baseline.name})" if baseline else "—"
        lines.append(
            f"| {r.name} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {ratio} | {r.errors} | "
            f"{r.generator_cpu:.0%} |"
        )
    lines += ["", "Status counts (wrk):", ""]
    for _, r, _ in results:
        if r.extra:
            lines.append(f"- {r.name}: {r.extra}")
    lines += ["", "```json", json.dumps(notes, indent=2, default=str), "```", ""]
    out = ROOT / "bench" / "RESULTS.md"
    previous = out.read_text() if out.exists() else ""
    marker = "<!-- analysis -->"
    analysis = previous.split(marker, 1)[1] if marker in previous else "\n"
    out.write_text("\n".join(lines) + marker + analysis)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
