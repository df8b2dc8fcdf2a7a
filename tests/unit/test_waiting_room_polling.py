from queue_gate.pages import poll_delay


def test_polling_slows_down_when_the_turn_is_far_and_stops_when_it_comes():
    near = [poll_delay("WAITING", 5, False) for _ in range(200)]
    far = [poll_delay("WAITING", 3000, False) for _ in range(200)]
    assert 1.6 <= min(near) and max(near) <= 2.6
    assert 24 <= min(far) and max(far) <= 39
    assert poll_delay("ADMITTED", 0, False) is None and poll_delay("EXPIRED", None, False) is None


def test_polling_is_jittered_and_backs_off_while_degraded():
    delays = {poll_delay("WAITING", 100, False) for _ in range(200)}
    assert len(delays) > 10  # pages do not all ask in step
    assert min(poll_delay("WAITING", 100, True) for _ in range(50)) > max(delays) / 1.3 * 0.8 * 2
