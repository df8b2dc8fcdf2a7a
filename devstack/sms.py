"""A local stand-in for Twilio's Messages API, in this process (a thread), that keeps every message
it takes: what the Twilio SMS backend (app/notifications/delivery.py) talks to in the tests.

It speaks the same HTTP as Twilio: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, a
form-encoded body (``To``, ``From`` or ``MessagingServiceSid``, ``Body``) with HTTP basic auth
(account SID and auth token), answering ``201`` with Twilio's message JSON, and errors in Twilio's
shape ``{code, message, more_info, status}``: ``401`` (20003) for wrong credentials, ``400`` 21211
for a 'To' that is not a valid phone number (checked with ``phonenumbers``, or named in
``refused_numbers``), 21602 without a body, 21603 without a sender. Faults for testing retries:
``fail_next(n)`` answers the next n requests ``500`` (20500), ``hang_next(n, seconds)`` holds
them that long before answering (longer than the client's timeout: a timed-out request). Also
``GET /_standin/messages`` lists what it took, for a person looking at ``make run`` with it.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import orjson
import phonenumbers

from devstack.processes import free_port

MESSAGES_PATH = "/2010-04-01/Accounts/{sid}/Messages.json"


@dataclass(frozen=True)
class TakenMessage:
    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str


@dataclass
class _Faults:
    fail: int = 0
    fail_status: int = 500
    hang: int = 0
    hang_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _valid_number(number: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


class TwilioStandIn:
    """Served on a free port of 127.0.0.1 from now until ``stop()``; ``url`` is what TWILIO_API_URL
    should be. Only ``account_sid`` with ``auth_token`` may send."""

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "standin-auth-token") -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.refused_numbers: set[str] = set()
        self.requests = 0  # every POST to the Messages resource, whatever it was answered
        self._messages: list[TakenMessage] = []
        self._lock = threading.Lock()
        self._faults = _Faults()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="twilio-standin", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ for tests

    def messages(self, to: str | None = None) -> list[TakenMessage]:
        with self._lock:
            return [m for m in self._messages if to is None or m.to == to]

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._faults.lock:
            self._faults.fail, self._faults.fail_status = count, status

    def hang_next(self, count: int, seconds: float) -> None:
        with self._faults.lock:
            self._faults.hang, self._faults.hang_seconds = count, seconds

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self.requests = 0
        self.refused_numbers.clear()
        self.fail_next(0)
        self.hang_next(0, 0.0)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ the API

    def _take_fault(self) -> tuple[str, float | int] | None:
        with self._faults.lock:
            if self._faults.hang > 0:
                self._faults.hang -= 1
                return ("hang", self._faults.hang_seconds)
            if self._faults.fail > 0:
                self._faults.fail -= 1
                return ("fail", self._faults.fail_status)
        return None

    def _authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            sid, _, token = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(sid, self.account_sid) and secrets.compare_digest(token, self.auth_token)

    def answer(self, path: str, authorization: str | None, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """What Twilio would answer this POST (after any fault)."""
        if not self._authorised(authorization):
            return 401, _error(20003, "Authenticate", 401)
        if path != MESSAGES_PATH.format(sid=self.account_sid):
            return 404, _error(20404, f"The requested resource {path} was not found", 404)
        to = form.get("To", "")
        if not to or to in self.refused_numbers or not _valid_number(to):
            return 400, _error(21211, f"Invalid 'To' Phone Number: {to}", 400)
        if not form.get("Body"):
            return 400, _error(21602, "Message body is required.", 400)
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return 400, _error(21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.", 400)
        message = TakenMessage(
            sid="SM" + secrets.token_hex(16),
            account_sid=self.account_sid,
            to=to,
            from_=form.get("From"),
            messaging_service_sid=form.get("MessagingServiceSid"),
            body=form["Body"],
        )
        with self._lock:
            self._messages.append(message)
        return 201, _message_json(message)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
                pass

            def _send(self, status: int, payload: Any) -> None:
                data = orjson.dumps(payload)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a client that timed out and went away (hang_next)

            def do_GET(self) -> None:  # noqa: N802 (http.server's hook name)
                if self.path == "/_standin/messages":
                    self._send(200, {"messages": [m.__dict__ for m in standin.messages()]})
                else:
                    self._send(404, _error(20404, "not found", 404))

            def do_POST(self) -> None:  # noqa: N802 (http.server's hook name)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace")
                with standin._lock:
                    standin.requests += 1
                fault = standin._take_fault()
                if fault is not None and fault[0] == "hang":
                    time.sleep(fault[1])
                elif fault is not None:
                    status = int(fault[1])
                    self._send(status, _error(20000 + status, "Internal Server Error", status))
                    return
                form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
                status, payload = standin.answer(self.path, self.headers.get("Authorization"), form)
                self._send(status, payload)

        return Handler


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _message_json(message: TakenMessage) -> dict[str, Any]:
    now = formatdate(usegmt=True)
    uri = f"/2010-04-01/Accounts/{message.account_sid}/Messages/{message.sid}.json"
    return {
        "account_sid": message.account_sid,
        "api_version": "2010-04-01",
        "body": message.body,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": message.from_,
        "messaging_service_sid": message.messaging_service_sid,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": message.sid,
        "status": "queued" if message.from_ else "accepted",
        "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
        "to": message.to,
        "uri": uri,
    }
