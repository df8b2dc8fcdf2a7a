"""Flash-sale simulation: 20,000 fans, a waiting room and a 2,000-seat show, end to end.

Needs `make run`'s set-up (PostgreSQL, Redis, the dev venv); `make flash-sale` runs it:
    .venv/bin/python -m bench.flash_sale [--fans 20000] [--seats 2000] [--out-dir bench]
    .venv/bin/python -m bench.flash_sale --fans 2000 --seats 200 --out-dir /tmp/flash   # a quick one
    make flash-sale MONITOR=1   # (or --monitor) watched in Prometheus: README "Watching a sale"

Everything it uses is its own: the database seatline_flash (dropped, re-created and migrated
each run), Redis database 11 (flushed), free ports, and these processes, started here and
stopped at the end (also on Ctrl-C or a failure): gunicorn `wsgi:app` (web, and again as
browse: the catalog and seat maps, as the Procfile) and `queue_gate.wsgi:app` (gate) with the
project's gunicorn settings, the nginx edge in front of them (`scripts/edge.sh`, as `make run`:
every client request goes through it), two `flask worker`s, `flask scheduler` (the sweeper, and
the waiting room's admission tick every second), the gateway simulator sending its webhooks
straight to the web process, and an SMTP sink. Each of Seatline's processes has its metrics
listener as the Procfile has it, on 127.0.0.1:9210 and up (one per process, each worker its own;
--metrics-port moves them; README "Watching a sale"); with --monitor (`make flash-sale
MONITOR=1`), Prometheus (`scripts/monitor.sh`) on PROMETHEUS_BIND scrapes them all.

The sale: a venue of --seats seats (the demo's 2,000-seat concert hall), one queue-protected
show whose sale opens --opens-after seconds after the last fan has joined, and --fans fan
accounts made with one INSERT, each with a bearer token from `issue_token`. In one asyncio
process every fan joins the waiting room before the opening (arrivals spread over
--join-window seconds), polls its status at the interval the gate's own waiting-room page
uses (`queue_gate.pages.poll_delay`), and once admitted loads the full seat map (what the
OpenAPI document advises for a hall of this size), picks 1-4 adjacent available seats and
holds them with its admission token; on 409 it picks other seats (refreshing the map in
the compact format), and while seats are only held by others it keeps refreshing until its
admission session ends or the show is sold out. With a hold, 10 % abandon it (it lapses
after HOLD_TTL_SECONDS), 10 % release it, 10 % are declined at the gateway first and then
pay, and the rest pay: create the intent, confirm it at the gateway simulator, then call
confirm until 201/200. Meanwhile --browsers clients fetch the city's listing, a show's
detail and its seat map once a second each, from before the first join to after the end, in a
process of their own (so that the fans' busy event loop cannot inflate what they measure).

At the end (sold out, or --max-sale-seconds) it lets the workers drain and checks: the money
and seat invariants (`app.booking.invariants.money_invariant_violations` against the
simulator's intents), every seat BOOKED once by exactly one confirmed booking, no 5xx and no
transport error seen by any client, every fan in the pre-queue before the opening, and browsing
latency flat (no 10-s window of the sale with a p95 above 4x the quiet baseline's, or the
baseline + 100 ms), and one scrape of every metrics listener against the database (holds,
bookings, waiting-room places and admissions each counted once) and against the fans' answers.
It prints time to sell out, admission rate, hold success rate, outcomes, latency percentiles per
endpoint, browsing latency per 10-s window, CPU use per process (the load generator's own
included) and the metrics beside the rows, writes them to <out-dir>/FLASH_SALE.md with the date
and machine, and draws <out-dir>/flash_sale.png.
Exit status 1 when a check fails.

The modules, one idea each: `params` (the arguments and the run's fixed settings), `processes` (the
run's ports, environment and processes, started with `devstack`, Prometheus watching them, and the
CPU they use), `sale` (the
manager's set-up: venue, show, fans, the waiting room), `recording` (the timed HTTP client and what
it records), `fans` (the simulated fans and the run's timeline), `browsing` (the browsing clients'
process), `checks` (draining the workers, the invariants), `metrics` (the listeners' figures
against the database and the fans), `report` (the text report and FLASH_SALE.md), `chart`
(flash_sale.png) and `cli` (`main`, for `python -m bench.flash_sale`).
"""
