"""`flask worker` SIGKILLed in the middle of each kind of job while a sale goes on, a new worker
started, and the outcome still right: the work a dead worker held is recorded in Postgres (an
unprocessed webhook event, an unsettled payment, a lapsed paying hold, a pending notification, a lapsed
hold), so the periodic sweeper finds it and queues it again.

Each job is made to last long enough to be killed in the middle, the way it would in production: the
gateway is slow to answer about one payment (a fault aimed at that intent's URL only), the mail server
is slow to accept one fan's message, a long transaction holds a seat the sweeper must free. (A worker
killed during a refund and during a show's cancellation: tests/e2e.)

Also: the scheduler stopped for a while and resumed; every hold that lapsed meanwhile is released
within the sweeper's interval of it coming back."""

from __future__ import annotations

import time

import pytest

from tests.chaos.infra import wait_for
from tests.chaos.sale import PLANS
from tests.chaos.scenario import STUCK_GRACE_SECONDS, now
from tests.chaos.victims import Victim, add_fault, clear_fault, fault_used

pytestmark = pytest.mark.chaos


def kill_running(sc, job_ids: set[str], timeout: float = 30, also=lambda: True, every: bool = True) -> dict[str, str]:
    """Waits until workers are executing every job in ``job_ids`` (with ``every=False``: any of them) and
    ``also()`` holds, then SIGKILLs those workers and starts as many new ones. Returns job id -> the
    worker that died with it."""

    def running() -> dict[str, str] | None:
        jobs = sc.worker_jobs()
        found = {job: name for name, job in jobs.items() if job in job_ids}
        enough = set(found) == job_ids if every else bool(found)
        return found if enough and also() else None

    found = wait_for(running, timeout, 0.05, f"workers executing {sorted(job_ids)}")
    time.sleep(0.3)  # well inside the slow call
    for name in set(found.values()):
        sc.stack.kill(name)
    for _ in set(found.values()):
        sc.stack.start_worker()
    return found


def test_worker_killed_in_the_middle_of_each_kind_of_job(scenario):
    sc = scenario
    # The sale going on meanwhile: big enough (and a per-fan limit high enough) to last past the kills.
    # Three workers: while two are held up by the slow gateway below, the third keeps up with the
    # sale's own webhooks, so the payments queue (where the settle job waits) is reached in time.
    sc.start(hold_ttl=6, sweeper_interval=2, workers=3, env={"MAX_HELD_SEATS_PER_USER_SHOW": "60"})
    show = sc.make.show(rows=30, per_row=30)
    victims_show = sc.make.show(rows=1, per_row=10)
    sale = sc.sale(show, [sc.make.fan() for _ in range(20)], seconds=180)  # closed after the last kill
    sale.wait_until(2)
    notes = []

    # 1 and 2. A payment whose webhook arrives while the gateway is slow to say anything about it: the
    # webhook job and then reconciliation (the sweeper's settle job for an unsettled payment) both wait
    # on the gateway; both workers are killed there.
    paid = Victim(sc, victims_show, "A1")
    paid.hold()
    paid.start_payment()
    slow = add_fault(sc, kind="api_delay", path=f"/v1/payment_intents/{paid.intent}", method="GET", seconds=4)
    paid.pay_at_gateway()
    event = wait_for(lambda: sc.sim.events(type="payment_intent.succeeded", object_id=paid.intent), 10)[0]["id"]
    killed = kill_running(
        sc, {f"webhook-{event}", f"sweep-settle_payment_intent-{paid.intent}"}, also=lambda: fault_used(sc, slow)
    )
    clear_fault(sc, slow)
    sc.fault(
        "2 workers SIGKILLed at once, one in process_webhook_event and one in settle_payment_intent, "
        "both waiting on the gateway"
    )
    wait_for(
        lambda: (
            paid.booking()
            and sc.query("SELECT processed_at IS NOT NULL FROM webhook_events WHERE event_id = %s", event)[0][0]
        ),
        30,
        0.2,
        "the killed webhook and reconciliation redone",
    )
    assert len(paid.booking()) == 1 and paid.confirm() == 200
    notes.append(f"killed: {killed}")

    # 3. A hold that lapses in the middle of paying: its expiry job asks the gateway to cancel the
    # intent, and the gateway takes its time (it does cancel it, after the worker has died).
    lapsing = Victim(sc, victims_show, "A2")
    lapsing.hold()
    lapsing.start_payment()
    slow = add_fault(
        sc, kind="api_delay", path=f"/v1/payment_intents/{lapsing.intent}/cancel", method="POST", seconds=4
    )
    # The delayed expiry job, or the sweeper's: RQ's scheduler lock died with the worker that held it
    # above, and other workers take it over only once it has expired (a minute); the sweeper covers.
    killed = kill_running(
        sc,
        {f"expire-hold-{lapsing.hold_id}", f"sweep-expire_hold-{lapsing.hold_id}"},
        timeout=sc.hold_ttl + 20,
        also=lambda: fault_used(sc, slow),
        every=False,
    )
    clear_fault(sc, slow)
    sc.fault("worker SIGKILLed in expire_hold, waiting for the gateway to cancel the intent")
    wait_for(
        lambda: lapsing.hold_status() == "EXPIRED" and lapsing.seat_status() == "AVAILABLE",
        30,
        0.2,
        "the lapsed paying hold settled",
    )
    assert sc.sim.intent(lapsing.intent)["status"] == "canceled" and not lapsing.booking()
    notes.append(f"killed: {killed}")

    # 4. The confirmation email, while the mail server is slow to accept it.
    mailed = Victim(sc, victims_show, "A3")
    email = sc.query("SELECT email FROM users WHERE id = %s", mailed.fan.user_id)[0][0]
    sc.smtp.sink.slow_down(email, 5)
    mailed.hold()
    mailed.start_payment()
    mailed.pay_at_gateway()
    assert mailed.confirm() in (200, 201)  # 200: its webhook booked it first
    notification = wait_for(
        lambda: sc.query(
            "SELECT id FROM notifications WHERE user_id = %s AND kind = 'booking_confirmed' AND channel = 'email'",
            mailed.fan.user_id,
        ),
        10,
    )[0][0]
    killed = kill_running(sc, {f"notification-{notification}"}, also=lambda: email in sc.smtp.sink.stalled)
    sc.smtp.sink.speed_up()
    sc.fault("worker SIGKILLed in send_notification, in the middle of the SMTP conversation")
    wait_for(
        lambda: sc.query("SELECT status FROM notifications WHERE id = %s", notification)[0][0] == "SENT",
        30,
        0.2,
        "the email sent by another worker",
    )
    received = wait_for(lambda: sc.smtp.sink.to(email), 10)
    assert {m["Message-ID"] for m in received} == {f"<notification-{notification}@seatline.example>"}
    notes.append(f"killed: {killed}; the email arrived {len(received)} time(s), with one Message-ID")

    # 5. The periodic sweep, held up by a long transaction on a seat of a lapsed hold.
    lapsed = Victim(sc, victims_show, "A4")
    lapsed.hold()
    with sc.pg.connect() as blocker:
        blocker.autocommit = False
        blocker.execute(
            "SELECT 1 FROM show_seats WHERE show_id = %s AND seat_id = 'A4' FOR UPDATE", (victims_show.show_id,)
        )
        time.sleep(sc.hold_ttl + 0.5)

        def sweep_waits_on_the_seat() -> bool:
            return bool(
                sc.query(
                    "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%%WITH expired AS%%'"
                )
            )

        killed = kill_running(sc, {"seatline-periodic-sweep"}, timeout=20, also=sweep_waits_on_the_seat)
        blocker.rollback()
    freed_from = now()
    sc.fault("worker SIGKILLed in the periodic sweep, waiting for a seat lock")
    wait_for(
        lambda: lapsed.hold_status() == "EXPIRED" and lapsed.seat_status() == "AVAILABLE",
        sc.sweeper_interval + STUCK_GRACE_SECONDS,
        0.1,
        "the next sweep releasing the lapsed hold",
    )
    notes.append(f"killed: {killed}; the next sweep released the hold {now() - freed_from:.1f} s later")

    time.sleep(1.0)
    sale.close()
    sc.finish(sale, since=freed_from, title="flask worker SIGKILLed in the middle of each kind of job", notes=notes)
    assert any(started > freed_from for started, *_ in sale.tally.calls), "the sale was over before the last kill"


def test_scheduler_stopped_then_resumed(scenario):
    sc = scenario
    sc.start(hold_ttl=5, sweeper_interval=2)
    show = sc.make.show(rows=10, per_row=15)
    plans = tuple((name, weight * (3 if name == "abandon" else 1)) for name, weight in PLANS)
    sale = sc.sale(show, [sc.make.fan() for _ in range(40)], seconds=16, plans=plans)

    # Holds nobody takes over (a show of their own): only the sweeper can end them once they lapse.
    quiet_show = sc.make.show(rows=1, per_row=10)
    quiet = [Victim(sc, quiet_show, f"A{n}") for n in range(1, 11)]

    sale.wait_until(3)
    sc.stack.pause("scheduler")
    paused = now()
    for victim in quiet:
        victim.hold()
    time.sleep(10)
    lapsed = sc.query("SELECT count(*) FROM holds WHERE status = 'ACTIVE' AND expires_at < now()")[0][0]
    sc.stack.resume("scheduler")
    resumed = now()
    sc.fault(
        f"flask scheduler stopped (SIGSTOP) {paused - sale.started_at:.1f} s into the sale, resumed "
        f"{resumed - paused:.1f} s later"
    )
    assert lapsed >= len(quiet), "the holds that lapsed while the scheduler was stopped were ended anyway"

    # Everything that lapsed while the scheduler was away is released within one interval of it coming back.
    wait_for(
        lambda: not sc.query("SELECT 1 FROM holds WHERE status = 'ACTIVE' AND expires_at < to_timestamp(%s)", resumed),
        sc.sweeper_interval + STUCK_GRACE_SECONDS,
        0.1,
        "holds that lapsed during the pause released",
    )
    released_in = now() - resumed
    assert all(v.hold_status() == "EXPIRED" and v.seat_status() == "AVAILABLE" for v in quiet)

    sc.finish(
        sale,
        since=resumed,
        title="flask scheduler stopped for 10 s, then resumed",
        notes=[f"{lapsed} lapsed holds were still ACTIVE when it resumed; all released {released_in:.1f} s later"],
    )
