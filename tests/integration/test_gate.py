"""The waiting room: fair places, batched admission under a cap, signed tokens, Redis loss."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app import admission
from app.extensions import redis_roles
from app.unit_of_work import unit_of_work
from app.waiting_room.room import WaitingRoom, key_prefix
from queue_gate import create_gate_app
from tests.conftest import GATE_KEYS, settings_for_tests
from tests.support.db import fetch


def event_with_show(make, **kwargs):
    show = make.show(**kwargs)
    event_id = fetch(make.app, "SELECT event_id FROM shows WHERE id = :s", s=show.show_id)[0].event_id
    return show, event_id


def open_queue(gate, manager, event_id, **settings):
    body = {"batchSize": 5, "admissionIntervalSeconds": 10, "maxActive": 8, "sessionSeconds": 600, **settings}
    r = gate.put(f"/gate/v1/queues/{event_id}", json=body, headers=manager.headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def join(gate, fan, event_id):
    r = gate.post(f"/gate/v1/queues/{event_id}/join", headers=fan.headers)
    assert r.status_code in (200, 201), r.get_json()
    return r.get_json()


def status(gate, event_id, ticket):
    r = gate.get(f"/gate/v1/queues/{event_id}/status", query_string={"ticket": ticket})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def admit(gate_app, event_id, now=None):
    with gate_app.app_context(), unit_of_work() as uow:
        return WaitingRoom(
            redis_roles(gate_app).room,
            event_id,
            gate_app.extensions["seatline.settings"].gate_show_up_seconds,
        ).admit_due(uow, now=now)


def test_joining_is_idempotent_and_needs_a_fan(gate, make):
    _, event_id = event_with_show(make)
    manager, fan = make.fan(role="manager"), make.fan()
    open_queue(gate, manager, event_id)
    first = gate.post(f"/gate/v1/queues/{event_id}/join", headers=fan.headers)
    assert first.status_code == 201
    assert first.get_json()["position"] == 1 and first.get_json()["state"] == "WAITING"
    again = gate.post(f"/gate/v1/queues/{event_id}/join", headers=fan.headers)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert gate.post(f"/gate/v1/queues/{event_id}/join").status_code == 401
    assert gate.post("/gate/v1/queues/999999/join", headers=fan.headers).status_code == 404
    assert gate.put(f"/gate/v1/queues/{event_id}", json={}, headers=fan.headers).status_code == 403
    assert gate.get(f"/gate/v1/queues/{event_id}/status", query_string={"ticket": "tk_nope"}).status_code == 404


def test_many_concurrent_joiners_get_unique_gap_free_places(gate_app, gate, make):
    _, event_id = event_with_show(make)
    manager = make.fan(role="manager")
    open_queue(gate, manager, event_id, batchSize=1)
    fans = [make.fan() for _ in range(60)]
    barrier = threading.Barrier(len(fans))
    places: dict[int, list] = {}

    def run(fan):
        client = gate_app.test_client()
        barrier.wait()
        places[fan.user_id] = [join(client, fan, event_id)["position"] for _ in range(2)]  # a retry too

    threads = [threading.Thread(target=run, args=(f,)) for f in fans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(a == b for a, b in places.values()), "a retried join moved"
    assert sorted(a for a, _ in places.values()) == list(range(1, 61))
    rows = fetch(gate_app, "SELECT position FROM gate_tickets WHERE event_id = :e ORDER BY position", e=event_id)
    assert [r.position for r in rows] == list(range(1, 61))


def test_prequeue_lottery_ignores_join_order(gate_app, gate, make):
    """Spearman's rank correlation between arrival and place: near 0 for a fair draw (|rho| < 0.25
    happens by chance with p < 0.001 for n = 200); exactly 1 for first-come first-served."""
    _, event_id = event_with_show(make)
    manager = make.fan(role="manager")
    opens = datetime.now(UTC) + timedelta(hours=1)
    assert open_queue(gate, manager, event_id, saleOpensAt=opens.isoformat())["state"] == "PREQUEUE"
    fans = [make.fan() for _ in range(200)]
    tickets = [join(gate, fan, event_id) for fan in fans]
    assert {t["position"] for t in tickets} == {None}
    late_status = status(gate, event_id, tickets[0]["ticket"])
    assert late_status["state"] == "WAITING" and late_status["estimatedWaitSeconds"] > 3000
    admit(gate_app, event_id, now=opens.timestamp() + 1)  # the sale opens: the draw
    after = make.fan()
    positions = [status(gate, event_id, t["ticket"])["position"] for t in tickets]
    assert sorted(positions) == list(range(1, 201))
    assert join(gate, after, event_id)["position"] == 201  # after the opening: first come, first served
    n = len(positions)
    rho = 1 - 6 * sum((i + 1 - p) ** 2 for i, p in enumerate(positions)) / (n * (n * n - 1))
    assert abs(rho) < 0.25, f"places follow arrival order (rho={rho:.2f})"


def test_admission_follows_batch_interval_and_cap(gate_app, gate, make):
    _, event_id = event_with_show(make)
    manager = make.fan(role="manager")
    open_queue(gate, manager, event_id, batchSize=3, admissionIntervalSeconds=10, maxActive=5)
    fans = [make.fan() for _ in range(12)]
    tickets = [join(gate, fan, event_id)["ticket"] for fan in fans]
    now = time.time()
    assert admit(gate_app, event_id, now=now) == 3
    assert admit(gate_app, event_id, now=now + 5) == 0  # not due yet
    assert admit(gate_app, event_id, now=now + 10) == 2  # the cap of 5 active
    assert admit(gate_app, event_id, now=now + 20) == 0
    states = [status(gate, event_id, t)["state"] for t in tickets]
    assert states == ["ADMITTED"] * 5 + ["WAITING"] * 7
    waiting = status(gate, event_id, tickets[7])
    assert waiting["position"] == 8 and waiting["aheadOfYou"] == 2
    stats = gate.get(f"/gate/v1/queues/{event_id}/stats", headers=manager.headers).get_json()
    assert stats["active"] == 5 and stats["admitted"] == 5 and stats["queueLength"] == 12
    counter = gate.get(f"/gate/v1/queues/{event_id}/counter")
    assert counter.get_json() == {"servingUpTo": 5, "queueLength": 12}
    assert counter.headers["Cache-Control"] == "public, max-age=1"


def test_fans_who_never_show_up_stop_counting_against_the_cap(gate_app, gate, make):
    _, event_id = event_with_show(make)
    manager = make.fan(role="manager")
    open_queue(gate, manager, event_id, batchSize=2, admissionIntervalSeconds=1, maxActive=2)
    tickets = [join(gate, make.fan(), event_id)["ticket"] for _ in range(4)]
    now = time.time()
    assert admit(gate_app, event_id, now=now) == 2
    assert "admissionToken" in status(gate, event_id, tickets[0])  # collected: holds its slot for the session
    # The second admitted fan never comes back: after the show-up window their slot frees up.
    assert admit(gate_app, event_id, now=now + 2) == 0
    show_up = gate_app.extensions["seatline.settings"].gate_show_up_seconds
    assert admit(gate_app, event_id, now=now + show_up - 1) == 0
    assert admit(gate_app, event_id, now=now + show_up + 1) == 1
    assert status(gate, event_id, tickets[1])["state"] == "EXPIRED"
    assert status(gate, event_id, tickets[2])["state"] == "ADMITTED"


def test_pause_resume_drain_and_close(gate_app, gate, make):
    _, event_id = event_with_show(make)
    manager, fan = make.fan(role="manager"), make.fan()
    open_queue(gate, manager, event_id, batchSize=1, admissionIntervalSeconds=1, maxActive=100)
    for _ in range(6):
        join(gate, make.fan(), event_id)
    now = time.time()
    assert gate.post(f"/gate/v1/queues/{event_id}/pause", headers=manager.headers).get_json()["state"] == "PAUSED"
    assert admit(gate_app, event_id, now=now + 5) == 0
    gate.post(f"/gate/v1/queues/{event_id}/resume", headers=manager.headers)
    assert admit(gate_app, event_id, now=now + 6) == 1
    gate.post(f"/gate/v1/queues/{event_id}/drain", headers=manager.headers)
    assert admit(gate_app, event_id, now=now + 8) == 5  # everyone left, whatever the batch size
    gate.post(f"/gate/v1/queues/{event_id}/close", headers=manager.headers)
    closed = gate.post(f"/gate/v1/queues/{event_id}/join", headers=fan.headers)
    assert closed.status_code == 409 and closed.get_json()["error"]["code"] == "QUEUE_CLOSED"
    bad = gate.post(f"/gate/v1/queues/{event_id}/resume", headers=manager.headers)
    assert bad.status_code == 409


def test_a_join_that_finds_the_queue_gone_from_redis_rebuilds_it_first(gate, make, rds):
    # The join script answers NOQUEUE when Redis lost the queue; the join rebuilds it from Postgres
    # and takes its place then, behind everyone who joined before.
    _, event_id = event_with_show(make)
    open_queue(gate, make.fan(role="manager"), event_id, batchSize=4, admissionIntervalSeconds=3600, maxActive=4)
    fans = [make.fan() for _ in range(3)]
    tickets = [join(gate, fan, event_id)["ticket"] for fan in fans]
    rds.flushdb()
    assert join(gate, make.fan(), event_id)["position"] == 4
    assert join(gate, fans[0], event_id)["ticket"] == tickets[0]


def test_redis_flushed_mid_queue_is_rebuilt_without_duplicates_or_passing_the_cap(gate_app, gate, make, rds):
    _, event_id = event_with_show(make)
    manager = make.fan(role="manager")
    open_queue(gate, manager, event_id, batchSize=4, admissionIntervalSeconds=1, maxActive=4)
    fans = [make.fan() for _ in range(10)]
    tickets = [join(gate, fan, event_id)["ticket"] for fan in fans]
    now = time.time()
    assert admit(gate_app, event_id, now=now) == 4
    rds.flushdb()
    # Everyone keeps their place; re-joining finds it; newcomers queue behind.
    assert [status(gate, event_id, t)["position"] for t in tickets] == list(range(1, 11))
    assert join(gate, fans[3], event_id)["ticket"] == tickets[3]
    assert join(gate, make.fan(), event_id)["position"] == 11
    # The four admitted still count against the cap of four: nobody else gets in.
    assert admit(gate_app, event_id, now=now + 5) == 0
    assert [status(gate, event_id, t)["state"] for t in tickets[:5]] == ["ADMITTED"] * 4 + ["WAITING"]
    positions = fetch(gate_app, "SELECT position FROM gate_tickets WHERE event_id = :e", e=event_id)
    assert len({p.position for p in positions}) == len(positions) == 11


def admitted_token(gate_app, gate, make, manager=None):
    show, event_id = event_with_show(make)
    run_sql_queue_required(make.app, show.show_id)
    manager = manager or make.fan(role="manager")
    open_queue(gate, manager, event_id, batchSize=10, maxActive=10)
    fan = make.fan()
    ticket = join(gate, fan, event_id)["ticket"]
    admit(gate_app, event_id)
    body = status(gate, event_id, ticket)
    assert body["state"] == "ADMITTED"
    return show, event_id, fan, body["admissionToken"]


def run_sql_queue_required(app, show_id):
    from tests.support.db import run_sql

    run_sql(app, "UPDATE shows SET queue_required = true WHERE id = :s", s=show_id)


def hold_with(client, fan, show_id, token=None, cookie=False):
    headers = dict(fan.headers)
    if token and not cookie:
        headers[admission.HEADER] = token
    if token and cookie:
        client.set_cookie(admission.COOKIE, token)
    return client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": ["A1"]}, headers=headers)


def test_a_valid_admission_token_lets_the_fan_hold(gate_app, gate, client, make):
    show, event_id, fan, token = admitted_token(gate_app, gate, make)
    refused = hold_with(client, fan, show.show_id)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "ADMISSION_REQUIRED"
    assert hold_with(client, fan, show.show_id, token).status_code == 201
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) == {"sub", "evt", "iat", "exp", "jti"} and claims["exp"] - claims["iat"] == 600
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA" and jwt.get_unverified_header(token)["kid"]


def test_the_gate_cookie_works_too(gate_app, gate, make, app):
    show, event_id, fan, token = admitted_token(gate_app, gate, make)
    assert hold_with(app.test_client(), fan, show.show_id, token, cookie=True).status_code == 201


def _forge(claims, key=None, kid=None, alg="EdDSA"):
    signing = key or admission_key()
    return jwt.encode(claims, signing, algorithm=alg, headers={"kid": kid or json.loads(GATE_KEYS)[0]["kid"]})


def admission_key():
    from queue_gate.keys import load_keys

    return load_keys(GATE_KEYS)[0].private_key


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "wrong event",
        "wrong user",
        "wrong key",
        "alg none",
        "tampered",
        "unknown kid",
        "missing jti",
        "HS256 with the public key",
    ],
)
def test_bad_admission_tokens_are_refused(gate_app, gate, client, make, case):
    show, event_id, fan, good = admitted_token(gate_app, gate, make)
    now = int(time.time())
    base = {"sub": str(fan.user_id), "evt": str(event_id), "iat": now, "exp": now + 600, "jti": "x"}
    token = {
        "expired": lambda: _forge({**base, "iat": now - 7200, "exp": now - 3600}),
        "wrong event": lambda: _forge({**base, "evt": str(event_id + 999)}),
        "wrong user": lambda: _forge({**base, "sub": str(fan.user_id + 999)}),
        "wrong key": lambda: _forge(base, key=Ed25519PrivateKey.generate()),
        "alg none": lambda: f"{_b64({'alg': 'none', 'kid': json.loads(GATE_KEYS)[0]['kid']})}.{_b64(base)}.",
        "tampered": lambda: ".".join(
            [
                good.split(".")[0],
                _b64({**jwt.decode(good, options={"verify_signature": False}), "sub": "1"}),
                good.split(".")[2],
            ]
        ),
        "unknown kid": lambda: _forge(base, kid="someone-elses-key"),
        "missing jti": lambda: _forge({k: v for k, v in base.items() if k != "jti"}),
        "HS256 with the public key": lambda: jwt.api_jws.PyJWS().encode(
            json.dumps(base).encode(),
            key=b"x" * 32,
            algorithm="HS256",
            headers={"kid": json.loads(GATE_KEYS)[0]["kid"]},
        ),
    }[case]()
    response = hold_with(client, fan, show.show_id, token)
    assert response.status_code == 403, case
    assert response.get_json()["error"]["code"] == "ADMISSION_REQUIRED"
    assert fetch(make.app, "SELECT id FROM holds") == []


def test_a_token_given_to_another_fan_does_not_work(gate_app, gate, client, make):
    show, event_id, fan, token = admitted_token(gate_app, gate, make)
    assert hold_with(client, make.fan(), show.show_id, token).status_code == 403


def test_jwks_verifies_with_a_standard_library_and_survives_rotation(gate_app, gate, make, app):
    show, event_id, fan, token = admitted_token(gate_app, gate, make)
    document = gate.get("/gate/v1/jwks.json").get_json()
    keys = jwt.PyJWKSet.from_dict(document)
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    assert jwt.decode(token, key.key, algorithms=["EdDSA"])["sub"] == str(fan.user_id)
    # Rotate: a new key signs from now on; the old one stays published until its tokens expire.
    from queue_gate.keys import jwks, load_keys, new_key_entry

    rotated = json.dumps([new_key_entry(), *json.loads(GATE_KEYS)])
    settings = settings_for_tests(gate_signing_keys=rotated, gate_jwks=json.dumps(jwks(load_keys(rotated))))
    new_gate = create_gate_app(settings).test_client()
    from app import create_app

    new_web = create_app(settings).test_client()
    assert len(new_gate.get("/gate/v1/jwks.json").get_json()["keys"]) == 2
    assert hold_with(new_web, fan, show.show_id, token).status_code == 201  # the old key's token


def test_redis_down_the_gate_fails_closed_and_admitted_fans_keep_booking(gate_app, gate, client, make):
    show, event_id, fan, token = admitted_token(gate_app, gate, make)
    cut_off = create_gate_app(settings_for_tests(redis_url="redis://127.0.0.1:1/0")).test_client()
    down = cut_off.post(f"/gate/v1/queues/{event_id}/join", headers=make.fan().headers)
    assert down.status_code == 503 and down.headers["Retry-After"] == "2"
    assert down.get_json()["error"]["code"] == "DEGRADED"
    from app import create_app

    web_without_redis = create_app(settings_for_tests(redis_url="redis://127.0.0.1:1/0")).test_client()
    assert hold_with(web_without_redis, fan, show.show_id).status_code == 403  # no token: never let in
    assert hold_with(web_without_redis, fan, show.show_id, token).status_code == 201  # token checked without Redis


def test_estimate_does_not_creep_up_while_the_queue_stands_still(gate_app, gate, make):
    _, event_id = event_with_show(make)
    manager = make.fan(role="manager")
    open_queue(gate, manager, event_id, batchSize=2, admissionIntervalSeconds=5, maxActive=1000)
    tickets = [join(gate, make.fan(), event_id)["ticket"] for _ in range(20)]
    now = time.time()
    for i in range(3):
        admit(gate_app, event_id, now=now + 5 * i)
    gate.post(f"/gate/v1/queues/{event_id}/pause", headers=manager.headers)
    room = WaitingRoom(
        redis_roles(gate_app).room, event_id, gate_app.extensions["seatline.settings"].gate_show_up_seconds
    )
    estimates = [room.status(tickets[-1], now=now + 10 + t)["estimatedWaitSeconds"] for t in (1, 30, 300, 3000)]
    assert estimates == sorted(estimates, reverse=True) or len(set(estimates)) == 1, estimates
    assert estimates[0] > 0


def test_manager_figures_count_abandonment(gate_app, gate, make):
    _, event_id = event_with_show(make)
    manager = make.fan(role="manager")
    open_queue(gate, manager, event_id, batchSize=2, admissionIntervalSeconds=1, maxActive=2)
    tickets = [join(gate, make.fan(), event_id)["ticket"] for _ in range(3)]
    now = time.time()
    admit(gate_app, event_id, now=now)
    status(gate, event_id, tickets[0])  # collects the token; the second admitted fan never comes
    admit(gate_app, event_id, now=now + gate_app.extensions["seatline.settings"].gate_show_up_seconds + 1)
    stats = gate.get(f"/gate/v1/queues/{event_id}/stats", headers=manager.headers).get_json()
    assert stats["abandoned"] == 1 and stats["admitted"] == 3 and stats["active"] == 2


def test_the_join_form_signs_in_checks_csrf_and_places_the_fan(gate, make, client):
    _, event_id = event_with_show(make)
    open_queue(gate, make.fan(role="manager"), event_id)
    client.post("/api/v1/auth/register", json={"email": "form@example.com", "password": "s3cret-pass", "name": "F"})
    page = gate.get(f"/gate/queues/{event_id}")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    forged = gate_app_client_without_cookie(gate).post(
        f"/gate/queues/{event_id}", data={"csrf_token": token, "email": "form@example.com", "password": "s3cret-pass"}
    )
    missing = gate.post(f"/gate/queues/{event_id}", data={"email": "form@example.com", "password": "s3cret-pass"})
    site = client.post("/login", data={"email": "form@example.com", "password": "s3cret-pass"})
    for refused in (forged, missing):  # answered as the site answers a form without its token
        assert refused.status_code == site.status_code == 400 and refused.mimetype == "text/html"
        assert heading(refused) == heading(site) and "request wasn" in heading(site)
    assert fetch(gate.application, "SELECT count(*) AS n FROM gate_tickets WHERE event_id = :e", e=event_id)[0].n == 0
    wrong = gate.post(
        f"/gate/queues/{event_id}", data={"csrf_token": token, "email": "form@example.com", "password": "nope-nope"}
    )
    assert wrong.status_code == 422 and "match an account" in wrong.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', wrong.get_data(as_text=True)).group(1)
    joined = gate.post(
        f"/gate/queues/{event_id}", data={"csrf_token": token, "email": "form@example.com", "password": "s3cret-pass"}
    )
    assert joined.status_code == 303 and "/wait?ticket=tk_" in joined.headers["Location"]
    assert gate.get("/gate/queues/999999").status_code == 404
    # Waiting only reads: the page carries no token, so a waiting fan's browser gets no session.
    waiting = gate_app_client_without_cookie(gate).get(joined.headers["Location"])
    assert waiting.status_code == 200 and "X-CSRFToken" not in waiting.get_data(as_text=True)
    assert "Set-Cookie" not in waiting.headers


def heading(page) -> str:
    return re.search(r"<h1>(.*?)</h1>", page.get_data(as_text=True)).group(1)


def gate_app_client_without_cookie(gate):
    return gate.application.test_client()  # a new browser: it never received the form's cookie


def test_a_meta_hash_left_partial_by_a_lost_queue_is_rebuilt_not_read_as_the_queue(gate_app, gate, make, rds):
    # Seen once: status answering 500 with KeyError 'cap'. Redis lost the queue (a flush, a restart)
    # while a state change was being written; the write of two fields (HSET creates the hash it
    # writes) left a meta hash with a state and no cap, which the next admission read as the queue.
    _, event_id = event_with_show(make)
    open_queue(gate, make.fan(role="manager"), event_id, batchSize=2, admissionIntervalSeconds=1, maxActive=2)
    tickets = [join(gate, make.fan(), event_id)["ticket"] for _ in range(3)]
    rds.flushdb()
    rds.hset(key_prefix(event_id) + "meta", mapping={"state": "OPEN", "next_admit_at": 0})
    assert [status(gate, event_id, t)["position"] for t in tickets] == [1, 2, 3]
    meta = rds.hgetall(key_prefix(event_id) + "meta")
    assert meta[b"cap"] == b"2" and meta[b"batch"] == b"2"
    assert [status(gate, event_id, t)["state"] for t in tickets] == ["ADMITTED", "ADMITTED", "WAITING"]


def test_an_admission_under_way_when_the_queue_is_lost_leaves_no_partial_meta(gate_app, gate, make, rds):
    _, event_id = event_with_show(make)
    open_queue(gate, make.fan(role="manager"), event_id, batchSize=2, admissionIntervalSeconds=1, maxActive=2)
    tickets = [join(gate, make.fan(), event_id)["ticket"] for _ in range(3)]
    room = WaitingRoom(redis_roles(gate_app).room, event_id, 120)
    with gate_app.app_context(), unit_of_work() as uow:
        room.ensure_loaded(uow)
        meta = room._meta()  # what the admission read before Redis lost the queue
        rds.flushdb()
        room._admit(uow, meta, time.time())
    # Its writes to the meta hash (admitted count, next batch time) found no hash and made none.
    assert not rds.exists(key_prefix(event_id) + "meta")
    # The queue is rebuilt from Postgres, the two admissions recorded there included.
    assert [status(gate, event_id, t)["state"] for t in tickets] == ["ADMITTED", "ADMITTED", "WAITING"]


def test_joins_right_after_redis_lost_the_queue_get_unique_places(gate_app, gate, make, rds):
    # Every joiner finds the queue missing at once; one rebuilds it, and none that found it missing
    # earlier rebuilds it again over the joins made since (which would hand their places out twice).
    _, event_id = event_with_show(make)
    open_queue(gate, make.fan(role="manager"), event_id, batchSize=1, admissionIntervalSeconds=3600, maxActive=1)
    join(gate, make.fan(), event_id)
    fans = [make.fan() for _ in range(24)]
    rds.flushdb()
    answers: list[int] = []

    def join_now(fan):
        client = gate_app.test_client()
        answers.append(client.post(f"/gate/v1/queues/{event_id}/join", headers=fan.headers).status_code)

    threads = [threading.Thread(target=join_now, args=(fan,)) for fan in fans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [201] * len(fans)
    positions = [
        r.position for r in fetch(gate_app, "SELECT position FROM gate_tickets WHERE event_id = :e", e=event_id)
    ]
    assert sorted(positions) == list(range(1, len(fans) + 2))


def test_joins_redis_lost_in_a_failover_keep_their_places_and_no_place_is_given_twice(gate_app, gate, make, rds):
    """A replica promoted before it received the last joins (ARCHITECTURE.md "Redis by role") answers as
    if they never happened: the room is rebuilt from Postgres before anyone is answered from it."""
    _, event_id = event_with_show(make)
    open_queue(gate, make.fan(role="manager"), event_id)
    fans = [make.fan() for _ in range(4)]
    tickets = [join(gate, fan, event_id)["ticket"] for fan in fans[:3]]
    prefix = key_prefix(event_id)
    # What the replica never received: the last two joins.
    for lost in (1, 2):
        rds.hdel(prefix + "users", fans[lost].user_id)
        rds.delete(prefix + f"t:{tickets[lost]}")
    rds.ltrim(prefix + "order", 0, 0)
    assert status(gate, event_id, tickets[1])["position"] == 2  # its place is back, from Postgres
    rds.hdel(prefix + "users", fans[2].user_id)
    rds.ltrim(prefix + "order", 0, 1)
    newcomer = join(gate, fans[3], event_id)
    assert newcomer["position"] == 4  # not 3: that place is the third fan's
    again = join(gate, fans[2], event_id)
    assert again["ticket"] == tickets[2] and again["position"] == 3
    rows = fetch(make.app, "SELECT position FROM gate_tickets WHERE event_id = :e ORDER BY position", e=event_id)
    assert [r.position for r in rows] == [1, 2, 3, 4]
