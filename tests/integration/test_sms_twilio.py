"""SMS through Twilio's API (the ``twilio`` package) against the local stand-in over real HTTP
(devstack/sms.py): what is sent, and how each kind of failure is retried (README "SMS")."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from app.config import ConfigError, Settings
from app.notifications.delivery import channels_for, send_notification
from app.unit_of_work import unit_of_work
from devstack.sms import TwilioStandIn
from tests.support.booking import book
from tests.support.db import fetch, run_sql

PHONE = "+919876543210"
FROM = "+15005550006"


@pytest.fixture(scope="module")
def standin() -> Iterator[TwilioStandIn]:
    server = TwilioStandIn()
    yield server
    server.stop()


@pytest.fixture
def twilio(app, standin):
    standin.reset()
    return dataclasses.replace(
        app.extensions["seatline.settings"],
        sms_backend="twilio",
        twilio_account_sid=standin.account_sid,
        twilio_auth_token=standin.auth_token,
        twilio_from=FROM,
        twilio_api_url=standin.url,
        twilio_timeout_seconds=1.0,
    )


def sms_for_a_booking(app, client, make, gateway, phone: str = PHONE) -> int:
    show, fan = make.show(), make.fan()
    run_sql(app, "UPDATE users SET phone = :p WHERE id = :u", p=phone, u=fan.user_id)
    book(client, gateway, fan, show.show_id, ["B1"])
    return fetch(app, "SELECT id FROM notifications WHERE channel = 'sms' AND user_id = :u", u=fan.user_id)[0].id


def send(app, settings: Settings, notification_id: int) -> bool:
    with app.app_context(), unit_of_work() as uow:
        return send_notification(uow, channels_for(settings), notification_id, settings.notification_max_attempts)


def row(app, notification_id: int):
    return fetch(app, "SELECT status, attempts, last_error, body FROM notifications WHERE id = :i", i=notification_id)[
        0
    ]


def test_a_message_is_sent_to_the_profile_phone_from_the_configured_number(app, client, make, gateway, twilio, standin):
    nid = sms_for_a_booking(app, client, make, gateway)
    assert send(app, twilio, nid) is True
    [taken] = standin.messages()
    sent = row(app, nid)
    assert sent.status == "SENT" and sent.attempts == 1
    assert taken.to == PHONE and taken.from_ == FROM and taken.body == sent.body and "B1" in taken.body
    assert fetch(app, "SELECT count(*) AS n FROM sms_outbox")[0].n == 0  # not the development backend
    assert send(app, twilio, nid) is False and len(standin.messages()) == 1  # sent once


def test_a_messaging_service_sends_instead_of_a_number(app, client, make, gateway, twilio, standin):
    nid = sms_for_a_booking(app, client, make, gateway)
    service = dataclasses.replace(twilio, twilio_from="", twilio_messaging_service_sid="MG" + "1" * 32)
    assert send(app, service, nid) is True
    [taken] = standin.messages(to=PHONE)
    assert taken.messaging_service_sid == "MG" + "1" * 32 and taken.from_ is None


def test_the_phone_on_the_profile_when_sending_is_used_and_none_means_no_sms(
    app, client, make, gateway, twilio, standin
):
    nid = sms_for_a_booking(app, client, make, gateway)
    run_sql(
        app,
        "UPDATE users SET phone = '+442079460958' WHERE id = (SELECT user_id FROM notifications WHERE id = :i)",
        i=nid,
    )
    assert send(app, twilio, nid) is True
    assert [m.to for m in standin.messages()] == ["+442079460958"]
    assert fetch(app, "SELECT recipient FROM notifications WHERE id = :i", i=nid)[0].recipient == "+442079460958"

    other = sms_for_a_booking(app, client, make, gateway)
    run_sql(app, "UPDATE users SET phone = NULL WHERE id = (SELECT user_id FROM notifications WHERE id = :i)", i=other)
    assert send(app, twilio, other) is False
    assert row(app, other).status == "DROPPED" and len(standin.messages()) == 1


def test_wrong_credentials_are_an_outage_not_the_messages_fault(app, client, make, gateway, twilio, standin):
    nid = sms_for_a_booking(app, client, make, gateway)
    wrong = dataclasses.replace(twilio, twilio_auth_token="not-the-token")
    for _ in range(twilio.notification_max_attempts + 1):
        with pytest.raises(ConnectionError):
            send(app, wrong, nid)
    failed = row(app, nid)
    assert failed.status == "PENDING" and failed.attempts == 0 and "401" in failed.last_error
    assert standin.messages() == []
    assert send(app, twilio, nid) is True and row(app, nid).status == "SENT"


def test_an_invalid_number_is_a_permanent_failure(app, client, make, gateway, twilio, standin):
    nid = sms_for_a_booking(app, client, make, gateway)
    standin.refused_numbers.add(PHONE)
    assert send(app, twilio, nid) is False  # not raised: nothing to retry
    dead = row(app, nid)
    assert dead.status == "DEAD" and dead.attempts == 1 and "21211" in dead.last_error
    requests_made = standin.requests
    assert send(app, twilio, nid) is False and standin.requests == requests_made  # never tried again
    assert standin.messages() == []


def test_a_server_error_is_retried_until_it_goes_through(app, client, make, gateway, twilio, standin):
    nid = sms_for_a_booking(app, client, make, gateway)
    standin.fail_next(twilio.notification_max_attempts + 2)  # more outages than attempts: still not DEAD
    for _ in range(twilio.notification_max_attempts + 2):
        with pytest.raises(ConnectionError):
            send(app, twilio, nid)
    waiting = row(app, nid)
    assert waiting.status == "PENDING" and waiting.attempts == 0 and "500" in waiting.last_error
    assert standin.messages() == []
    assert send(app, twilio, nid) is True
    assert row(app, nid).status == "SENT" and [m.to for m in standin.messages()] == [PHONE]


def test_a_timeout_is_retried_like_an_outage(app, client, make, gateway, twilio, standin):
    nid = sms_for_a_booking(app, client, make, gateway)
    standin.hang_next(1, seconds=twilio.twilio_timeout_seconds * 3)
    with pytest.raises(ConnectionError):
        send(app, twilio, nid)
    waiting = row(app, nid)
    assert waiting.status == "PENDING" and waiting.attempts == 0 and "Timeout" in waiting.last_error
    assert send(app, twilio, nid) is True
    assert row(app, nid).status == "SENT" and PHONE in [m.to for m in standin.messages()]


def test_a_refused_connection_is_an_outage(app, client, make, gateway, twilio):
    nid = sms_for_a_booking(app, client, make, gateway)
    stopped = TwilioStandIn()
    stopped.stop()  # nothing listens on its port any more
    with pytest.raises(ConnectionError):
        send(app, dataclasses.replace(twilio, twilio_api_url=stopped.url), nid)
    assert row(app, nid).status == "PENDING" and row(app, nid).attempts == 0


def test_the_twilio_backend_refuses_to_start_without_its_settings():
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID"):
        Settings.from_env({"ENV": "test", "SMS_BACKEND": "twilio", "TWILIO_AUTH_TOKEN": "x", "TWILIO_FROM": FROM})
    with pytest.raises(ConfigError, match="TWILIO_FROM"):
        Settings.from_env(
            {"ENV": "test", "SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "x"}
        )
    with pytest.raises(ConfigError, match="SMS_BACKEND"):
        Settings.from_env({"ENV": "test", "SMS_BACKEND": "carrier-pigeon"})
    assert Settings.from_env({"ENV": "test"}).sms_backend == "outbox"
