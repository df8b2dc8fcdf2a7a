import time


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Polls until ``predicate()`` is truthy and returns its value; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")
