#!/usr/bin/env bash
# Runs the test suite against a separate test database and Redis database.
# Extra arguments go to pytest (e.g. -m "not slow", -k holds, tests/unit).
set -euo pipefail
cd "$(dirname "$0")/.."

export ENV=test
export DATABASE_URL=${TEST_DATABASE_URL:-postgresql+psycopg://seatline:seatline@127.0.0.1:5432/seatline_test}
export REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
export PATH="$PWD/.venv/bin:$PATH"

# The compiled translations (.mo) the pages and emails use, as `make test` builds them (README "Languages").
pybabel -q compile -d translations

exec pytest "$@"
