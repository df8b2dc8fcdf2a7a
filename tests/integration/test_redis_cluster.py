"""The waiting room, the rate limits, the seat hints and the response cache on a real Redis Cluster
(six nodes on loopback, devstack/redis_cluster.py), RQ's queues on the plain Redis beside it
(ARCHITECTURE.md "Redis by role"); and a master lost mid-sale: no place lost, the gate answers
503 DEGRADED while its replica takes over and never admits anyone meanwhile, and works again after."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from flask import Flask

from app import create_app
from app.extensions import db, redis_roles
from app.inventory.hints import SeatHints, key as hint_key
from app.response_cache import cached_bytes, stored_key
from app.unit_of_work import unit_of_work
from app.waiting_room.room import WaitingRoom, key_prefix
from devstack.redis_cluster import RedisCluster
from queue_gate import create_gate_app
from tests.integration.test_gate import event_with_show, hold_with, join, open_queue, run_sql_queue_required, status
from tests.integration.test_state_metrics import figure, scrape
from tests.support.contract import ContractClient
from tests.support.db import fetch
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow  # starts six redis-server processes


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[RedisCluster]:
    nodes = RedisCluster(tmp_path_factory.mktemp("redis-cluster"), node_timeout_ms=1000)
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture(scope="module")
def apps(app, cluster) -> Iterator[tuple[Flask, Flask]]:
    """The web app and the gate with the waiting room, the checks and the cache on the cluster, a small
    hold limit; the queues stay on the tests' plain Redis (REDIS_URL)."""
    settings = dataclasses.replace(
        app.extensions["seatline.settings"],
        redis_room_url=cluster.url,
        redis_limits_url=cluster.url,
        redis_cache_url=cluster.url,
        rate_limit_holds="2/minute",
        rate_limit_joins="100000/minute",  # a fan retries its join through a failover here
    )
    web, gate = create_app(settings), create_gate_app(settings)
    for application in (web, gate):
        application.test_client_class = ContractClient
    yield web, gate
    for application in (web, gate):
        with application.app_context():
            db.engine.dispose()
        redis_roles(application).close()


@pytest.fixture(autouse=True)
def _empty_cluster(apps) -> None:
    redis_roles(apps[0]).room.flushall()


def admit(gate_app: Flask, event_id: int) -> int:
    with gate_app.app_context(), unit_of_work() as uow:
        return WaitingRoom(redis_roles(gate_app).room, event_id, 120).admit_due(uow)


def test_every_role_but_the_queues_is_a_cluster_client_and_all_are_ready(apps):
    for application in apps:
        roles = redis_roles(application)
        assert isinstance(roles.room, redis.RedisCluster) and roles.room is roles.limits is roles.cache
        assert isinstance(roles.queues, redis.Redis) and not isinstance(roles.queues, redis.RedisCluster)
    ready = apps[0].test_client().get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["redis"] == "ok"


def test_the_waiting_room_joins_answers_and_admits_on_a_cluster(apps, make, rds):
    web, gate_app = apps
    gate = gate_app.test_client()
    show, event_id = event_with_show(make)
    run_sql_queue_required(make.app, show.show_id)
    open_queue(gate, make.fan(role="manager"), event_id, batchSize=2, maxActive=10)
    fans = [make.fan() for _ in range(3)]
    tickets = [join(gate, fan, event_id)["ticket"] for fan in fans]
    assert join(gate, fans[0], event_id)["ticket"] == tickets[0]  # idempotent per fan
    admit(gate_app, event_id)  # the first batch (a status poll may have admitted it already)
    answers = [status(gate, event_id, t) for t in tickets]
    assert [a["position"] for a in answers] == [1, 2, 3]
    assert [a["state"] for a in answers] == ["ADMITTED", "ADMITTED", "WAITING"]
    first = answers[0]
    assert first["admissionToken"] and "admissionToken" not in answers[2]
    # The room lives on the cluster, every key of it in the event's slot; nothing on the plain Redis.
    room = redis_roles(gate_app).room
    assert room.exists(key_prefix(event_id) + "meta") and not rds.keys("gate:*")
    slots = {room.keyslot(k) for k in room.keys(f"gate:{{{event_id}}}:*", target_nodes=redis.RedisCluster.ALL_NODES)}
    assert len(slots) == 1
    # The state figures read the rooms from the cluster and the queues from the plain Redis.
    scraped = scrape(web)
    assert figure(scraped, "seatline_waiting_room_waiting", event=str(event_id)) == 1
    assert figure(scraped, "seatline_waiting_room_active", event=str(event_id)) == 2
    assert figure(scraped, "seatline_rq_queue_depth", queue="holds") is not None
    client = web.test_client()
    assert hold_with(client, fans[2], show.show_id).status_code == 403  # not admitted: no token, no hold
    assert hold_with(client, fans[0], show.show_id, first["admissionToken"]).status_code == 201


def test_the_prequeue_draw_and_a_rebuild_run_as_one_slots_transactions(apps, make):
    _, gate_app = apps
    gate = gate_app.test_client()
    _, event_id = event_with_show(make)
    opens = datetime.now(UTC) + timedelta(hours=1)
    assert open_queue(gate, make.fan(role="manager"), event_id, saleOpensAt=opens.isoformat())["state"] == "PREQUEUE"
    tickets = [join(gate, make.fan(), event_id)["ticket"] for _ in range(6)]
    with gate_app.app_context(), unit_of_work() as uow:
        room = WaitingRoom(redis_roles(gate_app).room, event_id, 120)
        room.admit_due(uow, now=opens.timestamp() + 1)  # the sale opens: the draw (MULTI ... EXEC)
        drawn = {t: status(gate, event_id, t)["position"] for t in tickets}
        assert sorted(drawn.values()) == list(range(1, 7))
        room.resync(uow)  # rebuilt whole from Postgres (one transaction): the same places
    assert {t: status(gate, event_id, t)["position"] for t in tickets} == drawn


def test_the_rate_limits_count_on_a_cluster(apps, make, rds):
    web, _ = apps
    client = web.test_client()
    show = make.show(rows=1, per_row=5)
    fan, other = make.fan(), make.fan()
    answers = [
        client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": [seat]}, headers=fan.headers).status_code
        for seat in ("A1", "A2", "A3")
    ]
    assert answers == [201, 201, 429]  # the fan's two holds a minute, counted on the cluster
    held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A3"]}, headers=other.headers)
    assert held.status_code == 201  # the limit is the fan's: another fan at the same address holds
    limits = redis_roles(web).limits
    assert limits.keys("LIMITER:*", target_nodes=redis.RedisCluster.ALL_NODES) and not rds.keys("LIMITER:*")
    assert not web.extensions["seatline.rate_limits"].in_outage  # counted in Redis, not in memory


def test_seat_hints_on_a_cluster_turn_a_doomed_hold_away_and_follow_commits(apps, make):
    web, _ = apps
    show = make.show(rows=1, per_row=4)
    fan, other = make.fan(), make.fan()
    client = web.test_client()
    held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=fan.headers)
    assert held.status_code == 201
    hints = redis_roles(web).limits
    assert hints.zscore(hint_key(show.show_id), "A1") is not None  # written after the commit
    taken = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=other.headers)
    assert taken.status_code == 409
    SeatHints(hints).mark_taken(show.show_id, ["A2"], time.time() + 60)
    assert SeatHints(hints).likely_taken(show.show_id, ["A1", "A2", "A3"]) == ["A1", "A2"]
    assert (
        fetch(web, "SELECT status FROM show_seats WHERE show_id = :s AND seat_id = 'A2'", s=show.show_id)[0][0]
        == "AVAILABLE"
    )


def test_the_response_cache_keeps_a_copy_and_its_last_good_copy_in_one_slot(apps, make):
    web, _ = apps
    show = make.show(rows=1, per_row=4)
    client = web.test_client()
    first = client.get(f"/api/v1/shows/{show.show_id}/seatmap")
    assert first.status_code == 200
    cache = redis_roles(web).cache
    key = f"seatmap:{show.show_id}:full"
    assert cache.exists(stored_key(key) + ":last")
    assert cache.keyslot(stored_key(key)) == cache.keyslot(stored_key(key) + ":last")
    builds: list[int] = []
    for _ in range(2):
        _, body = cached_bytes(cache, "test:cluster", 5, lambda: builds.append(1) or b"built")
        assert body == b"built"
    assert len(builds) == 1


def test_a_master_lost_mid_sale_loses_no_place_and_never_admits_meanwhile(apps, cluster, make):
    web, gate_app = apps
    gate = gate_app.test_client()
    show, event_id = event_with_show(make)
    run_sql_queue_required(make.app, show.show_id)
    open_queue(gate, make.fan(role="manager"), event_id, batchSize=5, maxActive=100, admissionIntervalSeconds=0.01)
    fans = [make.fan() for _ in range(40)]
    placed: dict[int, str] = {}
    for fan in fans[:10]:
        placed[fan.user_id] = join(gate, fan, event_id)["ticket"]
    room = redis_roles(gate_app).room
    master = cluster.master_of(room.keyslot(key_prefix(event_id) + "meta"))

    answers: list[tuple[int, int]] = []  # (fan, status) of every join while the master is lost
    wrong: list[tuple[int, object]] = []  # any answer to a join but a place or 503 DEGRADED
    stop = threading.Event()

    def keep_joining() -> None:
        for fan in fans[10:]:
            if stop.is_set():
                return
            while not stop.is_set():
                r = gate.post(f"/gate/v1/queues/{event_id}/join", headers=fan.headers)
                answers.append((fan.user_id, r.status_code))
                if r.status_code in (200, 201):
                    placed[fan.user_id] = r.get_json()["ticket"]
                    break
                if r.status_code != 503 or r.get_json()["error"]["code"] != "DEGRADED":
                    wrong.append((r.status_code, r.get_json()))
                    return
                time.sleep(0.05)

    joiner = threading.Thread(target=keep_joining)
    joiner.start()
    time.sleep(0.2)
    slot = room.keyslot(key_prefix(event_id) + "meta")

    def failed_over() -> bool:
        try:
            return cluster.state_ok() and cluster.master_of(slot) != master
        except RuntimeError:  # no live master serves the slot yet
            return False

    cluster.kill(master)
    degraded = []
    try:
        # While the slot has no master, status and admission answer nothing but errors: nobody is let in.
        # A poll the slot answers (before the kill is noticed, or once the replica took over) may admit.
        deadline = time.monotonic() + 60  # a replica that never takes over fails the test, not hangs it
        while not failed_over():
            assert time.monotonic() < deadline, "the replica never took over"
            r = gate.get(f"/gate/v1/queues/{event_id}/status", query_string={"ticket": placed[fans[0].user_id]})
            if r.status_code != 200:
                assert r.status_code == 503 and r.get_json()["error"]["code"] == "DEGRADED"
                degraded.append(r)
            elif r.get_json()["state"] == "ADMITTED":  # the slot answers again: admitted, with a token
                assert r.get_json()["admissionToken"]
            else:
                assert r.get_json()["state"] == "WAITING"
            try:
                admit(gate_app, event_id)
            except redis.RedisError:
                pass  # the tick fails while the slot has no master: nobody is admitted
            time.sleep(0.05)
    finally:
        joiner.join(timeout=60)
        stop.set()
    assert not wrong, wrong
    assert degraded, "the gate answered 503 DEGRADED while the slot's master was lost"
    assert any(code == 503 for _, code in answers) or len(placed) == len(fans)
    wait_for(lambda: len(placed) == len(fans), timeout=30)

    # No place lost: every fan keeps the ticket and place Postgres recorded, the places gap-free.
    rows = fetch(gate_app, "SELECT user_id, ticket, position FROM gate_tickets WHERE event_id = :e", e=event_id)
    assert {r.user_id: r.ticket for r in rows} == placed
    assert sorted(r.position for r in rows) == list(range(1, len(fans) + 1))
    rows = sorted(rows, key=lambda r: r.position)
    for r in rows:
        assert status(gate, event_id, r.ticket)["position"] == r.position
    # It admits again, in order, with tokens, and Redis serves as far as Postgres recorded.
    wait_for(lambda: admit(gate_app, event_id) >= 0 and status(gate, event_id, rows[-1].ticket)["state"] == "ADMITTED")
    serving = fetch(gate_app, "SELECT serving_up_to FROM gate_queues WHERE event_id = :e", e=event_id)[0][0]
    assert int(room.hget(key_prefix(event_id) + "meta", "serving")) == serving == len(fans)
    first = status(gate, event_id, placed[fans[0].user_id])
    assert first["state"] == "ADMITTED" and first["admissionToken"]
    assert hold_with(web.test_client(), fans[0], show.show_id, first["admissionToken"]).status_code == 201
