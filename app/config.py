"""Typed configuration read from the environment, in one place.

Nothing here runs at import time: ``Settings.from_env()`` is called by
``create_app()``. Without ``ENV`` the rules are production's: a process started
with no environment refuses to start without its secrets, so the repository's
development secret never signs anything by accident. ``make run`` says
``ENV=development`` and the tests ``ENV=test``; those two get working defaults.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from limits import parse_many

DEV_SECRET = "dev-only-secret-change-me-in-production-0123456789"
DEV_GATEWAY_KEY = "sk_test_seatline_dev"
DEV_WEBHOOK_SECRET = "whsec_dev_secret"
DEV_TICKET_KEYS_SECRET = "dev-only-ticket-keys-secret-change-me-0123456789"


# The languages a fan may choose (PATCH /api/v1/me's ``locale``).
SUPPORTED_LOCALES = ("en", "hi")

# Settings also read from another environment variable, which wins over the field's own name.
ENV_ALIASES = {"max_held_seats_per_user_show": ("MAX_SEATS_PER_USER_SHOW",)}


SMTP_SECURITY = ("none", "starttls", "tls")
SMS_BACKENDS = ("outbox", "twilio")


class ConfigError(RuntimeError):
    """The environment does not describe a runnable configuration."""


# Redis by role (``Settings.redis_url_for``, app/extensions.py), and those that may be a Redis Cluster.
REDIS_ROLES = ("room", "limits", "cache", "queues")
CLUSTER_ROLES = ("room", "limits", "cache")
CLUSTER_SCHEME = "redis+cluster://"


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def parse_cluster_url(url: str) -> tuple[list[tuple[str, int]], str | None, str | None]:
    """``redis+cluster://[user:password@]host:port[,host:port...]``: the seed nodes (any of the cluster's
    nodes; the client learns the rest), and the credentials if any."""
    rest = url.removeprefix(CLUSTER_SCHEME).rstrip("/")
    credentials, _, hosts = rest.rpartition("@")
    username, _, password = credentials.partition(":") if credentials else ("", "", "")
    nodes: list[tuple[str, int]] = []
    for part in hosts.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"{part!r}: a cluster URL lists host:port seed nodes joined by commas")
        nodes.append((host, int(port)))
    return nodes, unquote(username) or None, unquote(password) or None


@dataclass(frozen=True)
class Settings:
    env: str = "production"
    # Logs: "text" (one line per record) or "json" (one JSON object per line), app/ops/observe.py.
    log_format: str = "text"
    # Which process kind this is (web, browse, gate, worker, scheduler): the ``service`` label of the
    # request metrics and a field of every log line. Empty: the app's own kind (web, or gate).
    service_name: str = ""
    # Where ``flask worker`` and ``flask scheduler`` serve their metrics (host:port; empty: nowhere).
    # gunicorn's processes read the same variable in gunicorn.conf.py. app/ops/listener.py.
    metrics_bind: str = ""
    database_url: str = "postgresql+psycopg://seatline:seatline@127.0.0.1:5432/seatline"
    # A streaming replica of DATABASE_URL's server for browsing (catalog, seat maps, the site's shared
    # pages, dashboards), used while it is at most REPLICA_MAX_LAG_SECONDS behind, measured at most every
    # REPLICA_LAG_CHECK_SECONDS per process (app/replica.py; README, "Read replicas"). Empty: no replica.
    database_replica_url: str = ""
    replica_max_lag_seconds: float = 1.0
    replica_lag_check_seconds: float = 0.5
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Redis by role (ARCHITECTURE.md "Redis by role"); each empty one is REDIS_URL. The waiting room;
    # the per-request checks (rate limits, login slowdown, seat hints, token revocations, site
    # sessions: read in one round trip, so they share a server); the response cache and dashboards;
    # RQ's queues. All but the queues may name a Redis Cluster: redis+cluster://host:port,host:port.
    redis_room_url: str = ""
    redis_limits_url: str = ""
    redis_cache_url: str = ""
    redis_queue_url: str = ""
    secret_key: str = DEV_SECRET
    # Bearer tokens for fans and managers.
    auth_token_ttl_seconds: int = 12 * 3600
    # Single-use links emailed to a fan (app/accounts/recovery.py): a password reset's, and the one
    # registration sends to verify the email address.
    password_reset_ttl_seconds: int = 1800
    email_verification_ttl_seconds: int = 48 * 3600
    # Holds and limits.
    hold_ttl_seconds: int = 300
    # How long a waiting-list offer's hold lasts before the seats pass to the next fan in line.
    waitlist_offer_seconds: int = 900
    max_seats_per_hold: int = 8
    # Seats one fan may have for one show, held and booked together (anti-scalping). Read from
    # MAX_SEATS_PER_USER_SHOW, or from its old name MAX_HELD_SEATS_PER_USER_SHOW (see ENV_ALIASES).
    max_held_seats_per_user_show: int = 8
    # A seat map is kept in Redis until the end of the second it was built in (and this many
    # seconds less one more), and an edge may serve it one second more while it revalidates
    # (app/response_cache.py): 1 keeps seat maps within the contract's 2 s end to end.
    seatmap_cache_seconds: int = 1
    # The dates a listing answers for: from the day before today to this many days after it (any
    # other date is 400 VALIDATION_FAILED, so made-up dates cannot fill the cache with copies).
    booking_horizon_days: int = 730
    # Event posters (app/images/, README "Event images"): where the renditions are kept, "local"
    # (MEDIA_DIR, served at /media/ by the app) or "s3" (any S3-compatible store); MEDIA_PUBLIC_URL,
    # when set, is the address pages link them at instead (the edge, a CDN, the bucket's own).
    media_storage: str = "local"
    media_dir: str = ".run/media"
    media_public_url: str = ""
    s3_endpoint_url: str = ""
    s3_bucket: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_region: str = "us-east-1"
    # An upload's limits: its size in bytes, and its pixels (a small file that decodes to a huge
    # image, a decompression bomb, is refused before it is decoded).
    poster_max_bytes: int = 10 * 1024 * 1024
    poster_max_pixels: int = 40_000_000
    # Argon2id cost. Tests lower it; production keeps the library's defaults.
    password_time_cost: int = 3
    password_memory_cost_kib: int = 65536
    # Postgres connection pool per process.
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_pool_timeout_seconds: float = 2.0
    db_statement_timeout_ms: int = 5000
    db_lock_timeout_ms: int = 3000
    # The app reaches PostgreSQL through PgBouncer in transaction mode (README "PgBouncer",
    # ARCHITECTURE.md "Behind PgBouncer"): nothing is prepared (DB_PREPARE_THRESHOLD is not used) and
    # no startup ``options`` are sent, so the two timeouts above come from PgBouncer's
    # ``connect_query`` (scripts/pgbouncer.sh renders them from the same variables).
    db_behind_pgbouncer: bool = False
    # Where migrations reach the primary directly when DATABASE_URL is PgBouncer's (migrations/env.py):
    # not through it, and not under the app's statement timeout. Empty: DATABASE_URL.
    database_direct_url: str = ""
    # Check each connection as it leaves the pool, so a restarted Postgres (or a connection the server
    # ended) costs no failed request: its state and whether its socket has anything to read, without a
    # round trip (app/db_pool.py); one idle in the pool for DB_POOL_PING_IDLE_SECONDS or more is also
    # pinged (a round trip). 0 pings on every checkout; DB_POOL_PRE_PING=false checks nothing.
    db_pool_pre_ping: bool = True
    db_pool_ping_idle_seconds: float = 30.0
    # psycopg prepares a statement after it has run this many times on a connection; -1 never prepares.
    db_prepare_threshold: int = 5
    # Redis is a hint: never wait long for it.
    redis_socket_timeout_seconds: float = 0.25
    # Payment gateway (Stripe's API; the local simulator in development and tests).
    gateway_api_base: str = "http://127.0.0.1:12111"
    gateway_api_key: str = DEV_GATEWAY_KEY
    webhook_secret: str = DEV_WEBHOOK_SECRET
    gateway_timeout_seconds: float = 5.0
    gateway_max_retries: int = 2
    # An intent fetched from the gateway answers repeated questions about it for this long (per
    # process; never used to settle a payment). 0 turns it off.
    gateway_intent_cache_seconds: float = 3.0
    # Circuit breakers (app/circuit.py): after this many failures in a row reaching Postgres on the
    # booking path, or the payment gateway, calls fail fast for the reset time, then one is let through.
    breaker_fail_max: int = 5
    breaker_reset_seconds: float = 2.0
    # Background work.
    sweeper_interval_seconds: int = 30
    # An intent unsettled this long is asked about at the gateway, webhook or not.
    reconcile_after_seconds: int = 60
    # Outbox work (webhook events, refunds, notifications) still pending after this long is re-queued.
    outbox_retry_after_seconds: int = 30
    # Notifications. A message that fails this many times is given up (DEAD, with its last error);
    # each sweep re-queues at most this many of one organisation's pending messages, oldest first.
    notification_max_attempts: int = 5
    notification_sweep_per_organisation: int = 50
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_timeout_seconds: float = 10.0
    # How the connection to the mail server is protected (README "Configuration"): "none" (the local
    # sink), "starttls" (plain, then STARTTLS: usually port 587) or "tls" (TLS from the first byte:
    # usually 465). The server's certificate is verified against the system's CAs, or SMTP_CA_FILE's.
    # With SMTP_USERNAME the worker logs in (AUTH) once the connection is protected.
    smtp_security: str = "none"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_ca_file: str = ""
    mail_from: str = "Seatline <tickets@seatline.example>"
    # Where SMS go (README "SMS"): "outbox" records them in the sms_outbox table (development, tests),
    # "twilio" sends them through Twilio's REST API at TWILIO_API_URL (a local stand-in in the tests,
    # devstack/sms.py) as TWILIO_ACCOUNT_SID, from TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID.
    sms_backend: str = "outbox"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_url: str = "https://api.twilio.com"
    twilio_timeout_seconds: float = 10.0
    public_url: str = "http://127.0.0.1:8000"
    # Queue gate. The gate signs admission tokens with GATE_SIGNING_KEYS (JSON list of
    # {"kid", "private_pem"}, newest first) or the file GATE_SIGNING_KEYS_FILE; the web app
    # verifies them with public keys only: GATE_JWKS (a JWKS document) or GATE_JWKS_URL.
    gate_signing_keys: str = ""
    gate_signing_keys_file: str = ""
    gate_jwks: str = ""
    gate_jwks_url: str = "http://127.0.0.1:8001/gate/v1/jwks.json"
    # GATE_JWKS_URL is read again this often, and at once (but not more often than the second
    # value) for a token with an unknown kid: a key the gate stops publishing stops verifying
    # within about a minute. If the gate cannot be reached, the keys last fetched are used for at
    # most the third value, then no admission token verifies until it answers again.
    gate_jwks_refresh_seconds: float = 60.0
    gate_jwks_min_refetch_seconds: float = 10.0
    gate_jwks_max_stale_seconds: float = 900.0
    gate_public_url: str = "http://127.0.0.1:8001"
    # Ticket codes are signed with each organisation's Ed25519 key, kept in the database with its
    # private half sealed (AES-GCM) under a key derived from this secret (app/tickets/keys.py). Changing
    # it makes the stored keys unusable: keep it like SECRET_KEY, and for as long as tickets are valid.
    ticket_keys_secret: str = DEV_TICKET_KEYS_SECRET
    # How long an admitted fan has to come and collect the admission token; above the longest a
    # waiting page waits between two asks (queue_gate.pages.POLL_MAX_SECONDS, 108 s).
    gate_show_up_seconds: int = 120
    # Rate limits (counted in Redis, app/api/rate_limits.py). Each is one or more "N/period" items joined
    # by ";" (e.g. "30/minute;300/hour"); an empty value turns that limit off. Per fan (the
    # authenticated user), per client IP, and for logins per submitted email. A fan never comes
    # near these; a bot soon does. Many fans can share one IP (offices, mobile carriers), so the
    # per-IP limits are the larger ones.
    rate_limits_enabled: bool = True
    rate_limit_storage_url: str = ""  # empty: REDIS_URL
    rate_limit_holds: str = "30/minute;300/hour"
    rate_limit_holds_per_ip: str = "300/minute;3000/hour"
    rate_limit_payment_intents: str = "20/minute;200/hour"
    rate_limit_payment_intents_per_ip: str = "200/minute;2000/hour"
    rate_limit_joins: str = "20/minute;200/hour"
    rate_limit_joins_per_ip: str = "300/minute;3000/hour"
    # Failed logins per (email, IP) (password guessing); every login attempt per IP. Nothing counted
    # per email alone ever refuses a login (that would let anyone lock a fan out): past
    # LOGIN_SLOWDOWN_AFTER failures for one email within the window, its logins wait first, up to
    # LOGIN_SLOWDOWN_MAX_SECONDS, with at most LOGIN_SLOWDOWN_CONCURRENCY waiting per process.
    rate_limit_logins: str = "10/minute;30/hour"
    rate_limit_logins_per_ip: str = "60/minute;600/hour"
    login_slowdown_after: int = 10
    login_slowdown_window_seconds: int = 900
    login_slowdown_max_seconds: float = 1.0
    login_slowdown_concurrency: int = 2
    rate_limit_signups_per_ip: str = "20/minute;200/hour"
    # Password-reset requests, per submitted email (however many addresses ask: each one sends the
    # owner an email) and per client IP.
    rate_limit_password_resets: str = "3/minute;10/hour"
    rate_limit_password_resets_per_ip: str = "20/minute;200/hour"
    # Verification emails a signed-in fan asks to be sent again.
    rate_limit_verification_resends: str = "3/minute;10/hour"
    # Confirming a payment, releasing a hold (its payment may need cancelling) and paying on the
    # checkout page each ask the payment gateway.
    rate_limit_gateway_calls: str = "60/minute;600/hour"
    # Booking transfers (each emails two people): per fan, and per client IP.
    rate_limit_transfers: str = "10/minute;30/hour"
    rate_limit_transfers_per_ip: str = "60/minute;600/hour"
    rate_limit_gateway_calls_per_ip: str = "600/minute;6000/hour"
    # While the limit store is unreachable each process counts on its own (in memory), allowing
    # this fraction of every limit (at least 1 per period): several processes then add up to
    # about the configured limits instead of a multiple of them.
    rate_limit_fallback_divisor: int = 4
    # How many proxies in front of the app each add one X-Forwarded-For entry (the edge: 1).
    # 0 trusts no header: the client's address is the TCP peer's.
    trusted_proxy_hops: int = 0

    def redis_url_for(self, role: str) -> str:
        """The URL of a Redis role (``REDIS_ROLES``): its own setting, else REDIS_URL."""
        own = {"room": self.redis_room_url, "limits": self.redis_limits_url, "cache": self.redis_cache_url}
        return (self.redis_queue_url if role == "queues" else own[role]) or self.redis_url

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = next(
                (
                    environ[name]
                    for name in (*ENV_ALIASES.get(field.name, ()), field.name.upper())
                    if environ.get(name) not in (None, "")
                ),
                None,
            )
            if raw is None:
                continue
            values[field.name] = _coerce(field.name, raw, field.type)
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.smtp_security not in SMTP_SECURITY:
            raise ConfigError(f"SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY)}, not {self.smtp_security!r}")
        if self.smtp_username and self.smtp_security == "none":
            raise ConfigError("SMTP_USERNAME needs SMTP_SECURITY starttls or tls: a password never goes out in clear")
        if self.sms_backend not in SMS_BACKENDS:
            raise ConfigError(f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)}, not {self.sms_backend!r}")
        if self.sms_backend == "twilio":
            missing_twilio = [
                name
                for name, value in (
                    ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                    ("TWILIO_AUTH_TOKEN", self.twilio_auth_token),
                    (
                        "TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID",
                        self.twilio_from or self.twilio_messaging_service_sid,
                    ),
                )
                if not value
            ]
            if missing_twilio:
                raise ConfigError(f"SMS_BACKEND=twilio needs {', '.join(missing_twilio)}")
        if self.env not in {"development", "test", "production"}:
            raise ConfigError(f"ENV must be development, test or production, not {self.env!r}")
        if self.media_storage not in {"local", "s3"}:
            raise ConfigError(f"MEDIA_STORAGE must be local or s3, not {self.media_storage!r}")
        if self.media_storage == "s3" and not self.s3_bucket:
            raise ConfigError("MEDIA_STORAGE=s3 needs S3_BUCKET")
        if self.log_format not in {"text", "json"}:
            raise ConfigError(f"LOG_FORMAT must be text or json, not {self.log_format!r}")
        if self.is_production:
            missing = [
                name
                for name, value, dev_value in (
                    ("SECRET_KEY", self.secret_key, DEV_SECRET),
                    ("GATEWAY_API_KEY", self.gateway_api_key, DEV_GATEWAY_KEY),
                    ("WEBHOOK_SECRET", self.webhook_secret, DEV_WEBHOOK_SECRET),
                    ("TICKET_KEYS_SECRET", self.ticket_keys_secret, DEV_TICKET_KEYS_SECRET),
                )
                if not value or value == dev_value
            ]
            if missing:
                raise ConfigError(f"production needs these secrets in the environment: {', '.join(missing)}")
            if len(self.secret_key) < 32:
                raise ConfigError("SECRET_KEY must be at least 32 characters in production")
        for name in (
            "hold_ttl_seconds",
            "waitlist_offer_seconds",
            "max_seats_per_hold",
            "max_held_seats_per_user_show",
            "auth_token_ttl_seconds",
            "password_reset_ttl_seconds",
            "email_verification_ttl_seconds",
            "rate_limit_fallback_divisor",
            "booking_horizon_days",
            "poster_max_bytes",
            "poster_max_pixels",
            "notification_max_attempts",
            "notification_sweep_per_organisation",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name.upper()} must be positive")
        if self.db_statement_timeout_ms < 0 or self.db_lock_timeout_ms < 0:
            raise ConfigError("DB_STATEMENT_TIMEOUT_MS and DB_LOCK_TIMEOUT_MS must be 0 (none) or more")
        if self.db_pool_ping_idle_seconds < 0:
            raise ConfigError("DB_POOL_PING_IDLE_SECONDS must be 0 or more")
        if not 0 < self.replica_lag_check_seconds < self.replica_max_lag_seconds:
            raise ConfigError("REPLICA_LAG_CHECK_SECONDS must be above 0 and below REPLICA_MAX_LAG_SECONDS")
        if self.trusted_proxy_hops < 0:
            raise ConfigError("TRUSTED_PROXY_HOPS must be 0 or more")
        for role in REDIS_ROLES:
            url = self.redis_url_for(role)
            if is_cluster_url(url):
                if role not in CLUSTER_ROLES:
                    raise ConfigError(
                        "RQ's queues need a plain Redis, not a cluster: set REDIS_QUEUE_URL "
                        "(it defaults to REDIS_URL) to a redis:// URL"
                    )
                parse_cluster_url(url)
        if is_cluster_url(self.rate_limit_storage_url):
            parse_cluster_url(self.rate_limit_storage_url)
        for field in dataclasses.fields(self):
            if field.name.startswith("rate_limit_") and field.type == "str" and field.name != "rate_limit_storage_url":
                value = getattr(self, field.name)
                try:
                    if value:
                        parse_many(value)
                except ValueError as exc:
                    raise ConfigError(
                        f"{field.name.upper()}={value!r} is not a rate limit like '30/minute;300/hour'"
                    ) from exc


def _coerce(name: str, raw: str, annotation: Any) -> Any:
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return raw.strip().lower() in {"1", "true", "yes", "on"}
    except ValueError as exc:
        raise ConfigError(f"{name.upper()}={raw!r} is not a valid {kind}") from exc
    return raw
