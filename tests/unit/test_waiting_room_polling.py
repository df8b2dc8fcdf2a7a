from app.config import Settings
from queue_gate.pages import POLL_CAP_SECONDS, POLL_MAX_SECONDS, poll_delay


def test_polling_slows_down_when_the_turn_is_far_and_stops_when_it_comes():
    near = [poll_delay("WAITING", 3, False) for _ in range(200)]
    far = [poll_delay("WAITING", 3000, False) for _ in range(200)]
    assert min(near) >= 1.6 and max(near) <= 2.4
    assert min(far) >= POLL_CAP_SECONDS * 0.8 and max(far) <= POLL_MAX_SECONDS
    # Half the estimated wait: a fan 60 s away asks again after about 30 s.
    assert all(24 <= poll_delay("WAITING", 60, False) <= 36 for _ in range(100))
    assert poll_delay("ADMITTED", 0, False) is None and poll_delay("EXPIRED", None, False) is None


def test_a_page_never_sleeps_past_the_show_up_window():
    # An admitted fan has the gate's show-up window (120 s by default) to come; a page that slept
    # longer would lose the place it waited for.
    for wait in (0, 1, 30, 90, 600, 10**6):
        for drawn in (True, False):
            assert (
                max(poll_delay("WAITING", wait, False, drawn=drawn) for _ in range(200))
                <= POLL_MAX_SECONDS
                < Settings().gate_show_up_seconds
            )


def test_pre_queued_pages_ask_after_the_draw_spread_over_seconds():
    # 20 s before the opening: ask once, after the draw, at a random moment of the first 15 s.
    delays = [poll_delay("WAITING", 20, False, drawn=False) for _ in range(500)]
    assert min(delays) >= 21 and max(delays) <= 35
    assert max(delays) - min(delays) > 10  # spread, not a thundering herd
    # Far from the opening: ask again before it, well ahead of it.
    assert all(poll_delay("WAITING", 300, False, drawn=False) <= POLL_MAX_SECONDS for _ in range(100))


def test_polling_is_jittered_and_backs_off_while_degraded():
    delays = {poll_delay("WAITING", 4, False) for _ in range(200)}
    assert len(delays) > 10  # pages do not all ask in step
    assert min(poll_delay("WAITING", None, True) for _ in range(50)) > max(delays)
