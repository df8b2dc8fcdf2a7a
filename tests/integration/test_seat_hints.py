import time

from app.inventory.hints import SeatHints, key as hint_key


def test_hints_expire_with_the_hold(rds):
    hints = SeatHints(rds)
    now = time.time()
    hints.mark_taken(1, ["A1", "A2"], until=now + 60)
    assert hints.likely_taken(1, ["A1", "A3"], now=now) == ["A1"]
    assert hints.likely_taken(1, ["A1"], now=now + 61) == []
    assert hints.likely_taken(2, ["A1"], now=now) == []  # per show


def test_a_seen_taken_hint_never_shortens_a_known_hold(rds):
    hints = SeatHints(rds)
    now = time.time()
    hints.mark_taken(1, ["A1"], until=now + 300)
    hints.mark_seen_taken(1, ["A1", "B1"], now=now)
    assert rds.zscore(hint_key(1), "A1") == now + 300
    assert rds.zscore(hint_key(1), "B1") <= now + 6


def test_clearing_and_redis_outage(rds):
    hints = SeatHints(rds)
    hints.mark_taken(1, ["A1"], until=time.time() + 60)
    hints.clear(1, ["A1"])
    assert hints.likely_taken(1, ["A1"]) == []
    import redis

    gone = SeatHints(redis.Redis(port=1, socket_connect_timeout=0.1, retry=None))
    assert gone.likely_taken(1, ["A1"]) == []  # no hint: Postgres decides
    gone.mark_taken(1, ["A1"], until=time.time() + 60)  # does not raise


def test_booked_hints_heal_by_themselves(rds):
    from app.inventory.hints import BOOKED_HINT_SECONDS

    hints = SeatHints(rds)
    now = time.time()
    hints.mark_booked(1, ["A1"])
    assert hints.likely_taken(1, ["A1"], now=now) == ["A1"]
    assert hints.likely_taken(1, ["A1"], now=now + BOOKED_HINT_SECONDS + 1) == []
