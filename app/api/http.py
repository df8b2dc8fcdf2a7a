"""Translate HTTP to service calls: parse bodies and ids, authenticate, render errors."""

from __future__ import annotations

import logging
import uuid
from typing import Any, TypeVar

import orjson
import pydantic
import redis
from flask import Flask, Response, current_app, g, render_template, request
from flask.json.provider import JSONProvider
from flask_babel import lazy_gettext
from flask_session.redis import RedisSession, RedisSessionInterface
from sqlalchemy.exc import DataError, OperationalError, TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from app.accounts.revocation import revocations
from app.accounts.tokens import AuthenticatedUser, TokenError, verify_token
from app.errors import AuthRequired, DomainError, Forbidden, InvalidToken, ValidationFailed
from app.ops.observe import request_id_for_body
from app.page_messages import page_message

log = logging.getLogger(__name__)
Model = TypeVar("Model", bound=pydantic.BaseModel)
MAX_ID = 2**63 - 1


class OrjsonProvider(JSONProvider):
    """orjson renders datetimes as ISO 8601 with their offset and UUIDs as strings."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = args[0] if len(args) == 1 else (args or kwargs)
        return current_app.response_class(
            orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS), mimetype="application/json"
        )


class CheckedSession(RedisSession):
    """A signed-in fan's session, checked against the fan's revocations when it is first read: "log
    out everywhere" and a password change end it. Checked on reading, not on opening, so that a
    response that never looks at the session (a cached page) costs nothing, and a check that
    cannot be made (PostgreSQL down with no copy in Redis) fails the request that needed it
    through the usual error pages, never lets it through."""

    unchecked = False
    unsaved = False

    def _check(self) -> None:
        if not self.unchecked:
            return
        user_id, epoch = dict.get(self, "user_id"), dict.get(self, "ep", 0)
        self.unchecked = False
        try:
            accepted = isinstance(user_id, int) and revocations().accepts(user_id, None, epoch)
        except Exception:
            # Signed out for the rest of this request (its error page included), and left as stored.
            dict.clear(self)
            self.unsaved = True
            raise
        if not accepted:
            dict.clear(self)
            self.modified = True  # saving an empty, modified session deletes it and its cookie

    def clear(self) -> None:
        self.unchecked = False  # nothing left to check
        super().clear()

    def __getitem__(self, key: str) -> Any:
        self._check()
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._check()
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._check()
        return super().__contains__(key)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._check()
        return super().setdefault(key, default)


# The site's session cookie. The edge knows it too: a page asked with it is never shared
# (deploy/nginx/seatline.conf.template, ``$edge_personal``).
SESSION_COOKIE = "seatline_session"


class SharedResponsesCarryNoSession(RedisSessionInterface):
    """The site's sessions, kept in Redis (Flask-Session): the cookie holds only a random session id.

    A ``Cache-Control: public`` response (catalog, seat maps) is one copy shared by everyone
    through the edge or a CDN: it never carries a signed-in fan's session cookie or ``Vary:
    Cookie``, which would keep it out of those caches (or, in a careless one, hand the cookie on).

    A signed-in fan's session is checked against the fan's revocations (``CheckedSession``).
    Without Redis nobody is signed in: a session that cannot be read is a new, empty one, and one
    that cannot be saved sets no cookie; the fan is logged out, never taken for somebody else."""

    session_class = CheckedSession
    # Paths that never have a session: a bearer-token API (the gate's sets its own, queue_gate). Their
    # requests read and write none, whatever cookie a browser sends along: a waiting fan's status
    # poll costs no session lookup in Redis and gets no cookie.
    stateless_prefixes: tuple[str, ...] = ()

    def __init__(self, app: Flask, client: Any) -> None:
        super().__init__(
            app,
            # Flask-Session takes only a plain Redis here (else it makes one for localhost); a cluster's
            # client (the limits role may be one, ARCHITECTURE.md "Redis by role") is set just below,
            # and this stand-in never connects.
            client=client if isinstance(client, redis.Redis) else redis.Redis(),
            key_prefix="seatline:session:",
            use_signer=False,
            permanent=True,
            sid_length=32,
            serialization_format="msgpack",
        )
        self.client = client  # GET, SET and DEL of one key each: any client serves

    def _empty(self) -> Any:
        return self.session_class(sid=self._generate_sid(self.sid_length), permanent=self.permanent)

    def open_session(self, app: Flask, request: Any) -> Any:
        if self.stateless_prefixes and request.path.startswith(self.stateless_prefixes):
            return self.make_null_session(app)  # empty; Flask saves no null session
        try:
            session = super().open_session(app, request)
        except redis.RedisError as exc:
            log.warning("sessions unavailable, treating the visitor as signed out: %s", exc)
            return self._empty()
        session.unchecked = dict.get(session, "user_id") is not None
        return session

    def regenerate(self, session: Any) -> None:
        """A new id for ``session`` (signing in: no fixation); the old one is deleted if Redis answers."""
        try:
            super().regenerate(session)
        except redis.RedisError as exc:
            log.warning("could not delete a replaced session: %s", exc)
            session.sid = self._generate_sid(self.sid_length)
            session.modified = True

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        if response.cache_control.public or getattr(session, "unsaved", False):
            return
        try:
            super().save_session(app, session, response)
        except redis.RedisError as exc:
            log.warning("could not save a session (the visitor stays signed out): %s", exc)


def json_bytes_response(payload: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(payload, status=status, mimetype="application/json", headers=headers)


def reply(body: pydantic.BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A typed answer as JSON. Dumped by orjson like every other answer: datetimes in ISO 8601 with
    their offset, UUIDs as strings."""
    return json_bytes_response(orjson.dumps(body.model_dump()), status=status, headers=headers)


def parse_body(model: type[Model]) -> Model:
    raw = request.get_data(cache=True)
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed("request body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise ValidationFailed("request body must be a JSON object")
    if b"\\u0000" in raw:
        nul = _fields_with_nul(data)
        if nul:
            raise ValidationFailed(
                "text must not contain the NUL character (U+0000)",
                fields=[{"field": f, "message": "contains U+0000"} for f in nul],
            )
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise ValidationFailed("request body is invalid", fields=fields) from exc


def _fields_with_nul(data: Any) -> list[str]:
    """Where a parsed body has U+0000 in a string or a key (up to 20 places): JSON allows it, but no
    PostgreSQL text column can store it, so it is refused as invalid input before it reaches one."""
    found: list[str] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), data)]
    while stack and len(found) < 20:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                found.append(".".join(str(p) for p in path).replace("\x00", "\\u0000") or "body")
        elif isinstance(value, dict):
            for key, item in value.items():
                stack.append(((*path, key), item if "\x00" not in key else "\x00"))
        elif isinstance(value, list):
            stack.extend(((*path, i), item) for i, item in enumerate(value))
    return sorted(found)


def parse_id(raw: str, not_found: type[DomainError], what: str) -> int:
    """Path ids are decimal strings; anything else names nothing that exists."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > MAX_ID:
        raise not_found(f"{what} {raw[:40]!r} does not exist")
    return int(raw)


def parse_uuid(raw: str, not_found: type[DomainError], what: str) -> uuid.UUID:
    """Hold and booking ids are UUIDs; anything else names nothing that exists."""
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise not_found(f"{what} {raw[:40]!r} does not exist") from exc


def current_user() -> AuthenticatedUser:
    """The bearer token's user, if the token is signed, unexpired and not revoked (401 otherwise)."""
    user = g.get("user")
    if user is not None:
        return user
    user = bearer_token_user()
    if not revocations().accepts(user.id, user.jti, user.epoch):
        raise InvalidToken("the bearer token is invalid or expired")
    g.user = user
    return user


def bearer_token_user() -> AuthenticatedUser:
    """The bearer token's user, if the token is signed and unexpired, revoked or not: for logging out,
    which a revoked token may repeat (it is idempotent) but which then changes nothing."""
    header = request.headers.get("Authorization", "")
    # Verified once per request: the rate limits ask whose token it is, then the view (current_user)
    # asks again; each signature check cost as much as the rest of a status poll (bench/RESULTS.md).
    verified = g.get("_bearer_verified")
    if verified is not None and verified[0] == header:
        return verified[1]
    scheme, _, token = header.partition(" ")
    if not header:
        raise AuthRequired("this call needs an Authorization: Bearer <token> header")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    try:
        user = verify_token(current_app.extensions["seatline.settings"].secret_key, token.strip())
    except TokenError as exc:
        raise InvalidToken("the bearer token is invalid or expired") from exc
    g._bearer_verified = (header, user)
    return user


def check_body_user(user: AuthenticatedUser, body_user_id: str | None) -> None:
    if body_user_id is not None and body_user_id != user.user_id:
        raise Forbidden("userId in the body is not the authenticated user")


HTTP_CODES = {
    400: "VALIDATION_FAILED",
    401: "AUTH_REQUIRED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


# What a page says for each status (in the page's language; the JSON answers stay English).
PAGE_MESSAGES = {
    400: lazy_gettext("Something in that request wasn't right. Going back and trying again usually helps."),
    403: lazy_gettext("You can't see this page."),
    404: lazy_gettext("We couldn't find that page."),
    405: lazy_gettext("That isn't something this page can do."),
    409: lazy_gettext("Someone else got there first."),
    422: lazy_gettext("That can't be done right now."),
    429: lazy_gettext("Too many requests — give it a moment and try again."),
    503: lazy_gettext("We're very busy right now. Please try again in a moment."),
}


def _wants_page() -> bool:
    """People browsing get pages; API clients, the gateway and the gate's API get JSON."""
    return not request.path.startswith(("/api/", "/gate/v1/", "/healthz", "/readyz"))


def _busy_page(retry_after: int = 2) -> Response:
    """What a fan sees while booking is degraded: the sale is still on, come back in a moment."""
    response = Response(render_template("site/busy.html", retry_after=retry_after), status=503, mimetype="text/html")
    response.headers["Retry-After"] = str(retry_after)
    return response


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **details: Any
) -> Response:
    if status >= 500:  # names the request in the operators' logs (app/ops/observe.py)
        details = {**details, **request_id_for_body()}
    body = orjson.dumps({"error": {"code": code, "message": message, **details}})
    return json_bytes_response(body, status=status, headers=headers)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Response:
        if _wants_page() and exc.status == 503:
            return _busy_page(int(exc.details.get("retryAfter", 2)))
        if _wants_page():
            return Response(
                render_template("site/error.html", status=exc.status, message=page_message(exc)),
                status=exc.status,
                mimetype="text/html",
            )
        headers = {"Retry-After": str(exc.details.get("retryAfter", 2))} if exc.status in (429, 503) else None
        body = exc.to_body()
        if exc.status >= 500:
            body["error"].update(request_id_for_body())
        return json_bytes_response(orjson.dumps(body), status=exc.status, headers=headers)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        if _wants_page():
            return Response(
                render_template(
                    "site/error.html",
                    status=status,
                    message=str(PAGE_MESSAGES.get(status, exc.description or exc.name)),
                ),
                status=status,
                mimetype="text/html",
            )
        response = error_response(status, HTTP_CODES.get(status, "HTTP_ERROR"), exc.description or exc.name)
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(redis.RedisError)
    def _redis_unavailable(exc: Exception) -> Response:
        # Only the waiting room needs Redis to answer at all; it must never fail open.
        log.warning("redis unavailable: %s", exc)
        return error_response(
            503,
            "DEGRADED",
            "the waiting room is reconnecting; your place is kept, try again shortly",
            headers={"Retry-After": "2"},
            retryAfter=2,
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _database_unavailable(exc: Exception) -> Response:
        log.warning("database unavailable: %s", exc)
        if _wants_page():
            return _busy_page()
        return error_response(
            503,
            "DEGRADED",
            "the booking service is busy; try again shortly",
            headers={"Retry-After": "2"},
            retryAfter=2,
        )

    @app.errorhandler(DataError)
    def _unstorable_text(exc: DataError) -> Response:
        # Form fields, query strings and paths may carry U+0000 (JSON bodies are checked in
        # parse_body); psycopg refuses to send it, before anything reaches the database.
        if "NUL" not in str(exc.orig):
            return _unexpected(exc)
        return _domain(ValidationFailed("text must not contain the NUL character (U+0000)"))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if app.config.get("PROPAGATE_EXCEPTIONS"):
            raise exc
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "INTERNAL_ERROR", "something went wrong on our side")
