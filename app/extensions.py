"""Extensions, created unbound and initialised in ``create_app``."""

from __future__ import annotations

import redis
from flask import Flask, current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.orm import DeclarativeBase

from app.config import Settings
from app.db_pool import CountingQueuePool


class Base(DeclarativeBase):
    pass


# Every app's engine pools its connections with CountingQueuePool (app/db_pool.py: its gauges); the
# app's own engine options (pool size, timeouts: app/__init__.py) apply on top of this default.
db = SQLAlchemy(model_class=Base, engine_options={"poolclass": CountingQueuePool})
migrate = Migrate()
csrf = CSRFProtect()


class RedisStore:
    """Holds one Redis client (with its connection pool) per application."""

    def init_app(self, app: Flask, settings: Settings) -> None:
        app.extensions["seatline.redis"] = redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_socket_timeout_seconds,
            socket_connect_timeout=settings.redis_socket_timeout_seconds,
            health_check_interval=30,
            # Redis only holds hints and caches: one quick reconnect, then carry on without it
            # (the client's default of ten retries with back-off would stall requests for seconds).
            retry=Retry(NoBackoff(), 1),
        )

    @property
    def client(self) -> redis.Redis:
        return current_app.extensions["seatline.redis"]


redis_store = RedisStore()


def settings() -> Settings:
    return current_app.extensions["seatline.settings"]
