"""Rate limits: holds, payment intents, joining a waiting room, logins and sign-ups answer
429 RATE_LIMITED with Retry-After once over their limit, per fan and per client IP (failed
logins per email and IP), and the refused call changes nothing. Apps here get small limits of their own;
the counts live in the test Redis database, which every test starts with empty."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.api.login_slowdown import delay_for
from app.config import ConfigError, Settings
from app.extensions import db
from queue_gate import create_gate_app
from tests.support.contract import ContractClient
from tests.support.db import fetch

SMALL = dict(
    rate_limit_holds="3/minute",
    rate_limit_holds_per_ip="5/minute",
    rate_limit_payment_intents="2/minute",
    rate_limit_payment_intents_per_ip="3/minute",
    rate_limit_joins="2/minute",
    rate_limit_joins_per_ip="3/minute",
    rate_limit_logins="2/minute",
    rate_limit_logins_per_ip="4/minute",
    rate_limit_signups_per_ip="2/minute",
    login_slowdown_max_seconds=0.01,
)
PASSWORD = "correct horse"


@dataclasses.dataclass
class Built:
    apps: list[Flask] = dataclasses.field(default_factory=list)

    def __call__(self, base: Flask, factory=create_app, **overrides) -> Flask:
        settings = dataclasses.replace(base.extensions["seatline.settings"], **{**SMALL, **overrides})
        application = factory(settings)
        application.test_client_class = ContractClient
        self.apps.append(application)
        return application

    def dispose(self) -> None:
        for application in self.apps:
            with application.app_context():
                db.engine.dispose()


@pytest.fixture(scope="module")
def built() -> Iterator[Built]:
    apps = Built()
    yield apps
    apps.dispose()


@pytest.fixture(scope="module")
def limited(app, built) -> Flask:
    """The web app with SMALL limits, trusting no proxy (the client is the TCP peer)."""
    return built(app)


@pytest.fixture(scope="module")
def limited_gate(app, built) -> Flask:
    return built(app, create_gate_app)


def from_ip(application: Flask, ip: str) -> FlaskClient:
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def assert_limited(response, page: bool = False) -> int:
    assert response.status_code == 429, response.get_data(as_text=True)[:300]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    if page:
        assert response.mimetype == "text/html"
        assert f"wait {retry_after} second" in response.get_data(as_text=True)
    else:
        error = response.get_json()["error"]
        assert error["code"] == "RATE_LIMITED" and error["retryAfter"] == retry_after
    return retry_after


def csrf_token(response) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)


def register(client: FlaskClient, email: str) -> str:
    """A fan with a password (on the session app, whose limits these tests never reach); their token."""
    response = client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "Fan"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def count(application: Flask, sql: str, **params) -> int:
    return fetch(application, sql, **params)[0][0]


def hold(client: FlaskClient, show_id: int, seats: list[str], headers: dict[str, str]):
    return client.post(f"/api/v1/shows/{show_id}/holds", json={"seatIds": seats}, headers=headers)


# ------------------------------------------------------------------------------ holds


def test_a_fans_holds_are_counted_across_ips_and_the_refused_hold_holds_nothing(limited, make):
    show, fan, other = make.show(rows=2, per_row=5), make.fan(), make.fan()
    for i, seat in enumerate(["A1", "A2", "A3"]):
        assert hold(from_ip(limited, f"10.0.1.{i + 1}"), show.show_id, [seat], fan.headers).status_code == 201
    last_ip = from_ip(limited, "10.0.1.9")
    assert_limited(hold(last_ip, show.show_id, ["A4"], fan.headers))
    assert count(limited, "SELECT count(*) FROM holds WHERE user_id = :u", u=fan.user_id) == 3
    assert (
        fetch(limited, "SELECT status FROM show_seats WHERE show_id = :s AND seat_id = 'A4'", s=show.show_id)[0][0]
        == "AVAILABLE"
    )
    # The limit is the fan's, not the address's: someone else there still holds.
    assert hold(last_ip, show.show_id, ["A4"], other.headers).status_code == 201


def test_holds_from_one_ip_are_counted_across_fans(limited, make):
    show = make.show(rows=2, per_row=5)
    fans = [make.fan() for _ in range(6)]
    office = from_ip(limited, "10.0.2.1")
    for fan, seat in zip(fans[:5], ["A1", "A2", "A3", "A4", "A5"]):
        assert hold(office, show.show_id, [seat], fan.headers).status_code == 201
    assert_limited(hold(office, show.show_id, ["B1"], fans[5].headers))
    assert count(limited, "SELECT count(*) FROM holds WHERE user_id = :u", u=fans[5].user_id) == 0
    assert hold(from_ip(limited, "10.0.2.2"), show.show_id, ["B1"], fans[5].headers).status_code == 201
    # Without a valid token only the address counts (and the call still answers 401).
    assert hold(from_ip(limited, "10.0.2.3"), show.show_id, ["B2"], {}).status_code == 401


def test_the_sites_hold_form_shares_the_fans_count_and_answers_with_a_page(limited, client, make):
    show = make.show(rows=2, per_row=5)
    token = register(client, "form-holder@example.com")
    browser = from_ip(limited, "10.0.3.1")
    login = browser.get("/login")
    signed_in = browser.post(
        "/login", data={"csrf_token": csrf_token(login), "email": "form-holder@example.com", "password": PASSWORD}
    )
    assert signed_in.status_code == 303
    page = browser.get(f"/shows/{show.show_id}")
    held = browser.post(f"/shows/{show.show_id}/hold", data={"csrf_token": csrf_token(page), "seat": ["A1"]})
    assert held.status_code == 303
    api = from_ip(limited, "10.0.3.2")
    for seat in ("A2", "A3"):
        assert hold(api, show.show_id, [seat], {"Authorization": f"Bearer {token}"}).status_code == 201
    refused = browser.post(f"/shows/{show.show_id}/hold", data={"csrf_token": csrf_token(page), "seat": ["A4"]})
    assert_limited(refused, page=True)
    assert "seat holds" in refused.get_data(as_text=True)
    best = browser.post(
        f"/shows/{show.show_id}/best", data={"csrf_token": csrf_token(page), "tier": "silver", "count": "2"}
    )
    assert_limited(best, page=True)
    assert count(limited, "SELECT count(*) FROM holds WHERE show_id = :s", s=show.show_id) == 3


# ------------------------------------------------------------------------------ payment intents


def test_payment_intents_are_limited_per_fan_and_per_ip_before_anything_is_paid(limited, make):
    show, fan = make.show(rows=2, per_row=5), make.fan()
    hold_id = hold(from_ip(limited, "10.0.4.1"), show.show_id, ["A1"], fan.headers).get_json()["holdId"]
    for ip in ("10.0.4.2", "10.0.4.3"):  # attempts count whatever they answer
        missing = from_ip(limited, ip).post(f"/api/v1/holds/{uuid.uuid4()}/payment-intents", headers=fan.headers)
        assert missing.status_code == 404
    assert_limited(from_ip(limited, "10.0.4.4").post(f"/api/v1/holds/{hold_id}/payment-intents", headers=fan.headers))
    assert fetch(limited, "SELECT payment_started_at FROM holds WHERE id = :h", h=hold_id)[0][0] is None
    assert count(limited, "SELECT count(*) FROM payments") == 0

    shared = from_ip(limited, "10.0.4.5")
    for other in [make.fan() for _ in range(3)]:
        assert shared.post(f"/api/v1/holds/{uuid.uuid4()}/payment-intents", headers=other.headers).status_code == 404
    assert_limited(shared.post(f"/api/v1/holds/{uuid.uuid4()}/payment-intents", headers=make.fan().headers))


# ------------------------------------------------------------------------------ the waiting room


def event_with_open_queue(gate: FlaskClient, make) -> int:
    show = make.show()
    event_id = fetch(make.app, "SELECT event_id FROM shows WHERE id = :s", s=show.show_id)[0][0]
    manager = make.fan(role="manager")
    opened = gate.put(
        f"/gate/v1/queues/{event_id}",
        headers=manager.headers,
        json={"batchSize": 5, "admissionIntervalSeconds": 10, "maxActive": 8, "sessionSeconds": 600},
    )
    assert opened.status_code == 200, opened.get_json()
    return event_id


def tickets(application: Flask, event_id: int, user_id: int) -> int:
    return count(
        application, "SELECT count(*) FROM gate_tickets WHERE event_id = :e AND user_id = :u", e=event_id, u=user_id
    )


def test_joining_waiting_rooms_is_limited_per_fan_and_per_ip(limited_gate, make):
    manager_client = from_ip(limited_gate, "10.0.5.100")
    events = [event_with_open_queue(manager_client, make) for _ in range(4)]
    fan = make.fan()
    for i, event_id in enumerate(events[:2]):
        joined = from_ip(limited_gate, f"10.0.5.{i + 1}").post(f"/gate/v1/queues/{event_id}/join", headers=fan.headers)
        assert joined.status_code == 201
    assert_limited(from_ip(limited_gate, "10.0.5.3").post(f"/gate/v1/queues/{events[2]}/join", headers=fan.headers))
    assert tickets(limited_gate, events[2], fan.user_id) == 0

    crowd = from_ip(limited_gate, "10.0.5.4")
    fans = [make.fan() for _ in range(4)]
    for one in fans[:3]:
        assert crowd.post(f"/gate/v1/queues/{events[3]}/join", headers=one.headers).status_code == 201
    assert_limited(crowd.post(f"/gate/v1/queues/{events[3]}/join", headers=fans[3].headers))
    assert tickets(limited_gate, events[3], fans[3].user_id) == 0
    assert (
        from_ip(limited_gate, "10.0.5.5").post(f"/gate/v1/queues/{events[3]}/join", headers=fans[3].headers).status_code
        == 201
    )


def test_the_gates_join_form_throttles_failed_logins_by_email_and_address_with_a_page(
    limited, limited_gate, client, make
):
    event_id = event_with_open_queue(from_ip(limited_gate, "10.0.6.100"), make)
    register(client, "gate-form@example.com")
    browser = from_ip(limited_gate, "10.0.6.1")
    page = browser.get(f"/gate/queues/{event_id}")
    for _ in range(2):
        wrong = browser.post(
            f"/gate/queues/{event_id}",
            data={"csrf_token": csrf_token(page), "email": "gate-form@example.com", "password": "guess-1234"},
        )
        assert wrong.status_code == 422
        page = wrong
    right = browser.post(
        f"/gate/queues/{event_id}",
        data={"csrf_token": csrf_token(page), "email": "Gate-Form@example.com", "password": PASSWORD},
    )
    assert_limited(right, page=True)
    assert count(limited_gate, "SELECT count(*) FROM gate_tickets WHERE event_id = :e", e=event_id) == 0
    # The web app counts the same failed logins: the API refuses that email from that address too...
    assert_limited(
        from_ip(limited, "10.0.6.1").post(
            "/api/v1/auth/token", json={"email": "gate-form@example.com", "password": PASSWORD}
        )
    )
    # ...but not from another one: nobody can lock a fan out.
    api = from_ip(limited, "10.0.6.2").post(
        "/api/v1/auth/token", json={"email": "gate-form@example.com", "password": PASSWORD}
    )
    assert api.status_code == 200


# ------------------------------------------------------------------------------ logins and sign-ups


def test_failed_logins_are_throttled_per_email_and_address_and_never_lock_the_fan_out(limited, client):
    register(client, "guessed@example.com")
    register(client, "bystander@example.com")
    guesser = from_ip(limited, "10.0.7.1")
    for _ in range(2):
        wrong = guesser.post("/api/v1/auth/token", json={"email": "guessed@example.com", "password": "nope"})
        assert wrong.status_code == 401
    # The guesser's address is refused for that email, even with the right password...
    assert_limited(guesser.post("/api/v1/auth/token", json={"email": "GUESSED@example.com", "password": PASSWORD}))
    browser = from_ip(limited, "10.0.7.1")
    form = browser.get("/login")
    assert form.status_code == 200  # showing the form counts nothing
    refused = browser.post(
        "/login", data={"csrf_token": csrf_token(form), "email": "guessed@example.com", "password": PASSWORD}
    )
    assert_limited(refused, page=True)
    assert "Log in" in browser.get("/").get_data(as_text=True)  # not signed in
    # ...while the fan, from anywhere else, logs in at once.
    assert (
        from_ip(limited, "10.0.7.3")
        .post("/api/v1/auth/token", json={"email": "GUESSED@example.com", "password": PASSWORD})
        .status_code
        == 200
    )
    # Successful logins do not count.
    for _ in range(3):
        ok = from_ip(limited, "10.0.7.4").post(
            "/api/v1/auth/token", json={"email": "bystander@example.com", "password": PASSWORD}
        )
        assert ok.status_code == 200


def test_wrong_current_passwords_are_limited_per_fan(limited, client):
    token = register(client, "changer@example.com")
    headers = {"Authorization": f"Bearer {token}"}
    api = from_ip(limited, "10.0.7.20")
    for _ in range(2):
        wrong = api.post(
            "/api/v1/auth/password", headers=headers, json={"currentPassword": "guess", "newPassword": "a new secret"}
        )
        assert wrong.status_code == 401
    assert_limited(
        from_ip(limited, "10.0.7.21").post(
            "/api/v1/auth/password", headers=headers, json={"currentPassword": PASSWORD, "newPassword": "a new secret"}
        )
    )
    assert (
        client.post("/api/v1/auth/token", json={"email": "changer@example.com", "password": PASSWORD}).status_code
        == 200
    )  # unchanged


ATTACK = dict(
    rate_limit_logins="10/minute;30/hour",
    rate_limit_logins_per_ip="60/minute;600/hour",
    login_slowdown_after=5,
    login_slowdown_max_seconds=0.01,
)


def test_fifty_wrong_passwords_from_one_address_throttle_that_address_and_never_lock_the_fan_out(
    app, built, client, make
):
    web, gate = built(app, **ATTACK), built(app, create_gate_app, **ATTACK)
    event_id = event_with_open_queue(from_ip(gate, "10.0.14.100"), make)
    register(client, "victim@example.com")
    attacker = from_ip(web, "10.0.14.1")
    answers = [
        attacker.post("/api/v1/auth/token", json={"email": "victim@example.com", "password": f"guess-{n}"}).status_code
        for n in range(50)
    ]
    assert answers[:10] == [401] * 10 and set(answers[10:]) == {429}
    # The attacker's own address is throttled, whatever it sends, on every way in.
    assert_limited(attacker.post("/api/v1/auth/token", json={"email": "victim@example.com", "password": PASSWORD}))
    form = attacker.get("/login")
    assert_limited(
        attacker.post(
            "/login", data={"csrf_token": csrf_token(form), "email": "victim@example.com", "password": PASSWORD}
        ),
        page=True,
    )

    # The victim, from another address, logs in at once: the API, the site and the gate's form.
    victim_api = from_ip(web, "10.0.14.2").post(
        "/api/v1/auth/token", json={"email": "victim@example.com", "password": PASSWORD}
    )
    assert victim_api.status_code == 200 and victim_api.get_json()["token"]
    browser = from_ip(web, "10.0.14.2")
    form = browser.get("/login")
    signed_in = browser.post(
        "/login", data={"csrf_token": csrf_token(form), "email": "victim@example.com", "password": PASSWORD}
    )
    assert signed_in.status_code == 303 and "Log in" not in browser.get("/").get_data(as_text=True)
    gate_browser = from_ip(gate, "10.0.14.2")
    page = gate_browser.get(f"/gate/queues/{event_id}")
    joined = gate_browser.post(
        f"/gate/queues/{event_id}",
        data={"csrf_token": csrf_token(page), "email": "victim@example.com", "password": PASSWORD},
    )
    assert joined.status_code == 303 and "/wait?ticket=" in joined.headers["Location"]

    # The email under attack was slowed down rather than refused: each of those logins waited first.
    metrics = web.test_client().get("/metrics").get_data(as_text=True)
    slowed = float(re.search(r"^seatline_login_slowdown_total (\S+)$", metrics, re.M).group(1))
    assert slowed >= 2  # the victim's API login and site login
    gate_metrics = gate.test_client().get("/metrics").get_data(as_text=True)
    assert re.search(r"^seatline_login_slowdown_total 1\.0$", gate_metrics, re.M)


def test_the_slowdown_grows_with_the_failures_and_is_bounded():
    assert [delay_for(n, after=10, max_seconds=1.0) for n in (0, 10, 11, 15, 20, 500)] == [0.0, 0.0, 0.1, 0.5, 1.0, 1.0]
    assert delay_for(50, after=10, max_seconds=0) == 0.0


def test_logins_are_limited_per_ip_across_emails(limited, client):
    for n in range(5):
        register(client, f"ip-login-{n}@example.com")
    shared = from_ip(limited, "10.0.8.1")
    for n in range(4):
        assert (
            shared.post(
                "/api/v1/auth/token", json={"email": f"ip-login-{n}@example.com", "password": PASSWORD}
            ).status_code
            == 200
        )
    assert_limited(shared.post("/api/v1/auth/token", json={"email": "ip-login-4@example.com", "password": PASSWORD}))
    assert (
        from_ip(limited, "10.0.8.2")
        .post("/api/v1/auth/token", json={"email": "ip-login-4@example.com", "password": PASSWORD})
        .status_code
        == 200
    )


def test_sign_ups_are_limited_per_ip_and_the_refused_one_creates_no_account(limited):
    shared = from_ip(limited, "10.0.9.1")
    for n in range(2):
        assert (
            shared.post(
                "/api/v1/auth/register", json={"email": f"new{n}@example.com", "password": PASSWORD, "name": "New"}
            ).status_code
            == 201
        )
    assert_limited(
        shared.post("/api/v1/auth/register", json={"email": "new2@example.com", "password": PASSWORD, "name": "New"})
    )
    form = shared.get("/signup")
    page = shared.post(
        "/signup",
        data={"csrf_token": csrf_token(form), "name": "New", "email": "new3@example.com", "password": PASSWORD},
    )
    assert_limited(page, page=True)
    assert count(limited, "SELECT count(*) FROM users WHERE email IN ('new2@example.com', 'new3@example.com')") == 0
    assert (
        from_ip(limited, "10.0.9.2")
        .post("/api/v1/auth/register", json={"email": "new2@example.com", "password": PASSWORD, "name": "New"})
        .status_code
        == 201
    )


def test_the_window_moves_on(app, built):
    quick = built(app, rate_limit_signups_per_ip="2/second")
    client = from_ip(quick, "10.0.10.1")

    def sign_up(n: int):
        return client.post(
            "/api/v1/auth/register", json={"email": f"quick{n}@example.com", "password": PASSWORD, "name": "Q"}
        )

    assert [sign_up(0).status_code, sign_up(1).status_code] == [201, 201]
    retry_after = assert_limited(sign_up(2))
    assert retry_after == 1
    time.sleep(1.05)
    assert sign_up(2).status_code == 201


# ------------------------------------------------------------------------------ the store goes away


def test_without_the_store_each_process_counts_a_share_in_memory_and_says_so(app, built, caplog, monkeypatch):
    # The session's migrations ran Alembic's logging set-up, which disables the loggers that existed then.
    monkeypatch.setattr(logging.getLogger("app.api.rate_limits"), "disabled", False)
    # Nothing listens on port 1: every call to the limit store fails at once.
    cut_off = built(
        app,
        rate_limit_storage_url="redis://127.0.0.1:1/0",
        rate_limit_signups_per_ip="8/minute",
        rate_limit_fallback_divisor=4,
    )
    client = from_ip(cut_off, "10.0.11.1")
    with caplog.at_level(logging.WARNING, logger="app.api.rate_limits"):
        for n in range(2):
            assert (
                client.post(
                    "/api/v1/auth/register", json={"email": f"cut{n}@example.com", "password": PASSWORD, "name": "C"}
                ).status_code
                == 201
            )
        assert_limited(
            client.post("/api/v1/auth/register", json={"email": "cut2@example.com", "password": PASSWORD, "name": "C"})
        )
        assert (
            from_ip(cut_off, "10.0.11.2")
            .post("/api/v1/auth/register", json={"email": "cut3@example.com", "password": PASSWORD, "name": "C"})
            .status_code
            == 201
        )
    warnings = [r for r in caplog.records if r.name == "app.api.rate_limits" and "unreachable" in r.getMessage()]
    assert len(warnings) == 1 and "127.0.0.1:1" in warnings[0].getMessage()
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.mimetype == "text/plain"
    text = metrics.get_data(as_text=True)
    assert "seatline_rate_limit_fallback_total 1.0" in text
    assert "seatline_rate_limit_fallback_active 1.0" in text
    assert 'seatline_rate_limited_total{limit="signups-ip"} 1.0' in text


def test_bad_login_bodies_are_not_mistaken_for_a_store_outage(limited):
    client = from_ip(limited, "10.0.13.1")
    for body in (
        b'{"email": "\\ud800@example.com", "password": "x"}',
        b"not json",
        b'{"email": "' + b"a" * 70_000 + b'"}',
    ):
        assert client.post("/api/v1/auth/token", data=body, content_type="application/json").status_code in (
            400,
            401,
            413,
        )
    text = client.get("/metrics").get_data(as_text=True)
    assert "seatline_rate_limit_fallback_active 0.0" in text and "seatline_rate_limit_fallback_total 0.0" in text
    assert limited.extensions["seatline.rate_limits"].in_outage is False


# ------------------------------------------------------------------------------ behind the edge


def test_behind_one_proxy_the_address_the_edge_added_is_the_one_counted(app, built):
    behind_edge = built(app, trusted_proxy_hops=1)
    edge = behind_edge.test_client()  # every request comes from the edge, 127.0.0.1

    def sign_up(n: int, forwarded_for: str):
        return edge.post(
            "/api/v1/auth/register",
            headers={"X-Forwarded-For": forwarded_for},
            json={"email": f"edge{n}@example.com", "password": PASSWORD, "name": "E"},
        )

    assert sign_up(0, "203.0.113.5").status_code == 201
    assert sign_up(1, "203.0.113.5").status_code == 201
    # A value the client sent itself comes first; the edge appends the address it saw.
    assert_limited(sign_up(2, "198.51.100.7, 203.0.113.5"))
    assert sign_up(3, "203.0.113.6").status_code == 201


def test_without_trusted_proxies_x_forwarded_for_is_ignored(limited):
    client = limited.test_client()

    def sign_up(n: int, forwarded_for: str):
        return client.post(
            "/api/v1/auth/register",
            headers={"X-Forwarded-For": forwarded_for},
            json={"email": f"direct{n}@example.com", "password": PASSWORD, "name": "D"},
        )

    assert [sign_up(0, "203.0.113.7").status_code, sign_up(1, "203.0.113.8").status_code] == [201, 201]
    assert_limited(sign_up(2, "203.0.113.9"))


# ------------------------------------------------------------------------------ configuration


def test_limits_come_from_the_environment_and_bad_ones_fail_fast():
    settings = Settings.from_env({"ENV": "test", "RATE_LIMIT_HOLDS": "5/minute;50/hour", "TRUSTED_PROXY_HOPS": "1"})
    assert settings.rate_limit_holds == "5/minute;50/hour" and settings.trusted_proxy_hops == 1
    for bad in ({"RATE_LIMIT_HOLDS": "lots"}, {"RATE_LIMIT_FALLBACK_DIVISOR": "0"}, {"TRUSTED_PROXY_HOPS": "-1"}):
        with pytest.raises(ConfigError):
            Settings.from_env({"ENV": "test", **bad})


def test_limits_can_be_turned_off(app, built):
    unlimited = built(app, rate_limits_enabled=False, rate_limit_signups_per_ip="1/minute")
    client = from_ip(unlimited, "10.0.12.1")
    for n in range(3):
        assert (
            client.post(
                "/api/v1/auth/register", json={"email": f"off{n}@example.com", "password": PASSWORD, "name": "O"}
            ).status_code
            == 201
        )
