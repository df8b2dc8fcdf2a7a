"""Notifications that can never be sent: control characters are kept out of titles and names, a
message that keeps failing ends DEAD after NOTIFICATION_MAX_ATTEMPTS, and the sweeper shares its
passes among organisations so one organisation's backlog cannot starve another's mail
(README "What happens when…")."""

from __future__ import annotations

import pytest

import workers.jobs
from app.booking import sweeper
from app.unit_of_work import unit_of_work
from devstack.mail import MailSink
from tests.support.booking import book
from tests.support.db import fetch, run_jobs, run_sql
from tests.support.polling import wait_for

# PostgreSQL stores no NUL at all (the API answers 400 for one, see below); every other control character it keeps.
POISON = "Rock\r\nBcc: victim@example.com\x01 Night\x1b[2J\u2028!"
BOUNCE = f"nobody@{MailSink.REFUSED_DOMAIN}"


def email_of(app, user_id: int) -> str:
    return fetch(app, "SELECT email FROM users WHERE id = :u", u=user_id)[0].email


def test_a_title_stored_with_control_characters_still_makes_a_sendable_email(app, client, make, gateway, mail):
    # Stored as it came, as rows written before titles were cleaned on the way in.
    show, fan = make.show(title=POISON), make.fan()
    book(client, gateway, fan, show.show_id, ["B1"])
    run_jobs(app)
    [message] = wait_for(lambda: mail.to(email_of(app, fan.user_id)))
    assert not any(c in message["Subject"] for c in "\r\n\x01\x1b\u2028")
    assert "Rock Bcc: victim@example.com Night [2J !" in message["Subject"]
    assert message["Bcc"] is None and mail.to("victim@example.com") == []
    assert fetch(app, "SELECT status FROM notifications WHERE channel = 'email'")[0].status == "SENT"


def test_titles_and_names_lose_control_characters_on_the_way_in(app, client, make):
    manager = make.fan(role="manager")
    make.show()  # the manager's organisation
    r = client.post(
        "/api/v1/manage/events",
        json={"title": "Jazz\r\n\tat\x1b Dawn\x7f", "category": "concert", "durationMinutes": 90},
        headers=manager.headers,
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["title"] == "Jazz at Dawn"
    assert (
        fetch(app, "SELECT title FROM events WHERE id = :id", id=int(r.get_json()["eventId"]))[0].title
        == "Jazz at Dawn"
    )
    empty = client.post(
        "/api/v1/manage/events",
        json={"title": "\r\n\x07", "category": "concert", "durationMinutes": 90},
        headers=manager.headers,
    )
    assert empty.status_code == 400 and empty.get_json()["error"]["code"] == "VALIDATION_FAILED"
    nul = client.post(
        "/api/v1/manage/events",
        json={"title": "Jazz\x00", "category": "concert", "durationMinutes": 90},
        headers=manager.headers,
    )
    assert nul.status_code == 400 and nul.get_json()["error"]["code"] == "VALIDATION_FAILED"
    assert fetch(app, "SELECT count(*) FROM events WHERE title LIKE 'Jazz%'")[0][0] == 1
    r = client.post(
        "/api/v1/auth/register",
        json={"email": "eve@example.com", "password": "correct horse", "name": "Eve\r\nBcc: x@example.com"},
    )
    assert r.status_code == 201, r.get_json()
    assert fetch(app, "SELECT name FROM users WHERE email = 'eve@example.com'")[0].name == "Eve Bcc: x@example.com"


def test_a_message_that_always_fails_ends_dead_after_its_attempts(app, client, make, gateway):
    settings = app.extensions["seatline.settings"]
    show, fan = make.show(), make.fan()
    run_sql(app, "UPDATE users SET email = :e WHERE id = :u", e=BOUNCE, u=fan.user_id)
    book(client, gateway, fan, show.show_id, ["B1"])
    [nid] = [r.id for r in fetch(app, "SELECT id FROM notifications WHERE channel = 'email'")]
    for _ in range(settings.notification_max_attempts + 3):
        try:
            workers.jobs.send_notification(nid)
        except Exception:  # noqa: BLE001 (a failure that is not yet final is raised for the job's retry)
            pass
    row = fetch(app, "SELECT status, attempts, last_error, organisation_id FROM notifications WHERE id = :id", id=nid)[
        0
    ]
    assert row.status == "DEAD" and row.attempts == settings.notification_max_attempts
    assert "550" in row.last_error and row.organisation_id is not None
    with app.app_context(), unit_of_work() as uow:
        assert nid not in sweeper.pending_notifications(uow, 0)
    assert workers.jobs.sweep()["send_notification"] == 0
    # The organisation's managers see it on their dashboard; another organisation's do not.
    from tests.integration.test_manage_pages import signed_in

    signed_in(client, make.fan(role="manager"))
    page = client.get("/manage").get_data(as_text=True)
    assert 'data-testid="dead-letters"' in page and BOUNCE in page and "550" in page
    other = app.test_client()
    signed_in(other, make.fan(role="manager", organisation="Someone Else"))
    assert BOUNCE not in other.get("/manage").get_data(as_text=True)
    listing = app.test_cli_runner().invoke(args=["dead-letters"])
    assert listing.exit_code == 0 and f"{nid} " in listing.output and "550" in listing.output
    assert "1 dead notification(s)" in listing.output
    again = app.test_cli_runner().invoke(args=["dead-letters", "--requeue", str(nid)])
    assert again.exit_code == 0, again.output
    assert fetch(app, "SELECT status, attempts FROM notifications WHERE id = :id", id=nid)[0] == ("PENDING", 0)
    assert app.test_cli_runner().invoke(args=["dead-letters", "--requeue", str(nid)]).exit_code != 0


@pytest.mark.parametrize("poisoned", [1000])
def test_one_organisations_failing_backlog_does_not_starve_anothers_mail(app, make, mail, poisoned):
    a, b = make.show(organisation="Poisoned Promotions"), make.show(organisation="Bystander Arts")
    victim = make.fan()
    run_sql(app, "UPDATE users SET email = :e WHERE id = :u", e=BOUNCE, u=victim.user_id)
    org = {
        r.title: r.organisation_id
        for r in fetch(
            app,
            """
        SELECT s.id AS title, e.organisation_id FROM shows s JOIN events e ON e.id = s.event_id""",
        )
    }
    # Org A's messages, each of which the mail server refuses, all older than org B's.
    run_sql(
        app,
        """
        INSERT INTO notifications (dedupe_key, user_id, kind, channel, recipient, subject, body, organisation_id, created_at)
        SELECT 'poison:' || i, :u, 'booking_confirmed', 'email', :to, 'Your tickets', 'x', :org,
               now() - interval '2 hours' + i * interval '1 millisecond'
        FROM generate_series(1, :n) AS i""",
        u=victim.user_id,
        to=BOUNCE,
        org=org[a.show_id],
        n=poisoned,
    )
    fan = make.fan()
    # Org B's one message, pending past the retry time (its own job was lost).
    run_sql(
        app,
        """
        INSERT INTO notifications (dedupe_key, user_id, kind, channel, recipient, subject, body, organisation_id, created_at)
        VALUES ('fresh', :u, 'booking_confirmed', 'email', :to, 'Your tickets for B', 'x', :org,
                now() - interval '1 minute')""",
        u=fan.user_id,
        to=email_of(app, fan.user_id),
        org=org[b.show_id],
    )
    counts = workers.jobs.sweep()
    assert 0 < counts["send_notification"] <= 500
    run_jobs(app)
    wait_for(lambda: mail.to(email_of(app, fan.user_id)))
    assert fetch(app, "SELECT status FROM notifications WHERE dedupe_key = 'fresh'")[0].status == "SENT"
    # Org A's backlog is worked oldest first, a bounded share at a time.
    tried = fetch(
        app,
        "SELECT min(created_at) AS first, count(*) AS n FROM notifications "
        "WHERE dedupe_key LIKE 'poison:%' AND attempts > 0",
    )[0]
    assert 0 < tried.n < poisoned
    oldest = fetch(app, "SELECT attempts FROM notifications WHERE dedupe_key = 'poison:1'")[0].attempts
    assert oldest == 1
