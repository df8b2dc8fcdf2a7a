#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis are installed and running, and that Seatline's
# role and databases exist. Safe to run any number of times; starts only what is
# not already listening. Usage: scripts/services.sh [database ...]
# `scripts/services.sh --nginx` only installs nginx for the edge (scripts/edge.sh runs it);
# `--prometheus` only installs Prometheus and promtool (scripts/monitor.sh runs it, `make test` checks
# the alert rules with promtool);
# `--pgbouncer` only installs PgBouncer (scripts/pgbouncer.sh runs it, in front of PostgreSQL);
# `--install PACKAGE...` installs Debian packages (the benchmarks' wrk and pgbench).
# With SERVICES_RECORD=FILE, each service it starts is noted in FILE so that the
# caller can stop exactly those again (see stop_recorded_services below).
set -euo pipefail

PGHOST_ADDR=${PGHOST_ADDR:-127.0.0.1}
PGPORT=${PGPORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}
DB_USER=${DB_USER:-seatline}
DB_PASSWORD=${DB_PASSWORD:-seatline}

SERVICES_RECORD=${SERVICES_RECORD:-}
record() { if [ -n "$SERVICES_RECORD" ]; then mkdir -p "$(dirname "$SERVICES_RECORD")"; echo "$*" >>"$SERVICES_RECORD"; fi; }

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_listening() { pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT" 2>/dev/null; }
redis_listening() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

ensure_postgres() {
  pg_listening && return
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    say "installing PostgreSQL from Debian's packages"
    apt_install postgresql
  fi
  say "starting PostgreSQL"
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    echo "no PostgreSQL cluster found under /etc/postgresql" >&2
    exit 1
  fi
  if ! as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null; then
    as_root pg_ctlcluster "$version" main start
  fi
  for _ in $(seq 1 30); do pg_listening && break; sleep 0.5; done
  pg_listening || { echo "PostgreSQL did not start" >&2; exit 1; }
  record postgres "$version"
}

ensure_redis() {
  if ! redis_listening; then
    if ! command -v redis-server >/dev/null; then
      say "installing Redis from Debian's packages"
      apt_install redis-server
    fi
    say "starting Redis on port $REDIS_PORT"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/seatline.log
    for _ in $(seq 1 30); do redis_listening && break; sleep 0.2; done
    redis_listening || { echo "Redis did not start" >&2; exit 1; }
    record redis "$REDIS_PORT"
  fi
}

# Runs SQL as the PostgreSQL superuser: over TCP where trust auth allows it,
# otherwise as the postgres OS user over the local socket (Debian's default).
pg_admin() {
  if psql -h "$PGHOST_ADDR" -p "$PGPORT" -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1 </dev/null; then
    psql -h "$PGHOST_ADDR" -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -Atq "$@"
  else
    as_root runuser -u postgres -- psql -p "$PGPORT" -d postgres -v ON_ERROR_STOP=1 -Atq "$@"
  fi
}

ensure_databases() {
  if [ "$(pg_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != "1" ]; then
    say "creating database role $DB_USER"
    pg_admin -c "CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD' CREATEDB"
  fi
  for db in "$@"; do
    if [ "$(pg_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != "1" ]; then
      say "creating database $db"
      pg_admin -c "CREATE DATABASE $db OWNER $DB_USER"
    fi
  done
}

# Installs Debian packages whose system service Seatline never uses: it runs nginx and Prometheus
# as its own foreground processes. Debian would start the service as the package is installed
# (policy-rc.d's 101 forbids it) and at every boot (disabled here). Usage: SERVICE PACKAGE...
apt_install_service_off() {
  local service=$1
  shift
  (
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
      trap 'as_root rm -f "$policy"' EXIT
      printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
      as_root chmod 755 "$policy"
    fi
    apt_install "$@"
  )
  if [ -d /run/systemd/system ]; then
    as_root systemctl disable --now "$service" >/dev/null 2>&1 || true
  else
    as_root update-rc.d "$service" disable >/dev/null 2>&1 || true
  fi
}

# nginx runs as Seatline's own foreground process (scripts/edge.sh), never as the system's
# service, which would listen on port 80.
ensure_nginx() {
  command -v envsubst >/dev/null || apt_install gettext-base
  if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then return; fi
  say "installing nginx from Debian's packages (its system service stays off)"
  apt_install_service_off nginx nginx
  [ -d /run/systemd/system ] || as_root /usr/sbin/nginx -s quit >/dev/null 2>&1 || true
}

# Prometheus runs as Seatline's own foreground process (scripts/monitor.sh, `make run MONITOR=1`),
# never as the system's service, which would listen on 9090 and scrape nothing of Seatline's.
# Without its Recommends: prometheus-node-exporter would be one more system service.
ensure_prometheus() {
  command -v envsubst >/dev/null || apt_install gettext-base
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then return; fi
  say "installing Prometheus from Debian's packages (its system service stays off)"
  apt_install_service_off prometheus --no-install-recommends prometheus
  if [ ! -d /run/systemd/system ] && [ -x /etc/init.d/prometheus ]; then
    as_root /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  fi
}

# PgBouncer runs as Seatline's own foreground process (scripts/pgbouncer.sh), never as the system's
# service, which would listen on 6432 with Debian's configuration.
ensure_pgbouncer() {
  command -v envsubst >/dev/null || apt_install gettext-base
  if command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ]; then return; fi
  say "installing PgBouncer from Debian's packages (its system service stays off)"
  apt_install_service_off pgbouncer pgbouncer
  if [ ! -d /run/systemd/system ] && [ -x /etc/init.d/pgbouncer ]; then
    as_root /etc/init.d/pgbouncer stop >/dev/null 2>&1 || true
  fi
}

# Stops what an earlier run noted in FILE, then forgets it.
stop_recorded_services() {
  local file=$1 kind arg
  [ -f "$file" ] || return 0
  while read -r kind arg; do
    case "$kind" in
      redis) say "stopping Redis"; redis-cli -p "$arg" shutdown nosave >/dev/null 2>&1 || true ;;
      postgres) say "stopping PostgreSQL"; as_root pg_ctlcluster --skip-systemctl-redirect "$arg" main stop 2>/dev/null \
                  || as_root pg_ctlcluster "$arg" main stop || true ;;
    esac
  done <"$file"
  rm -f "$file"
}

if [ "${1:-}" = "--stop-recorded" ]; then
  stop_recorded_services "$2"
  exit 0
fi
if [ "${1:-}" = "--install" ]; then  # Debian packages: benchmark tools (--install wrk), fonts (Makefile)
  shift
  apt_install "$@"
  exit 0
fi
if [ "${1:-}" = "--nginx" ]; then
  ensure_nginx
  exit 0
fi
if [ "${1:-}" = "--prometheus" ]; then
  ensure_prometheus
  exit 0
fi
if [ "${1:-}" = "--pgbouncer" ]; then
  ensure_pgbouncer
  exit 0
fi

if ! command -v psql >/dev/null || ! command -v redis-cli >/dev/null; then
  say "installing database clients"
  command -v psql >/dev/null || apt_install postgresql-client
  command -v redis-cli >/dev/null || apt_install redis-tools
fi
ensure_postgres
ensure_redis
ensure_databases "${@:-seatline}"
