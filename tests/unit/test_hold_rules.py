import pytest

from app.errors import ValidationFailed
from app.inventory.services import HoldLimits, validate_seat_request

LIMITS = HoldLimits(ttl_seconds=300, max_seats_per_hold=4, max_held_seats_per_user_show=8)


def test_a_reasonable_request_passes():
    validate_seat_request(["A1", "A2"], LIMITS)


@pytest.mark.parametrize("seats", [[], ["A1", "A1"], ["A1", "A2", "A3", "A4", "A5"]])
def test_bad_requests_fail_validation(seats):
    with pytest.raises(ValidationFailed):
        validate_seat_request(seats, LIMITS)


def test_duplicates_are_named():
    with pytest.raises(ValidationFailed) as info:
        validate_seat_request(["A1", "B2", "A1"], LIMITS)
    assert info.value.details["duplicateSeatIds"] == ["A1"]
