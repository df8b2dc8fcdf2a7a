"""Fifty fans at once holding places of one standing section (README "General admission
(standing)"), each with their own account, over HTTP against a real server and real Postgres: the
section is never oversold, no place is in two holds, and every refusal is a 409 that held nothing."""

from __future__ import annotations

import random
import threading

import requests

from app.inventory.invariants import seat_invariant_violations
from app.unit_of_work import unit_of_work
from tests.integration.test_general_admission import FLOOR, add_floor, hold_places, states
from tests.support.db import fetch
from tests.support.races import Attempt, run_together

CLIENTS = 50
CAPACITY = 60


def test_fifty_fans_never_oversell_a_sixty_place_section(app, client, make, gateway, web_server):
    rng = random.Random(20261206)
    fans = [make.fan() for _ in range(CLIENTS)]
    for round_ in range(3):
        show = make.show(rows=1, per_row=4, title=f"Floor night {round_}")
        if round_ == 0:
            add_floor(client, make.fan("manager"), show.venue_id, CAPACITY)
        # Some places are gone already: booked, and held by a fan outside the race.
        early = make.fan()
        booked = hold_places(client, early, show.show_id, 3).get_json()
        r = client.post(f"/api/v1/holds/{booked['holdId']}/payment-intents", headers=early.headers)
        gateway.succeed(r.get_json()["paymentIntentId"])
        r = client.post(
            f"/api/v1/holds/{booked['holdId']}/confirm",
            json={"paymentIntentId": r.get_json()["paymentIntentId"]},
            headers=early.headers,
        )
        assert r.status_code == 201, r.get_json()
        assert hold_places(client, make.fan(), show.show_id, 2).status_code == 201
        gone = 5
        wanted = [rng.randint(1, 4) for _ in range(CLIENTS)]

        def attempt(i: int, start_line: threading.Barrier, show_id: int = show.show_id) -> Attempt:
            session = requests.Session()
            start_line.wait()
            r = session.post(
                f"{web_server.url}/api/v1/shows/{show_id}/holds",
                json={"gaSection": FLOOR, "quantity": wanted[i]},
                headers=fans[i].headers,
                timeout=60,
            )
            return Attempt(fans[i].user_id, [], r.status_code, r.json())

        attempts = run_together(CLIENTS, attempt)
        assert {a.status for a in attempts} <= {201, 409}, [a.body for a in attempts if a.status not in (201, 409)]
        winners = [(i, a) for i, a in enumerate(attempts) if a.status == 201]
        losers = [(i, a) for i, a in enumerate(attempts) if a.status == 409]
        places: dict[str, str] = {}
        for i, w in winners:
            assert w.body["quantity"] == wanted[i] == len(w.body["seatIds"]) and w.body["gaSection"] == FLOOR
            for p in w.body["seatIds"]:
                assert p not in places, f"place {p} held twice"
                places[p] = w.body["holdId"]
        taken = sum(wanted[i] for i, _ in winners)
        assert taken + gone <= CAPACITY
        for i, loser in losers:
            error = loser.body["error"]
            assert error["code"] == "SEATS_UNAVAILABLE" and error["seatIds"] == []
            # Refused only when too few places were left, and it held nothing.
            assert error["available"] < wanted[i]
        loser_ids = [fans[i].user_id for i, _ in losers]
        assert (
            fetch(
                app,
                "SELECT count(*) AS n FROM holds WHERE show_id = :s AND user_id = ANY(:u)",
                s=show.show_id,
                u=loser_ids,
            )[0].n
            == 0
        )
        # A refusal is fair: once the race is over, what is left is less than the smallest refused request.
        left = CAPACITY - gone - taken
        assert all(left < wanted[i] for i, _ in losers)
        # Postgres agrees with the answers: each place in at most one live hold or booking.
        seats = states(app, show.show_id)
        held = {p: owner for p, (status, owner) in seats.items() if status == "HELD"}
        assert {p: h for p, h in held.items() if h in set(places.values())} == places
        assert sum(status in ("HELD", "BOOKED") for status, _ in seats.values()) == taken + gone
        active = fetch(
            app, "SELECT seat_ids FROM holds WHERE show_id = :s AND status IN ('ACTIVE', 'CONFIRMED')", s=show.show_id
        )
        listed = [p for r in active for p in r.seat_ids]
        assert len(listed) == len(set(listed)) == taken + gone
        with app.app_context(), unit_of_work() as uow:
            assert seat_invariant_violations(uow) == {}
