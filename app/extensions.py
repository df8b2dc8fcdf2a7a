"""Extensions, created unbound and initialised in ``create_app``."""

from __future__ import annotations

from typing import Any

import redis
from flask import Flask, current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from sqlalchemy.orm import DeclarativeBase

from app.config import REDIS_ROLES, Settings, is_cluster_url, parse_cluster_url
from app.db_pool import CountingQueuePool

EXTENSION = "seatline.redis_roles"


class Base(DeclarativeBase):
    pass


# Every app's engine pools its connections with CountingQueuePool (app/db_pool.py: its gauges); the
# app's own engine options (pool size, timeouts: app/__init__.py) apply on top of this default.
db = SQLAlchemy(model_class=Base, engine_options={"poolclass": CountingQueuePool})
migrate = Migrate()
csrf = CSRFProtect()


class RedisRoles:
    """The app's Redis clients, one per role (README "Configuration", ARCHITECTURE.md "Redis by role").
    Roles given the same URL share one client (and so one connection pool and one round trip)."""

    def __init__(self, settings: Settings) -> None:
        by_url: dict[str, Any] = {}
        for role in REDIS_ROLES:
            url = settings.redis_url_for(role)
            if url not in by_url:
                by_url[url] = connect(url, settings)
            setattr(self, role, by_url[url])
        self.distinct: dict[str, Any] = {url: client for url, client in by_url.items()}

    room: Any  # the waiting room (REDIS_ROOM_URL)
    limits: Any  # rate limits, login slowdown, seat hints, revocations, site sessions (REDIS_LIMITS_URL)
    cache: Any  # shared responses and the managers' dashboards (REDIS_CACHE_URL)
    queues: redis.Redis  # RQ's queues, always a plain Redis (REDIS_QUEUE_URL)

    def close(self) -> None:
        for client in self.distinct.values():
            client.close()


def connect(url: str, settings: Settings, timeout: float | None = -1.0) -> Any:
    """A client for ``url``: a ``RedisCluster`` for a ``redis+cluster://host:port,host:port`` URL, else a
    plain ``Redis``. With the app's short timeouts unless ``timeout`` says otherwise (None: none)."""
    seconds = settings.redis_socket_timeout_seconds if timeout == -1.0 else timeout
    options: dict[str, Any] = dict(
        socket_timeout=seconds,
        socket_connect_timeout=seconds,
        health_check_interval=30,
        # Redis only holds hints, caches and what Postgres can rebuild: one quick reconnect, then carry on
        # without it (the client's default of ten retries with back-off would stall requests for seconds).
        retry=Retry(NoBackoff(), 1),
    )
    if not is_cluster_url(url):
        return redis.Redis.from_url(url, **options)
    nodes, username, password = parse_cluster_url(url)
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],
        username=username,
        password=password,
        # A slot whose master is lost answers errors until its replica takes over; the other slots
        # keep working meanwhile.
        require_full_coverage=False,
        **options,
    )


def is_cluster(client: Any) -> bool:
    """Whether ``client`` (or a pipeline of it) talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)


def run_script(script: Any, keys: list[Any], args: list[Any], pipe: Any = None) -> Any:
    """Runs a registered Lua script, or queues it on ``pipe``. A cluster's pipelines refuse EVALSHA
    (redis-py cannot load a script on whichever node a slot moved to), so there it is sent whole."""
    if pipe is None:
        return script(keys=keys, args=args)
    if is_cluster(pipe):
        return pipe.execute_command("EVAL", script.script, len(keys), *keys, *args)
    return script(keys=keys, args=args, client=pipe)


class RedisStore:
    """Holds an application's Redis clients, one per role (``RedisRoles``)."""

    def init_app(self, app: Flask, settings: Settings) -> None:
        app.extensions[EXTENSION] = RedisRoles(settings)

    @property
    def roles(self) -> RedisRoles:
        return current_app.extensions[EXTENSION]

    @property
    def room(self) -> Any:
        return self.roles.room

    @property
    def limits(self) -> Any:
        return self.roles.limits

    @property
    def cache(self) -> Any:
        return self.roles.cache

    @property
    def queues(self) -> redis.Redis:
        return self.roles.queues


def redis_roles(app: Flask) -> RedisRoles:
    """``app``'s Redis clients, outside a request or app context."""
    return app.extensions[EXTENSION]


redis_store = RedisStore()


def settings() -> Settings:
    return current_app.extensions["seatline.settings"]
