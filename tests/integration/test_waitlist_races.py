"""The waiting list under concurrency (ARCHITECTURE.md rule 8), real threads on real Postgres and
the gateway simulator: fans release holds and cancel bookings of a sold-out show while several
offer workers run at once, offers lapse, fans in line claim theirs and fans outside the line keep
trying to hold seats. Afterwards: no seat was offered to two fans at once, no seat was lost (seats,
holds, bookings and the line agree) and no seat went to a fan outside the line while it waited."""

from __future__ import annotations

import random
import threading
import time

import workers.jobs
from app.inventory.invariants import seat_invariant_violations
from app.unit_of_work import unit_of_work
from tests.support.booking import book
from tests.support.db import fetch, run_sql

ROWS, PER_ROW = 4, 5  # 20 seats: A1-A5 gold, the rest silver
# Fans in line, wanting more seats than the show has; a fan whose offer lapses, or who bought, joins
# again, so the line never empties and every seat that comes back is the line's.
LINE = 20
OUTSIDERS = 4
OFFER_WORKERS = 3
RACE_SECONDS = 6


def _lapse(app, hold_id) -> None:
    """An offer's time runs out: its hold's expiry moved to this instant, unless its payment started
    (then its seats are protected, rule 4). The hold's row lock orders this against starting a payment."""
    run_sql(
        app,
        """
        WITH t AS (SELECT clock_timestamp() AS at), h AS (
            UPDATE holds SET expires_at = t.at FROM t
            WHERE id = :h AND status = 'ACTIVE' AND payment_started_at IS NULL AND expires_at > t.at
            RETURNING holds.id, holds.expires_at
        )
        UPDATE show_seats ss SET hold_expires_at = h.expires_at FROM h
        WHERE ss.hold_id = h.id AND ss.status = 'HELD'
        """,
        h=hold_id,
    )


def wish(i: int) -> dict:
    return {"quantity": 1 + i % 2} | ({"tier": "gold"} if i % 7 == 3 else {})


def test_offers_releases_cancellations_lapses_and_claims_race_without_losing_or_leaking_a_seat(app, make, gateway):
    client = app.test_client()
    show = make.show(rows=ROWS, per_row=PER_ROW, prices={"gold": 50000, "silver": 25000})
    sid = show.show_id
    seats = show.seat_ids
    # Sold out: 8 seats booked by 4 fans, 12 held by 6.
    bookers = [make.fan() for _ in range(4)]
    bookings = [(fan, book(client, gateway, fan, sid, seats[2 * i : 2 * i + 2])) for i, fan in enumerate(bookers)]
    holders = []
    for i in range(6):
        fan = make.fan()
        r = client.post(
            f"/api/v1/shows/{sid}/holds", json={"seatIds": seats[8 + 2 * i : 10 + 2 * i]}, headers=fan.headers
        )
        assert r.status_code == 201
        holders.append((fan, r.get_json()["holdId"]))
    line = [make.fan() for _ in range(LINE)]
    for i, fan in enumerate(line):
        r = client.post(f"/api/v1/shows/{sid}/waitlist", json=wish(i), headers=fan.headers)
        assert r.status_code == 201, r.get_json()
    outsiders = [make.fan() for _ in range(OUTSIDERS)]
    line_ids = {fan.user_id for fan in line}
    race_start = fetch(app, "SELECT now() AS started")[0].started

    stop = threading.Event()
    start = threading.Barrier(len(holders) + len(bookings) + OFFER_WORKERS + 1 + LINE + OUTSIDERS)
    outsider_answers: list[int] = []
    claims: list[tuple[int, str, int]] = []
    errors: list[BaseException] = []

    def guarded(work):
        def run(*args):
            try:
                start.wait()
                work(*args)
            except BaseException as exc:  # noqa: BLE001  (reported by the test below)
                errors.append(exc)

        return run

    def release(fan, hold_id):
        time.sleep(random.random())
        r = app.test_client().delete(f"/api/v1/holds/{hold_id}", headers=fan.headers)
        assert r.status_code == 200, r.get_json()

    def cancel(fan, booking_id):
        time.sleep(random.random() * 2)
        r = app.test_client().post(f"/api/v1/bookings/{booking_id}/cancel", headers=fan.headers)
        assert r.status_code == 200, r.get_json()

    def offer_worker():
        while not stop.is_set():
            workers.jobs.offer_waitlist_seats(sid)
            time.sleep(random.random() * 0.2)

    def expirer():
        while not stop.is_set():
            offered = fetch(
                app, "SELECT hold_id FROM waitlist_entries WHERE show_id = :s AND status = 'OFFERED'", s=sid
            )
            if offered:
                _lapse(app, random.choice(offered).hold_id)
            time.sleep(0.3)

    def fan_in_line(i, fan):
        c = app.test_client()
        while not stop.is_set():
            entries = c.get("/api/v1/waitlist", headers=fan.headers).get_json()["entries"]
            if entries[0]["status"] in ("MISSED", "CLAIMED"):
                # Back in line at once (for more seats, or after missing out): the line never empties.
                r = c.post(f"/api/v1/shows/{sid}/waitlist", json=wish(i), headers=fan.headers)
                assert r.status_code == 201, r.get_json()
                continue
            offer = entries[0]["offer"]
            if offer is not None and random.random() < 0.5:
                hold_id = offer["holdId"]
                r = c.post(f"/api/v1/holds/{hold_id}/payment-intents", headers=fan.headers)
                if r.status_code == 201:
                    intent = r.get_json()["paymentIntentId"]
                    gateway.succeed(intent)
                    r = c.post(
                        f"/api/v1/holds/{hold_id}/confirm", json={"paymentIntentId": intent}, headers=fan.headers
                    )
                claims.append((fan.user_id, hold_id, r.status_code))
            time.sleep(0.1 + random.random() * 0.2)

    def outsider(fan):
        c = app.test_client()
        while not stop.is_set():
            wanted = random.sample(seats, 1 + random.randrange(2))
            r = c.post(f"/api/v1/shows/{sid}/holds", json={"seatIds": wanted}, headers=fan.headers)
            outsider_answers.append(r.status_code)
            time.sleep(0.02)

    threads = (
        [threading.Thread(target=guarded(release), args=h) for h in holders]
        + [threading.Thread(target=guarded(cancel), args=b) for b in bookings]
        + [threading.Thread(target=guarded(offer_worker)) for _ in range(OFFER_WORKERS)]
        + [threading.Thread(target=guarded(expirer))]
        + [threading.Thread(target=guarded(fan_in_line), args=(i, fan)) for i, fan in enumerate(line)]
        + [threading.Thread(target=guarded(outsider), args=(fan,)) for fan in outsiders]
    )
    for t in threads:
        t.start()
    time.sleep(RACE_SECONDS)
    stop.set()
    for t in threads:
        t.join(60)
        assert not t.is_alive()
    assert not errors, errors
    workers.jobs.offer_waitlist_seats(sid)  # what the last returns left: the sweep's pass

    # No seat went to a fan outside the line while it waited: the line always wanted more than the
    # show has, so every outsider's hold was refused, and no hold or booking since the start is theirs.
    assert outsider_answers and set(outsider_answers) <= {409, 429}  # refused, or turned away by the rate limit
    strangers = fetch(
        app,
        "SELECT user_id FROM holds WHERE show_id = :s AND created_at >= :t AND NOT (user_id = ANY(:line))",
        s=sid,
        t=race_start,
        line=list(line_ids),
    )
    assert strangers == []
    # Seats, holds and bookings agree; no seat in two live holds or bookings.
    with app.app_context(), unit_of_work() as uow:
        assert seat_invariant_violations(uow) == {}
    # No seat was offered to two fans at once: on each seat, an offer begins only after the one
    # before it ended or lapsed.
    offers = fetch(
        app,
        """
        SELECT h.id, s.seat_id, h.created_at, h.expires_at, h.ended_at, h.status, h.user_id
        FROM waitlist_entries w JOIN holds h ON h.id = w.hold_id CROSS JOIN LATERAL unnest(h.seat_ids) AS s(seat_id)
        WHERE w.show_id = :s ORDER BY s.seat_id, h.created_at
        """,
        s=sid,
    )
    assert offers, "no offer was made"
    assert fetch(app, "SELECT id FROM waitlist_entries WHERE show_id = :s AND status = 'MISSED'", s=sid), "none lapsed"
    for before, after in zip(offers, offers[1:]):
        if before.seat_id == after.seat_id:
            assert before.status in ("EXPIRED", "RELEASED", "ACTIVE"), (before, after)
            assert before.expires_at <= after.created_at or (
                before.ended_at is not None and before.ended_at <= after.created_at
            ), (before, after)
    # Every offer hold belongs to its entry's fan, who is in the line; at most one active entry each.
    assert {o.user_id for o in offers} <= line_ids
    assert (
        fetch(
            app,
            """
        SELECT user_id FROM waitlist_entries WHERE show_id = :s AND status IN ('WAITING', 'OFFERED')
        GROUP BY user_id HAVING count(*) > 1
        """,
            s=sid,
        )
        == []
    )
    # A claim that got its booking ends CLAIMED; an open offer's hold is live and its fan's.
    booked = {c[1] for c in claims if c[2] == 201}
    for hold_id in booked:
        [entry] = fetch(app, "SELECT status FROM waitlist_entries WHERE hold_id = :h", h=hold_id)
        assert entry.status == "CLAIMED"
    open_offers = fetch(
        app,
        """
        SELECT w.user_id, h.user_id AS holder, h.status, h.expires_at > now() OR h.payment_started_at IS NOT NULL AS live
        FROM waitlist_entries w JOIN holds h ON h.id = w.hold_id WHERE w.show_id = :s AND w.status = 'OFFERED'
        """,
        s=sid,
    )
    assert all(o.user_id == o.holder and o.status == "ACTIVE" and o.live for o in open_offers), open_offers
    # Nothing was left unoffered: every free seat is kept for a waiting fan who could not yet be
    # served in full, so no seat is on sale to the public while the line waits.
    public = fetch(
        app,
        """
        SELECT count(*) AS n FROM show_seats ss WHERE ss.show_id = :s
          AND (ss.status = 'AVAILABLE' OR (ss.status = 'HELD' AND ss.hold_expires_at <= now()))
        """,
        s=sid,
    )[0].n
    waiting = fetch(app, "SELECT quantity, tier FROM waitlist_entries WHERE show_id = :s AND status = 'WAITING'", s=sid)
    if public and waiting:
        assert all(w.quantity > public or w.tier == "gold" for w in waiting), (public, waiting)
    assert len(booked) >= 1 and len(fetch(app, "SELECT id FROM bookings WHERE created_at >= :t", t=race_start)) == len(
        booked
    )
