"""The hold statement's plan stays cheap when the statistics are wrong: the expiry of a lapsed hold
whose seats are taken over finds that hold by its primary key, never by reading all of a partial
index on ACTIVE holds (bench/RESULTS.md "Hold SQL": 857 buffers a hold against ~70)."""

from __future__ import annotations

import re
import uuid

import orjson
import pytest
from sqlalchemy.exc import IntegrityError

from app.inventory import models, queries, seat_state
from app.unit_of_work import unit_of_work
from tests.integration.test_audit_log import lapse
from tests.support.db import fetch, run_sql


def hold(client, fan, show_id, seats):
    return client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": seats}, headers=fan.headers)


def nodes(node: dict) -> list[dict]:
    return [node] + [n for child in node.get("Plans", []) for n in nodes(child)]


def cte(plan: dict, name: str) -> dict:
    stack = [plan]
    while stack:
        node = stack.pop()
        if node.get("Subplan Name") == f"CTE {name}":
            return node
        stack += node.get("Plans", [])
    raise AssertionError(f"no CTE {name} in the plan")


def test_hold_not_ended_names_every_status_but_active():
    ended = seat_state.HOLD_NOT_ENDED.split("NOT IN")[1]
    assert {s for s in models.HOLD_STATUSES if f"'{s}'" in ended} == set(models.HOLD_STATUSES) - {"ACTIVE"}


def test_a_lapsed_hold_is_taken_over_through_the_primary_key_under_stale_statistics(app, client, make, rds):
    show, first, second = make.show(), make.fan(), make.fan()
    # 3,000 past holds of the show, and statistics taken while none of them was ACTIVE ...
    run_sql(
        app,
        """
        INSERT INTO holds (id, show_id, user_id, seat_ids, amount, currency, created_at, expires_at, status, ended_at)
        SELECT gen_random_uuid(), :s, :u, ARRAY['A1'], 100, 'INR', now() - interval '2 hours',
               now() - interval '1 hour', 'EXPIRED', now() - interval '1 hour'
        FROM generate_series(1, 3000)
        """,
        s=show.show_id,
        u=first.user_id,
    )
    run_sql(app, "ANALYZE holds")
    # ... then all of them ACTIVE again, lapsed: the statistics say there are almost no ACTIVE holds.
    run_sql(app, "UPDATE holds SET status = 'ACTIVE', ended_at = NULL")
    old = hold(client, first, show.show_id, ["D4", "D5"]).get_json()["holdId"]
    lapse(app, old)
    rds.flushdb()  # the seat hints still say D5 is held

    params = {
        "hold_id": uuid.uuid4(),
        "user_id": second.user_id,
        "show_id": show.show_id,
        "seat_ids": ["D5"],
        "ttl": 300,
        "max_seats": 8,
        "presale_from": None,
    }
    with app.app_context(), unit_of_work() as uow:
        plan = uow.execute("EXPLAIN (FORMAT JSON) " + seat_state.HOLD_FREE_SEATS, params).scalar_one()
        uow.rollback()
    plan = (orjson.loads(plan) if isinstance(plan, str | bytes) else plan)[0]["Plan"]
    lapsed = nodes(cte(plan, "lapsed"))
    assert {n["Index Name"] for n in lapsed if "Index Name" in n} == {"holds_pkey"}
    assert not [n for n in lapsed if n["Node Type"] == "Seq Scan"]

    # And the takeover itself: the new hold gets the seat, the lapsed one ends EXPIRED.
    taken = hold(client, second, show.show_id, ["D5"])
    assert taken.status_code == 201, taken.get_json()
    [(status,)] = fetch(app, "SELECT status FROM holds WHERE id = :h", h=old)
    assert status == "EXPIRED"
    [(holder,)] = fetch(app, "SELECT hold_id FROM show_seats WHERE show_id = :s AND seat_id = 'D5'", s=show.show_id)
    assert str(holder) == taken.get_json()["holdId"]


def indexes(app, table):
    return {
        r.indexname: r.indexdef
        for r in fetch(app, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t", t=table)
    }


def test_the_migrations_leave_the_indexes_the_seat_and_hold_queries_need(app):
    # A hold's seat update changes status, hold_id and hold_expires_at: no index names any of them,
    # so the update can be HOT; a hold's seats are found through its seat list, by primary key.
    assert set(indexes(app, "show_seats")) == {"show_seats_pkey", "ix_show_seats_booking_id"}
    [(options,)] = fetch(app, "SELECT reloptions FROM pg_class WHERE relname = 'show_seats'")
    assert "fillfactor=90" in options
    assert "WHERE (ended_at IS NOT NULL)" in indexes(app, "holds")["ix_holds_ended"]
    holds = indexes(app, "holds")
    assert "holds_payment_intent_id_key" not in holds
    assert "UNIQUE" in holds["ix_holds_payment_intent_id"]
    assert "WHERE (payment_intent_id IS NOT NULL)" in holds["ix_holds_payment_intent_id"]


def test_two_holds_still_cannot_share_a_payment_intent(app, client, make):
    show, fan = make.show(), make.fan()
    first = hold(client, fan, show.show_id, ["A1"]).get_json()["holdId"]
    second = hold(client, fan, show.show_id, ["A2"]).get_json()["holdId"]
    set_intent = (
        "UPDATE holds SET payment_started_at = now(), payment_intent_id = 'pi_same' WHERE id = CAST(:h AS uuid)"
    )
    run_sql(app, set_intent, h=first)
    with pytest.raises(IntegrityError):
        run_sql(app, set_intent, h=second)


def test_a_shows_seats_are_counted_by_status_from_its_primary_key_range(app, make):
    show = make.show()
    with app.app_context(), unit_of_work() as uow:
        plan = uow.execute(
            "EXPLAIN (FORMAT JSON) SELECT status, count(*) AS n FROM show_seats WHERE show_id = :s GROUP BY status",
            {"s": show.show_id},
        ).scalar_one()
    plan = (orjson.loads(plan) if isinstance(plan, str | bytes) else plan)[0]["Plan"]
    assert not [n for n in nodes(plan) if n["Node Type"] == "Seq Scan"]


def test_the_hold_transaction_asks_for_generic_plans_and_only_for_itself(app, make):
    # Planning the ten-CTE hold statement cost more than running it; the lock statement before it
    # asks for the plan cache's generic plan for the rest of the hold's transaction, never beyond it.
    show, fan = make.show(), make.fan()
    with app.app_context(), unit_of_work() as uow:
        default = uow.execute("SELECT current_setting('plan_cache_mode')").scalar_one()
        assert default != "force_generic_plan"
        queries.lock_user_show(uow, fan.user_id, show.show_id)
        assert uow.execute("SELECT current_setting('plan_cache_mode')").scalar_one() == "force_generic_plan"
        uow.rollback()
        assert uow.execute("SELECT current_setting('plan_cache_mode')").scalar_one() == default
        queries.lock_user_show(uow, fan.user_id, show.show_id)
        uow.commit()
        assert uow.execute("SELECT current_setting('plan_cache_mode')").scalar_one() == default


def test_the_hold_statements_generic_plan_reads_seats_and_holds_by_index(app, make):
    # The plan every hold gets once psycopg has prepared the statement: the same index scans as a
    # plan made for one call's values, never a scan of a show's seats or of every hold.
    show = make.show()
    names: list[str] = []

    def number(m):
        names.append(m.group(1)) if m.group(1) not in names else None
        return f"${names.index(m.group(1)) + 1}"

    text = re.sub(r"(?<!:):(\w+)", number, seat_state.HOLD_FREE_SEATS)
    types = {
        "hold_id": "uuid",
        "user_id": "bigint",
        "show_id": "bigint",
        "seat_ids": "text[]",
        "presale_from": "timestamptz",
    }
    args = {
        "hold_id": f"'{uuid.uuid4()}'",
        "user_id": "1",
        "show_id": str(show.show_id),
        "seat_ids": "'{A1,A2}'",
        "presale_from": "NULL",
    }
    with app.app_context(), unit_of_work() as uow:
        uow.execute(f"PREPARE hold_plan({', '.join(types.get(n, 'int') for n in names)}) AS {text}")
        uow.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        plan = uow.execute(
            f"EXPLAIN (FORMAT JSON) EXECUTE hold_plan({', '.join(args.get(n, '8') for n in names)})"
        ).scalar_one()
        uow.execute("DEALLOCATE hold_plan")
        uow.rollback()
    plan = (orjson.loads(plan) if isinstance(plan, str | bytes) else plan)[0]["Plan"]
    scans = {(n["Node Type"], n["Relation Name"]) for n in nodes(plan) if "Relation Name" in n}
    assert not {t for kind, t in scans if kind == "Seq Scan"} & {"show_seats", "holds", "bookings", "audit_log"}
    assert ("Index Scan", "show_seats") in scans
