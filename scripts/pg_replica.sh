#!/usr/bin/env bash
# A PostgreSQL streaming replica (hot standby) of the primary on 127.0.0.1:5432, for browsing reads
# (README, "Read replicas"). The whole cluster is copied: every database of the primary, the test
# databases too.
#
#   scripts/pg_replica.sh start DIR PORT   copy the primary into DIR (pg_basebackup), start it as a
#                                          hot standby on 127.0.0.1:PORT, wait until it answers in recovery
#   scripts/pg_replica.sh stop DIR         stop it and remove DIR
#
# DIR must not exist yet, and its parent must be reachable by the postgres OS user (e.g. under /tmp):
# PostgreSQL's programs refuse to run as root, so they run as postgres. The replica listens on
# 127.0.0.1 only, with its unix socket in DIR, and trusts local connections as the primary does.
#
# The primary must accept replication connections from 127.0.0.1. Debian's pg_hba.conf ("host all
# all 127.0.0.1/32 trust") does not cover them ("all" databases excludes replication), and pg_hba.conf
# cannot be changed through ALTER SYSTEM: if a replication connection is refused, this script adds
# one line, "host replication all 127.0.0.1/32 trust", to the primary's hba_file and reloads its
# configuration (no restart; existing connections are untouched). wal_level=replica and
# max_wal_senders > 0 are needed too (Debian's defaults); the script says so if they are missing.
#
# No replication slot: a slot left behind by a replica that was removed without `stop` would keep
# the primary's WAL forever. A replica that falls further behind than the primary keeps WAL for
# (wal_keep_size) stops replaying; browsing then reads the primary (its lag only grows) until the
# replica is stopped and started again.
set -euo pipefail

PRIMARY_HOST=${PRIMARY_HOST:-127.0.0.1}
PRIMARY_PORT=${PRIMARY_PORT:-5432}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'pg_replica: %s\n' "$*" >&2; exit 1; }
as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"
  elif [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"
  else sudo -u postgres "$@"; fi
}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
primary_sql() { psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -Atqc "$1"; }

replication_allowed() {
  psql "host=$PRIMARY_HOST port=$PRIMARY_PORT user=postgres dbname=postgres replication=true" \
    -Atqc IDENTIFY_SYSTEM >/dev/null 2>&1 </dev/null
}

allow_replication() {
  replication_allowed && return
  [ "$(primary_sql 'SHOW wal_level')" != minimal ] || die "the primary has wal_level=minimal: set it to replica and restart it"
  [ "$(primary_sql 'SHOW max_wal_senders')" -gt 0 ] || die "the primary has max_wal_senders=0: raise it and restart it"
  local hba
  hba=$(primary_sql 'SHOW hba_file')
  say "the primary refuses replication connections: adding 'host replication all 127.0.0.1/32 trust' to $hba and reloading"
  echo "host replication all 127.0.0.1/32 trust  # added by Seatline's scripts/pg_replica.sh" | as_root tee -a "$hba" >/dev/null
  primary_sql 'SELECT pg_reload_conf()' >/dev/null
  for _ in $(seq 1 50); do replication_allowed && return; sleep 0.1; done
  die "the primary still refuses replication connections from 127.0.0.1 (see $hba)"
}

start() {
  local dir=$1 port=$2
  [ -e "$dir" ] && die "$dir exists already"
  allow_replication
  as_root mkdir -m 700 "$dir"
  as_root chown postgres: "$dir"
  say "copying the primary into $dir"
  # -c fast: no wait for the next spread checkpoint; -X stream: the WAL written meanwhile comes along.
  as_postgres "$PGBIN/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -D "$dir" -R -X stream -c fast
  # A standby needs at least the primary's values of these (PostgreSQL refuses to start otherwise).
  local name settings=""
  for name in max_connections max_worker_processes max_wal_senders max_prepared_transactions max_locks_per_transaction; do
    settings+="$name = $(primary_sql "SHOW $name")"$'\n'
  done
  # Debian keeps postgresql.conf and pg_hba.conf outside the data directory: the copy has neither.
  as_postgres tee "$dir/postgresql.conf" >/dev/null <<EOF
# Seatline's read replica (scripts/pg_replica.sh)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
hot_standby = on
shared_buffers = 32MB
ssl = off
logging_collector = off
cluster_name = 'seatline-replica-$port'
$settings
EOF
  as_postgres tee "$dir/pg_hba.conf" >/dev/null <<EOF
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
EOF
  as_postgres touch "$dir/pg_ident.conf"
  say "starting the replica on 127.0.0.1:$port"
  as_postgres "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -o "-p $port -k $dir" -w -t 60 start >/dev/null \
    || { tail -n 20 "$dir/server.log" >&2; die "the replica did not start"; }
  for _ in $(seq 1 100); do
    if [ "$(psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ]; then
      return
    fi
    sleep 0.1
  done
  die "the replica on port $port does not answer in recovery (see $dir/server.log)"
}

stop() {
  local dir=$1
  [ -d "$dir" ] || return 0
  if [ -f "$dir/postmaster.pid" ]; then
    as_postgres "$PGBIN/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null || true
  fi
  as_root rm -rf "$dir"
}

case "${1:-}" in
  start) [ $# -eq 3 ] || die "usage: $0 start DIR PORT"; start "$2" "$3" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
  *) die "usage: $0 start DIR PORT | stop DIR" ;;
esac
