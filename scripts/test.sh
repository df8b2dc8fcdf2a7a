#!/usr/bin/env bash
# Runs the test suite against a separate test database and Redis database.
# Extra arguments go to pytest (e.g. -m "not slow", -k holds, tests/unit).
# The tests run in TEST_WORKERS processes (pytest-xdist, 2 by default; 1 runs them in this one), each
# on a database and Redis database of its own (tests/conftest.py, README "Tests").
set -euo pipefail
cd "$(dirname "$0")/.."

export ENV=test
export DATABASE_URL=${TEST_DATABASE_URL:-postgresql+psycopg://seatline:seatline@127.0.0.1:5432/seatline_test}
export REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
export PATH="$PWD/.venv/bin:$PATH"

# The compiled translations (.mo) the pages and emails use, as `make test` builds them (README "Languages").
pybabel -q compile -d translations

workers=${TEST_WORKERS:-2}
parallel=()
if [ "$workers" -gt 1 ]; then
  # A test module (or a group of them, tests/conftest.py) at a time to a process, in the order
  # collected: the long e2e modules first, the short unit tests last to even out the end.
  parallel=(--numprocesses "$workers" --dist loadgroup --no-loadscope-reorder)
fi

exec pytest ${parallel[@]+"${parallel[@]}"} "$@"
