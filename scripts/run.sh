#!/usr/bin/env bash
# Prepares the development database and starts every Seatline process in the foreground.
# Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."

export ENV=${ENV:-development}
export DATABASE_URL=${DATABASE_URL:-postgresql+psycopg://seatline:seatline@127.0.0.1:5432/seatline}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export WEB_BIND=${WEB_BIND:-127.0.0.1:8000}
# The edge (nginx, scripts/edge.sh): the one origin browsers see, serving the web app, the
# gate's pages and API under /gate/, and static files.
export EDGE_BIND=${EDGE_BIND:-127.0.0.1:8080}
# The same app again, for browsing only (catalog and seat maps; the edge sends them there), so
# that a sale's booking traffic never leaves browsers waiting for a thread.
export BROWSE_BIND=${BROWSE_BIND:-127.0.0.1:8002}
# The local stand-ins for the payment gateway and for SMTP, and where they send back to.
export SMTP_PORT=${SMTP_PORT:-1025}
export GATEWAY_BIND=${GATEWAY_BIND:-127.0.0.1:12111}
export GATEWAY_API_BASE=${GATEWAY_API_BASE:-http://${GATEWAY_BIND}}
export SIM_WEBHOOK_URL=${SIM_WEBHOOK_URL:-http://${WEB_BIND}/api/v1/payments/webhook}
export SIM_WEBHOOK_SECRET=${WEBHOOK_SECRET:-whsec_dev_secret}
export PUBLIC_URL=${PUBLIC_URL:-http://${EDGE_BIND}}
# The waiting room: its own process, signing admission tokens with keys kept in .run/.
export GATE_BIND=${GATE_BIND:-127.0.0.1:8001}
export GATE_SIGNING_KEYS_FILE=${GATE_SIGNING_KEYS_FILE:-$PWD/.run/gate-keys.json}
export GATE_JWKS_URL=${GATE_JWKS_URL:-http://${GATE_BIND}/gate/v1/jwks.json}
export GATE_PUBLIC_URL=${GATE_PUBLIC_URL:-http://${EDGE_BIND}}
# web, browse and gate are reached through the edge, which appends the client's address to
# X-Forwarded-For: the rate limits per client IP count that address (one trusted proxy hop).
export TRUSTED_PROXY_HOPS=${TRUSTED_PROXY_HOPS:-1}
# Each process kind's Prometheus metrics, on internal addresses the edge does not route (README
# "Watching a sale"): every gunicorn worker's figures added up in one scrape.
export WEB_METRICS_BIND=${WEB_METRICS_BIND:-127.0.0.1:9200}
export GATE_METRICS_BIND=${GATE_METRICS_BIND:-127.0.0.1:9201}
export BROWSE_METRICS_BIND=${BROWSE_METRICS_BIND:-127.0.0.1:9202}
export WORKER_METRICS_BIND=${WORKER_METRICS_BIND:-127.0.0.1:9203}
export SCHEDULER_METRICS_BIND=${SCHEDULER_METRICS_BIND:-127.0.0.1:9204}
# The edge logs every request with its id (app/ops/observe.py follows it through the processes).
export EDGE_ACCESS_LOG=${EDGE_ACCESS_LOG:-access.log seatline buffer=32k flush=1s}
# `make run MONITOR=1`: Prometheus too (the Procfile's `monitor`, scripts/monitor.sh), scraping those
# addresses, with its UI on PROMETHEUS_BIND and its data in .run/prometheus (README "Watching a sale").
export MONITOR=${MONITOR:-0}
export PROMETHEUS_BIND=${PROMETHEUS_BIND:-127.0.0.1:9090}
export FLASK_APP=wsgi
export PATH="$PWD/.venv/bin:$PATH"

# Whatever services this run starts, it stops again when it ends (a record of its own, so runs
# side by side each stop only what they started).
export SERVICES_RECORD="$PWD/.run/services-started-by-run.$$"
rm -f "$SERVICES_RECORD"
trap 'scripts/services.sh --stop-recorded "$SERVICES_RECORD"' EXIT
scripts/services.sh seatline
scripts/services.sh --nginx
[ "$MONITOR" != 1 ] || scripts/services.sh --prometheus
# Every process of the Procfile, but `monitor` only when asked for.
processes=()
[ "$MONITOR" = 1 ] || mapfile -t processes < <(sed -n 's/^\([A-Za-z0-9_-]*\):.*/\1/p' Procfile | grep -vx monitor)

flask db upgrade
flask seed-demo
[ -f "$GATE_SIGNING_KEYS_FILE" ] || flask gate-keys "$GATE_SIGNING_KEYS_FILE"
mkdir -p .run/mailbox/new .run/mailbox/cur .run/mailbox/tmp  # a Maildir the SMTP sink files into

cat <<TXT

  Seatline is starting at http://${EDGE_BIND}/
  API:      http://${EDGE_BIND}/api/v1/openapi.json
  Gate:     http://${EDGE_BIND}/gate/v1/  (waiting room for the queue-protected tour date)
  Edge:     nginx at http://${EDGE_BIND}/ in front of web http://${WEB_BIND}/, browse http://${BROWSE_BIND}/ and gate http://${GATE_BIND}/
  Demo fan: fan@example.com / seatline-demo
  Manager:  manager@example.com / seatline-demo  (dashboard: http://${EDGE_BIND}/manage)
  Admin:    admin@example.com / seatline-demo  (sees every organisation)
  Door:     door@example.com / seatline-demo  (scanner: http://${EDGE_BIND}/door; presale code DOCKFIRST for the club night)
  Payments: the gateway simulator at http://${GATEWAY_BIND}/ (test cards pm_card_visa, pm_card_chargeDeclined)
  Metrics:  web http://${WEB_METRICS_BIND}/metrics, browse http://${BROWSE_METRICS_BIND}/metrics, gate http://${GATE_METRICS_BIND}/metrics, worker http://${WORKER_METRICS_BIND}/metrics, scheduler http://${SCHEDULER_METRICS_BIND}/metrics
TXT
if [ "$MONITOR" = 1 ]; then
  echo "  Prometheus: http://${PROMETHEUS_BIND}/  (its Alerts page, Status > Targets; a Grafana dashboard: deploy/grafana/seatline-sale.json)"
else
  echo "  Monitor:  \`make run MONITOR=1\` also starts Prometheus on http://${PROMETHEUS_BIND}/ (README \"Watching a sale\")"
fi
cat <<TXT
  Email:    every message lands in .run/mailbox/new/ (one file per message)
  Ctrl-C stops every process.

TXT
honcho start -f Procfile "${processes[@]}" || true
