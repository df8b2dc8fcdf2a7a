"""The edge: nginx with the repo's config (`scripts/edge.sh`) in front of a web and a gate gunicorn.

Both servers write access logs, so the tests count the requests that really reached the app
instead of trusting the edge's own `X-Cache-Status`.
"""

from __future__ import annotations

import collections
import hashlib
import http.client
import itertools
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
import pytest
import requests

from devstack import commands, serve
from devstack.processes import ROOT, free_port, terminate, wait_until_up
from tests.e2e.conftest import gunicorn
from tests.support.db import fetch, run_sql

pytestmark = pytest.mark.slow

A_YEAR = "public, max-age=31536000, immutable"
# Seat maps are at most 2 s old, counted from the moment they are rendered; rendering and sending one
# takes a moment more.
SLACK = 0.2


@dataclass(frozen=True)
class Edge:
    """The edge's URL, the web server's own (behind it) and the servers' access logs."""

    url: str
    web: str
    web_log: Path
    gate_log: Path
    nginx_dir: Path

    def reached(self, log: Path, needle: str) -> int:
        """How many requests whose line holds ``needle`` reached the server writing ``log``."""
        time.sleep(0.3)  # gunicorn logs a request just after answering it
        return sum(needle in line for line in log.read_text().splitlines())


@pytest.fixture(scope="module")
def edge(stack_env, tmp_path_factory) -> Iterator[Edge]:
    if not (shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK)):
        pytest.fail("nginx is missing: `make nginx` installs it (`make test` does)")
    tmp = tmp_path_factory.mktemp("edge")
    edge_port, web_port, gate_port = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{edge_port}"
    env = {**stack_env, "PUBLIC_URL": url, "GATE_PUBLIC_URL": url, "WEB_THREADS": "8"}
    web_log, gate_log = tmp / "web-access.log", tmp / "gate-access.log"
    edge_env = {
        **os.environ,
        **commands.edge_env(f"127.0.0.1:{edge_port}", f"127.0.0.1:{web_port}", f"127.0.0.1:{gate_port}", tmp / "nginx"),
    }
    with (
        gunicorn("wsgi:app", web_port, {**env, "WEB_WORKERS": "2", "WEB_ACCESS_LOG": str(web_log)}),
        gunicorn("queue_gate.wsgi:app", gate_port, {**env, "WEB_WORKERS": "1", "WEB_ACCESS_LOG": str(gate_log)}),
        serve.edge(edge_port, edge_env, timeout=20, stop_timeout=10),
    ):
        yield Edge(url, f"http://127.0.0.1:{web_port}", web_log, gate_log, tmp / "nginx")


_ids = itertools.count(int(time.time() * 10) % 1_000_000_000, 1000)


@pytest.fixture(autouse=True)
def _ids_this_edge_has_not_seen(_clean, app):
    """Every test's cities, events and shows get ids no earlier test of this module had (the database
    starts each test afresh, the edge's cache does not), so their URLs are cold cache keys."""
    start = next(_ids)
    for table in ("cities", "events", "shows"):
        run_sql(app, f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n, false)", n=start)


def next_second(margin: float = 0.02) -> None:
    """Waits until the wall clock has just ticked: the edge keeps an entry only until its second ends."""
    time.sleep(1 - time.time() % 1 + margin)


def probe() -> str:
    """A query string no one asked for yet: a needle for the access logs of what is not cached (the
    edge keys its cache on the parameters the app reads, and passes on only those)."""
    return f"probe={uuid.uuid4().hex}"


def asked(path: str) -> str:
    """A needle for the access logs: a GET of exactly ``path`` (its query string included)."""
    return f'"GET {path} HTTP/'


def test_static_files_are_kept_a_year_under_urls_that_change_with_them(edge, make):
    show = make.show()
    page = requests.get(f"{edge.url}/shows/{show.show_id}")
    assert page.status_code == 200
    urls = re.findall(r'src="(/static/[^"]+)"', page.text)
    assert {u.partition("?")[0] for u in urls} == {"/static/vendor/htmx-2.0.11.min.js", "/static/js/seatmap.js"}
    for url in urls:
        path, _, version = url.partition("?v=")
        content = (ROOT / "app" / path.lstrip("/")).read_bytes()
        assert version == hashlib.sha256(content).hexdigest()[:12]
        served = requests.get(edge.url + url)
        assert served.status_code == 200 and served.content == content
        assert served.headers["Cache-Control"] == A_YEAR
        assert served.headers["Content-Encoding"] == "gzip"
    # Without its version a URL may name any content: browsers must ask again.
    assert requests.get(f"{edge.url}/static/js/seatmap.js").headers["Cache-Control"] == "no-cache"
    assert edge.reached(edge.web_log, "/static/") == 0, "nginx serves app/static itself"


def test_a_catalog_response_is_shared_until_its_second_ends_then_renewed_in_the_background(edge, make):
    show = make.show()
    path = f"/api/v1/shows/{show.show_id}"
    query = asked(path)
    get = lambda: requests.get(edge.url + path)  # noqa: E731
    next_second()
    first, second = get(), get()
    assert [first.headers["X-Cache-Status"], second.headers["X-Cache-Status"]] == ["MISS", "HIT"]
    assert second.json() == first.json()
    assert edge.reached(edge.web_log, query) == 1
    own = requests.get(edge.web + path).headers
    assert own["Cache-Control"] == "public, max-age=1, stale-while-revalidate=1"
    assert second.headers["Cache-Control"] == own["Cache-Control"], "the app's own header, unchanged"
    # The app's copy was built in this second: it is fresh until the second ends. nginx keeps
    # X-Accel-Expires to itself.
    assert own["X-Accel-Expires"] == f"@{int(time.time())}"
    assert "X-Accel-Expires" not in second.headers

    # Stale now: the next request gets the old copy at once and the edge fetches a new one behind it.
    next_second()
    stale = get()
    assert stale.headers["X-Cache-Status"] == "STALE" and stale.content == first.content
    assert edge.reached(edge.web_log, query) == 3  # the one straight to the app, and the edge's renewal
    assert get().headers["X-Cache-Status"] == "HIT"

    # Nobody asked during the second after its last fresh one: the copy is not served any more.
    next_second()
    next_second()
    assert get().headers["X-Cache-Status"] == "EXPIRED"
    assert edge.reached(edge.web_log, query) == 4


# What the edge itself owns in an answer: the connection's own headers, nginx's Server, the
# X-Accel-Expires it keeps to itself, and the request's id (each request's own, never a stored copy's).
EDGE_OWN = {"connection", "keep-alive", "server", "x-accel-expires", "transfer-encoding", "x-request-id"}


def test_an_answer_from_the_cache_carries_every_header_the_app_sent(edge, make):
    # Security headers, the cache headers, Vary and the rest: a hit (served from a stored copy, by the
    # front server or the cache server) sends what the app sent, with the same values.
    show = make.show()
    path = f"/api/v1/shows/{show.show_id}"
    next_second()
    own = requests.get(edge.web + path).headers
    first, hit = requests.get(edge.url + path), requests.get(edge.url + path)
    assert [first.headers["X-Cache-Status"], hit.headers["X-Cache-Status"]] == ["MISS", "HIT"]
    expected = {k.lower(): v for k, v in own.items() if k.lower() not in EDGE_OWN | {"date"}}
    for answer in (first, hit):
        got = {k.lower(): v for k, v in answer.headers.items()}
        assert {k: got.get(k) for k in expected} == expected
        assert "x-accel-expires" not in got and "date" in got
    assert {"content-security-policy", "x-content-type-options", "cache-control"} <= expected.keys()


def test_a_renewed_copy_is_read_afresh_not_through_a_descriptor_kept_for_the_old_one(edge, app, make):
    # nginx keeps cache files open between requests (open_file_cache). A renewal replaces the file of
    # the same key: the hits after it must send the new content, within the 2 s bound.
    show = make.show(title="Before the renewal")
    path = f"/api/v1/shows/{show.show_id}"
    next_second()
    assert requests.get(edge.url + path).json()["title"] == "Before the renewal"
    assert requests.get(edge.url + path).headers["X-Cache-Status"] == "HIT"
    run_sql(
        app,
        "UPDATE events SET title = 'After the renewal' WHERE id = (SELECT event_id FROM shows WHERE id = :s)",
        s=show.show_id,
    )
    changed = time.monotonic()
    seen: list[tuple[str, str]] = []
    while time.monotonic() - changed < SLACK + 2:
        answer = requests.get(edge.url + path)
        seen.append((answer.json()["title"], answer.headers["X-Cache-Status"]))
        if seen[-1] == ("After the renewal", "HIT"):
            break
        time.sleep(0.02)
    assert seen[-1] == ("After the renewal", "HIT"), seen
    # Once the new copy has been served, no hit goes back to the old one.
    later = [requests.get(edge.url + path).json()["title"] for _ in range(20)]
    assert set(later) == {"After the renewal"}


def test_a_burst_of_identical_misses_reaches_the_app_once(edge, make):
    show = make.show(rows=10, per_row=20)
    query = asked(f"/api/v1/shows/{show.show_id}/seatmap")
    url = f"{edge.url}/api/v1/shows/{show.show_id}/seatmap"

    def warm_the_app() -> None:
        # The app's own Redis copy (1 s) answers the edge's fill, as it does for a seat map anyone
        # has looked at: the lock is timed for that (50 ms), not for a first render from Postgres.
        next_second()
        assert requests.get(f"{edge.web}/api/v1/shows/{show.show_id}/seatmap?format=full").status_code == 200

    start = threading.Barrier(50, action=warm_the_app)

    def ask(_: int) -> requests.Response:
        start.wait()
        return requests.get(url)

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(ask, range(50)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert edge.reached(edge.web_log, query) == 1
    assert collections.Counter(a.headers["X-Cache-Status"] for a in answers) == {"MISS": 1, "HIT": 49}


def test_requests_with_authorization_are_never_served_from_or_stored_in_the_cache(edge, make):
    fan, show = make.fan(), make.show()
    query = asked(f"/api/v1/shows/{show.show_id}/seatmap")
    url = f"{edge.url}/api/v1/shows/{show.show_id}/seatmap"
    next_second()
    statuses = [
        requests.get(url, headers=fan.headers),  # not stored ...
        requests.get(url),  # ... so this one misses too
        requests.get(url),
        requests.get(url, headers=fan.headers),  # and never served from the copy just stored
    ]
    assert [s.headers["X-Cache-Status"] for s in statuses] == ["BYPASS", "MISS", "HIT", "BYPASS"]
    assert edge.reached(edge.web_log, query) == 3


def test_a_seat_map_through_the_edge_is_never_more_than_2_s_old(edge, make):
    """The contract's bound end to end. While the app answers, a fan's hold shows on the map the edge
    serves within 2 s; when the app stops answering, the edge serves its last copy only until that is
    2 s old, then passes requests on (and they wait) rather than serve an older one."""
    fan, show = make.fan(), make.show()
    url = f"{edge.url}/api/v1/shows/{show.show_id}/seatmap"

    def seats(timeout: float = 5.0) -> tuple[dict[str, str], float, str]:
        answer = requests.get(url, timeout=timeout)
        age = time.time() - datetime.fromisoformat(answer.json()["asOf"]).timestamp()
        return {s["seatId"]: s["status"] for s in answer.json()["seats"]}, age, answer.headers["X-Cache-Status"]

    oldest = 0.0
    # Holds at different moments of the second, each after polling long enough to keep both caches warm.
    for seat, warm in (("A1", 1.3), ("B5", 1.55), ("C9", 1.8)):
        until = time.monotonic() + warm
        while time.monotonic() < until:
            status, age, _ = seats()
            assert status[seat] == "AVAILABLE"
            oldest = max(oldest, age)
            time.sleep(0.02)
        held = requests.post(
            f"{edge.url}/api/v1/shows/{show.show_id}/holds", json={"seatIds": [seat]}, headers=fan.headers
        )
        assert held.status_code == 201, held.text
        done = time.monotonic()
        while (answer := seats())[0][seat] != "HELD":
            oldest = max(oldest, answer[1])
            assert time.monotonic() - done < SLACK + 2, f"{seat} still AVAILABLE at the edge 2 s after its hold"
            time.sleep(0.02)
    assert oldest < SLACK + 2

    # The app freezes (every process of it stopped): renewals hang.
    web = _web_pids(edge)
    assert len(web) == 3, "the web master and its two workers"
    seats()
    for pid in web:
        os.kill(pid, signal.SIGSTOP)
    served: list[tuple[float, str]] = []
    waited = 0
    try:
        until = time.monotonic() + 3.2
        while time.monotonic() < until:
            try:
                _, age, cache = seats(timeout=0.3)
                served.append((age, cache))
            except requests.Timeout:
                waited += 1
            time.sleep(0.02)
    finally:
        for pid in web:
            os.kill(pid, signal.SIGCONT)
    assert max(age for age, _ in served) < SLACK + 2, served
    assert max(age for age, _ in served) > 1.5, "the edge served its copy while it was renewed"
    assert {"STALE", "UPDATING"} & {cache for _, cache in served}
    assert waited, "past 2 s the edge stopped serving the old copy"
    assert seats()[1] < SLACK + 2


def _web_pids(edge: Edge) -> list[int]:
    return [
        int(pid)
        for pid in subprocess.run(
            ["pgrep", "-f", "--", f"--bind {edge.web.removeprefix('http://')} wsgi:app"],
            capture_output=True,
            text=True,
        ).stdout.split()
    ]


def test_a_renewal_in_the_background_never_holds_up_the_fans_next_request(edge, make):
    # nginx holds the next request on a connection until the renewal that connection's request
    # started has been answered. A fan's browser keeps its connection: the renewal must not be
    # started on it. With the app frozen the renewal never ends, and the fan's next request on the
    # same connection is still answered at once.
    show = make.show()
    path = f"/api/v1/shows/{show.show_id}/seatmap"
    host, port = edge.url.removeprefix("http://").split(":")
    browser = http.client.HTTPConnection(host, int(port), timeout=2)

    def get() -> tuple[str, str, tuple]:
        browser.request("GET", path)
        answer = browser.getresponse()
        answer.read()
        assert answer.status == 200
        return answer.getheader("X-Cache-Status"), answer.getheader("Date"), browser.sock.getsockname()

    next_second()
    missed, built, connection = get()
    assert missed == "MISS"
    next_second()  # the copy is stale now, within the app's stale-while-revalidate
    web = _web_pids(edge)
    assert len(web) == 3, "the web master and its two workers"
    for pid in web:
        os.kill(pid, signal.SIGSTOP)
    try:
        stale, first, _ = get()  # a renewal is now under way, and stuck
        updating, again, same = get()  # on the same connection: times out if held behind it
    finally:
        for pid in web:
            os.kill(pid, signal.SIGCONT)
        browser.close()
    assert (stale, updating) == ("STALE", "UPDATING")
    assert first == again == built and same == connection


def test_a_fresh_copy_is_answered_by_the_front_server_alone(edge, make):
    # The front server keeps its own copy of what the cache server answered, with the same expiry:
    # while that is fresh it answers without asking the cache server (one pass through nginx).
    # With the cache server's socket moved away, asking it would fail (the edge's 503 DEGRADED).
    show = make.show()
    url = f"{edge.url}/api/v1/shows/{show.show_id}"
    socket = edge.nginx_dir / "browse-cache.sock"
    moved = socket.with_name("moved-away.sock")
    next_second()
    first = requests.get(url)
    assert first.headers["X-Cache-Status"] == "MISS"
    socket.rename(moved)
    try:
        again = requests.get(url)
    finally:
        moved.rename(socket)
    assert again.status_code == 200 and again.headers["X-Cache-Status"] == "HIT"
    assert again.content == first.content
    # Past the app's stale-while-revalidate the front's copy is not served, whatever happens behind
    # it: it asks the cache server, which is away. (Within it, nginx would answer the stale copy when
    # the cache server fails, as it does for stale-while-revalidate; the bound is the same.)
    next_second()
    next_second()
    socket.rename(moved)
    try:
        gone = requests.get(url)
    finally:
        moved.rename(socket)
    assert gone.status_code == 503 and gone.json()["error"]["code"] == "DEGRADED"
    assert requests.get(url).json() == first.json()


def test_the_gate_counter_is_shared_for_at_most_a_second(edge, app, make):
    show = make.show()
    run_sql(app, "UPDATE shows SET queue_required = true WHERE id = :s", s=show.show_id)
    event_id = fetch(app, "SELECT event_id FROM shows WHERE id = :s", s=show.show_id)[0].event_id
    opened = requests.put(
        f"{edge.url}/gate/v1/queues/{event_id}",
        headers=make.fan(role="manager").headers,
        json={"batchSize": 1, "admissionIntervalSeconds": 3600, "maxActive": 1},
    )
    assert opened.status_code == 200, opened.text
    query = asked(f"/gate/v1/queues/{event_id}/counter")
    url = f"{edge.url}/gate/v1/queues/{event_id}/counter"
    next_second()
    first, second = requests.get(url), requests.get(url)
    assert [first.headers["X-Cache-Status"], second.headers["X-Cache-Status"]] == ["MISS", "HIT"]
    assert second.headers["Cache-Control"] == "public, max-age=1"
    # The hit carries every header the gate's own answer (the miss) did, with the same values.
    own = {k.lower(): v for k, v in first.headers.items() if k.lower() not in EDGE_OWN | {"date", "x-cache-status"}}
    assert {k: second.headers.get(k) for k in own} == own
    assert "content-security-policy" in own
    assert edge.reached(edge.gate_log, query) == 1
    next_second()
    assert requests.get(url).headers["X-Cache-Status"] == "MISS"
    assert edge.reached(edge.gate_log, query) == 2

    before = requests.get(url).json()["queueLength"]
    joined = requests.post(f"{edge.url}/gate/v1/queues/{event_id}/join", headers=make.fan().headers)
    assert joined.status_code == 201 and "X-Cache-Status" not in joined.headers
    since = time.monotonic()
    while requests.get(url).json()["queueLength"] == before:
        assert time.monotonic() - since < SLACK + 1, "the counter through the edge is more than a second old"
        time.sleep(0.02)


def test_the_cache_is_keyed_on_the_parameters_the_app_reads_and_only_those_reach_it(edge, make):
    show = make.show()
    seatmap = f"/api/v1/shows/{show.show_id}/seatmap"
    listing = f"/api/v1/cities/{show.city_id}/shows"
    day = requests.get(f"{edge.web}/api/v1/shows/{show.show_id}").json()["startTime"][:10]
    next_second()
    first = requests.get(edge.url + seatmap)
    assert first.headers["X-Cache-Status"] == "MISS"
    # Made-up parameters, in any number and order, are the same request: the copy answers them.
    noise = [f"x={uuid.uuid4().hex}", f"utm_source={uuid.uuid4().hex}&y=1", f"x={uuid.uuid4().hex}&format=full&z"]
    for extra in noise[:2]:
        again = requests.get(f"{edge.url}{seatmap}?{extra}")
        assert again.headers["X-Cache-Status"] == "HIT" and again.content == first.content, extra
    assert edge.reached(edge.web_log, asked(seatmap)) == 1
    assert edge.reached(edge.web_log, "utm_source") == edge.reached(edge.web_log, "x=") == 0
    # A parameter the app reads is part of the key, and reaches the app alone.
    full = requests.get(f"{edge.url}{seatmap}?{noise[2]}")
    assert full.headers["X-Cache-Status"] == "MISS" and full.json()["seats"] == first.json()["seats"]
    assert edge.reached(edge.web_log, asked(f"{seatmap}?format=full")) == 1
    compact = requests.get(f"{edge.url}{seatmap}?format=compact&x=1")
    assert compact.headers["X-Cache-Status"] == "MISS" and compact.json()["format"] == "compact"
    # A name the app would decode into one it reads (d%61te) never reaches it: no copy under a key
    # that does not say what it holds.
    listed = requests.get(f"{edge.url}{listing}?date={day}&x=1")
    assert listed.status_code == 200 and listed.json()["date"] == day
    assert requests.get(f"{edge.url}{listing}?date={day}&y=2").headers["X-Cache-Status"] == "HIT"
    host, port = edge.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("GET", f"{listing}?d%61te={day}")  # as sent: requests would unescape the name
    disguised = connection.getresponse()
    assert disguised.status == 200 and orjson.loads(disguised.read())["date"] != day
    connection.close()
    assert edge.reached(edge.web_log, "d%61te") == 0


def test_the_home_pages_search_and_filters_are_keyed_and_passed_on_and_nothing_else(edge, make):
    """The home page's filters (app/site/browse.py) are parameters the app reads: each set its own
    copy, passed on to the app (each as first sent); anything else added is the same page."""
    make.show(city="Edge Search City", title="Edge Violet Night")
    show = make.show(city="Edge Search City", title="Edge Harbour Day")
    base = f"/?city={show.city_id}&category=concert&when=week"
    next_second()
    violet = requests.get(f"{edge.url}{base}&q=violet&page=1")
    harbour = requests.get(f"{edge.url}{base}&q=harbour&page=1")
    assert [violet.headers["X-Cache-Status"], harbour.headers["X-Cache-Status"]] == ["MISS", "MISS"]
    assert "Edge Violet Night" in violet.text and "Edge Harbour Day" not in violet.text
    assert "Edge Harbour Day" in harbour.text and "Edge Violet Night" not in harbour.text
    again = requests.get(f"{edge.url}{base}&q=violet&page=1&{probe()}")
    assert again.headers["X-Cache-Status"] == "HIT" and again.content == violet.content
    # Passed on in the edge's own order (deploy/nginx/seatline.conf.template, $home_args).
    assert edge.reached(edge.web_log, asked(f"/?city={show.city_id}&q=violet&category=concert&when=week&page=1")) == 1
    assert edge.reached(edge.web_log, "probe=") == 0
    ranged = requests.get(f"{edge.url}/?city={show.city_id}&from=2030-01-01&to=2029-01-01")
    assert ranged.headers["X-Cache-Status"] == "MISS" and "The end date is before the start date" in ranged.text


def test_operators_endpoints_are_not_served_at_the_public_origin(edge):
    host, port = edge.url.removeprefix("http://").split(":")
    before = [edge.reached(edge.web_log, name) for name in ("metrics", "readyz")]
    for path in (
        "/metrics",
        "/readyz",
        "/metrics?name=x",
        "/readyz/",
        "//metrics",
        "/%6Detrics",
        "/./readyz",
        "/api/../metrics",
    ):
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        connection.request("GET", path)
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
        assert answer.status == 404, path
        assert b"seatline_" not in body and b"postgres" not in body, path
    assert [edge.reached(edge.web_log, name) for name in ("metrics", "readyz")] == before, "none reached the app"
    # Liveness says nothing and stays public; operators ask each process on its own address.
    assert requests.get(f"{edge.url}/healthz").json() == {"status": "ok"}
    assert requests.get(f"{edge.web}/readyz").json()["status"] == "ready"
    assert "seatline_" in requests.get(f"{edge.web}/metrics").text
    # A request that came through a proxy is refused by the process too.
    for path in ("/metrics", "/readyz"):
        assert requests.get(f"{edge.web}{path}", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 404


def test_personal_and_state_changing_requests_go_straight_through(edge, make):
    fan, show = make.fan(), make.show()
    held = requests.post(f"{edge.url}/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=fan.headers)
    assert held.status_code == 201, held.text
    hold = f"/api/v1/holds/{held.json()['holdId']}"
    for _ in range(3):
        mine = requests.get(edge.url + hold, headers=fan.headers)
        assert mine.status_code == 200 and mine.headers["Cache-Control"] == "no-store"
        assert "X-Cache-Status" not in mine.headers
    assert requests.get(f"{edge.url}/api/v1/bookings", headers=fan.headers).headers["Cache-Control"] == "no-store"
    assert requests.delete(edge.url + hold, headers=fan.headers).status_code == 200
    query = probe()
    for _ in range(3):  # a page with a session is the fan's own (an anonymous one is shared: below)
        assert requests.get(f"{edge.url}/?{query}", cookies={"seatline_session": "x"}).status_code == 200
    assert edge.reached(edge.web_log, hold) == 4  # three reads and the release
    assert edge.reached(edge.web_log, query) == 3


def test_anonymous_pages_are_shared_at_the_edge_and_a_fans_own_never(edge, app, make):
    show = make.show(title="Edge Matinee", rows=2, per_row=4)
    day = requests.get(f"{edge.web}/api/v1/shows/{show.show_id}").json()["startTime"][:10]
    account = {"email": "edgar@example.com", "password": "s3cret-pass"}
    assert requests.post(f"{edge.url}/api/v1/auth/register", json={**account, "name": "Edgar Poe"}).status_code == 201
    fan = requests.Session()
    fan.post(f"{edge.url}/login", data={**account, "csrf_token": _csrf_token(fan.get(f"{edge.url}/login").text)})
    for path in (f"/?city={show.city_id}&date={day}", f"/shows/{show.show_id}"):
        url = edge.url + path
        next_second()
        first, second = requests.get(url), requests.get(f"{url}{'&' if '?' in url else '?'}{probe()}")
        assert [first.headers["X-Cache-Status"], second.headers["X-Cache-Status"]] == ["MISS", "HIT"], path
        assert first.status_code == second.status_code == 200 and "Edge Matinee" in first.text
        assert second.content == first.content and "Set-Cookie" not in first.headers
        assert second.headers["Cache-Control"] == "public, max-age=1, stale-while-revalidate=1"
        assert "Accept-Language" in second.headers["Vary"]
        assert edge.reached(edge.web_log, asked(path)) == 1
        # The fan's own page (and anyone's with a session or an admission): never from the copy, never stored.
        mine = [fan.get(url), fan.get(url)]
        assert all("Hello, Edgar Poe" in m.text and m.headers["Cache-Control"] == "private, no-cache" for m in mine)
        assert all("X-Cache-Status" not in m.headers for m in mine)
        admitted = requests.get(url, cookies={"seatline_admission": "not-a-token"})
        assert "X-Cache-Status" not in admitted.headers and admitted.headers["Cache-Control"] == "private, no-cache"
        assert edge.reached(edge.web_log, asked(path)) == 4
        after = requests.get(url)
        assert "X-Cache-Status" in after.headers and "Edgar" not in after.text
    # One copy per language the page is written in, whatever else the browser's header says.
    url = f"{edge.url}/shows/{show.show_id}"
    next_second()
    german = [requests.get(url, headers={"Accept-Language": h}) for h in ("de-DE,de;q=0.9", "de-DE;q=1, en;q=0.5")]
    assert [g.headers["X-Cache-Status"] for g in german] == ["MISS", "HIT"]
    assert "500,00" in german[0].text and "500,00" not in requests.get(url).text
    # Behind the waiting room, a visitor who was not admitted gets the same page as everyone else.
    run_sql(app, "UPDATE shows SET queue_required = true WHERE id = :s", s=show.show_id)
    next_second()
    next_second()  # the open sale's copy is past even its stale second
    waiting = [requests.get(url), requests.get(url)]
    assert [w.status_code for w in waiting] == [403, 403] and 'data-testid="join"' in waiting[0].text
    assert waiting[1].headers["X-Cache-Status"] == "HIT" and "Set-Cookie" not in waiting[0].headers


def test_pages_and_the_waiting_room_work_through_one_origin(edge, app, make):
    show = make.show(title="Edge Night")
    account = {"email": "edge@example.com", "password": "s3cret-pass"}
    assert requests.post(f"{edge.url}/api/v1/auth/register", json={**account, "name": "Edge"}).status_code == 201
    browser = requests.Session()

    login = browser.get(f"{edge.url}/login")
    signed_in = browser.post(f"{edge.url}/login", data={**account, "csrf_token": _csrf_token(login.text)})
    assert signed_in.status_code == 200 and signed_in.url == f"{edge.url}/"
    assert "Edge Night" in browser.get(f"{edge.url}/shows/{show.show_id}").text

    # Signed in, a fan still shares the seat map: shared responses carry no session cookie.
    url = f"{edge.url}/api/v1/shows/{show.show_id}/seatmap"
    next_second()
    polls = [browser.get(url), browser.get(url)]
    assert "seatline_session=" in polls[0].request.headers["Cookie"]
    assert [p.headers["X-Cache-Status"] for p in polls] == ["MISS", "HIT"]
    assert not any("Set-Cookie" in p.headers or "Cookie" in p.headers.get("Vary", "") for p in polls)

    # The queue-protected sale: the show's page sends the fan to the gate's pages on the same origin.
    run_sql(app, "UPDATE shows SET queue_required = true WHERE id = :s", s=show.show_id)
    event_id = fetch(app, "SELECT event_id FROM shows WHERE id = :s", s=show.show_id)[0].event_id
    requests.put(
        f"{edge.url}/gate/v1/queues/{event_id}",
        headers=make.fan(role="manager").headers,
        json={"batchSize": 1, "admissionIntervalSeconds": 1, "maxActive": 10},
    ).raise_for_status()
    join_url = f"{edge.url}/gate/queues/{event_id}"
    assert f'href="{join_url}"' in browser.get(f"{edge.url}/shows/{show.show_id}").text
    join = browser.get(join_url)
    waiting = browser.post(join_url, data={**account, "csrf_token": _csrf_token(join.text)})
    assert waiting.status_code == 200 and waiting.url.startswith(f"{join_url}/wait?ticket=")
    assert re.search(r'src="/static/vendor/htmx-2\.0\.11\.min\.js\?v=[0-9a-f]{12}"', waiting.text)
    deadline = time.monotonic() + 15
    while "HX-Redirect" not in (status := browser.get(waiting.url, headers={"HX-Request": "true"})).headers:
        assert time.monotonic() < deadline, status.text
        time.sleep(0.3)
    seats = browser.get(edge.url + status.headers["HX-Redirect"])
    assert seats.url == f"{edge.url}/shows/{show.show_id}"
    assert 'data-testid="admitted"' in seats.text
    assert "seatline_admission" in browser.cookies


def _csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_browsing_has_processes_of_its_own_and_the_web_process_stands_in_for_them(stack_env, tmp_path, make):
    # The Procfile's `browse` runs the app again for the catalog and seat maps, so that a sale's
    # bookings cannot take every thread browsing needs; when it is down, web answers instead.
    fan, show = make.fan(), make.show()
    edge_port, web_port, browse_port = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{edge_port}"
    env = {**stack_env, "PUBLIC_URL": url, "WEB_WORKERS": "1"}
    web_log, browse_log = tmp_path / "web-access.log", tmp_path / "browse-access.log"
    logs = Edge(url, "", web_log, browse_log, tmp_path / "nginx")
    with gunicorn("wsgi:app", web_port, {**env, "WEB_ACCESS_LOG": str(web_log)}):
        browse = serve.start_gunicorn("wsgi:app", browse_port, {**os.environ, **env, "WEB_ACCESS_LOG": str(browse_log)})
        edge = serve.start_edge(
            {
                **os.environ,
                **commands.edge_env(
                    f"127.0.0.1:{edge_port}",
                    f"127.0.0.1:{web_port}",
                    f"127.0.0.1:{free_port()}",
                    tmp_path / "nginx",
                    browse=f"127.0.0.1:{browse_port}",
                ),
            }
        )
        try:
            wait_until_up(f"http://127.0.0.1:{browse_port}/readyz", browse)
            wait_until_up(f"{url}/healthz", edge, timeout=20)
            paths = (f"/api/v1/shows/{show.show_id}", f"/api/v1/shows/{show.show_id}/seatmap")
            for path in paths:
                assert requests.get(f"{url}{path}").status_code == 200
            held = requests.post(
                f"{url}/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=fan.headers
            )
            assert held.status_code == 201, held.text
            assert [logs.reached(browse_log, asked(p)) for p in paths] == [1, 1]
            assert [logs.reached(web_log, asked(p)) for p in paths] == [0, 0]
            assert logs.reached(web_log, "/holds") == 1 and logs.reached(browse_log, "/holds") == 0

            terminate(browse, 20)
            next_second()
            next_second()  # the edge's copy from before the hold may not be served any more
            seatmap = requests.get(f"{url}{paths[1]}")
            assert seatmap.status_code == 200
            assert {s["seatId"]: s["status"] for s in seatmap.json()["seats"]}["A1"] == "HELD"
            assert logs.reached(web_log, asked(paths[1])) == 1
        finally:
            for proc in (edge, browse):
                terminate(proc, 20)


def test_joins_beyond_what_the_gate_works_on_at_once_are_turned_away_at_the_edge(stack_env, tmp_path, app, make):
    # A crowd arriving faster than the gate seats it: with the gate frozen, the joins it already has
    # wait, and the next ones are answered by the edge at once, in the contract's shape.
    show = make.show()
    run_sql(app, "UPDATE shows SET queue_required = true WHERE id = :s", s=show.show_id)
    event_id = fetch(app, "SELECT event_id FROM shows WHERE id = :s", s=show.show_id)[0].event_id
    edge_port, gate_port = free_port(), free_port()
    url = f"http://127.0.0.1:{edge_port}"
    join = f"{url}/gate/v1/queues/{event_id}/join"
    fans = [make.fan() for _ in range(4)]
    with gunicorn("queue_gate.wsgi:app", gate_port, {**stack_env, "PUBLIC_URL": url, "WEB_WORKERS": "1"}):
        edge = serve.start_edge(
            {
                **os.environ,
                **commands.edge_env(
                    f"127.0.0.1:{edge_port}", f"127.0.0.1:{free_port()}", f"127.0.0.1:{gate_port}", tmp_path / "nginx"
                ),
                "GATE_JOINS_IN_FLIGHT": "2",
            }
        )
        gate = [
            int(pid)
            for pid in subprocess.run(
                ["pgrep", "-f", "--", f"--bind 127.0.0.1:{gate_port} queue_gate.wsgi:app"],
                capture_output=True,
                text=True,
            ).stdout.split()
        ]
        try:
            wait_until_up(f"{url}/gate/v1/jwks.json", edge, timeout=20)
            requests.put(
                f"{url}/gate/v1/queues/{event_id}",
                headers=make.fan(role="manager").headers,
                json={"batchSize": 1, "admissionIntervalSeconds": 3600, "maxActive": 1},
            ).raise_for_status()
            for pid in gate:
                os.kill(pid, signal.SIGSTOP)
            with ThreadPoolExecutor(2) as pool:
                waiting = [pool.submit(requests.post, join, headers=fan.headers, timeout=30) for fan in fans[:2]]
                time.sleep(0.5)
                assert not any(f.done() for f in waiting), "the frozen gate answered"
                busy = requests.post(join, headers=fans[2].headers, timeout=5)
                assert busy.status_code == 429
                assert busy.headers["Content-Type"] == "application/json"
                assert busy.headers["Cache-Control"] == "no-store"
                retry = int(busy.headers["Retry-After"])
                assert 1 <= retry <= 3
                assert busy.json() == {
                    "error": {
                        "code": "RATE_LIMITED",
                        "retryAfter": retry,
                        "message": f"the waiting room is seating many fans at once; try again in {retry} s",
                    }
                }
                # The join form is counted too, and answers with a page that goes back to the form.
                form = requests.post(f"{url}/gate/queues/{event_id}", data={"email": "x@example.com"}, timeout=5)
                assert form.status_code == 429 and form.headers["Content-Type"].startswith("text/html")
                assert f'content="{form.headers["Retry-After"]}; url=/gate/queues/{event_id}"' in form.text
                for pid in gate:
                    os.kill(pid, signal.SIGCONT)
                assert [f.result().status_code for f in waiting] == [201, 201]
            # Once the gate has caught up, the fan turned away gets a place like anyone.
            again = requests.post(join, headers=fans[2].headers, timeout=10)
            assert again.status_code == 201, again.text
            # The gate's own 429 (one fan joining too often) passes through the edge as the gate wrote it.
            answers = [requests.post(join, headers=fans[3].headers, timeout=10) for _ in range(21)]
            assert {a.status_code for a in answers} == {201, 200, 429}
            assert answers[-1].json()["error"]["message"].startswith("too many waiting-room joins")
        finally:
            for pid in gate:
                os.kill(pid, signal.SIGCONT)
            edge.terminate()
            edge.wait(20)


def test_every_answer_names_its_request_and_the_app_logs_the_same_id(edge, make):
    show = make.show()
    hex_id = re.compile(r"[0-9a-f]{32}")
    seen = set()
    for path in (
        f"/api/v1/shows/{show.show_id}/seatmap",  # the catalog cache (its copy's id is replaced)
        f"/api/v1/shows/{show.show_id}/seatmap",
        "/api/v1/openapi.json",  # straight through to web
        "/static/js/seatmap.js",  # nginx alone
        "/metrics",  # the edge's own 404
        "/api/v1/shows/999999999",  # the app's 404
    ):
        answer = requests.get(edge.url + path)
        request_id = answer.headers.get("X-Request-Id", "")
        assert hex_id.fullmatch(request_id), (path, answer.headers)
        seen.add(request_id)
    assert len(seen) == 6, "a new id for every request, cached copies included"

    # A sane id the client sends is passed through to the app, answered back and logged there.
    mine = f"client-{uuid.uuid4().hex}"
    answer = requests.get(f"{edge.url}/api/v1/shows/999999999", headers={"X-Request-Id": mine})
    assert answer.status_code == 404 and answer.headers["X-Request-Id"] == mine
    assert edge.reached(edge.web_log, f"id={mine}") == 1
    # Anything else is replaced: a log line cannot be forged or flooded through it.
    for bad in ("short", "x" * 200, "two words here", "new\\nline-injected"):
        answer = requests.get(f"{edge.url}/api/v1/shows/999999999", headers={"X-Request-Id": bad})
        assert hex_id.fullmatch(answer.headers["X-Request-Id"]), bad
        assert edge.reached(edge.web_log, f"id={answer.headers['X-Request-Id']}") == 1
