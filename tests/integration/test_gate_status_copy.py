"""A waiting fan's status polls from the gate process's own copy (app/waiting_room/room.py
``_StatusCopy``, ARCHITECTURE.md "The waiting room's status polls"): a poll that read Redis leaves
the ticket's place and the queue's figures in the copy; the next polls within
``STATUS_COPY_SECONDS`` take no Redis round trip; anything that may be an admission, a change this
process made, or a copy past its age reads Redis again."""

from __future__ import annotations

import time

from app.extensions import redis_roles
from app.waiting_room import room as room_module
from app.waiting_room.room import WaitingRoom, key_prefix
from tests.integration.test_gate import admit, event_with_show, join, open_queue, status
from tests.support.redis_trips import traced


def _waiting_queue(gate, make, fans=4, **settings):
    _, event_id = event_with_show(make)
    manager = make.fan(role="manager")
    open_queue(
        gate, manager, event_id, **{"batchSize": 1, "admissionIntervalSeconds": 3600, "maxActive": 1, **settings}
    )
    tickets = [join(gate, make.fan(), event_id)["ticket"] for _ in range(fans)]
    # The queue's first batch is due at its opening: the first poll admits it (the first ticket, or
    # the batch size's first tickets), so the polls below find the rest waiting.
    gate.get(f"/gate/v1/queues/{event_id}/status", query_string={"ticket": tickets[0]})
    return event_id, manager, tickets


def test_a_second_poll_is_answered_from_the_copy_with_the_same_answer(gate_app, gate, make):
    event_id, _, tickets = _waiting_queue(gate, make)
    with traced() as first:
        read = status(gate, event_id, tickets[2])
    assert first.round_trips == 1 and read["state"] == "WAITING" and read["position"] == 3
    with traced() as second:
        again = status(gate, event_id, tickets[2])
    assert second.round_trips == 0, second.summary()
    assert again == read


def test_an_unknown_ticket_and_a_ticket_not_yet_seen_read_redis(gate_app, gate, make):
    event_id, _, tickets = _waiting_queue(gate, make)
    status(gate, event_id, tickets[1])  # the queue's figures are in the copy now
    with traced() as other:
        assert status(gate, event_id, tickets[3])["position"] == 4
    assert other.round_trips == 1
    with traced() as unknown:
        r = gate.get(f"/gate/v1/queues/{event_id}/status", query_string={"ticket": "tk_nobody"})
    assert r.status_code == 404 and unknown.round_trips >= 1


def test_an_admission_made_by_this_process_shows_at_once(gate_app, gate, make):
    event_id, _, tickets = _waiting_queue(gate, make, maxActive=4, batchSize=2)
    assert status(gate, event_id, tickets[2])["state"] == "WAITING"
    assert admit(gate_app, event_id, now=time.time() + 3600) == 2
    with traced() as trace:
        now = status(gate, event_id, tickets[2])
    assert now["state"] == "ADMITTED" and "admissionToken" in now
    assert trace.round_trips >= 1


def test_a_change_made_elsewhere_shows_once_the_copy_is_older_than_its_limit(gate_app, gate, make, rds, monkeypatch):
    monkeypatch.setattr(room_module, "STATUS_COPY_SECONDS", 0.2)
    event_id, _, tickets = _waiting_queue(gate, make)
    assert status(gate, event_id, tickets[3])["aheadOfYou"] == 2
    # Another process admits two more (in Redis; this process has not heard of it).
    rds.hset(key_prefix(event_id) + "meta", "serving", 3)
    assert status(gate, event_id, tickets[3])["aheadOfYou"] == 2  # the copy, still young enough
    time.sleep(0.3)
    with traced() as trace:
        assert status(gate, event_id, tickets[3])["aheadOfYou"] == 0
    assert trace.round_trips == 1


def test_a_place_the_copy_counts_as_served_or_a_due_batch_reads_redis(gate_app, gate, make):
    event_id, _, tickets = _waiting_queue(gate, make)
    assert status(gate, event_id, tickets[0])["state"] == "ADMITTED"
    with traced() as served:  # admitted: its token and session are in Redis only
        again = status(gate, event_id, tickets[0])
    assert again["state"] == "ADMITTED" and "admissionToken" in again
    assert served.round_trips >= 1
    assert status(gate, event_id, tickets[1])["state"] == "WAITING"
    with gate_app.app_context():
        room = WaitingRoom(redis_roles(gate_app).room, event_id, 120)
        with traced() as due:  # once the next batch is due, the answer says so from Redis's figures
            body = room.status(tickets[1], now=time.time() + 7200)
    assert due.round_trips == 1 and body["admissionDue"] and body["state"] == "WAITING"


def test_turned_off_every_poll_reads_redis(gate_app, gate, make, monkeypatch):
    monkeypatch.setattr(room_module, "STATUS_COPY_SECONDS", 0)
    event_id, _, tickets = _waiting_queue(gate, make)
    status(gate, event_id, tickets[2])
    with traced() as trace:
        status(gate, event_id, tickets[2])
    assert trace.round_trips == 1


def test_the_copy_keeps_at_most_its_number_of_tickets():
    copy = room_module._StatusCopy(max_tickets=3)
    figures = ("OPEN", 0, 1, 1.0, 0.0, 0.0, [])
    for n in range(5):
        copy.remember((1, "gate:9:"), f"tk_{n}", n, n + 1, figures)
    assert copy.waiting((1, "gate:9:"), "tk_0", 10) is None and copy.waiting((1, "gate:9:"), "tk_1", 10) is None
    assert copy.waiting((1, "gate:9:"), "tk_4", 10) == (4, 5, figures)
    copy.forget((1, "gate:9:"))
    assert copy.waiting((1, "gate:9:"), "tk_4", 10) is None
