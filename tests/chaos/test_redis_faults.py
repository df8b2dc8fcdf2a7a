"""Redis lost mid-sale: killed with SIGKILL and restarted empty, or flushed. Redis holds only hints,
caches and queues; Postgres decides, so nothing may be oversold, no payment lost, and the work the
lost jobs carried is found again."""

from __future__ import annotations

import time

import pytest

from tests.chaos.infra import wait_for
from tests.chaos.scenario import now
from tests.chaos.victims import Victim, add_fault, clear_fault, fault_used

pytestmark = pytest.mark.chaos

FANS = 40
ROWS, PER_ROW = 10, 15  # 150 seats


def _holds_during(sale, start: float, end: float) -> int:
    return sum(
        1 for s, _, endpoint, status in sale.tally.calls if endpoint == "hold" and status == "201" and start <= s <= end
    )


def test_redis_killed_and_restarted_mid_sale(scenario):
    sc = scenario
    sc.start(hold_ttl=8, sweeper_interval=2)
    show = sc.make.show(rows=ROWS, per_row=PER_ROW)
    sale = sc.sale(show, [sc.make.fan() for _ in range(FANS)], seconds=14)

    # Redis goes while a worker is in the middle of a job, not only while workers wait for one: the
    # gateway takes 1.5 s to answer about one fan's payment, and the webhook job waits for it.
    paying = Victim(sc, sc.make.show(rows=1, per_row=2), "A1")
    # The sale's own fans may find every seat taken while Redis is away (how many they get then
    # depends on timing); this fan's seat is free, so only Postgres decides whether it is granted.
    during = Victim(sc, sc.make.show(rows=1, per_row=2), "A2")
    paying.hold()
    paying.start_payment()
    slow = add_fault(sc, kind="api_delay", path=f"/v1/payment_intents/{paying.intent}", method="GET", seconds=1.5)
    sale.wait_until(3)
    paying.pay_at_gateway()
    event = wait_for(lambda: sc.sim.events(type="payment_intent.succeeded", object_id=paying.intent), 10)[0]["id"]
    wait_for(
        lambda: sc.worker_running(f"webhook-{event}") and fault_used(sc, slow),
        20,
        0.02,
        "the webhook job waiting on the gateway",
    )
    sc.redis.kill()
    killed = now()
    clear_fault(sc, slow)
    time.sleep(0.3)
    during.hold()  # asserts 201
    held_while_down = during.seat_status()
    time.sleep(max(0.0, killed + 3 - now()))
    sc.redis.start()
    back = now()
    sc.fault(
        f"redis-server SIGKILLed {killed - sale.started_at:.1f} s into the sale, restarted empty "
        f"{back - killed:.1f} s later",
        killed,
        back,
    )

    sc.finish(
        sale,
        since=back,
        title="Redis SIGKILLed and restarted (empty) mid-sale",
        notes=[
            f"holds granted while Redis was down: {_holds_during(sale, killed, back)} to the sale's fans, "
            f"and one on a free seat (seat {held_while_down} in Postgres)",
            lambda: (
                f"workers whose RQ loop ended on the lost connection and started again: "
                f"{sc.log_lines('worker-', 'ended on a Redis error')}; the scheduler carried on after losing "
                f"Redis ({sc.log_lines('scheduler', 'scheduler lost Redis')} outage) and put back "
                f"{sc.log_lines('scheduler', 'missing from the schedule')} periodic jobs"
            ),
        ],
    )
    # Postgres decides: seats were still held while Redis was away.
    assert held_while_down == "HELD"
    assert len(paying.booking()) == 1
    assert sc.log_lines("worker-", "ended on a Redis error") >= 1


def test_redis_flushed_mid_sale(scenario):
    sc = scenario
    sc.start(hold_ttl=8, sweeper_interval=2)
    show = sc.make.show(rows=ROWS, per_row=PER_ROW)
    sale = sc.sale(show, [sc.make.fan() for _ in range(FANS)], seconds=14)

    sale.wait_until(4)
    client = sc.redis.client()
    keys_before = client.dbsize()
    sc.redis.flushall()
    flushed = now()
    sc.fault(
        f"FLUSHALL {flushed - sale.started_at:.1f} s into the sale ({keys_before} keys: queues, delayed "
        "jobs, the scheduler's schedule, seat hints, caches)",
        flushed,
    )

    sc.finish(
        sale,
        since=flushed,
        title="Redis FLUSHALL mid-sale",
        notes=[
            lambda: (
                f"the scheduler put its periodic jobs back on the schedule "
                f"{sc.log_lines('scheduler', 'missing from the schedule')} time(s)"
            )
        ],
    )
    assert keys_before > 0
    assert sc.log_lines("scheduler", "missing from the schedule") > 0
