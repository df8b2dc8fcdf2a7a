"""The queue gate: Seatline's virtual waiting room, a process of its own (``queue_gate.wsgi:app``).

It admits fans to queue-protected sales in batches and signs their admission tokens. The waiting
room itself is part of the app (``app/waiting_room``, see ``room.py`` for how Redis and Postgres
share the work): the gate builds on ``app`` and is never imported by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from app import circuit, create_base_app
from app.api import rate_limits
from app.config import Settings
from app.extensions import csrf
from queue_gate.keys import load_keys
from queue_gate.pages import bp as pages_bp
from queue_gate.routes import bp


def create_gate_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    app = create_base_app(__name__, config, service="gate")
    settings = app.extensions["seatline.settings"]
    raw = settings.gate_signing_keys
    if not raw and settings.gate_signing_keys_file:
        raw = Path(settings.gate_signing_keys_file).read_text()
    if not raw:
        raise RuntimeError("the gate needs GATE_SIGNING_KEYS or GATE_SIGNING_KEYS_FILE (see `flask gate-keys`)")
    app.extensions["seatline.gate_keys"] = load_keys(raw)
    app.register_blueprint(bp)
    app.register_blueprint(pages_bp)
    app.config["PUBLIC_URL"] = settings.public_url
    # After every blueprint, as in the web app: each wraps the views marked for it (the gate has
    # no view behind the booking breaker today; one marked later is guarded here too).
    circuit.init_app(app, settings)
    # The join form carries a CSRF token, checked as on the site's forms (Flask-WTF, the token kept in
    # the visitor's session in Redis, app/api/http.py); the gate's API authenticates with bearer
    # tokens, which a browser never sends on its own. Its pages send no htmx request that changes
    # anything, so they leave out the site's htmx CSRF header (base.html): a waiting fan's page, or
    # an error page, makes no session.
    csrf.init_app(app)
    csrf.exempt(bp)
    app.session_interface.stateless_prefixes = (bp.url_prefix or "/gate/v1",)  # type: ignore[attr-defined]
    app.jinja_env.globals["htmx_csrf_header"] = False
    rate_limits.init_app(app)
    return app
