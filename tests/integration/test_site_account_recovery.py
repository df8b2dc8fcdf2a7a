"""The site's account-recovery pages and the account page's profile form: forgotten passwords,
the pages the emailed links open, verification links, name/phone/language (README "Account
pages"). Email goes through the real worker and SMTP sink."""

from __future__ import annotations

import re
import threading

from tests.integration.test_account_recovery import PASSWORD, link_token, password_hash, register
from tests.support.db import fetch, run_jobs

RESET_LINK = "http://127.0.0.1:8000/account/reset"
VERIFY_LINK = "http://127.0.0.1:8000/account/verify"
NEW_PASSWORD = "a brand new passphrase"


def token_of(response) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)


def site_login(client, email: str, password: str = PASSWORD):
    login = client.get("/login")
    return client.post("/login", data={"csrf_token": token_of(login), "email": email, "password": password})


def described_error(html: str, field: str) -> str:
    """The error text tied to ``field``'s input by aria-describedby (and that it says aria-invalid)."""
    tag = re.search(rf'<(?:input|select)[^>]*\bid="{field}"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in tag, tag
    ids = re.search(r'aria-describedby="([^"]+)"', tag).group(1).split()
    assert f"{field}-error" in ids, tag
    return re.search(rf'id="{field}-error"[^>]*>([^<]+)<', html).group(1)


def notification_count(app) -> int:
    return fetch(app, "SELECT count(*) AS n FROM notifications")[0].n


# ------------------------------------------------------------------------------ forgot password


def test_login_links_to_a_form_that_answers_alike_for_unknown_emails(app, client, mail):
    register(client, "ada@example.com")
    run_jobs(app)
    login = client.get("/login").get_data(as_text=True)
    assert 'href="/forgot-password"' in login
    form = client.get("/forgot-password")
    assert form.status_code == 200
    before = notification_count(app)
    known = client.post("/forgot-password", data={"csrf_token": token_of(form), "email": "Ada@Example.com"})
    unknown = client.post("/forgot-password", data={"csrf_token": token_of(form), "email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    said = [
        re.search(r'data-testid="reset-sent">([^<]+)<', r.get_data(as_text=True)).group(1) for r in (known, unknown)
    ]
    assert said[0] == said[1] and "30 minutes" in said[0]
    assert notification_count(app) == before + 1
    assert link_token(app, mail, "ada@example.com", RESET_LINK)
    assert mail.to("nobody@example.com") == []


def test_the_forgot_password_form_checks_its_input_and_csrf(app, client):
    form = client.get("/forgot-password")
    before = notification_count(app)
    no_csrf = client.post("/forgot-password", data={"email": "ada@example.com"})
    assert no_csrf.status_code in (400, 422)
    bad = client.post("/forgot-password", data={"csrf_token": token_of(form), "email": "not an email"})
    assert bad.status_code == 422
    assert described_error(bad.get_data(as_text=True), "email")
    assert 'data-testid="error-summary"' in bad.get_data(as_text=True)
    assert notification_count(app) == before


def test_the_form_shares_the_apis_limits_per_email(app, client):
    register(client, "limited@example.com")
    for _ in range(3):  # RATE_LIMIT_PASSWORD_RESETS: 3 a minute for one email
        assert client.post("/api/v1/auth/password-reset", json={"email": "limited@example.com"}).status_code == 202
    form = client.get("/forgot-password")
    before = notification_count(app)
    over = client.post("/forgot-password", data={"csrf_token": token_of(form), "email": "LIMITED@example.com"})
    assert over.status_code == 429 and over.mimetype == "text/html" and "Retry-After" in over.headers
    assert notification_count(app) == before


# ------------------------------------------------------------------------------ the reset page


def test_the_reset_link_sets_a_new_password_once_and_ends_every_session(app, client, mail):
    account = register(client, "grace@example.com", "Grace")
    other_browser = app.test_client()
    assert site_login(other_browser, "grace@example.com").status_code == 303
    client.post("/api/v1/auth/password-reset", json={"email": "grace@example.com"})
    token = link_token(app, mail, "grace@example.com", RESET_LINK)
    old_hash = password_hash(app, "grace@example.com")

    opened = client.get(f"/account/reset?token={token}")
    assert opened.status_code == 303 and opened.headers["Location"] == "/account/reset"  # out of the address
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    page = client.get("/account/reset")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert token not in html and 'autocomplete="new-password"' in html

    mismatch = client.post(
        "/account/reset",
        data={"csrf_token": token_of(page), "new_password": NEW_PASSWORD, "confirm_password": "something else"},
    )
    assert mismatch.status_code == 422 and mismatch.headers["Referrer-Policy"] == "no-referrer"
    assert described_error(mismatch.get_data(as_text=True), "confirm_password")
    short = client.post(
        "/account/reset", data={"csrf_token": token_of(page), "new_password": "short", "confirm_password": "short"}
    )
    assert short.status_code == 422 and described_error(short.get_data(as_text=True), "new_password")
    assert password_hash(app, "grace@example.com") == old_hash  # nothing changed, the token not spent

    done = client.post(
        "/account/reset",
        data={"csrf_token": token_of(page), "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert done.status_code == 303 and done.headers["Location"] == "/login?reset=done"
    assert 'data-testid="reset-done"' in client.get("/login?reset=done").get_data(as_text=True)
    assert password_hash(app, "grace@example.com") != old_hash
    # Every session and token of the account is over: the API token, the other browser's session.
    assert client.get("/api/v1/me", headers=account["headers"]).status_code == 401
    assert other_browser.get("/account").status_code == 303
    assert site_login(client, "grace@example.com", PASSWORD).status_code == 422
    assert site_login(client, "grace@example.com", NEW_PASSWORD).status_code == 303

    # The link is spent: opening it again says so, and offers a new one.
    again = app.test_client()
    again.get(f"/account/reset?token={token}")
    spent = again.get("/account/reset")
    assert spent.status_code == 400 and 'data-testid="reset-invalid"' in spent.get_data(as_text=True)
    assert 'href="/forgot-password"' in spent.get_data(as_text=True)


def test_a_forged_or_missing_reset_token_gets_the_invalid_page(app, client):
    for address in ("/account/reset?token=" + "A" * 43, "/account/reset?token=" + "x" * 5000, "/account/reset"):
        first = client.get(address)
        page = client.get("/account/reset") if first.status_code == 303 else first
        assert page.status_code == 400 and 'data-testid="reset-invalid"' in page.get_data(as_text=True)
        assert page.headers["Referrer-Policy"] == "no-referrer"
    form = client.get("/forgot-password")
    post = client.post(
        "/account/reset",
        data={"csrf_token": token_of(form), "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert post.status_code == 400 and 'data-testid="reset-invalid"' in post.get_data(as_text=True)


# ------------------------------------------------------------------------------ verification


def signup_on_site(client, email: str, name: str = "Ada"):
    form = client.get("/signup")
    r = client.post("/signup", data={"csrf_token": token_of(form), "name": name, "email": email, "password": PASSWORD})
    assert r.status_code == 303, r.get_data(as_text=True)


def verified(app, email: str) -> bool:
    return fetch(app, "SELECT email_verified_at IS NOT NULL AS v FROM users WHERE email = :e", e=email)[0].v


def test_the_verification_link_confirms_the_address_and_says_so(app, client, mail):
    signup_on_site(client, "linus@example.com")
    account = client.get("/account").get_data(as_text=True)
    assert 'data-testid="unverified-banner"' in account
    token = link_token(app, mail, "linus@example.com", VERIFY_LINK)

    elsewhere = app.test_client()  # the link opened on another device, nobody signed in
    opened = elsewhere.get(f"/account/verify?token={token}")
    assert opened.status_code == 303 and opened.headers["Location"] == "/account/verify"
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    page = elsewhere.get("/account/verify")
    assert page.status_code == 200 and token not in page.get_data(as_text=True)
    assert "confirmed" in re.search(r'data-testid="verify-result">([^<]+)<', page.get_data(as_text=True)).group(1)
    assert verified(app, "linus@example.com")
    assert 'data-testid="unverified-banner"' not in client.get("/account").get_data(as_text=True)

    # Used: a failure to a stranger, "already confirmed" to the signed-in owner.
    elsewhere.get(f"/account/verify?token={token}")
    assert elsewhere.get("/account/verify").status_code == 400
    client.get(f"/account/verify?token={token}")
    owner = client.get("/account/verify")
    assert owner.status_code == 200 and "already confirmed" in owner.get_data(as_text=True)


def test_a_forged_verification_link_fails(app, client):
    client.get("/account/verify?token=" + "B" * 43)
    page = client.get("/account/verify")
    assert page.status_code == 400 and page.headers["Referrer-Policy"] == "no-referrer"


def test_an_unverified_fan_can_ask_for_a_new_link_from_the_account_page(app, client, mail):
    signup_on_site(client, "resend@example.com")
    run_jobs(app)
    first = link_token(app, mail, "resend@example.com", VERIFY_LINK)
    page = client.get("/account")
    before = notification_count(app)
    sent = client.post("/account/verify/resend", data={"csrf_token": token_of(page)})
    assert sent.status_code == 200 and 'data-testid="account-message"' in sent.get_data(as_text=True)
    assert notification_count(app) == before + 1
    second = link_token(app, mail, "resend@example.com", VERIFY_LINK)
    assert second != first
    assert client.post("/account/verify/resend", data={}).status_code in (400, 422)  # CSRF
    anonymous = app.test_client()
    form = anonymous.get("/login")
    assert anonymous.post("/account/verify/resend", data={"csrf_token": token_of(form)}).status_code == 303
    assert notification_count(app) == before + 1


# ------------------------------------------------------------------------------ the profile form


def test_the_profile_form_saves_name_phone_and_language(app, client):
    signup_on_site(client, "hema@example.com", "Hema")
    page = client.get("/account")
    saved = client.post(
        "/account/profile",
        data={"csrf_token": token_of(page), "name": "  Hema Malini ", "phone": "+91 98765-43210", "locale": "hi"},
    )
    assert saved.status_code == 200 and 'data-testid="account-message"' in saved.get_data(as_text=True)
    [row] = fetch(app, "SELECT name, phone, locale FROM users WHERE email = 'hema@example.com'")
    assert (row.name, row.phone, row.locale) == ("Hema Malini", "+919876543210", "hi")
    with app.app_context(), client.session_transaction() as session:
        assert session["locale"] == "hi" and session["name"] == "Hema Malini"
    cleared = client.post(
        "/account/profile", data={"csrf_token": token_of(saved), "name": "Hema", "phone": "", "locale": "en"}
    )
    assert cleared.status_code == 200
    [row] = fetch(app, "SELECT phone, locale FROM users WHERE email = 'hema@example.com'")
    assert row.phone is None and row.locale == "en"


def test_signing_in_takes_the_language_from_the_profile(app, client):
    account = register(client, "kabir@example.com", "Kabir")
    assert client.patch("/api/v1/me", json={"locale": "hi"}, headers=account["headers"]).status_code == 200
    assert site_login(client, "kabir@example.com").status_code == 303
    with app.app_context(), client.session_transaction() as session:
        assert session["locale"] == "hi"


def test_bad_profile_input_is_shown_at_the_field_and_changes_nothing(app, client):
    signup_on_site(client, "bad@example.com", "Bad")
    page = client.get("/account")
    for data, field in (
        ({"name": "Bad", "phone": "+1 555 000", "locale": "en"}, "phone"),
        ({"name": "Bad", "phone": "98765 43210", "locale": "en"}, "phone"),
        ({"name": "Bad", "phone": "+91 98765 43210 ext 5", "locale": "en"}, "phone"),
        ({"name": "   ", "phone": "", "locale": "en"}, "name"),
        ({"name": "Bad", "phone": "", "locale": "fr"}, "locale"),
    ):
        r = client.post("/account/profile", data={"csrf_token": token_of(page), **data})
        assert r.status_code == 422, data
        assert described_error(r.get_data(as_text=True), field), data
    assert client.post("/account/profile", data={"name": "X", "phone": "", "locale": "en"}).status_code in (400, 422)
    [row] = fetch(app, "SELECT name, phone, locale FROM users WHERE email = 'bad@example.com'")
    assert (row.name, row.phone, row.locale) == ("Bad", None, None)


def test_of_many_browsers_racing_with_one_reset_link_exactly_one_sets_the_password(app, client, mail):
    register(client, "race@example.com")
    client.post("/api/v1/auth/password-reset", json={"email": "race@example.com"})
    token = link_token(app, mail, "race@example.com", RESET_LINK)
    browsers = []
    for n in range(12):
        browser = app.test_client()
        browser.get(f"/account/reset?token={token}")
        browsers.append((browser, token_of(browser.get("/account/reset")), f"passphrase number {n:02d}"))
    barrier = threading.Barrier(len(browsers))
    answers: dict[str, int] = {}

    def submit(browser, csrf: str, password: str) -> None:
        barrier.wait()
        r = browser.post(
            "/account/reset", data={"csrf_token": csrf, "new_password": password, "confirm_password": password}
        )
        answers[password] = r.status_code

    threads = [threading.Thread(target=submit, args=b) for b in browsers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [winner] = [password for password, status in answers.items() if status == 303]
    assert sorted(answers.values()) == [303] + [400] * (len(browsers) - 1)
    assert site_login(app.test_client(), "race@example.com", winner).status_code == 303
