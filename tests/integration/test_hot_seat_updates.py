"""A hold's seat updates are HOT (heap-only: no new index entry for the seat), and the statements
that find a hold's seats do so by primary key through the hold's seat list (migration
0013_hot_seat_updates, bench/RESULTS.md "HOT seat updates").

The counts come from the backend's own statistics not yet reported (``pg_stat_get_xact_tuples_*``),
which no other connection moves and which need no flush. They can also hold what an earlier
transaction on the same pooled connection did within the last second (PostgreSQL reports them at
most once a second), so each test counts from what they say when its transaction begins. An index on a column the hold changes (``hold_id``,
``status``, ``hold_expires_at``) makes every one of these updates non-HOT, and these tests fail.
"""

from __future__ import annotations

import uuid

import orjson

from app.booking import sweeper
from app.inventory import seat_state
from app.unit_of_work import unit_of_work
from tests.integration.test_hold_plans import nodes
from tests.support.db import fetch, run_sql


def seat_updates(uow, since: tuple[int, int] = (0, 0)) -> tuple[int, int]:
    """(updates, HOT updates) of show_seats not yet reported by this backend, less ``since``."""
    row = uow.execute(
        "SELECT pg_stat_get_xact_tuples_updated(CAST('show_seats' AS regclass)) AS n,"
        " pg_stat_get_xact_tuples_hot_updated(CAST('show_seats' AS regclass)) AS hot"
    ).one()
    return row.n - since[0], row.hot - since[1]


def test_taking_protecting_and_freeing_a_holds_seats_are_hot_updates(app, make):
    show, fan = make.show(), make.fan()
    hold_id = uuid.uuid4()
    with app.app_context(), unit_of_work() as uow:
        start = seat_updates(uow)
        made = seat_state.hold_free_seats(uow, hold_id, fan.user_id, show.show_id, ["B2", "B3"], 300, 8)
        assert made.hold is not None
        assert seat_updates(uow, start) == (2, 2)
        assert seat_state.protect_while_paying(uow, hold_id, show.show_id) == 2
        assert seat_updates(uow, start) == (4, 4)
        seat_state.unprotect(uow, hold_id, show.show_id, made.hold.expires_at)
        assert seat_updates(uow, start) == (6, 6)
        assert sorted(seat_state.free_hold_seats(uow, hold_id, show.show_id)) == ["B2", "B3"]
        assert seat_updates(uow, start) == (8, 8)
        uow.commit()


def lapsed_hold(app, make, seats: list[str], holds_set: str, lapsed_ago: str):
    """A hold of ``seats`` on a new show, then aged: ``holds_set`` (an UPDATE's SET list) on its row,
    and its seats' hold lapsed ``lapsed_ago`` (an interval). Returns (show, hold id)."""
    show, fan = make.show(), make.fan()
    hold_id = uuid.uuid4()
    with app.app_context(), unit_of_work() as uow:
        seat_state.hold_free_seats(uow, hold_id, fan.user_id, show.show_id, seats, 300, 8)
        uow.commit()
    run_sql(app, f"UPDATE holds SET {holds_set} WHERE id = :h", h=hold_id)
    run_sql(
        app, f"UPDATE show_seats SET hold_expires_at = now() - interval '{lapsed_ago}' WHERE hold_id = :h", h=hold_id
    )
    return show, hold_id


def test_the_sweepers_expiry_frees_seats_with_hot_updates(app, make):
    show, hold_id = lapsed_hold(
        app,
        make,
        ["C4", "C5"],
        "created_at = now() - interval '1 hour', expires_at = now() - interval '1 second'",
        "1 second",
    )
    with app.app_context(), unit_of_work() as uow:
        start = seat_updates(uow)
        ended, freed = seat_state.expire_lapsed_holds(uow, 1000)
        assert ended >= 1 and {(show.show_id, "C4"), (show.show_id, "C5")} <= set(freed)
        n, hot = seat_updates(uow, start)
        assert n == hot and n >= 2
        uow.commit()
    assert fetch(app, "SELECT status FROM holds WHERE id = :h", h=hold_id)[0].status == "EXPIRED"


def test_a_holds_seats_are_found_by_primary_key_through_its_seat_list(app, make):
    # On a table this small a sequential scan is the planner's cheapest choice, so it is ruled out
    # here: what is checked is that the primary key serves the lookup, with no index on hold_id to
    # fall back on. On 1.15 million seats the planner picks it by itself, probing the show and the
    # hold's seat list (bench/RESULTS.md "HOT seat updates").
    show = make.show()
    statement = f"SELECT ss.show_id, ss.seat_id FROM {seat_state._SEATS_OF_THE_HOLD}"
    with app.app_context(), unit_of_work() as uow:
        uow.execute("SET LOCAL enable_seqscan = off")
        uow.execute("SET LOCAL enable_bitmapscan = off")
        plan = uow.execute(
            "EXPLAIN (FORMAT JSON) " + statement, {"hold_id": uuid.uuid4(), "show_id": show.show_id}
        ).scalar_one()
        uow.rollback()
    plan = (orjson.loads(plan) if isinstance(plan, str | bytes) else plan)[0]["Plan"]
    [seats] = [n for n in nodes(plan) if n.get("Relation Name") == "show_seats"]
    assert (seats["Node Type"], seats.get("Index Name")) == ("Index Scan", "show_seats_pkey")
    assert "hold_id" not in seats["Index Cond"]


def test_the_orphan_sweep_reads_only_recently_ended_holds(app, client, make):
    # It lapsed and ended long ago, keeping its seats (as a hold that lost only some seats does).
    show, hold_id = lapsed_hold(
        app,
        make,
        ["D1", "D2"],
        "created_at = now() - interval '3 hours', expires_at = now() - interval '2 hours',"
        " status = 'EXPIRED', ended_at = '-infinity'",
        "2 hours",
    )
    with app.app_context(), unit_of_work() as uow:
        assert sweeper.free_orphaned_seats(uow, ended_within_seconds=300) == 0
    run_sql(app, "UPDATE holds SET ended_at = now() - interval '1 minute' WHERE id = :h", h=hold_id)
    with app.app_context(), unit_of_work() as uow:
        assert sweeper.free_orphaned_seats(uow, ended_within_seconds=300) == 2
    seats = fetch(app, "SELECT status FROM show_seats WHERE show_id = :s AND seat_id IN ('D1', 'D2')", s=show.show_id)
    assert [r.status for r in seats] == ["AVAILABLE", "AVAILABLE"]
