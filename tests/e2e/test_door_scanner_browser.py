"""The door scanner page in headless Chromium on a phone-sized screen (README "The scanner page"): its
camera is Chromium's fake device playing a video of a real ticket's QR code (the PDF's own encoder),
manual entry, and offline scanning from the service worker's copy of the page, uploaded when back online;
against the app under gunicorn."""

from __future__ import annotations

import base64
import io
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from PIL import Image

from app.tickets import rotating
from app.tickets.documents import qr_png
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import violations
from tests.e2e.test_tickets_browser import book_free, register

pytestmark = pytest.mark.slow
PHONE = {"width": 390, "height": 844}
WIDTH, HEIGHT = 640, 480
ANSWER = "[data-testid=answer]"


def y4m(frame: Image.Image) -> bytes:
    """One grey 4:2:0 frame in the YUV4MPEG2 format Chromium's fake camera plays (in a loop)."""
    luma = frame.convert("L").resize((WIDTH, HEIGHT)).tobytes()
    chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
    return f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode() + b"FRAME\n" + luma + chroma + chroma


def qr_frame(code: str) -> Image.Image:
    qr = Image.open(io.BytesIO(qr_png(code))).convert("L")
    side = HEIGHT - 20
    canvas = Image.new("L", (WIDTH, HEIGHT), 255)
    canvas.paste(qr.resize((side, side), Image.Resampling.NEAREST), ((WIDTH - side) // 2, 10))
    return canvas


BLANK = Image.new("L", (WIDTH, HEIGHT), 255)


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("camera") / "camera.y4m"
    path.write_bytes(y4m(BLANK))
    return path


@pytest.fixture(scope="module")
def phone(playwright_driver, camera_file) -> Iterator:
    """Chromium with a fake camera that plays ``camera_file`` and grants it without asking."""
    chromium = playwright_driver.chromium.launch(
        executable_path="/usr/bin/chromium",
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_file}",
        ],
    )
    yield chromium
    chromium.close()


@pytest.fixture
def door_context(phone, camera_file) -> Iterator:
    # Chromium reads the camera's file when a page opens the camera: a blank picture unless the test
    # shows a ticket to it.
    camera_file.write_bytes(y4m(BLANK))
    context = phone.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    yield context
    context.close()


def door_staff(base: str, make, email: str) -> None:
    register(base, email)
    r = requests.post(
        f"{base}/api/v1/manage/door-staff", json={"email": email}, headers=make.fan(role="manager").headers, timeout=10
    )
    assert r.status_code == 201, r.text


def open_scanner(context, base: str, email: str, show_id: int, gate: str):
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", "correct horse")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/door")  # door staff land on their shows
    page.click(f"a[href='/door/shows/{show_id}']")
    page.wait_for_url(f"{base}/door/shows/{show_id}")
    page.fill("#gate-input", gate)
    page.click("text=Save gate")
    page.wait_for_selector(f"[data-testid=gate-name]:has-text('{gate}')")
    page.wait_for_selector("[data-gate-form]", state="hidden")  # asked once, then out of the way
    return page


def enter(page, code: str) -> None:
    page.fill("#ticket-code", code)
    page.click("text=Check ticket")


def next_ticket(page) -> None:
    page.click(f"{ANSWER} >> text=Next ticket")
    page.wait_for_selector(ANSWER, state="hidden")


def codes_of(base: str, headers: dict[str, str], booking_id: str) -> dict[str, str]:
    r = requests.get(f"{base}/api/v1/bookings/{booking_id}", headers=headers, timeout=10)
    return {t["seatId"]: t["code"] for t in r.json()["tickets"]}


def local_clock(at: str) -> str:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Kolkata")).strftime("%H:%M")


def bundle(base: str, make, show_id: int) -> dict:
    r = requests.get(
        f"{base}/api/v1/manage/shows/{show_id}/checkin-bundle", headers=make.fan(role="door").headers, timeout=10
    )
    assert r.status_code == 200, r.text
    return r.json()


def free_show(make, title: str):
    return make.show(rows=1, per_row=4, title=title, prices={"gold": 0, "silver": 0}, starts_in=timedelta(hours=3))


def test_the_camera_reads_a_ticket_and_a_second_scan_is_already_admitted(live_server, make, door_context, camera_file):
    show = free_show(make, "Camera Night")
    fan = register(live_server, "camera-fan@example.com")
    code = codes_of(live_server, fan, book_free(live_server, fan, show.show_id, ["A3"]))["A3"]
    camera_file.write_bytes(y4m(qr_frame(code)))
    door_staff(live_server, make, "camera-door@example.com")

    page = open_scanner(door_context, live_server, "camera-door@example.com", show.show_id, "North gate")
    page.wait_for_selector(f"{ANSWER}[data-result=admitted]")
    assert "Seat A3" in page.inner_text(ANSWER) and "ADMITTED" in page.inner_text(ANSWER).upper()
    page.screenshot(path=str(SCREENSHOTS / "door-admitted.png"))
    admitted = bundle(live_server, make, show.show_id)["checkins"]
    assert [(c["seatId"], c["gate"]) for c in admitted] == [("A3", "North gate")]

    # The same ticket shown again after "Next ticket": refused, saying when and where it was admitted.
    next_ticket(page)
    page.wait_for_selector(f"{ANSWER}[data-result=refused]")
    assert f"Already admitted at {local_clock(admitted[0]['at'])} at North gate" in page.inner_text(ANSWER)
    assert "Seat A3" in page.inner_text(ANSWER)
    page.screenshot(path=str(SCREENSHOTS / "door-already-admitted.png"))
    assert violations(page) == []


def test_typed_codes_revoked_and_of_another_show(live_server, make, door_context):
    show = free_show(make, "Manual Night")
    other = make.show(rows=1, per_row=2, title="Other Night", prices={"gold": 0, "silver": 0})
    fan = register(live_server, "manual-fan@example.com")
    register(live_server, "manual-friend@example.com")
    booking_id = book_free(live_server, fan, show.show_id, ["A1"])
    old = codes_of(live_server, fan, booking_id)["A1"]
    moved = requests.post(
        f"{live_server}/api/v1/bookings/{booking_id}/transfer",
        json={"email": "manual-friend@example.com"},
        headers=fan,
        timeout=10,
    )
    assert moved.status_code == 200, moved.text
    elsewhere = codes_of(live_server, fan, book_free(live_server, fan, other.show_id, ["A1"]))["A1"]
    door_staff(live_server, make, "manual-door@example.com")

    page = open_scanner(door_context, live_server, "manual-door@example.com", show.show_id, "South gate")
    assert violations(page) == []
    enter(page, old)
    page.wait_for_selector(f"{ANSWER}[data-result=refused]")
    assert "Ticket revoked (transferred or cancelled)" in page.inner_text(ANSWER)
    next_ticket(page)
    enter(page, elsewhere)
    page.wait_for_selector(f"{ANSWER}[data-result=refused] >> text=Wrong show")
    next_ticket(page)
    enter(page, "NOT-A-TICKET")
    page.wait_for_selector(f"{ANSWER}[data-result=refused] >> text=Not a valid ticket")
    assert bundle(live_server, make, show.show_id)["checkins"] == []
    page.goto(f"{live_server}/door")
    assert violations(page) == []


def test_offline_scans_are_checked_on_the_phone_and_uploaded_later(live_server, make, door_context):
    show = free_show(make, "Offline Night")
    fan = register(live_server, "offline-fan@example.com")
    booking_id = book_free(live_server, fan, show.show_id, ["A1", "A2"])
    codes = codes_of(live_server, fan, booking_id)
    door_staff(live_server, make, "offline-door@example.com")
    page = open_scanner(door_context, live_server, "offline-door@example.com", show.show_id, "Side gate")
    page.wait_for_selector("[data-scanner][data-offline-ready=true]")
    page.wait_for_function("navigator.serviceWorker.controller !== null")

    door_context.set_offline(True)
    reloaded = page.reload()
    assert reloaded is not None and reloaded.from_service_worker  # the page opens without the network
    page.wait_for_selector("[data-testid=connection]:has-text('Offline')")
    enter(page, codes["A1"])
    page.wait_for_selector(f"{ANSWER}[data-result=admitted]")
    assert "Seat A1" in page.inner_text(ANSWER)
    next_ticket(page)
    assert "1 scan waiting" in page.inner_text("[data-testid=connection]")
    enter(page, codes["A1"])
    page.wait_for_selector(f"{ANSWER}[data-result=refused]")
    assert "Already admitted at" in page.inner_text(ANSWER) and "Side gate" in page.inner_text(ANSWER)
    next_ticket(page)
    # The signature is checked on the phone: a code with one character of it changed is no ticket.
    tampered = codes["A1"][:-10] + ("A" if codes["A1"][-10] != "A" else "B") + codes["A1"][-9:]
    enter(page, tampered)
    page.wait_for_selector(f"{ANSWER}[data-result=refused] >> text=Not a valid ticket")
    next_ticket(page)

    # Meanwhile the North gate, online, admits A2; this phone does not know and admits it too, later.
    north = requests.post(
        f"{live_server}/api/v1/manage/shows/{show.show_id}/checkins",
        json={"ticket": codes["A2"], "gate": "North gate", "nonce": "north-0001"},
        headers=make.fan(role="door").headers,
        timeout=10,
    )
    assert north.status_code == 201, north.text
    enter(page, codes["A2"])
    page.wait_for_selector(f"{ANSWER}[data-result=admitted]")
    next_ticket(page)
    assert "2 scans waiting" in page.inner_text("[data-testid=connection]")
    assert [c["seatId"] for c in bundle(live_server, make, show.show_id)["checkins"]] == ["A2"]

    door_context.set_offline(False)
    page.wait_for_selector("[data-testid=connection][data-waiting='0']")
    admitted = {c["seatId"]: c for c in bundle(live_server, make, show.show_id)["checkins"]}
    assert {seat: c["gate"] for seat, c in admitted.items()} == {"A1": "Side gate", "A2": "North gate"}
    conflicts = page.inner_text("[data-testid=conflicts]")
    assert "North gate admitted it at " + local_clock(north.json()["at"]) in conflicts
    assert "Admitted offline at" in conflicts
    page.screenshot(path=str(SCREENSHOTS / "door-conflicts.png"), full_page=True)
    assert violations(page) == []


def test_a_rotating_show_s_codes_are_checked_offline_with_the_bundle_s_key(live_server, make, door_context):
    """README "Rotating codes": offline, the phone refuses a static code and a stale value and admits a
    fresh one, with the show key of its bundle; back online the admission uploads."""
    show = free_show(make, "Rotating Offline Night")
    fan = register(live_server, "rotating-offline-fan@example.com")
    booking_id = book_free(live_server, fan, show.show_id, ["A1", "A2"])
    manager = make.fan(role="manager")
    switched = requests.patch(
        f"{live_server}/api/v1/manage/shows/{show.show_id}",
        json={"ticketCodes": "ROTATING", "staticCodesAllowed": False},
        headers=manager.headers,
        timeout=10,
    )
    assert switched.status_code == 200, switched.text
    codes = codes_of(live_server, fan, booking_id)
    key = base64.urlsafe_b64decode(bundle(live_server, make, show.show_id)["rotation"]["key"] + "==")
    secret = {seat: rotating.ticket_secret(key, uuid.UUID(booking_id), seat, 1) for seat in codes}
    door_staff(live_server, make, "rotating-door@example.com")
    page = open_scanner(door_context, live_server, "rotating-door@example.com", show.show_id, "East gate")
    page.wait_for_selector("[data-scanner][data-offline-ready=true]")
    page.wait_for_function("navigator.serviceWorker.controller !== null")

    door_context.set_offline(True)
    page.reload()
    page.wait_for_selector("[data-testid=connection]:has-text('Offline')")
    enter(page, codes["A1"])  # a printed or copied static code
    page.wait_for_selector(f"{ANSWER}[data-result=refused] >> text=This show needs the live ticket")
    next_ticket(page)
    enter(page, rotating.rotating_text(codes["A1"], secret["A1"], time.time() - 4 * rotating.STEP_SECONDS))
    page.wait_for_selector(f"{ANSWER}[data-result=refused] >> text=Code expired")  # a minute-old screenshot
    next_ticket(page)
    enter(page, rotating.rotating_text(codes["A1"], secret["A1"], time.time()))
    page.wait_for_selector(f"{ANSWER}[data-result=admitted]")
    assert "Seat A1" in page.inner_text(ANSWER)
    next_ticket(page)
    enter(page, rotating.rotating_text(codes["A1"], secret["A1"], time.time()))  # shown again at this gate
    page.wait_for_selector(f"{ANSWER}[data-result=refused] >> text=Already admitted at")
    next_ticket(page)
    assert bundle(live_server, make, show.show_id)["checkins"] == []

    door_context.set_offline(False)
    page.wait_for_selector("[data-testid=connection][data-waiting='0']")
    [admitted] = bundle(live_server, make, show.show_id)["checkins"]
    assert (admitted["seatId"], admitted["gate"]) == ("A1", "East gate")
