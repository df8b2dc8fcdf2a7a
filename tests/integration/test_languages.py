"""The fans' language (README "Languages"): pages in the profile's language, then the browser's,
then English; Hindi pages with Hindi dates and Indian-grouped money; emails in the recipient's
language, delivered over SMTP to the test sink."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from email.header import decode_header, make_header
from zoneinfo import ZoneInfo

import requests
from babel import Locale
from icalendar import Calendar
from pypdf import PdfReader

from devstack.mail import text_body
from tests.integration.test_gate import event_with_show, open_queue
from tests.integration.test_tickets import attachments
from tests.integration.test_waitlist import sold_out
from tests.support.db import fetch, run_jobs, run_sql

HINDI = {"Accept-Language": "hi-IN,hi;q=0.9,en;q=0.5"}
LAKH = 10_000_000  # ₹1,00,000.00 in paise: a lakh of rupees
KOLKATA = ZoneInfo("Asia/Kolkata")


def token_of(response) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)


def signed_in(client, email: str, headers: dict[str, str] | None = None):
    client.post("/api/v1/auth/register", json={"email": email, "password": "correct horse", "name": "Asha"})
    login = client.get("/login", headers=headers or {})
    client.post("/login", data={"csrf_token": token_of(login), "email": email, "password": "correct horse"})
    return client


def hold_page(client, show, seat: str = "A1", headers: dict[str, str] | None = None) -> str:
    page = client.get(f"/shows/{show.show_id}", headers=headers or {})
    held = client.post(f"/shows/{show.show_id}/hold", data={"csrf_token": token_of(page), "seat": [seat]})
    assert held.status_code == 303, held.get_data(as_text=True)
    return held.headers["Location"]


def paid_on_the_hosted_page(client, hold_url: str) -> None:
    """The site sends the fan to the gateway's page (README "Hosted checkout"); the fan pays there and
    comes back to the return page, which books."""
    checkout = client.get(f"{hold_url}/checkout")
    sent = client.post(checkout.request.path, data={"csrf_token": token_of(checkout)})
    assert sent.status_code == 303, sent.get_data(as_text=True)
    paid = requests.post(
        sent.headers["Location"], data={"cardnumber": "4242424242424242"}, allow_redirects=False, timeout=10
    )
    assert paid.status_code == 303, paid.text
    back = paid.headers["Location"]
    assert client.get(back[back.index("/holds/") :]).status_code == 303


def subject_of(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def evening(days: int = 5) -> datetime:
    return (datetime.now(KOLKATA) + timedelta(days=days)).replace(hour=18, minute=30, second=0, microsecond=0)


def hindi_date_words(when: datetime) -> tuple[str, str]:
    """The month and weekday as Babel's Hindi locale abbreviates them (CLDR), for the show's day."""
    hi = Locale.parse("hi")
    return hi.months["format"]["abbreviated"][when.month], hi.days["format"]["abbreviated"][when.weekday()]


def test_a_hindi_browser_gets_hindi_text_and_money_with_indian_grouping(client, make):
    show = make.show(rows=1, per_row=4, prices={"gold": LAKH, "silver": LAKH})
    signed_in(client, "hindi@example.com")
    location = hold_page(client, show)
    hindi = client.get(location, headers=HINDI).get_data(as_text=True)
    assert "आपकी सीटें" in hindi and "ये सीटें छोड़ें" in hindi and "कुल:" in hindi
    assert "₹1,00,000.00" in hindi and "Release these seats" not in hindi
    english = client.get(location).get_data(as_text=True)  # no Accept-Language: English
    assert "Release these seats" in english and "₹100,000.00" in english and "आपकी" not in english
    # Error pages too, and an unknown language falls back to English.
    assert "शो की सूची पर वापस जाएँ" in client.get("/no-such-page", headers=HINDI).get_data(as_text=True)
    assert "Back to the shows" in client.get("/no-such-page", headers={"Accept-Language": "fr"}).get_data(as_text=True)


def test_bookings_show_the_shows_local_date_and_time_in_the_fans_language(client, make):
    starts = evening()
    show = make.show(rows=1, per_row=4, prices={"gold": 0, "silver": 0}, starts_at=starts)
    signed_in(client, "dates@example.com")
    checkout = client.get(f"{hold_page(client, show)}/checkout")
    assert client.post(checkout.request.path, data={"csrf_token": token_of(checkout)}).status_code == 303
    month, weekday = hindi_date_words(starts)
    hindi = client.get("/bookings", headers=HINDI).get_data(as_text=True)
    assert "मेरी बुकिंग" in hindi and "आने वाली" in hindi and "कन्फ़र्म" in hindi
    assert f"{weekday}, {starts.day} {month} {starts.year}, 6:30 pm" in hindi  # the show's time in Kolkata
    english = client.get("/bookings").get_data(as_text=True)
    assert f"{starts.strftime('%a, %b')} {starts.day}, {starts.year}, 6:30\u202fPM" in english


def test_the_show_page_gives_the_shows_local_date_and_time_in_the_pages_language(client, make):
    starts = evening()
    show = make.show(rows=1, per_row=4, starts_at=starts)
    month, weekday = hindi_date_words(starts)
    hindi = client.get(f"/shows/{show.show_id}", headers=HINDI).get_data(as_text=True)
    assert f"{weekday}, {starts.day} {month} {starts.year}, 6:30 pm" in hindi  # the show's time in Kolkata
    english = client.get(f"/shows/{show.show_id}").get_data(as_text=True)
    assert f"{starts.strftime('%a, %b')} {starts.day}, {starts.year}, 6:30\u202fPM" in english
    # The page around the date too: the seat map's headings, the seats' names, the nav; each page's
    # language is its own copy in the shared cache (the key names the locale).
    assert "अपनी सीटें चुनें" in hindi and "सीटें चुनने के लिए साइन इन करें" in hindi and "लॉग इन" in hindi
    assert "Pick your seats" not in hindi and "Pick your seats" in english and "Sign in to choose seats" in english


def test_my_waiting_lists_give_the_shows_local_date_and_time_in_the_pages_language(client, make):
    starts = evening()
    show, buyer = make.show(rows=1, per_row=1, starts_at=starts), make.fan()
    held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=buyer.headers)
    assert held.status_code == 201, held.get_json()
    signed_in(client, "liner@example.com")
    page = client.get(f"/shows/{show.show_id}")
    joined = client.post(f"/shows/{show.show_id}/waitlist", data={"csrf_token": token_of(page), "quantity": "1"})
    assert joined.status_code == 303, joined.get_data(as_text=True)
    month, weekday = hindi_date_words(starts)
    hindi = client.get("/waitlist", headers=HINDI).get_data(as_text=True)
    assert f"{weekday}, {starts.day} {month} {starts.year}, 6:30 pm" in hindi  # the show's time in Kolkata
    english = client.get("/waitlist").get_data(as_text=True)
    assert f"{starts.strftime('%a, %b')} {starts.day}, {starts.year}, 6:30\u202fPM" in english


def test_the_signed_in_fans_chosen_language_beats_the_browsers(client, make):
    show = make.show(rows=1, per_row=4, prices={"gold": LAKH, "silver": LAKH})
    signed_in(client, "chooser@example.com")
    location = hold_page(client, show)
    with client.session_transaction() as session:
        session["locale"] = "hi"  # what signing in sets from the profile
    page = client.get(location, headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "ये सीटें छोड़ें" in page and "₹1,00,000.00" in page
    with client.session_transaction() as session:
        session["locale"] = "en"
    page = client.get(location, headers=HINDI).get_data(as_text=True)
    assert "Release these seats" in page and "₹1,00,000.00" not in page
    with client.session_transaction() as session:
        session["locale"] = "xx"  # not a language the site speaks: the browser's is used
    assert "ये सीटें छोड़ें" in client.get(location, headers=HINDI).get_data(as_text=True)


def test_an_email_to_a_hindi_speaking_fan_arrives_in_hindi(app, client, make, gateway, mail):
    starts = evening(days=9)
    show = make.show(rows=1, per_row=4, prices={"gold": LAKH, "silver": LAKH}, starts_at=starts)
    signed_in(client, "priya@example.com")
    run_sql(app, "UPDATE users SET locale = 'hi', phone = '+919876543210' WHERE email = 'priya@example.com'")
    paid_on_the_hosted_page(client, hold_page(client, show))
    run_jobs(app)
    [message] = [m for m in mail.to("priya@example.com") if "Seatline" not in subject_of(m)]
    body = text_body(message)
    assert subject_of(message).endswith("के लिए आपके टिकट")
    assert "नमस्ते Asha," in body and "कब:" in body and "भुगतान:    ₹1,00,000.00" in body
    month, weekday = hindi_date_words(starts)
    assert f"{weekday}, {starts.day} {month} {starts.year}, 6:30 pm IST" in body
    assert "You're going" not in body
    # The SMS too (the development SMS backend keeps it in sms_outbox).
    [sms] = fetch(app, "SELECT body FROM sms_outbox WHERE to_number = '+919876543210'")
    assert sms.body.startswith("Seatline: ") and "बुक हो गया" in sms.body and "IST" in sms.body


def test_a_waiting_list_offer_to_a_hindi_speaking_fan_has_the_date_and_money_in_hindi(app, client, make, mail):
    starts = evening(days=6)
    show, buyer, fan = (
        make.show(rows=1, per_row=1, prices={"gold": LAKH, "silver": LAKH}, starts_at=starts),
        make.fan(),
        make.fan(),
    )
    held = client.post(f"/api/v1/shows/{show.show_id}/holds", json={"seatIds": ["A1"]}, headers=buyer.headers)
    assert held.status_code == 201, held.get_json()
    run_sql(app, f"UPDATE users SET locale = 'hi' WHERE id = {fan.user_id}")
    joined = client.post(f"/api/v1/shows/{show.show_id}/waitlist", json={"quantity": 1}, headers=fan.headers)
    assert joined.status_code == 201, joined.get_json()
    assert client.delete(f"/api/v1/holds/{held.get_json()['holdId']}", headers=buyer.headers).status_code == 200
    run_jobs(app)
    email = fetch(app, "SELECT email FROM users WHERE id = :u", u=fan.user_id)[0].email
    [message] = mail.to(email)
    body = text_body(message)
    assert subject_of(message).endswith("की सीटें आप खरीद सकते हैं")
    month, weekday = hindi_date_words(starts)
    assert f"{weekday}, {starts.day} {month} {starts.year}, 6:30 pm IST" in body
    assert "₹1,00,000.00" in body


def test_an_email_to_a_fan_without_a_language_is_in_english(app, client, make, gateway, mail):
    starts = evening(days=9)
    show = make.show(rows=1, per_row=4, prices={"gold": LAKH, "silver": LAKH}, starts_at=starts)
    signed_in(client, "ravi@example.com", headers=HINDI)  # the browser's language is not the email's
    paid_on_the_hosted_page(client, hold_page(client, show))
    run_jobs(app)
    [message] = [m for m in mail.to("ravi@example.com") if subject_of(m).startswith("Your tickets")]
    body = text_body(message)
    assert "You're going to" in body and "Paid:    ₹100,000.00" in body
    assert f"{starts.strftime('%a, %b')} {starts.day}, {starts.year}, 6:30\u202fPM IST" in body


def test_the_waiting_room_speaks_hindi(gate, make):
    manager = make.fan(role="manager")
    _show, event_id = event_with_show(make)
    open_queue(gate, manager, event_id)
    page = gate.get(f"/gate/queues/{event_id}", headers=HINDI)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "कतार में शामिल हों" in html and "पासवर्ड" in html
    assert "Join the queue" in gate.get(f"/gate/queues/{event_id}").get_data(as_text=True)


def test_the_manager_pages_speak_hindi_too(client, make):
    manager = make.fan(role="manager")
    with client.session_transaction() as session:
        session["user_id"], session["role"] = manager.user_id, "manager"
    make.show(rows=1, per_row=2)
    hindi = client.get("/manage", headers=HINDI).get_data(as_text=True)
    assert "मैनेजर डैशबोर्ड" in hindi and "नया वेन्यू" in hindi and "शुरुआत (वेन्यू का समय)" in hindi
    assert "New venue" in client.get("/manage").get_data(as_text=True)


def free_booking(client, show, seat: str = "A1") -> str:
    """Books a free seat through the site's pages; the booking page's path."""
    checkout = client.get(f"{hold_page(client, show, seat)}/checkout")
    booked = client.post(checkout.request.path, data={"csrf_token": token_of(checkout)})
    assert booked.status_code == 303, booked.get_data(as_text=True)
    return booked.headers["Location"]


def test_login_and_signup_say_what_is_wrong_in_hindi(app):
    fan = app.test_client()
    login = fan.get("/login", headers=HINDI)
    refused = fan.post("/login", data={"csrf_token": token_of(login), "email": "", "password": ""}, headers=HINDI)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "यह फ़ील्ड भरना ज़रूरी है।" in html
    assert "This field is required." not in html
    signup = fan.get("/signup", headers=HINDI)
    assert "पासवर्ड (8 या उससे ज़्यादा अक्षर)" in signup.get_data(as_text=True)
    bad = {"csrf_token": token_of(signup), "name": "", "email": "not-an-email", "password": "short"}
    refused = fan.post("/signup", data=bad, headers=HINDI)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "यह फ़ील्ड भरना ज़रूरी है।" in html and "ईमेल पता सही नहीं है।" in html
    assert "इस फ़ील्ड में 8 से 128 अक्षर होने चाहिए।" in html
    assert not re.search(r"This field is required|Invalid email address|between 8 and 128|Your name", html)
    # The same form in English still says it in English; nobody was signed up.
    english = fan.post("/signup", data=bad).get_data(as_text=True)
    assert "This field is required." in english and "Invalid email address." in english
    assert fetch(app, "SELECT count(*) AS n FROM users WHERE email = 'not-an-email'")[0].n == 0
    taken = {**bad, "name": "Asha", "email": "taken@example.com", "password": "correct horse"}
    app.test_client().post(
        "/api/v1/auth/register", json={"email": "taken@example.com", "password": "correct horse", "name": "Asha"}
    )
    again = fan.post("/signup", data=taken, headers=HINDI).get_data(as_text=True)
    assert "इस ईमेल से पहले से एक खाता है।" in again


def test_checkout_booking_and_account_pages_are_in_hindi(app, client, make):
    show = make.show(rows=1, per_row=4, prices={"gold": LAKH, "silver": LAKH})
    signed_in(client, "checkout-hi@example.com")
    checkout = client.get(f"{hold_page(client, show)}/checkout", headers=HINDI)
    html = checkout.get_data(as_text=True)
    assert checkout.status_code == 200 and "अपनी सीटों का भुगतान करें" in html and "चेकआउट" in html
    assert "अपनी सीटों पर वापस जाएँ" in html and "₹1,00,000.00" in html
    assert "Pay for your seats" not in html and "Back to your seats" not in html

    free = make.show(rows=1, per_row=4, prices={"gold": 0, "silver": 0})
    booking_path = free_booking(client, free)
    page = client.get(booking_path, headers=HINDI)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "मुफ़्त टिकट" in html and "मेरी सारी बुकिंग" in html
    assert "रद्द करें" in html and "You're going to" not in html and "All my bookings" not in html
    assert "Free tickets" not in html and "Cancel" not in html
    # The transfer form's own checks, in Hindi; nothing moves.
    refused = client.post(
        f"{booking_path}/transfer", data={"csrf_token": token_of(page), "email": ""}, headers=HINDI
    ).get_data(as_text=True)
    assert "यह फ़ील्ड भरना ज़रूरी है।" in refused and "This field is required." not in refused
    owner = fetch(app, "SELECT u.email FROM bookings b JOIN users u ON u.id = b.user_id")[0].email
    assert owner == "checkout-hi@example.com"

    account = client.get("/account", headers=HINDI)
    html = account.get_data(as_text=True)
    assert account.status_code == 200 and "आपका नाम" in html and "Your name" not in html
    short = {"csrf_token": token_of(account), "current_password": "correct horse", "new_password": "short"}
    refused = client.post("/account/password", data=short, headers=HINDI).get_data(as_text=True)
    assert "इस फ़ील्ड में 8 से 128 अक्षर होने चाहिए।" in refused and "characters long" not in refused
    empty = {"csrf_token": token_of(account), "name": "", "phone": "", "locale": "hi"}
    refused = client.post("/account/profile", data=empty, headers=HINDI).get_data(as_text=True)
    assert "यह फ़ील्ड भरना ज़रूरी है।" in refused
    assert fetch(app, "SELECT name FROM users WHERE email = 'checkout-hi@example.com'")[0].name == "Asha"


def test_refusals_on_the_show_and_waiting_list_pages_are_in_hindi(app, client, make):
    show = make.show(rows=1, per_row=4)
    signed_in(client, "first-hi@example.com")
    hold_page(client, show, "A2")
    later = signed_in(app.test_client(), "second-hi@example.com")
    page = later.get(f"/shows/{show.show_id}", headers=HINDI)
    html = page.get_data(as_text=True)
    # The seat map script's words come from the page, in its language.
    assert 'data-held="होल्ड पर"' in html and "व्हीलचेयर के अनुकूल" in html and "सीटें होल्ड करें" in html
    taken = later.post(
        f"/shows/{show.show_id}/hold", data={"csrf_token": token_of(page), "seat": ["A2"]}, headers=HINDI
    )
    assert taken.status_code == 409 and "माफ़ कीजिए, A2 अभी-अभी किसी और ने ले ली।" in taken.get_data(as_text=True)

    on_sale = later.post(
        f"/shows/{show.show_id}/waitlist", data={"csrf_token": token_of(page), "quantity": "1"}, headers=HINDI
    )
    html = on_sale.get_data(as_text=True)
    assert on_sale.status_code == 409 and "इस तरह की सीटें बिक्री पर हैं" in html and "on sale" not in html
    full, _, _ = sold_out(make, client)
    waiter = signed_in(app.test_client(), "waiter-hi@example.com")
    page = waiter.get(f"/shows/{full.show_id}", headers=HINDI)
    joined = waiter.post(
        f"/shows/{full.show_id}/waitlist", data={"csrf_token": token_of(page), "quantity": "1"}, headers=HINDI
    )
    assert joined.status_code == 303
    mine = waiter.get("/waitlist", headers=HINDI).get_data(as_text=True)
    assert "कतार में आपका नंबर 1 है।" in mine and "यह प्रतीक्षा सूची छोड़ें" in mine
    assert "Leave this waiting list" not in mine and "in line" not in mine
    assert fetch(app, "SELECT count(*) AS n FROM waitlist_entries")[0].n == 1


def pdf_text(pdf: bytes) -> str:
    return PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def devanagari(text: str) -> str:
    """The Devanagari letters of ``text``, in order. HarfBuzz draws a conjunct or a vowel sign with the
    font's glyph for the pair, and pypdf reads such glyphs back with a stray character after them;
    what the page shows is the glyphs, so only the letters are compared."""
    return re.sub("[^\u0900-\u097f]", "", text)


def test_the_tickets_pdf_is_in_the_fans_language(app, client, make, mail):
    free = make.show(rows=1, per_row=4, prices={"gold": 0, "silver": 0}, timezone_name="Asia/Kolkata")
    signed_in(client, "pdf-hi@example.com")
    booking_path = free_booking(client, free, "A3")
    booking_id = booking_path.rsplit("/", 1)[1]
    hindi = client.get(f"{booking_path}/tickets.pdf", headers=HINDI)
    assert hindi.status_code == 200 and hindi.mimetype == "application/pdf"
    text = pdf_text(hindi.data)
    assert devanagari("सीट: सेक्शन, पंक्ति, नंबर, कीमत: बुकिंग संदर्भ:") in devanagari(text)
    assert devanagari("प्रवेश द्वार पर यह कोड दिखाएँ।") in devanagari(text)
    assert "A3" in text and booking_id in text and "IST" in text and "Seat" not in text
    english = pdf_text(client.get(f"{booking_path}/tickets.pdf").data)
    assert "Seat A3: section" in english and f"Booking reference: {booking_id}" in english and "सीट" not in english
    # The confirmation email's copy follows the fan's profile, not the browser the booking came from.
    run_sql(app, "UPDATE users SET locale = 'hi' WHERE email = 'pdf-hi@example.com'")
    run_jobs(app)
    [confirmation] = [m for m in mail.to("pdf-hi@example.com") if "application/pdf" in attachments(m)]
    emailed = pdf_text(attachments(confirmation)["application/pdf"])
    assert devanagari("सीट: सेक्शन, पंक्ति, नंबर, कीमत: बुकिंग संदर्भ:") in devanagari(emailed)
    assert booking_id in emailed and "Seat" not in emailed
    [event] = Calendar.from_ical(attachments(confirmation)["text/calendar"]).walk("VEVENT")
    assert str(event["DESCRIPTION"]) == f"बुकिंग {booking_id}, सीटें A3"


def test_the_rate_limited_and_error_pages_say_why_in_hindi(app, client, make):
    free = make.show(rows=1, per_row=4, prices={"gold": 0, "silver": 0})
    signed_in(client, "limits-hi@example.com")
    booking_path = free_booking(client, free)
    page = client.get(booking_path, headers=HINDI)
    to_myself = {"csrf_token": token_of(page), "email": "limits-hi@example.com", "confirm": "y"}
    answers = [client.post(f"{booking_path}/transfer", data=to_myself, headers=HINDI) for _ in range(11)]
    refused = answers[-1].get_data(as_text=True)
    assert [a.status_code for a in answers] == [422] * 10 + [429]
    assert "यह आपका अपना ईमेल पता है" in answers[0].get_data(as_text=True)
    assert "टिकट ट्रांसफ़र की बहुत ज़्यादा कोशिशें हुईं।" in refused and "Too many" not in refused
    # The error page's words for its status.
    missing = client.get("/shows/999999", headers=HINDI)
    assert missing.status_code == 404 and "हमें यह पेज नहीं मिला।" in missing.get_data(as_text=True)
    assert fetch(app, "SELECT u.email FROM bookings b JOIN users u ON u.id = b.user_id")[0].email == (
        "limits-hi@example.com"
    )
