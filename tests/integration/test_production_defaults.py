"""A process started without ENV runs by production rules; the demo seed never runs in production."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from app.demo.seed import DEMO_ADMIN
from tests.support.db import fetch

ROOT = Path(__file__).resolve().parents[2]
FLASK = ROOT / ".venv" / "bin" / "flask"
REAL_SECRETS = {
    "SECRET_KEY": "a-real-production-secret-" + "x" * 32,
    "GATEWAY_API_KEY": "sk_live_not_the_dev_one",
    "WEBHOOK_SECRET": "whsec_live_not_the_dev_one",
    "TICKET_KEYS_SECRET": "a-real-ticket-keys-secret-" + "t" * 32,
}


def flask(app, *args: str, **env: str) -> subprocess.CompletedProcess:
    settings = app.extensions["seatline.settings"]
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ENV", "SECRET_KEY", "GATEWAY_API_KEY", "WEBHOOK_SECRET", "TICKET_KEYS_SECRET")
    }
    return subprocess.run(
        [str(FLASK), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **base,
            "FLASK_APP": "wsgi",
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            **env,
        },
    )


def test_a_process_without_env_refuses_to_start_without_its_secrets(app):
    done = flask(app, "seed-demo")
    assert done.returncode != 0
    assert "production needs these secrets" in done.stderr and "SECRET_KEY" in done.stderr
    assert fetch(app, "SELECT 1 FROM users WHERE email = :e", e=DEMO_ADMIN) == []


def test_seed_demo_refuses_in_production_and_writes_nothing(app):
    done = flask(app, "seed-demo", ENV="production", **REAL_SECRETS)
    assert done.returncode != 0
    assert "seed-demo refuses to run with ENV=production" in done.stderr
    assert fetch(app, "SELECT 1 FROM users WHERE email = :e", e=DEMO_ADMIN) == []
    assert fetch(app, "SELECT count(*) FROM venues")[0][0] == 0


def test_seed_demo_still_seeds_in_development(app):
    done = flask(app, "seed-demo", ENV="development", **REAL_SECRETS)
    assert done.returncode == 0, done.stderr
    assert fetch(app, "SELECT 1 FROM users WHERE email = :e", e=DEMO_ADMIN) != []
