"""Waiting-room join and status throughput, against a bare Flask endpoint in the same run.

Needs `make run`'s set-up (PostgreSQL, Redis, the venv) and wrk (`apt-get install wrk`):
    .venv/bin/python -m bench.gate_throughput [--seconds 10] [--connections 64]
It creates its own database (seatline_bench) and Redis database (12), starts the gate and
the bare app under the same gunicorn settings (gthread, 2 x cores workers, 4 threads), and
drives each with wrk from a second process. Prints requests/s, latency and the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[1]
DB = "seatline_bench"
DB_URL = f"postgresql+psycopg://seatline:seatline@127.0.0.1:5432/{DB}"
REDIS_URL = "redis://127.0.0.1:6379/12"
USERS = 20000

ROTATING = """
local tokens, tickets = {}, {}
for line in io.lines("%(tokens)s") do tokens[#tokens + 1] = line end
for line in io.lines("%(tickets)s") do tickets[#tickets + 1] = line end
local counter = 0
function setup(thread) thread:set("offset", counter * 100000); counter = counter + 1 end
local i = 0
request = function()
  i = i + 1
  local n = ((offset or 0) + i) %% #tokens + 1
  if "%(mode)s" == "join" then
    return wrk.format("POST", "/gate/v1/queues/%(event)s/join", {["Authorization"] = "Bearer " .. tokens[n]})
  end
  return wrk.format("GET", "/gate/v1/queues/%(event)s/status?ticket=" .. tickets[n %% #tickets + 1])
end
"""


def sh(*args: str, env: dict | None = None) -> None:
    subprocess.run(args, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def prepare(env: dict) -> tuple[int, list[str]]:
    with psycopg.connect("host=127.0.0.1 user=seatline password=seatline dbname=postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {DB}")
    sh(str(ROOT / ".venv/bin/flask"), "db", "upgrade", env=env)
    sh(str(ROOT / ".venv/bin/flask"), "seed-demo", env=env)
    sh(str(ROOT / ".venv/bin/redis-cli") if (ROOT / ".venv/bin/redis-cli").exists() else "redis-cli", "-n", "12", "flushdb")
    with psycopg.connect(f"host=127.0.0.1 user=seatline password=seatline dbname={DB}", autocommit=True) as c:
        c.execute(
            "INSERT INTO users (email, name, password_hash) SELECT 'bench' || g || '@example.com', 'Bench', 'x' "
            "FROM generate_series(1, %s) g", (USERS,)
        )
        event = c.execute("SELECT event_id FROM gate_queues LIMIT 1").fetchone()[0]
        c.execute("UPDATE gate_queues SET max_active = 1000000, batch_size = 100000, admission_interval_seconds = 3600 "
                  "WHERE event_id = %s", (event,))
        ids = [r[0] for r in c.execute("SELECT id FROM users WHERE email LIKE 'bench%%' ORDER BY id")]
    sys.path.insert(0, str(ROOT))
    from app.accounts.tokens import issue_token

    return event, [issue_token(env["SECRET_KEY"], i, "fan", 3600) for i in ids]


def serve(module: str, port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", module],
        cwd=ROOT, env={**env, "WEB_ACCESS_LOG": ""}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz" if "gate" in module else f"http://127.0.0.1:{port}/hello", timeout=1)
            return proc
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{module} did not start")


def wrk(url: str, seconds: int, connections: int, script: str | None = None) -> dict:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        args[1:1] = ["-s", script]
    start = os.times()
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    end = os.times()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = dict(re.findall(r"\s+(50|99)%\s+([\d.]+\w+)", out))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": pct.get("50"), "p99": pct.get("99"), "non2xx": int(errors.group(1)) if errors else 0,
            "wrk_cpu_s": round((end.children_user + end.children_system) - (start.children_user + start.children_system), 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    keys = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    keys.close()
    os.unlink(keys.name)
    env = {**os.environ, "DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL, "FLASK_APP": "wsgi",
           "SECRET_KEY": "bench-secret-key-0123456789-0123456789-0123", "GATE_SIGNING_KEYS_FILE": keys.name}
    sh(str(ROOT / ".venv/bin/flask"), "gate-keys", keys.name, env=env)
    event, tokens = prepare(env)
    work = Path(tempfile.mkdtemp())
    (work / "tokens.txt").write_text("\n".join(tokens))
    # Join everyone once first so status has real tickets to read.
    gate = serve("queue_gate.wsgi:app", 8401, env)
    hello = serve("bench.hello_app:app", 8402, env)
    try:
        scripts = {}
        for mode in ("join", "status"):
            (work / f"{mode}.lua").write_text(ROTATING % {"tokens": work / "tokens.txt", "tickets": work / "tickets.txt",
                                                          "mode": mode, "event": event})
            scripts[mode] = str(work / f"{mode}.lua")
        (work / "tickets.txt").write_text("none\n")
        time.sleep(3)  # let every worker finish booting before anything is measured
        wrk("http://127.0.0.1:8402/hello", 2, args.connections)  # warm-up
        results = {"bare Flask /hello": wrk("http://127.0.0.1:8402/hello", args.seconds, args.connections)}
        results["gate join (new fans)"] = wrk("http://127.0.0.1:8401", args.seconds, args.connections, scripts["join"])
        with psycopg.connect(f"host=127.0.0.1 user=seatline password=seatline dbname={DB}") as c:
            tickets = [r[0] for r in c.execute("SELECT ticket FROM gate_tickets WHERE event_id = %s", (event,))]
        (work / "tickets.txt").write_text("\n".join(tickets))
        results["gate status"] = wrk("http://127.0.0.1:8401", args.seconds, args.connections, scripts["status"])
        # The baseline again, to show how much the machine drifted during the run.
        results["bare Flask /hello (again)"] = wrk("http://127.0.0.1:8402/hello", args.seconds, args.connections)
    finally:
        gate.terminate()
        hello.terminate()
    base = results["bare Flask /hello"]["rps"]
    print(f"{'scenario':<26} {'req/s':>9} {'ratio':>6} {'p50':>9} {'p99':>9} {'non-2xx':>8} {'wrk CPU s':>9}")
    for name, r in results.items():
        print(f"{name:<26} {r['rps']:>9.0f} {r['rps'] / base:>6.2f} {r['p50']:>9} {r['p99']:>9} {r['non2xx']:>8} {r['wrk_cpu_s']:>9}")
    print(json.dumps({"tickets_joined": len(tickets)}))


if __name__ == "__main__":
    main()
