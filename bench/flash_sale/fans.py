"""The simulated fans, in one asyncio process: each joins the waiting room, waits its turn, picks
adjacent seats from the seat map, holds them and pays (or abandons, releases, is declined first);
and the run itself: the browsing baseline, the arrivals, the opening (moved back while joins are
still coming in), the sell-out, and a once-a-second timeline of seats, waiting room and CPU."""

from __future__ import annotations

import asyncio
import base64
import operator
import random
import re
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import psycopg
import redis

from bench.flash_sale.params import CITY_TZ, DB, PG, Params, redis_client
from bench.flash_sale.processes import Ports, cpu_snapshot
from bench.flash_sale.recording import Client, Recorder, Transport, retry_after
from bench.flash_sale.sale import Sale, open_waiting_room
from bench.flash_sale.waits import WaitSampler
from devstack.stack import Stack

# What a fan's browser (Stripe Elements) authenticates with at the gateway: basic auth, the key as user.
GATEWAY_AUTH = {"Authorization": "Basic " + base64.b64encode(b"sk_test_flash_fan:").decode()}


class SeatIndex:
    """The show's layout as every fan's client draws it (the same for everyone, so built once): seat ids
    in layout order, and the runs of adjacent seats (same row, consecutive x: an aisle ends a run)."""

    def __init__(self, seats: list[dict[str, Any]]) -> None:
        self.seat_ids = [s["seatId"] for s in seats]
        self.positions = {sid: i for i, sid in enumerate(self.seat_ids)}
        self.size = len(seats)
        rows: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for i, s in enumerate(seats):
            rows[(s["section"], s["row"])].append((s["x"], i))
        order: list[int] = []  # layout positions run after run, ``size`` (a separator) between runs
        for row in rows.values():
            row.sort()
            for k, (x, i) in enumerate(row):
                if k and x != row[k - 1][0] + 1:
                    order.append(self.size)
                order.append(i)
            order.append(self.size)
        self.order = order
        self._gather = operator.itemgetter(*order)
        self._patterns = {n: re.compile(b"(?=A{%d})" % n) for n in range(1, 9)}

    def blocks(self, codes: bytearray, n: int) -> list[int]:
        """Where blocks of ``n`` adjacent available seats start, as indexes into ``order``."""
        in_runs = bytes(self._gather(codes))
        return [m.start() for m in self._patterns[n].finditer(in_runs)]


class Layout:
    """A fan's view of the seat map: one status letter per seat (A, H, B) in layout order, and a
    separator at the end that the run order points at between runs."""

    def __init__(self, index: SeatIndex, letters: bytes) -> None:
        self.index = index
        self.codes = bytearray(letters) + b"|"

    def refresh(self, letters: str) -> None:
        if len(letters) == self.index.size:
            self.codes[: self.index.size] = letters.encode()

    def mark(self, seat_ids: list[str]) -> None:
        positions = self.index.positions
        for sid in seat_ids:
            if sid in positions:
                self.codes[positions[sid]] = ord("H")

    def pick(self, n: int, rng: random.Random) -> list[str] | None:
        """A random block of ``n`` adjacent available seats, or None."""
        starts = self.index.blocks(self.codes, n)
        if not starts:
            return None
        j = rng.choice(starts)
        return [self.index.seat_ids[i] for i in self.index.order[j : j + n]]

    def available(self) -> int:
        return self.codes.count(b"A")

    def sold_out(self) -> bool:
        return self.codes.count(b"B") == self.index.size


PERSONAS = (("pay", 70), ("abandon", 10), ("release", 10), ("declined-then-pay", 10))
SEAT_COUNTS = ((1, 15), (2, 45), (3, 15), (4, 25))


def weighted(rng: random.Random, table: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


class Simulation:
    def __init__(self, params: Params, ports: Ports, sale: Sale, rec: Recorder) -> None:
        self.p = params
        self.ports = ports
        self.sale = sale
        self.rec = rec
        self.rng = random.Random(params.seed)
        self.sold_out = asyncio.Event()
        self.joined = 0
        self.last_join_at = 0.0
        self.all_joined = asyncio.Event()
        self.phase: Counter[str] = Counter()  # fans per phase right now
        self.fan_tasks: list[asyncio.Task] = []
        self.seat_index: SeatIndex | None = None
        self.cpu_timeline: list[tuple[float, dict[str, float]]] = []
        self.stack: Stack | None = None
        self.loadgen_pids: dict[str, int] = {}
        self.loop_lag: list[float] = []
        self.stalls: list[tuple[float, float]] = []  # (when, how long) the event loop did not run
        self.timeline: list[dict[str, Any]] = []
        self.opens_mono: float | None = None  # recorder time of the opening
        self.sold_out_at: float | None = None
        self.retimed = 0
        self.late_retime = False
        self.stuck: str | None = None
        self.fan_errors: list[BaseException] = []
        self.joins_start = 0.0
        servers = {"web": ports.web, "gate": ports.gate, "browse": ports.browse}
        if ports.edge:
            servers["edge"] = ports.edge
        self.waits = WaitSampler(rec.now, servers)  # where requests wait (bench/flash_sale/waits.py)

    # ------------------------------------------------------------ fans

    def _set_phase(self, old: str | None, new: str | None) -> None:
        if old:
            self.phase[old] -= 1
        if new:
            self.phase[new] += 1

    async def fan(self, index: int, token: str, arrive_at: float) -> None:
        rng = random.Random(self.rng.random())
        auth = {"Authorization": f"Bearer {token}"}
        await asyncio.sleep(max(0.0, arrive_at - self.rec.now()))
        phase = "joining"
        self._set_phase(None, phase)
        try:
            ticket = await self._join(auth)
            self.joined += 1
            self.last_join_at = self.rec.now()
            if self.joined == self.p.fans:
                self.all_joined.set()
            self._set_phase(phase, phase := "waiting")
            admitted = await self._wait_turn(ticket, rng)
            if admitted is None:
                return
            self._set_phase(phase, phase := "shopping")
            await self._shop(auth, admitted, rng)
        finally:
            self._set_phase(phase, None)

    async def _join(self, auth: dict[str, str]) -> str:
        from_gate = self.ports.front_gate
        while True:
            try:
                status, body, headers = await self.client.call(
                    self.client.gate,
                    "POST",
                    f"{from_gate}/gate/v1/queues/{self.sale.event_id}/join",
                    "join",
                    headers=auth,
                )
            except Transport:
                await asyncio.sleep(1.0)
                continue
            if status in (200, 201):
                return orjson.loads(body)["ticket"]
            if status in (429, 503):
                await asyncio.sleep(retry_after(headers))
                continue
            raise RuntimeError(f"join answered {status}: {body[:200]!r}")

    async def _wait_turn(self, ticket: str, rng: random.Random) -> tuple[str, float] | None:
        from queue_gate.pages import poll_delay

        url = f"{self.ports.front_gate}/gate/v1/queues/{self.sale.event_id}/status?ticket={ticket}"
        while not self.sold_out.is_set():
            degraded = False
            try:
                status, body, headers = await self.client.call(self.client.gate, "GET", url, "status")
            except Transport:
                status, body, _headers = 0, b"", {}
            if status == 200:
                info = orjson.loads(body)
                if info["state"] == "ADMITTED":
                    self.rec.mark("admitted")
                    return info["admissionToken"], float(info["admissionExpiresAt"])
                if info["state"] == "EXPIRED":
                    self.rec.mark("admission expired before use")
                    return None
                delay = poll_delay(
                    "WAITING", info.get("estimatedWaitSeconds"), False, drawn=info.get("position") is not None
                )
            else:
                degraded = True
                delay = poll_delay("WAITING", None, degraded)
            if self.p.min_poll:
                delay = max(delay, self.p.min_poll * rng.uniform(0.8, 1.3))
            await asyncio.sleep(delay)
        self.rec.mark("left the queue: sold out")
        return None

    async def _seatmap(self, rng: random.Random) -> Layout | None:
        url = f"{self.ports.front_web}/api/v1/shows/{self.sale.show_id}/seatmap"
        for _ in range(10):
            try:
                status, body, headers = await self.client.call(self.client.web, "GET", url, "seatmap")
            except Transport:
                await asyncio.sleep(1.0)
                continue
            if status == 200:
                seats = orjson.loads(body)["seats"]
                if self.seat_index is None or self.seat_index.size != len(seats):
                    self.seat_index = SeatIndex(seats)
                return Layout(self.seat_index, bytes(ord(s["status"][0]) for s in seats))
            await asyncio.sleep(retry_after(headers))
        return None

    async def _refresh(self, layout: Layout) -> None:
        url = f"{self.ports.front_web}/api/v1/shows/{self.sale.show_id}/seatmap?format=compact"
        try:
            status, body, _ = await self.client.call(self.client.web, "GET", url, "seatmap-refresh")
        except Transport:
            return
        if status == 200:
            layout.refresh(orjson.loads(body)["status"])  # seatIds come in the layout order the index has

    async def _shop(self, auth: dict[str, str], admitted: tuple[str, float], rng: random.Random) -> None:
        token, session_ends = admitted
        layout = await self._seatmap(rng)
        if layout is None:
            self.rec.mark("gave up: no seat map")
            return
        want = weighted(rng, SEAT_COUNTS)
        persona = weighted(rng, PERSONAS)
        hold = None
        failures = 0
        await asyncio.sleep(rng.uniform(0.5, 2.0))  # looking at the map
        hold_url = f"{self.ports.front_web}/api/v1/shows/{self.sale.show_id}/holds"
        headers = {**auth, "X-Admission-Token": token}
        while hold is None:
            if self.sold_out.is_set() or layout.sold_out():
                self.rec.mark("saw it sold out")
                return
            if time.time() >= session_ends - 1:
                self.rec.mark("session ended without a hold")
                return
            seats = layout.pick(want, rng)
            if seats is None and want > 1 and layout.available() > 0:
                want = min(want - 1, max(1, layout.available()))
                continue
            if seats is None:
                # Everything left is held by someone else; held seats come back when holds end.
                await asyncio.sleep(rng.uniform(1.5, 3.0))
                await self._refresh(layout)
                continue
            try:
                status, body, h = await self.client.call(
                    self.client.web, "POST", hold_url, "hold", headers=headers, json={"seatIds": seats}
                )
            except Transport:
                await asyncio.sleep(1.0)
                continue
            self.rec.counts["hold attempts"] += 1
            if status == 201:
                hold = orjson.loads(body)
                self.rec.mark("holds")
                self.rec.counts["seats held"] += len(seats)
                break
            if status == 409:
                failures += 1
                layout.mark(orjson.loads(body)["error"].get("seatIds") or seats)
                if failures % 2 == 0:
                    await self._refresh(layout)
                if failures >= 3 and want > 1:
                    want -= 1  # settles for fewer seats together
                await asyncio.sleep(rng.uniform(0.2, 0.8))
                continue
            if status == 403:
                self.rec.mark("admission refused at hold")
                return
            if status in (429, 503) or (status == 422 and orjson.loads(body)["error"]["code"] == "SALE_CLOSED"):
                await asyncio.sleep(retry_after(h, 1.0))  # 422 only on the opening's edge
                continue
            raise RuntimeError(f"hold answered {status}: {body[:300]!r}")
        await self._after_hold(auth, hold, persona, rng)

    async def _after_hold(self, auth: dict[str, str], hold: dict[str, Any], persona: str, rng: random.Random) -> None:
        hold_id = hold["holdId"]
        web = self.ports.front_web
        if persona == "abandon":
            self.rec.mark("abandoned")  # closes the tab; the hold lapses
            return
        if persona == "release":
            await asyncio.sleep(rng.uniform(1.0, 4.0))
            status, body, _ = await self._retrying("DELETE", f"{web}/api/v1/holds/{hold_id}", "release", auth)
            if status != 200:
                raise RuntimeError(f"release answered {status}: {body[:300]!r}")
            self.rec.mark("released")
            return
        await asyncio.sleep(rng.uniform(2.0, 5.0))  # card details
        status, body, _ = await self._retrying(
            "POST", f"{web}/api/v1/holds/{hold_id}/payment-intents", "payment-intent", auth
        )
        if status != 201:
            self.rec.mark(f"payment-intent {status}")
            return
        intent = orjson.loads(body)["paymentIntentId"]
        if persona == "declined-then-pay":
            status = await self._pay_at_gateway(intent, "pm_card_chargeDeclined")
            if status == 400:
                return
            if status != 402:
                raise RuntimeError(f"a declined card answered {status} at the gateway")
            self.rec.mark("declined")
            await asyncio.sleep(rng.uniform(1.0, 3.0))  # another card
        status = await self._pay_at_gateway(intent, "pm_card_visa")
        if status == 400:
            return
        if status != 200:
            raise RuntimeError(f"paying at the gateway answered {status}")
        for _attempt in range(60):
            status, body, h = await self._retrying(
                "POST", f"{web}/api/v1/holds/{hold_id}/confirm", "confirm", auth, json={"paymentIntentId": intent}
            )
            if status in (200, 201):
                self.rec.mark("booked")
                self.rec.counts["seats booked (fans)"] += len(hold["seatIds"])
                return
            if status == 402:
                await asyncio.sleep(0.5)
                continue
            if status == 409:
                self.rec.mark("hold expired before payment (refunded)")
                return
            raise RuntimeError(f"confirm answered {status}: {body[:300]!r}")
        self.rec.mark("confirm never completed")

    async def _pay_at_gateway(self, intent: str, card: str) -> int:
        url = f"{self.ports.gateway_url}/v1/payment_intents/{intent}/confirm"
        status, body, _ = await self._retrying(
            "POST", url, "gateway-confirm", GATEWAY_AUTH, session=self.client.gateway, data={"payment_method": card}
        )
        if status == 400:
            # The hold's time ran out before the fan paid: Seatline cancelled the intent at the gateway
            # (a lapsed hold's payment is settled there first), so the card is refused. Anything else is a bug.
            if orjson.loads(body)["error"].get("code") != "payment_intent_unexpected_state":
                raise RuntimeError(f"paying at the gateway answered 400: {body[:300]!r}")
            self.rec.mark("hold lapsed before the card was confirmed (intent cancelled)")
        return status

    async def _retrying(
        self, method: str, url: str, endpoint: str, headers: dict[str, str] | None, session=None, **kw
    ) -> tuple[int, bytes, Any]:
        """Like a browser: a transport error or a 503 with Retry-After is tried again (every one is counted)."""
        session = session or self.client.web
        sent = headers
        for _attempt in range(10):
            try:
                status, body, headers = await self.client.call(session, method, url, endpoint, headers=sent, **kw)
            except Transport:
                await asyncio.sleep(1.0)
                continue
            if status in (429, 503):
                await asyncio.sleep(retry_after(headers))
                continue
            return status, body, headers
        raise RuntimeError(f"{endpoint}: no answer after 10 tries")

    # ------------------------------------------------------------ browsing

    # ------------------------------------------------------------ watching

    async def lag_monitor(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.1)
            lag = time.perf_counter() - t - 0.1
            self.loop_lag.append(lag)
            if lag > 0.2:
                self.stalls.append((self.rec.now() - lag, lag))

    def sampler(self, stop: threading.Event) -> None:
        """Once a second: the show's seats from Postgres, the waiting room from Redis, CPU from /proc."""
        r = redis_client(self.p.room_url)
        meta = f"gate:{{{self.sale.event_id}}}:"  # the room's keys, hash-tagged by event (app/waiting_room/room.py)
        with psycopg.connect(f"{PG} dbname={DB}", autocommit=True) as c:
            while not stop.is_set():
                t = self.rec.now()
                self.cpu_timeline.append((t, cpu_snapshot(self.stack, self.loadgen_pids)))
                booked, held, paying, total = c.execute(
                    """
                    SELECT count(*) FILTER (WHERE status = 'BOOKED'),
                           count(*) FILTER (WHERE status = 'HELD' AND hold_expires_at > now()),
                           count(*) FILTER (WHERE status = 'HELD' AND hold_expires_at = 'infinity'),
                           count(*)
                    FROM show_seats WHERE show_id = %s
                    """,
                    (self.sale.show_id,),
                ).fetchone()
                try:
                    admitted, serving = r.hmget(meta + "meta", "admitted_total", "serving")
                    active = r.zcount(meta + "active", time.time(), "+inf")
                except redis.RedisError:  # the room's master failing over (--cluster): the last figures stand
                    last = self.timeline[-1] if self.timeline else {}
                    admitted, serving, active = last.get("admitted"), last.get("serving"), last.get("active", 0)
                self.timeline.append(
                    {
                        "t": t,
                        "booked": booked,
                        "held": held,
                        "paying": paying,
                        "total": total,
                        "admitted": int(admitted or 0),
                        "serving": int(serving or 0),
                        "active": active,
                        "joined": self.joined,
                        "holds": self.rec.counts["holds"],
                        "waiting": self.phase["waiting"],
                        "shopping": self.phase["shopping"],
                    }
                )
                if booked == total and total and self.sold_out_at is None:
                    self.sold_out_at = t
                    self._loop.call_soon_threadsafe(self.sold_out.set)
                stop.wait(max(0.0, 1.0 - (self.rec.now() - t)))

    # ------------------------------------------------------------ the run

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.client = Client(self.rec, self.ports)
        stop_sampler = threading.Event()
        sampler = threading.Thread(target=self.sampler, args=(stop_sampler,), daemon=True)
        lag = asyncio.create_task(self.lag_monitor())
        try:
            sampler.start()
            self.waits.start()
            print(f"    browsing baseline for 10 s ({self.p.browsers} clients, one visit a second each)")
            await asyncio.sleep(10.0)
            self.joins_start = self.rec.now()
            arrivals = sorted(self.rng.uniform(0, self.p.join_window) for _ in range(self.p.fans))
            tokens = list(self.sale.fan_tokens)
            self.rng.shuffle(tokens)
            opens_at = datetime.now(UTC) + timedelta(seconds=self.p.join_window + self.p.opens_after)
            open_waiting_room(self.ports, self.sale, self.p, opens_at, self.rec)
            self._note_opening(opens_at)
            print(
                f"    {self.p.fans} fans arriving over {self.p.join_window:.0f} s; sale opens at "
                f"{opens_at.astimezone(ZoneInfo(CITY_TZ)).strftime('%H:%M:%S')} {CITY_TZ}"
            )
            self.fan_tasks = [
                asyncio.create_task(self.fan(i, tok, self.joins_start + at))
                for i, (tok, at) in enumerate(zip(tokens, arrivals))
            ]
            for task in self.fan_tasks:
                task.add_done_callback(self._fan_done)
            await self._make_sure_everyone_joins_first()
            print(
                f"    all {self.joined} fans joined {self.last_join_at - self.joins_start:.1f} s after the first; "
                f"sale opens {self.opens_mono - self.last_join_at:.1f} s after the last"
            )
            await self._until_sold_out()
            # Fans in the middle of buying finish; those still in the queue then leave.
            await self._finish_fans()
            await asyncio.sleep(10.0)  # browsing goes on a little after the sale
        finally:
            for t in self.fan_tasks:
                t.cancel()
            await asyncio.gather(*self.fan_tasks, return_exceptions=True)
            lag.cancel()
            stop_sampler.set()
            sampler.join(5)
            self.waits.stop()
            await self.client.close()

    def _fan_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.fan_errors.append(task.exception())

    def _note_opening(self, opens_at: datetime) -> None:
        self.opens_mono = self.rec.now() + (opens_at - datetime.now(UTC)).total_seconds()

    async def _make_sure_everyone_joins_first(self) -> None:
        """Every fan joins before the opening: while joins are still coming in 15 s before it, the manager
        moves the opening back, to --opens-after seconds after the joins will have ended at their pace."""
        while True:
            deadline = self.opens_mono - 15.0
            while not self.all_joined.is_set() and self.rec.now() < deadline:
                if self.fan_errors:
                    raise RuntimeError(f"a fan failed while joining: {self.fan_errors[0]!r}")
                try:
                    await asyncio.wait_for(
                        self.all_joined.wait(), timeout=min(1.0, max(0.05, deadline - self.rec.now()))
                    )
                except TimeoutError:
                    pass
            if self.all_joined.is_set():
                break
            elapsed = self.rec.now() - self.joins_start
            rest = (self.p.fans - self.joined) / max(self.joined / max(elapsed, 1e-3), 1.0)
            later = datetime.now(UTC) + timedelta(seconds=min(rest, 120.0) + self.p.opens_after + 5.0)
            old = self.opens_mono
            await asyncio.to_thread(open_waiting_room, self.ports, self.sale, self.p, later, self.rec)
            if self.rec.now() > old:
                self.late_retime = True  # the old opening passed while the manager's call was on its way
            self._note_opening(later)
            self.retimed += 1
            print(
                f"    {self.joined} of {self.p.fans} joined 15 s before the opening: opening moved back to "
                f"{later.astimezone(ZoneInfo(CITY_TZ)).strftime('%H:%M:%S')}"
            )
        await asyncio.sleep(max(0.0, self.opens_mono - self.rec.now()))

    async def _until_sold_out(self) -> None:
        print("    sale open")
        deadline = self.opens_mono + self.p.max_sale_seconds
        last_report = self.rec.now()
        while not self.sold_out.is_set():
            if self.fan_errors:
                raise RuntimeError(f"a fan failed: {self.fan_errors[0]!r}")
            if self.rec.now() > deadline:
                self.stuck = f"not sold out {self.p.max_sale_seconds:.0f} s after the opening"
                return
            if all(t.done() for t in self.fan_tasks):
                self.stuck = "every fan has finished and the show is not sold out"
                return
            if self.rec.now() - last_report >= 15 and self.timeline:
                s = self.timeline[-1]
                print(
                    f"    t={s['t'] - self.opens_mono:5.0f} s  booked {s['booked']:5d}  held {s['held']:4d} "
                    f"(paying {s['paying']:3d})  admitted {s['admitted']:5d}  waiting {s['waiting']:5d}  "
                    f"shopping {s['shopping']:4d}"
                )
                last_report = self.rec.now()
            try:
                await asyncio.wait_for(self.sold_out.wait(), timeout=1.0)
            except TimeoutError:
                pass
        self.stuck = None
        print(f"    sold out {self.sold_out_at - self.opens_mono:.1f} s after the opening")

    async def _finish_fans(self) -> None:
        """Fans who are mid-purchase get up to 60 s to finish; fans still in the queue just leave."""
        deadline = self.rec.now() + 60
        while self.rec.now() < deadline:
            if not any(not t.done() for t in self.fan_tasks) or self.phase["shopping"] <= 0:
                break
            await asyncio.sleep(0.5)
