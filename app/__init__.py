"""Seatline: ticket booking that stays correct during a flash sale."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import (
    circuit,
    i18n,
    models,  # noqa: F401  (every table registered for Alembic)
    money,
    replica,
    response_cache,
    security,
    static_files,
)
from app.accounts import revocation
from app.accounts.passwords import Passwords
from app.accounts.routes import bp as accounts_bp, me_bp
from app.accounts.signed_in import signed_in_user
from app.admission import AdmissionVerifier
from app.api import rate_limits
from app.api.docs import bp as docs_bp
from app.api.http import SESSION_COOKIE, OrjsonProvider, SharedResponsesCarryNoSession, register_error_handlers
from app.audit.cli import audit_log_command
from app.booking.routes import bp as booking_bp
from app.catalog.routes import bp as catalog_bp
from app.config import Settings
from app.db_pool import check_connections_on_checkout, keep_prepared_statements, warn_of_other_timeouts
from app.demo.cli import seed_demo_command
from app.extensions import csrf, db, migrate, redis_roles, redis_store
from app.images import routes as media
from app.inventory.routes import bp as inventory_bp
from app.manage.api import bp as manage_api_bp
from app.manage.checkin_api import bp as checkin_api_bp
from app.manage.door import bp as door_pages_bp, scans_bp as door_scans_bp
from app.manage.pages import bp as manage_pages_bp, raise_upload_limits
from app.notifications.cli import dead_letters_command
from app.ops import abandoned, observe
from app.ops.routes import bp as ops_bp
from app.payments.gateway import PaymentGateway
from app.payments.routes import bp as payments_bp
from app.site import browse
from app.site.account import bp as site_account_bp
from app.site.auth import bp as site_auth_bp
from app.site.checkout import bp as site_checkout_bp
from app.site.recovery import bp as site_recovery_bp
from app.site.routes import bp as site_bp
from app.waitlist.pages import bp as waitlist_pages_bp
from app.waitlist.routes import bp as waitlist_bp

ROOT = Path(__file__).resolve().parent.parent
API_PREFIX = "/api/"


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """The web app: JSON API, pages, webhook receiver."""
    app = create_base_app(__name__, config)
    api_blueprints = (
        accounts_bp,
        me_bp,
        catalog_bp,
        inventory_bp,
        payments_bp,
        booking_bp,
        waitlist_bp,
        manage_api_bp,
        checkin_api_bp,
        docs_bp,
    )
    pages = (
        site_bp,
        site_auth_bp,
        site_account_bp,
        site_recovery_bp,
        site_checkout_bp,
        waitlist_pages_bp,
        manage_pages_bp,
        door_pages_bp,
        door_scans_bp,
        media.bp,
    )
    for blueprint in (*api_blueprints, *pages):
        app.register_blueprint(blueprint)
    media.init_app(app, app.extensions["seatline.settings"])  # where posters are kept: app/images/
    app.add_template_filter(money.format_money, "money")  # every page shows money through it
    app.add_template_filter(money.to_major, "major")  # an amount in major units, for form fields
    app.add_template_filter(money.exponent, "currency_exponent")
    app.add_template_global(money.request_locale, "money_locale")
    app.add_template_global(browse.category_label, "category_label")  # the fixed categories' names
    app.add_template_global(signed_in_user, "signed_in_user")  # who the pages greet: app/accounts/signed_in.py
    # Forms and htmx requests carry a CSRF token; the JSON API authenticates with bearer tokens
    # (and the gateway with signatures), which a browser never sends on its own. The check reads
    # the form: an upload's larger limit must be in place before it.
    app.before_request(raise_upload_limits)
    csrf.init_app(app)
    for blueprint in api_blueprints:
        csrf.exempt(blueprint)
    # The JSON API reads no session (bearer tokens only; its limits ask the token, app/api/rate_limits.py):
    # its requests neither open one (a new session id per request, or a Redis read for a browser's
    # cookie on a seat map) nor save one.
    app.session_interface.stateless_prefixes = (API_PREFIX,)  # type: ignore[attr-defined]
    # The background processes' and the gate's commands are added by wsgi.py, which builds on this app.
    for command in (seed_demo_command, audit_log_command, dead_letters_command):
        app.cli.add_command(command)
    # After every blueprint: each wraps the views marked for it (@behind_breaker, @rate_limited), the
    # limits around the breaker, so they are checked first.
    circuit.init_app(app, app.extensions["seatline.settings"])
    rate_limits.init_app(app)
    return app


def create_base_app(
    import_name: str, config: Settings | Mapping[str, Any] | None = None, service: str = "web"
) -> Flask:
    """What every Seatline process shares: configuration, Postgres, Redis, the gateway, errors, health,
    request ids and metrics (``service`` names the process kind unless SERVICE_NAME does)."""
    settings = config if isinstance(config, Settings) else Settings.from_env(**dict(config or {}))
    service = settings.service_name or service

    app = Flask(import_name, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "app" / "static"))
    if settings.trusted_proxy_hops:
        # Behind the edge, the client's address is the X-Forwarded-For entry the last trusted proxy
        # added; entries a client sent itself come before it and are ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops)  # type: ignore[method-assign]
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS={
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_max_overflow,
            "pool_timeout": settings.db_pool_timeout_seconds,
            # Not SQLAlchemy's ping (a round trip per checkout): the pool's own check, below.
            "pool_pre_ping": False,
            "connect_args": _connect_args(settings),
        },
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        PERMANENT_SESSION_LIFETIME=settings.auth_token_ttl_seconds,
        # A session is written to Redis when it changes, not on every page: it lasts as long as a
        # bearer token from its last change (sign-in, a form's CSRF token).
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    _configure_logging(settings, service)

    app.json = OrjsonProvider(app)
    redis_store.init_app(app, settings)
    revocation.init_app(app)
    app.session_interface = SharedResponsesCarryNoSession(app, redis_roles(app).limits)
    app.config["PUBLIC_URL"] = settings.public_url
    app.extensions["seatline.settings"] = settings
    app.extensions["seatline.passwords"] = Passwords(settings.password_time_cost, settings.password_memory_cost_kib)
    app.extensions["seatline.gateway"] = PaymentGateway(settings)
    app.extensions["seatline.admission"] = AdmissionVerifier(
        settings.gate_jwks or None,
        settings.gate_jwks_url or None,
        settings.gate_jwks_refresh_seconds,
        settings.gate_jwks_min_refetch_seconds,
        settings.gate_jwks_max_stale_seconds,
    )
    db.init_app(app)
    with app.app_context():
        if settings.db_behind_pgbouncer:
            warn_of_other_timeouts(db.engine, settings.db_statement_timeout_ms, settings.db_lock_timeout_ms)
        else:  # behind PgBouncer nothing is prepared: nothing to keep
            keep_prepared_statements(db.engine)
        if settings.db_pool_pre_ping:
            check_connections_on_checkout(db.engine, settings.db_pool_ping_idle_seconds)
    replica.init_app(app, settings, app.config["SQLALCHEMY_ENGINE_OPTIONS"])  # DATABASE_REPLICA_URL's, if set
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    app.register_blueprint(ops_bp)
    i18n.init_app(app, str(ROOT / "translations"))  # `_` in every template, the gate's and emails' too; app/i18n.py
    register_error_handlers(app)
    abandoned.init_app(app)  # a dropped request costs nothing more than its id and its count (below)
    observe.init_app(app, service)  # the first hook before a request, the last after it
    app.add_template_global(observe.current_request_id, "current_request_id")  # error pages quote it
    static_files.init_app(app)
    security.init_app(app, settings)
    response_cache.init_app(app)
    return app


def _connect_args(settings: Settings) -> dict[str, Any]:
    """psycopg's connection arguments. Bounded waits: a stuck statement or lock fails instead of piling
    up requests. Directly to PostgreSQL the timeouts travel as the startup ``options`` and statements
    run often on a connection are prepared; through PgBouncer in transaction mode neither works
    (ARCHITECTURE.md, "Behind PgBouncer"): consecutive transactions of one client connection run on
    different server connections, which know nothing of its prepared statements, and PgBouncer
    refuses the ``options`` parameter. There the timeouts are set by PgBouncer's ``connect_query``
    on every server connection it opens (scripts/pgbouncer.sh) and nothing is prepared."""
    if settings.db_behind_pgbouncer:
        return {"connect_timeout": 3, "prepare_threshold": None}
    return {
        "connect_timeout": 3,
        "prepare_threshold": None if settings.db_prepare_threshold < 0 else settings.db_prepare_threshold,
        "options": f"-c statement_timeout={settings.db_statement_timeout_ms} -c lock_timeout={settings.db_lock_timeout_ms}",
    }


def _configure_logging(settings: Settings, service: str) -> None:
    level = logging.INFO if settings.env != "test" else logging.WARNING
    observe.configure_logging(level, settings.log_format, service)
