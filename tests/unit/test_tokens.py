import time

import jwt
import pytest

from app.accounts.tokens import LEEWAY_SECONDS, AuthenticatedUser, TokenError, issue_token, verify_token

SECRET = "unit-test-secret-" + "0123456789" * 7


def test_round_trip_carries_user_and_role():
    token = issue_token(SECRET, 42, "manager", 60)
    assert verify_token(SECRET, token) == AuthenticatedUser(42, "manager")


def test_expired_tokens_are_refused_after_the_leeway():
    token = issue_token(SECRET, 1, "fan", 60, now=time.time() - 120)
    with pytest.raises(TokenError):
        verify_token(SECRET, token)


def test_small_clock_skew_is_tolerated():
    token = issue_token(SECRET, 1, "fan", 60, now=time.time() - 70)  # expired 10 s ago
    assert verify_token(SECRET, token).id == 1


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "1", "role": "root"},
        {"sub": "abc", "role": "fan"},
        {"role": "fan"},
        {"sub": "1", "role": "fan", "aud": "someone-else"},
        {"sub": "1", "role": "fan", "jti": None},
        {"sub": "1", "role": "fan", "jti": ""},
        {"sub": "1", "role": "fan", "ep": "0"},
        {"sub": "1", "role": "fan", "ep": True},
    ],
)
def test_malformed_claims_are_refused(claims):
    now = int(time.time())
    token = jwt.encode(
        {"aud": "seatline-api", "iat": now, "exp": now + 60, "jti": "j1", "ep": 0, **claims}, SECRET, algorithm="HS256"
    )
    with pytest.raises(TokenError):
        verify_token(SECRET, token)


def test_other_algorithms_are_refused():
    now = int(time.time())
    token = jwt.encode(
        {"sub": "1", "role": "fan", "aud": "seatline-api", "iat": now, "exp": now + 60, "jti": "j1", "ep": 0},
        SECRET,
        algorithm="HS512",
    )
    with pytest.raises(TokenError):
        verify_token(SECRET, token)


def test_every_token_has_its_own_id_and_the_epoch_it_was_issued_under():
    first, second = (verify_token(SECRET, issue_token(SECRET, 7, "fan", 60, epoch=3)) for _ in range(2))
    assert first.jti and second.jti and first.jti != second.jti
    assert first.epoch == second.epoch == 3 and first.expires_at > time.time()


def test_a_token_without_an_id_cannot_be_revoked_so_it_is_refused():
    now = int(time.time())
    token = jwt.encode(
        {"sub": "1", "role": "fan", "aud": "seatline-api", "iat": now, "exp": now + 60}, SECRET, algorithm="HS256"
    )
    with pytest.raises(TokenError):
        verify_token(SECRET, token)


def test_a_token_checked_before_is_still_refused_once_it_expires():
    token = issue_token(SECRET, 9, "fan", 60)
    user = verify_token(SECRET, token)  # checked in full, and remembered
    assert verify_token(SECRET, token, now=user.expires_at + LEEWAY_SECONDS - 1) == user
    with pytest.raises(TokenError):
        verify_token(SECRET, token, now=user.expires_at + LEEWAY_SECONDS)


def test_a_token_checked_before_is_refused_under_another_secret():
    token = issue_token(SECRET, 9, "fan", 60)
    assert verify_token(SECRET, token).id == 9
    with pytest.raises(TokenError):
        verify_token("another-secret-" + "0123456789" * 7, token)
