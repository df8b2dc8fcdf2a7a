#!/usr/bin/env bash
# Prometheus watching Seatline's processes, in the foreground (`monitor` in the Procfile, started by
# `make run MONITOR=1`; `scripts/services.sh --prometheus` installs it). Renders
# deploy/prometheus/prometheus.yml.template for the *_METRICS_BIND addresses of scripts/run.sh into
# PROMETHEUS_DIR (default .run/prometheus, which also holds its data) and runs Prometheus there on
# PROMETHEUS_BIND, with the alert rules of deploy/prometheus/. `scripts/monitor.sh --render` only
# renders the config and prints its path (the tests check it with promtool).
set -euo pipefail
cd "$(dirname "$0")/.."

export WEB_METRICS_BIND=${WEB_METRICS_BIND:-127.0.0.1:9200}
export GATE_METRICS_BIND=${GATE_METRICS_BIND:-127.0.0.1:9201}
export BROWSE_METRICS_BIND=${BROWSE_METRICS_BIND:-127.0.0.1:9202}
export WORKER_METRICS_BIND=${WORKER_METRICS_BIND:-127.0.0.1:9203}
export SCHEDULER_METRICS_BIND=${SCHEDULER_METRICS_BIND:-127.0.0.1:9204}
export PROMETHEUS_BIND=${PROMETHEUS_BIND:-127.0.0.1:9090}
# Every 5 s rather than Prometheus' 15 s: a flash sale's minutes should show as curves, not steps.
export PROMETHEUS_SCRAPE_INTERVAL=${PROMETHEUS_SCRAPE_INTERVAL:-5s}
export PROMETHEUS_RULES_DIR=$PWD/deploy/prometheus
PROMETHEUS_DIR=${PROMETHEUS_DIR:-$PWD/.run/prometheus}
case "$PROMETHEUS_DIR" in /*) ;; *) PROMETHEUS_DIR=$PWD/$PROMETHEUS_DIR ;; esac

# Each kind's targets: one address, or several separated by commas (a kind run as several processes
# with a listener each, such as the flash sale's two workers).
for kind in WEB GATE BROWSE WORKER SCHEDULER; do
  bind_var=${kind}_METRICS_BIND
  export "${kind}_METRICS_TARGETS=\"$(sed 's/,/", "/g' <<<"${!bind_var}")\""
done

mkdir -p "$PROMETHEUS_DIR/data"
envsubst '${WEB_METRICS_TARGETS} ${GATE_METRICS_TARGETS} ${BROWSE_METRICS_TARGETS} ${WORKER_METRICS_TARGETS} ${SCHEDULER_METRICS_TARGETS} ${PROMETHEUS_BIND} ${PROMETHEUS_SCRAPE_INTERVAL} ${PROMETHEUS_RULES_DIR}' \
  <deploy/prometheus/prometheus.yml.template >"$PROMETHEUS_DIR/prometheus.yml"
if [ "${1:-}" = "--render" ]; then
  echo "$PROMETHEUS_DIR/prometheus.yml"
  exit 0
fi

# Two days of a development machine's figures are plenty; warnings only, so that its start-up
# lines do not bury the other processes' in `make run`'s output.
exec prometheus \
  --config.file="$PROMETHEUS_DIR/prometheus.yml" \
  --storage.tsdb.path="$PROMETHEUS_DIR/data" \
  --storage.tsdb.retention.time="${PROMETHEUS_RETENTION:-2d}" \
  --web.listen-address="$PROMETHEUS_BIND" \
  --log.level=warn
