#!/usr/bin/env bash
# `make run-cluster`: Seatline as a cluster on this machine's loopback, in the foreground (README
# "Running as a cluster"; devstack/cluster.py says what runs). Makes sure PostgreSQL (the primary),
# nginx, PgBouncer and redis-server are installed and running or runnable, then starts the rest.
# Ctrl-C stops every process it started.
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL=${DATABASE_URL:-postgresql+psycopg://seatline:seatline@127.0.0.1:5432/seatline}
export MONITOR=${MONITOR:-0}
export PROMETHEUS_BIND=${PROMETHEUS_BIND:-127.0.0.1:9090}
# CLUSTER_PORTS=free: free ports instead of the fixed ones the README names (tests); CLUSTER_DIR:
# where logs, configs and the pid of each process go (default .run/cluster).
export CLUSTER_PORTS=${CLUSTER_PORTS:-fixed}

# Whatever services this run starts (PostgreSQL, Redis), it stops again when it ends.
export SERVICES_RECORD="$PWD/.run/services-started-by-run-cluster.$$"
rm -f "$SERVICES_RECORD"
trap 'scripts/services.sh --stop-recorded "$SERVICES_RECORD"' EXIT
scripts/services.sh seatline
scripts/services.sh --nginx
scripts/services.sh --pgbouncer
[ "$MONITOR" != 1 ] || scripts/services.sh --prometheus
# In the background, so that a SIGINT or SIGTERM sent to this script alone (not to the terminal's
# whole process group, as Ctrl-C does) reaches it too, and this script waits until it has stopped all.
.venv/bin/python -m devstack.run_cluster &
child=$!
trap 'kill -INT "$child" 2>/dev/null || true' INT TERM
while kill -0 "$child" 2>/dev/null; do wait "$child" || true; done
