"""Rotating codes' clock rules and one-time values (README "Rotating codes"), without a database."""

from __future__ import annotations

import uuid

import pytest

from app.tickets import rotating

SECRET = bytes(32)
T = 1_800_000_000.0  # a step boundary: 1_800_000_000 / 15 is a whole number


def value_at(unix: float) -> str:
    return rotating.totp(SECRET, rotating.step(unix))


@pytest.mark.parametrize(
    ("unix", "expected"),
    [(59, "46119246"), (1111111109, "68084774"), (1234567890, "91819424"), (20000000000, "77737706")],
)
def test_the_value_is_rfc_6238_totp_with_hmac_sha256(unix, expected):
    # RFC 6238 appendix B's SHA-256 vectors (30-second steps there; the step is all the value depends on).
    assert rotating.totp(b"12345678901234567890123456789012", unix // 30) == expected


def test_the_current_step_admits():
    assert rotating.totp_ok(SECRET, value_at(T + 3), T + 3)
    assert rotating.totp_ok(SECRET, value_at(T), T + 14.9)


def test_the_previous_step_admits_so_a_code_lives_at_most_thirty_seconds():
    shown = value_at(T)  # shown at the start of a step
    assert rotating.totp_ok(SECRET, shown, T + 15)
    assert rotating.totp_ok(SECRET, shown, T + 29.9)
    assert not rotating.totp_ok(SECRET, shown, T + 30)


def test_two_steps_old_is_refused():
    assert not rotating.totp_ok(SECRET, value_at(T - 30), T)
    assert not rotating.totp_ok(SECRET, value_at(T - 16), T + 14)


def test_the_next_step_admits_only_in_the_last_seconds_before_it():
    ahead = value_at(T + 15)  # a phone a little ahead of the door
    assert rotating.totp_ok(SECRET, ahead, T + 15 - rotating.EARLY_SECONDS)
    assert not rotating.totp_ok(SECRET, ahead, T + 15 - rotating.EARLY_SECONDS - 0.5)
    assert not rotating.totp_ok(SECRET, value_at(T + 30), T + 14.9)  # two steps ahead: never


@pytest.mark.parametrize("bad", ["", "1234567", "123456789", "abcdefgh", "１２３４５６７８", " 1234567"])
def test_values_that_are_not_eight_digits_are_refused(bad):
    assert not rotating.totp_ok(SECRET, bad, T)


def test_a_new_version_or_another_seat_or_show_key_has_another_secret():
    booking = uuid.uuid4()
    key = rotating.new_show_key()
    first = rotating.ticket_secret(key, booking, "A1", 1)
    assert first == rotating.ticket_secret(key, booking, "A1", 1)
    others = {
        rotating.ticket_secret(key, booking, "A1", 2),
        rotating.ticket_secret(key, booking, "A2", 1),
        rotating.ticket_secret(rotating.new_show_key(), booking, "A1", 1),
    }
    assert first not in others and len(others) == 3


def test_the_rotating_text_is_the_static_code_a_colon_and_the_value():
    text = rotating.rotating_text("ABC234", SECRET, T)
    assert text == f"ABC234:{value_at(T)}"
    assert rotating.split(text) == ("ABC234", value_at(T))
    assert rotating.split(" ABC234 ") == ("ABC234", None)


def test_a_sealed_key_opens_for_its_show_and_secret_only():
    key = rotating.new_show_key()
    sealed = rotating.seal("s3cret", 7, key)
    assert rotating.unseal("s3cret", 7, sealed) == key
    with pytest.raises(rotating.RotationKeyBroken):
        rotating.unseal("other", 7, sealed)
    with pytest.raises(rotating.RotationKeyBroken):
        rotating.unseal("s3cret", 8, sealed)
