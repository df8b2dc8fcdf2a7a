"""The browsing clients, once a second each, in a process of their own: the home page, the city's
listing, a show, its seat map and the show's page. Each keeps its own cookies, as a browser does;
they never sign in, and an anonymous visitor's pages set no cookie, so they stay anonymous and
are answered from the edge's copies of the pages (app/site/shared_pages.py). The sale's show is
behind the waiting room, so a browsing client, never admitted, gets its waiting-room page (403),
the same for every anonymous visitor and shared at the edge too."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import signal
import time
from http.cookies import SimpleCookie
from typing import Any

import orjson

from bench.flash_sale.params import Params
from bench.flash_sale.processes import Ports
from bench.flash_sale.recording import Client, Recorder, Transport
from bench.flash_sale.sale import Sale


class Browsing:
    """The browsing clients, in a process of their own: the fans' event loop gets busy (and on two
    cores shared with every server, starved), and that must not show up as browsing latency."""

    def __init__(self, params: Params, ports: Ports, sale: Sale, t0: float) -> None:
        ctx = multiprocessing.get_context("fork")  # forked before any thread or event loop exists here
        self._stop = ctx.Event()
        self._results, sender = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(
            target=_browse_process,
            daemon=True,
            args=(params.browsers, ports, sale.city_id, sale.date, sale.show_id, t0, params.seed, self._stop, sender),
        )

    def start(self) -> None:
        self.proc.start()

    def finish(self, rec: Recorder) -> dict[str, Any]:
        """Stops the clients and merges what they measured into ``rec``."""
        self._stop.set()
        if not self._results.poll(60):
            self.proc.kill()
            raise RuntimeError("the browsing process did not report")
        data = self._results.recv()
        self.proc.join(10)
        rec.samples.update(data["samples"])
        rec.statuses.update(data["statuses"])
        rec.transport_errors.update(data["transport_errors"])
        rec.server_errors.extend(data["server_errors"])
        return data

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


def _browse_process(
    n: int, ports: Ports, city_id: int, date: str, show_id: int, t0: float, seed: int | None, stop, sender
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops this process
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    rec = Recorder()
    rec.t0 = t0
    lags: list[float] = []

    async def browser(client: Client, rng: random.Random) -> None:
        web = ports.front_web
        await asyncio.sleep(rng.uniform(0, 1.0))
        next_at = rec.now()
        cookies: SimpleCookie = SimpleCookie()

        async def page(url: str, endpoint: str) -> None:
            header = "; ".join(f"{k}={m.value}" for k, m in cookies.items())
            _, _, headers = await client.call(
                client.browse, "GET", url, endpoint, headers={"Cookie": header} if header else None
            )
            for value in headers.getall("Set-Cookie", ()):
                cookies.load(value)

        while True:
            try:
                await page(f"{web}/?city={city_id}&date={date}", "browse-home")
                status, body, _ = await client.call(
                    client.browse, "GET", f"{web}/api/v1/cities/{city_id}/shows?date={date}", "browse-listing"
                )
                shows = orjson.loads(body)["shows"] if status == 200 else []
                show = rng.choice(shows)["showId"] if shows else str(show_id)
                await client.call(client.browse, "GET", f"{web}/api/v1/shows/{show}", "browse-show")
                await client.call(client.browse, "GET", f"{web}/api/v1/shows/{show}/seatmap", "browse-seatmap")
                await page(f"{web}/shows/{show}", "browse-show-page")
            except Transport:
                pass
            next_at += 1.0  # one visit a second, whatever the last one cost
            await asyncio.sleep(max(0.0, next_at - rec.now()))

    async def main() -> None:
        client = Client(rec, ports)
        rng = random.Random(seed)
        tasks = [asyncio.create_task(browser(client, random.Random(rng.random()))) for _ in range(n)]
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.1)
            lags.append(time.perf_counter() - t - 0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.close()

    asyncio.run(main())
    sender.send(
        {
            "samples": dict(rec.samples),
            "statuses": rec.statuses,
            "transport_errors": rec.transport_errors,
            "server_errors": rec.server_errors,
            "lag": lags,
        }
    )
