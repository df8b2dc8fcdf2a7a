"""Following one fan's request: request ids, the request histograms, and the logs that carry both.

- **Request ids.** The edge gives every request an ``X-Request-Id`` (or passes on a sane one the
  client sent, deploy/nginx). The app takes it, or makes one when a request reached it directly,
  answers it back in ``X-Request-Id``, logs it with every line written while handling the request,
  puts it in the body of every 5xx (``requestId``, app/api/http.py), and hands it to every job the
  request queues (``app.background.queues.enqueue``), whose log lines then carry it too (the worker
  binds it while the job runs, workers/cli.py). README "Watching a sale" follows one through.
- **Request metrics.** ``seatline_http_request_duration_seconds{service, method, route, status}``:
  the route is the URL rule's template (``/api/v1/shows/<int:show_id>/holds``), never the raw path, so
  the number of series stays bounded; a request that matched no rule counts as ``<unmatched>``.
- **Logs.** Plain text by default; ``LOG_FORMAT=json`` writes one JSON object per line
  (python-json-logger) with the same fields, for a log shipper.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request
from pythonjsonlogger.json import JsonFormatter

from app.ops.metrics import HTTP_REQUEST_DURATION

HEADER = "X-Request-Id"
# What the app takes from a client or a proxy as a request id: anything else is replaced, so a log
# line cannot be forged or flooded through it.
_SANE = re.compile(r"[A-Za-z0-9._:-]{8,128}")
UNMATCHED = "<unmatched>"

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("seatline_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request (or the job) this thread is working for, if any."""
    return _current.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane(candidate: str | None) -> str | None:
    return candidate if candidate and _SANE.fullmatch(candidate) else None


def bind(request_id: str | None) -> contextvars.Token[str | None]:
    """Makes ``request_id`` the current one until ``unbind`` (a job run by the worker, say)."""
    return _current.set(request_id)


def unbind(token: contextvars.Token[str | None]) -> None:
    _current.reset(token)


# ------------------------------------------------------------------------------------------ logs


def stamp(record: logging.LogRecord, service: str) -> logging.LogRecord:
    """Gives ``record`` the current ``request_id`` (``-`` outside a request or job) and the process kind."""
    record.request_id = _current.get() or "-"
    record.service = service
    return record


def _stamping_factory(service: str) -> Callable[..., logging.LogRecord]:
    """Every record this process makes carries the request id (whichever handler writes it: ours,
    gunicorn's, a test's capture), stamped when it is made, in the thread that logs it."""
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return stamp(make(*args, **kwargs), service)

    factory.seatline = True  # type: ignore[attr-defined]
    return factory


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "service", "request_id", "message")


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(
            " ".join(f"%({field})s" for field in JSON_FIELDS),
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    return logging.Formatter(PLAIN_FORMAT)


def configure_logging(level: int, log_format: str, service: str) -> None:
    """Every record carries its request id, and the root logger's handler writes it as text or JSON.
    Once per process: a second app in the same process (tests) keeps the first's setup."""
    if getattr(logging.getLogRecordFactory(), "seatline", False):
        return
    logging.setLogRecordFactory(_stamping_factory(service))
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)


# -------------------------------------------------------------------------------- the requests


def init_app(app: Flask, service: str) -> None:
    """Request ids and request metrics for every request ``app`` answers. Its first hook, so even a
    request dropped by a later one (a client that hung up) has an id and is counted."""
    children: dict[tuple[str, str, int], Any] = {}  # (method, route, status): the histogram's child

    def _start() -> None:
        request_id = sane(request.headers.get(HEADER)) or new_request_id()
        g.request_id = request_id
        g.request_started = time.perf_counter()
        g.request_id_token = _current.set(request_id)

    def _finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id is None:  # a request that failed before the first hook: nothing to record
            return response
        response.headers[HEADER] = request_id
        rule = request.url_rule
        key = (request.method, rule.rule if rule is not None else UNMATCHED, response.status_code)
        child = children.get(key)
        if child is None:
            child = children[key] = HTTP_REQUEST_DURATION.labels(service, key[0], key[1], str(key[2]))
        child.observe(time.perf_counter() - g.request_started)
        return response

    def _unbind(exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            _current.reset(token)

    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    app.teardown_request(_unbind)


def request_id_for_body() -> dict[str, str]:
    """``{"requestId": ...}`` for an error body, when there is a current request."""
    request_id = _current.get()
    return {"requestId": request_id} if request_id else {}
