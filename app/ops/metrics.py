"""Prometheus metrics of one process (``GET /metrics``).

Each app has its own registry, so apps built side by side (the web app and the gate in one test
run) keep their figures apart. Under gunicorn every worker process answers with its own figures.
"""

from __future__ import annotations

from flask import Flask
from prometheus_client import CollectorRegistry

EXTENSION = "seatline.metrics"


def registry(app: Flask) -> CollectorRegistry:
    """The app's registry, created on first use."""
    found = app.extensions.get(EXTENSION)
    if found is None:
        found = app.extensions[EXTENSION] = CollectorRegistry(auto_describe=True)
    return found
