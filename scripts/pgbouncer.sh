#!/usr/bin/env bash
# PgBouncer in transaction mode in front of one PostgreSQL database, in the foreground
# (`scripts/services.sh --pgbouncer` installs it). Renders deploy/pgbouncer/pgbouncer.ini.template
# for PGBOUNCER_BIND and the database PG_HOST:PG_PORT/PG_DB (served under the name PGBOUNCER_DB) into
# PGBOUNCER_DIR (default .run/pgbouncer/PORT/) and runs pgbouncer there. The statement and lock
# timeouts of every server connection come from DB_STATEMENT_TIMEOUT_MS and DB_LOCK_TIMEOUT_MS, the
# variables the app reads (README "PgBouncer").
set -euo pipefail
cd "$(dirname "$0")/.."

PGBOUNCER_BIND=${PGBOUNCER_BIND:-127.0.0.1:6432}
export PGBOUNCER_HOST=${PGBOUNCER_BIND%:*}
export PGBOUNCER_PORT=${PGBOUNCER_BIND##*:}
export PG_HOST=${PG_HOST:-127.0.0.1}
export PG_PORT=${PG_PORT:-5432}
export PG_DB=${PG_DB:-seatline}
export PGBOUNCER_DB=${PGBOUNCER_DB:-$PG_DB}
export DB_STATEMENT_TIMEOUT_MS=${DB_STATEMENT_TIMEOUT_MS:-5000}
export DB_LOCK_TIMEOUT_MS=${DB_LOCK_TIMEOUT_MS:-3000}
export PGBOUNCER_POOL_SIZE=${PGBOUNCER_POOL_SIZE:-20}
export PGBOUNCER_MAX_CLIENTS=${PGBOUNCER_MAX_CLIENTS:-1000}
# trust fits a PostgreSQL that trusts loopback (this machine's); with md5 or scram-sha-256 the
# passwords go in userlist.txt ("user" "password" per line) instead of PGBOUNCER_USERS' empty ones.
export PGBOUNCER_AUTH_TYPE=${PGBOUNCER_AUTH_TYPE:-trust}
PGBOUNCER_USERS=${PGBOUNCER_USERS:-seatline postgres}
export PGBOUNCER_DIR=${PGBOUNCER_DIR:-$PWD/.run/pgbouncer/$PGBOUNCER_PORT}
case "$PGBOUNCER_DIR" in /*) ;; *) PGBOUNCER_DIR=$PWD/$PGBOUNCER_DIR ;; esac
for value in "$DB_STATEMENT_TIMEOUT_MS" "$DB_LOCK_TIMEOUT_MS" "$PGBOUNCER_PORT" "$PGBOUNCER_POOL_SIZE"; do
  [[ "$value" =~ ^[0-9]+$ ]] || { echo "not a number: $value" >&2; exit 1; }
done

mkdir -p "$PGBOUNCER_DIR"
# PgBouncer refuses to run as root; as root it drops to the postgres user once it listens, and
# must still be able to read its files then (a reload reads them again).
export PGBOUNCER_USER_LINE=""
if [ "$(id -u)" -eq 0 ]; then
  PGBOUNCER_USER_LINE="user = postgres"
fi
if [ ! -s "$PGBOUNCER_DIR/userlist.txt" ] || [ "$PGBOUNCER_AUTH_TYPE" = trust ]; then
  : >"$PGBOUNCER_DIR/userlist.txt"
  for user in $PGBOUNCER_USERS; do printf '"%s" ""\n' "$user" >>"$PGBOUNCER_DIR/userlist.txt"; done
fi
envsubst '${PGBOUNCER_DB} ${PG_HOST} ${PG_PORT} ${PG_DB} ${DB_STATEMENT_TIMEOUT_MS} ${DB_LOCK_TIMEOUT_MS} ${PGBOUNCER_HOST} ${PGBOUNCER_PORT} ${PGBOUNCER_USER_LINE} ${PGBOUNCER_AUTH_TYPE} ${PGBOUNCER_DIR} ${PGBOUNCER_POOL_SIZE} ${PGBOUNCER_MAX_CLIENTS}' \
  <deploy/pgbouncer/pgbouncer.ini.template >"$PGBOUNCER_DIR/pgbouncer.ini"
if [ "$(id -u)" -eq 0 ]; then
  chown -R postgres "$PGBOUNCER_DIR"
fi

exec "$(command -v pgbouncer || echo /usr/sbin/pgbouncer)" "$PGBOUNCER_DIR/pgbouncer.ini"
