"""A booking's printable tickets (PDF, one page per seat with its QR code) and its calendar entry
(iCalendar, RFC 5545). Built on demand from the database, never stored: for a download, and by the
job that sends the confirmation email (app/notifications/delivery.py)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import segno
from babel import Locale, dates
from flask_babel import gettext
from fpdf import FPDF
from icalendar import Calendar, Event

from app.i18n import current_locale
from app.tickets.services import PrintedBooking

PRODID = "-//Seatline//Tickets//EN"
UID_DOMAIN = "seatline.example"


# The PDF's built-in Helvetica writes Latin-1 only, and costs nothing to embed. A booking whose text
# goes beyond it (a title in Devanagari, a venue's name) is written in a Unicode font where the system
# has one (Debian's fonts-dejavu-core): embedding it costs several times the rest of the PDF, so only
# then. Without one, such characters show as '?'.
UNICODE_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
# DejaVu has no Devanagari: a ticket in Hindi (README "Languages") takes those letters from a
# Devanagari font (Debian's fonts-lohit-deva, which `make run`/`make test` install; Noto's if the
# system has that instead), its conjuncts and vowel signs put together by HarfBuzz (uharfbuzz,
# fpdf2's text shaping). Only a PDF with Devanagari in it pays for either.
DEVANAGARI_FONTS = (
    Path("/usr/share/fonts/truetype/lohit-devanagari/Lohit-Devanagari.ttf"),
    Path("/usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf"),
)


def _devanagari(text: str) -> bool:
    return any("\u0900" <= c <= "\u097f" for c in text)


def devanagari_font() -> Path | None:
    """The Devanagari font a Hindi PDF is written with, if the system has one."""
    return next((f for f in DEVANAGARI_FONTS if f.exists()), None)


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


class _TicketPdf(FPDF):
    def __init__(self, unicode: bool, devanagari: bool = False) -> None:
        super().__init__(format=(148, 210))  # A5, in millimetres
        self.unicode = unicode and UNICODE_FONT.exists()
        if self.unicode:
            self.add_font("Text", "", str(UNICODE_FONT))
            deva = devanagari_font() if devanagari else None
            if deva is not None:
                self.add_font("Devanagari", "", str(deva))
                self.set_fallback_fonts(["Devanagari"])
                self.set_text_shaping(True)

    def text_font(self, size: float, style: str = "") -> None:
        if self.unicode:
            self.set_font("Text", "", size)  # one face: a bold one would be a second font to embed
        else:
            self.set_font("Helvetica", style, size)

    def write_line(self, height: float, text: str) -> None:
        if not self.unicode:  # anything beyond Latin-1 shows as '?' rather than failing
            text = text.encode("latin-1", "replace").decode("latin-1")
        self.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")


def qr_png(code: str) -> bytes:
    """The ticket's QR code as a PNG: the code's text, error correction M, a 4-module quiet zone."""
    out = io.BytesIO()
    segno.make(code, error="m").save(out, kind="png", scale=6, border=4)
    return out.getvalue()


def tickets_pdf(booking: PrintedBooking) -> bytes:
    """The booking's tickets, labelled in the current language: the request's for a download, the
    owner's for the confirmation email (rendered under ``force_locale``, app/notifications/outbox.py)."""
    # The day worded for the language (``Wed, Dec 9, 2026`` / ``बुध, 9 दिस॰ 2026``), the time on the
    # 24-hour clock in the show's zone, with its abbreviation (``18:30 IST``).
    day = dates.format_skeleton("yMMMEd", booking.starts_at, locale=Locale.parse(current_locale(), sep="-"))
    when = f"{day}, {booking.starts_at.strftime('%H:%M %Z')}"
    pages = [
        (
            ticket,
            [
                f"{booking.venue}, {booking.city}",
                when,
                gettext("Standing, %(section)s (admission %(seat)s)", section=ticket.section, seat=ticket.seat_id)
                if ticket.standing
                else gettext(
                    "Seat %(seat)s: section %(section)s, row %(row)s, number %(number)s",
                    seat=ticket.seat_id,
                    section=ticket.section,
                    row=ticket.row,
                    number=ticket.number,
                ),
                gettext("Price: %(price)s", price=ticket.price),
                gettext("Booking reference: %(reference)s", reference=booking.booking_id),
            ],
        )
        for ticket in booking.tickets
    ]
    title = gettext("Tickets: %(title)s", title=booking.title)
    footer = gettext("Show this code at the door. A transferred or cancelled ticket's code no longer admits.")
    phone_only = gettext(
        "This show admits only the live ticket on your phone: open your booking on Seatline and show its code,"
        " which changes every 15 seconds."
    )
    if booking.phone_only:  # README "Rotating codes": no static code on paper
        footer = phone_only
    texts = [booking.title, title, footer] + [line for _, lines in pages for line in lines]
    pdf = _TicketPdf(unicode=not all(_latin1(t) for t in texts), devanagari=any(_devanagari(t) for t in texts))
    pdf.set_title(title)
    pdf.set_creator("Seatline")
    pdf.set_auto_page_break(False)
    for ticket, lines in pages:
        pdf.add_page()
        pdf.text_font(18, "B")
        pdf.write_line(9, booking.title)
        pdf.text_font(11)
        for line in lines:
            pdf.write_line(6, line)
        pdf.ln(4)
        size = 80
        if booking.phone_only:
            pdf.text_font(14, "B")
            pdf.write_line(8, phone_only)
        else:
            pdf.image(io.BytesIO(qr_png(ticket.code)), x=(pdf.w - size) / 2, w=size, h=size)
        pdf.text_font(8)
        pdf.set_y(-22)
        pdf.write_line(4, footer)
    return bytes(pdf.output())


def event_ics(booking: PrintedBooking, now: datetime | None = None) -> bytes:
    """One VEVENT whose UID is the booking's, so that a calendar updates the same entry when the
    booking's file is imported again; its SEQUENCE is the ticket version (a transfer is a new edition)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"booking-{booking.booking_id}@{UID_DOMAIN}")
    event.add("dtstamp", now or datetime.now(UTC))
    event.add("dtstart", booking.starts_at.astimezone(UTC))
    if booking.ends_at is not None:
        event.add("dtend", booking.ends_at.astimezone(UTC))
    event.add("summary", booking.title)
    event.add("location", f"{booking.venue}, {booking.city}")
    seats = ", ".join(t.seat_id for t in booking.tickets)
    event.add(
        "description",
        gettext("Booking %(reference)s, seats %(seats)s", reference=booking.booking_id, seats=seats)
        if seats
        else gettext("Booking %(reference)s", reference=booking.booking_id),
    )
    event.add("sequence", booking.ticket_version - 1)
    event.add("status", "CONFIRMED" if booking.status == "CONFIRMED" else "CANCELLED")
    calendar.add_component(event)
    return calendar.to_ical()
