"""Seatline: ticket booking that stays correct during a flash sale."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, render_template

from app.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    settings = config if isinstance(config, Settings) else Settings.from_env(**dict(config or {}))

    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder="static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS={
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_max_overflow,
            "pool_timeout": settings.db_pool_timeout_seconds,
            "pool_pre_ping": True,
            # Bounded waits: a stuck statement or lock fails instead of piling up requests.
            "connect_args": {
                "connect_timeout": 3,
                "options": f"-c statement_timeout={settings.db_statement_timeout_ms} -c lock_timeout=3000",
            },
        },
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_SORT_KEYS=False,
    )
    _configure_logging(settings)

    from app.accounts.passwords import Passwords
    from app.payments.gateway import PaymentGateway
    from app.api.http import OrjsonProvider, register_error_handlers
    from app.extensions import db, migrate, redis_store

    app.json = OrjsonProvider(app)
    app.extensions["seatline.settings"] = settings
    app.extensions["seatline.passwords"] = Passwords(settings.password_time_cost, settings.password_memory_cost_kib)
    app.extensions["seatline.gateway"] = PaymentGateway(settings)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    redis_store.init_app(app, settings)

    from app import models  # noqa: F401  (every table registered for Alembic)
    from app.accounts.routes import bp as accounts_bp
    from app.api.docs import bp as docs_bp
    from app.booking.routes import bp as booking_bp
    from app.catalog.routes import bp as catalog_bp
    from app.demo.cli import seed_demo_command
    from app.inventory.routes import bp as inventory_bp
    from app.ops.routes import bp as ops_bp
    from app.payments.routes import bp as payments_bp
    from workers.cli import scheduler_command, worker_command

    for blueprint in (accounts_bp, catalog_bp, inventory_bp, payments_bp, booking_bp, docs_bp, ops_bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    for command in (seed_demo_command, worker_command, scheduler_command):
        app.cli.add_command(command)

    @app.get("/")
    def index():
        return render_template("index.html")

    return app


def _configure_logging(settings: Settings) -> None:
    level = logging.INFO if settings.env != "test" else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
