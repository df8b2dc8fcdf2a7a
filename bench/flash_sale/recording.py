"""What the clients measure: every request timed and counted under an endpoint name, by an aiohttp
client whose own connection queueing is measured too."""

from __future__ import annotations

import array
import time
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from bench.flash_sale.processes import Ports

ENDPOINTS = (
    "manager-queue",
    "join",
    "status",
    "seatmap",
    "seatmap-refresh",
    "hold",
    "release",
    "payment-intent",
    "gateway-confirm",
    "confirm",
    "browse-listing",
    "browse-show",
    "browse-seatmap",
    "browse-home",
    "browse-show-page",
)
# The JSON a page's script reads, and the pages themselves (the home page, a show's page).
BROWSE = ("browse-listing", "browse-show", "browse-seatmap", "browse-home", "browse-show-page")


class Series:
    """One endpoint's requests: when each started, how long it took, and how much of that it waited
    for a connection inside this load generator (three flat arrays: no object per request)."""

    def __init__(self) -> None:
        self.start, self.latency, self.queued = array.array("d"), array.array("d"), array.array("d")

    def __len__(self) -> int:
        return len(self.start)


class Recorder:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.samples: dict[str, Series] = defaultdict(Series)
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.transport_errors: Counter[tuple[str, str]] = Counter()
        self.server_errors: list[tuple[float, str, int, str]] = []
        self.counts: Counter[str] = Counter()
        self.events: dict[str, list[float]] = defaultdict(list)  # outcome -> times

    def now(self) -> float:
        return time.monotonic() - self.t0

    def add(self, endpoint: str, start: float, latency: float, queued: float, status: int, body: bytes) -> None:
        series = self.samples[endpoint]
        series.start.append(start)
        series.latency.append(latency)
        series.queued.append(queued)
        self.statuses[(endpoint, status)] += 1
        if status >= 500:
            self.server_errors.append((start, endpoint, status, body[:300].decode(errors="replace")))

    def mark(self, what: str) -> None:
        self.counts[what] += 1
        self.events[what].append(self.now())


class Transport(Exception):
    pass


class Client:
    """HTTP for the simulation, each call timed and counted under an endpoint name."""

    def __init__(self, rec: Recorder, ports: Ports) -> None:
        import aiohttp

        self.aiohttp = aiohttp
        self.rec = rec
        self.ports = ports
        timeout = aiohttp.ClientTimeout(total=30)
        trace = aiohttp.TraceConfig()

        async def queued_start(session, ctx, params):
            ctx.trace_request_ctx["q"] = time.perf_counter()

        async def queued_end(session, ctx, params):
            ctx.trace_request_ctx["waited"] += time.perf_counter() - ctx.trace_request_ctx["q"]

        trace.on_connection_queued_start.append(queued_start)
        trace.on_connection_queued_end.append(queued_end)

        def session(limit: int, keepalive: float, cookie_jar=None):
            # Idle connections are dropped before the server's keep-alive closes them under us
            # (gunicorn.conf.py: 5 s; the simulator runs gunicorn's default, 2 s).
            return aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=limit, keepalive_timeout=keepalive, ttl_dns_cache=None),
                timeout=timeout,
                json_serialize=lambda o: orjson.dumps(o).decode(),
                trace_configs=[trace],
                cookie_jar=cookie_jar,
            )

        self.gate = session(2000, 3.0)
        self.web = session(1000, 3.0)
        self.gateway = session(200, 1.0)
        # Browsing clients never queue behind the fans' connections; each keeps its own cookies (its
        # site session) rather than sharing one jar (bench/flash_sale/browsing.py).
        self.browse = session(64, 3.0, aiohttp.DummyCookieJar())

    async def close(self) -> None:
        for s in (self.gate, self.web, self.gateway, self.browse):
            await s.close()

    async def call(self, session, method: str, url: str, endpoint: str, **kw) -> tuple[int, bytes, Any]:
        start = self.rec.now()
        ctx = {"waited": 0.0}
        t = time.perf_counter()
        try:
            async with session.request(method, url, trace_request_ctx=ctx, **kw) as r:
                body = await r.read()
                status, headers = r.status, r.headers
        except (TimeoutError, self.aiohttp.ClientError) as exc:
            self.rec.transport_errors[(endpoint, type(exc).__name__)] += 1
            raise Transport(f"{endpoint}: {type(exc).__name__}: {exc}") from exc
        self.rec.add(endpoint, start, time.perf_counter() - t, ctx["waited"], status, body)
        return status, body, headers


def retry_after(headers: Any, default: float = 2.0) -> float:
    try:
        return max(0.2, float(headers.get("Retry-After", default)))
    except (TypeError, ValueError):
        return default
