"""The sweeper, the scheduler's job format, and notifications sent once per event and channel."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from rq_scheduler import Scheduler

import workers.jobs
from app.background import queues
from app.extensions import redis_roles
from app.inventory.hints import key as hint_key
from devstack.mail import text_body
from tests.integration.test_payments import confirm, hold, start_payment
from tests.support.db import fetch, run_jobs, run_sql
from tests.support.polling import wait_for
from workers.cli import JsonJob


def test_sweeper_expires_lapsed_holds_in_sets_and_skips_paying_ones(app, client, make, gateway, rds):
    show = make.show(rows=3, per_row=10)
    fans = [make.fan() for _ in range(6)]
    holds = [hold(client, fan, show.show_id, [f"A{i + 1}", f"B{i + 1}"]) for i, fan in enumerate(fans)]
    start_payment(client, fans[0], holds[0]["holdId"])  # this one is paying
    run_sql(app, "UPDATE holds SET expires_at = now() - interval '1 second', created_at = now() - interval '1 hour'")
    run_sql(
        app, "UPDATE show_seats SET hold_expires_at = now() - interval '1 second' WHERE hold_expires_at <> 'infinity'"
    )
    counts = workers.jobs.sweep()
    assert counts["holds_expired"] == 5
    statuses = dict(fetch(app, "SELECT id::text, status FROM holds"))
    assert statuses[holds[0]["holdId"]] == "ACTIVE" and list(statuses.values()).count("EXPIRED") == 5
    held = fetch(app, "SELECT seat_id FROM show_seats WHERE status = 'HELD' ORDER BY seat_id")
    assert [r.seat_id for r in held] == ["A1", "B1"]  # the paying hold's seats stay protected
    assert rds.zscore(hint_key(show.show_id), "A2") is None  # freed seats' hints are gone
    assert counts["expire_hold"] == 1  # the paying hold is handed to the gateway-aware job
    run_jobs(app)
    assert gateway.intents()[0]["status"] == "canceled"
    assert fetch(app, "SELECT count(*) AS n FROM show_seats WHERE status = 'HELD'")[0].n == 0


def test_sweeper_frees_seats_left_behind_by_a_partly_taken_over_hold(app, client, make):
    show, fan, rival = make.show(), make.fan(), make.fan()
    old = hold(client, fan, show.show_id, ["C1", "C2"])["holdId"]
    run_sql(
        app,
        "UPDATE holds SET expires_at = now() - interval '1 second', created_at = now() - interval '1 hour' WHERE id = :h",
        h=old,
    )
    run_sql(app, "UPDATE show_seats SET hold_expires_at = now() - interval '1 second' WHERE hold_id = :h", h=old)
    redis_roles(app).limits.delete(hint_key(show.show_id))
    hold(client, rival, show.show_id, ["C1"])  # takes one seat over and marks the old hold EXPIRED
    workers.jobs.sweep()
    seats = dict(
        fetch(
            app, "SELECT seat_id, status FROM show_seats WHERE seat_id IN ('C1', 'C2') AND show_id = :s", s=show.show_id
        )
    )
    assert seats == {"C1": "HELD", "C2": "AVAILABLE"}


def test_periodic_jobs_from_rq_scheduler_run_on_json_workers(app, make, client):
    show, fan = make.show(), make.fan()
    held = hold(client, fan, show.show_id, ["D1"])["holdId"]
    run_sql(app, "UPDATE holds SET expires_at = now() - interval '1 second', created_at = now() - interval '1 hour'")
    run_sql(app, "UPDATE show_seats SET hold_expires_at = now() - interval '1 second' WHERE hold_id IS NOT NULL")
    import redis

    connection = redis.Redis.from_url(app.extensions["seatline.settings"].redis_url_for("queues"))
    scheduler = Scheduler(queue_name=queues.HOLDS, connection=connection, job_class=JsonJob)
    scheduler.schedule(scheduled_time=datetime.now(UTC), func="workers.jobs.sweep", interval=30, repeat=None)
    scheduler.enqueue_jobs()
    run_jobs(app)
    assert fetch(app, "SELECT status FROM holds WHERE id = :h", h=held)[0].status == "EXPIRED"


def test_each_event_is_told_once_per_channel_even_if_jobs_repeat(app, client, make, gateway, mail):
    show, fan = make.show(), make.fan()
    run_sql(app, "UPDATE users SET phone = '+15550001111' WHERE id = :u", u=fan.user_id)
    held = hold(client, fan, show.show_id, ["E1"])
    intent = start_payment(client, fan, held["holdId"]).get_json()["paymentIntentId"]
    gateway.succeed(intent)
    confirm(client, fan, held["holdId"], intent)
    workers.jobs.settle_payment_intent(intent)  # a late webhook or reconciliation: no new messages
    notes = fetch(app, "SELECT id, channel FROM notifications ORDER BY channel")
    assert [n.channel for n in notes] == ["email", "sms"]
    for note in notes:
        assert workers.jobs.send_notification(note.id) in (True, False)
        assert workers.jobs.send_notification(note.id) is False  # already sent: nothing happens
    run_jobs(app)
    email = fetch(app, "SELECT email FROM users WHERE id = :u", u=fan.user_id)[0].email
    time.sleep(0.3)
    assert len(wait_for(lambda: mail.to(email))) == 1
    sms = fetch(app, "SELECT to_number, body FROM sms_outbox")
    assert len(sms) == 1 and sms[0].to_number == "+15550001111" and "E1" in sms[0].body
    assert {n.status for n in fetch(app, "SELECT status FROM notifications")} == {"SENT"}


def test_confirm_records_the_message_and_the_job_renders_it(app, client, make, gateway, mail):
    """The confirm request writes the outbox row with what its templates need and renders nothing;
    the job that sends it renders subject and body (the fan's name, the booking's details) and keeps
    them with the row."""
    show, fan = make.show(), make.fan()
    run_sql(app, "UPDATE users SET name = 'Grace', phone = '+15550002222' WHERE id = :u", u=fan.user_id)
    held = hold(client, fan, show.show_id, ["E1", "E2"])
    intent = start_payment(client, fan, held["holdId"]).get_json()["paymentIntentId"]
    gateway.succeed(intent)
    booking_id = confirm(client, fan, held["holdId"], intent).get_json()["bookingId"]
    rows = fetch(app, "SELECT id, channel, subject, body, context, organisation_id FROM notifications ORDER BY channel")
    assert [r.channel for r in rows] == ["email", "sms"]
    assert all(r.subject is None and r.body is None for r in rows)  # nothing rendered in the request
    assert all(r.context["booking"] == booking_id and r.organisation_id is not None for r in rows)
    for row in rows:
        assert workers.jobs.send_notification(row.id) is True
    email = fetch(app, "SELECT email FROM users WHERE id = :u", u=fan.user_id)[0].email
    [message] = wait_for(lambda: mail.to(email))
    text = text_body(message)
    assert "Hello Grace" in text and "E1, E2" in text and booking_id in text
    sent = fetch(app, "SELECT channel, subject, body FROM notifications ORDER BY channel")
    assert sent[0].subject == message["Subject"] and "Hello Grace" in sent[0].body and booking_id in sent[0].body
    assert "E1, E2" in sent[1].body
    assert fetch(app, "SELECT body FROM sms_outbox")[0].body == sent[1].body
