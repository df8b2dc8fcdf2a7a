"""Liveness and readiness for process managers and load balancers.

``/healthz`` says only that the process answers, to anyone. ``/readyz`` (which names the stores
the process depends on) and ``/metrics`` are for operators: they are served on each process's own
address, which the edge does not route (it answers 404 for them, deploy/nginx), and a request that
came through a proxy anyway (it carries ``X-Forwarded-For``, which the edge adds to everything it
passes on) is answered 404 here too.
"""

from __future__ import annotations

import redis
from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import is_cluster, redis_store
from app.ops.metrics import exposition
from app.unit_of_work import unit_of_work

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}, 200, {"Cache-Control": "no-store"}


def _internal_only() -> None:
    if "X-Forwarded-For" in request.headers:
        abort(404)


@bp.get("/readyz")
def readyz():
    _internal_only()
    checks: dict[str, str] = {}
    try:
        with unit_of_work() as uow:
            uow.execute("SELECT 1")
        checks["postgres"] = "ok"
    except SQLAlchemyError as exc:
        checks["postgres"] = f"unavailable: {type(exc).__name__}"
    # Every Redis the roles name (one when they share REDIS_URL), ARCHITECTURE.md "Redis by role".
    checks["redis"] = "ok"
    for client in redis_store.roles.distinct.values():
        try:
            # A cluster answers while each of its slots has a master (its replicas may be away).
            client.ping(target_nodes=client.PRIMARIES) if is_cluster(client) else client.ping()
        except redis.RedisError as exc:
            checks["redis"] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return (
        {"status": "ready" if ready else "unavailable", "checks": checks},
        200 if ready else 503,
        {"Cache-Control": "no-store"},
    )


@bp.get("/metrics")
def metrics():
    """This process kind's figures in Prometheus' text format: all its processes' added up in
    multiprocess mode (the same as its metrics listener, app/ops/listener.py), else this process's."""
    _internal_only()
    return Response(exposition(current_app), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
