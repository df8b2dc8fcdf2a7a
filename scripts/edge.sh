#!/usr/bin/env bash
# The edge: nginx in front of the web and gate processes, in the foreground (`edge` in the
# Procfile; `scripts/services.sh --nginx` installs nginx). Renders
# deploy/nginx/seatline.conf.template for EDGE_BIND, WEB_BIND, BROWSE_BIND and GATE_BIND into EDGE_DIR
# (default .run/nginx/PORT/: one per port, so edges side by side never share their pid, cache
# or temp files) and runs nginx there. WEB_BIND, BROWSE_BIND and GATE_BIND may each name several
# servers, host:port,host:port (`make run-cluster`): the edge balances between them and leaves out
# one that fails (README "Running as a cluster").
set -euo pipefail
cd "$(dirname "$0")/.."

export EDGE_BIND=${EDGE_BIND:-127.0.0.1:8080}
export WEB_BIND=${WEB_BIND:-127.0.0.1:8000}
export GATE_BIND=${GATE_BIND:-127.0.0.1:8001}
# The browse process (catalog and seat maps); without one the web process serves them. With one,
# the web process stands in while it is down.
export BROWSE_BIND=${BROWSE_BIND:-$WEB_BIND}
# An upstream's server lines, one per address of a comma-separated list ($2: what each line adds).
# A server that fails a connection or times out (passive health checks: nginx's open-source
# edition has no active ones) is left out for UPSTREAM_FAIL_SECONDS, then tried with one request.
export UPSTREAM_FAIL_SECONDS=${UPSTREAM_FAIL_SECONDS:-2}
servers() {
  local address out=""
  IFS=, read -ra addresses <<<"$1"
  for address in "${addresses[@]}"; do
    [[ "$address" =~ ^[A-Za-z0-9.:_-]+$ ]] || { echo "not a host:port: '$address'" >&2; exit 1; }
    out+="${out:+$'\n'}        server $address max_fails=1 fail_timeout=${UPSTREAM_FAIL_SECONDS}s$2;"
  done
  printf '%s' "$out"
}
WEB_SERVERS=$(servers "$WEB_BIND" "")
GATE_SERVERS=$(servers "$GATE_BIND" "")
BROWSE_SERVERS=$(servers "$BROWSE_BIND" "")
[ "$BROWSE_BIND" = "$WEB_BIND" ] || BROWSE_SERVERS+=$'\n'$(servers "$WEB_BIND" " backup")
export WEB_SERVERS GATE_SERVERS BROWSE_SERVERS
# Joins the gate works on at once; more are answered 429 with Retry-After by the edge itself.
export GATE_JOINS_IN_FLIGHT=${GATE_JOINS_IN_FLIGHT:-64}
export STATIC_ROOT=${STATIC_ROOT:-$PWD/app/static}
export EDGE_DIR=${EDGE_DIR:-$PWD/.run/nginx/${EDGE_BIND##*:}}
# nginx's access_log argument: "off" (the default), or a file and format, e.g.
# "access.log seatline buffer=32k flush=1s" (relative to EDGE_DIR), each line with the request id.
export EDGE_ACCESS_LOG=${EDGE_ACCESS_LOG:-off}
case "$EDGE_DIR" in /*) ;; *) EDGE_DIR=$PWD/$EDGE_DIR ;; esac
# The catalog cache's own server listens on a unix socket in EDGE_DIR (the template says why).
socket=$EDGE_DIR/browse-cache.sock
[ "${#socket}" -lt 108 ] || { echo "EDGE_DIR is too long for a unix socket path: $socket" >&2; exit 1; }

mkdir -p "$EDGE_DIR/tmp"
rm -f "$socket"  # left by an nginx that did not stop cleanly
envsubst '${EDGE_BIND} ${WEB_SERVERS} ${BROWSE_SERVERS} ${GATE_SERVERS} ${GATE_JOINS_IN_FLIGHT} ${STATIC_ROOT} ${EDGE_DIR} ${EDGE_ACCESS_LOG}' \
  <deploy/nginx/seatline.conf.template >"$EDGE_DIR/nginx.conf"

# As root nginx would run its workers as www-data, which may not be able to read this checkout:
# they run as whoever runs Seatline, like every other process.
globals=()
[ "$(id -u)" -ne 0 ] || globals=(-g "user root;")
exec "$(command -v nginx || echo /usr/sbin/nginx)" -p "$EDGE_DIR/" -c nginx.conf -e stderr "${globals[@]}"
