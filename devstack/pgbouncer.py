"""A private PgBouncer in transaction mode (scripts/pgbouncer.sh) in front of one database of a real
PostgreSQL, on a free port, for tests and benchmarks; ``stop()`` ends it and removes its directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

from devstack.processes import ROOT, free_port, stop_process_groups, tail, wait_port


class PgBouncer:
    """PgBouncer serving ``database_url``'s database on 127.0.0.1:``port`` under the same name, with
    the statement and lock timeouts given set on each of its server connections."""

    def __init__(
        self,
        database_url: str,
        statement_timeout_ms: int = 5000,
        lock_timeout_ms: int = 3000,
        pool_size: int = 20,
        port: int | None = None,
    ) -> None:
        self.direct = make_url(database_url)
        self.port = port or free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="seatline-pgbouncer-"))
        self.log = self.directory / "pgbouncer.log"
        env = {
            **os.environ,
            "PGBOUNCER_BIND": f"127.0.0.1:{self.port}",
            "PG_HOST": self.direct.host or "127.0.0.1",
            "PG_PORT": str(self.direct.port or 5432),
            "PG_DB": self.direct.database or "seatline",
            "PGBOUNCER_DIR": str(self.directory),
            "DB_STATEMENT_TIMEOUT_MS": str(statement_timeout_ms),
            "DB_LOCK_TIMEOUT_MS": str(lock_timeout_ms),
            "PGBOUNCER_POOL_SIZE": str(pool_size),
        }
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(ROOT / "scripts" / "pgbouncer.sh")],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_port(self.port, self.proc, "pgbouncer")
        except RuntimeError as exc:
            output = tail(self.log)
            self.stop()
            raise RuntimeError(f"{exc}\n{output}") from exc

    @property
    def url(self) -> str:
        """``database_url`` with PgBouncer's address instead of PostgreSQL's."""
        return self.direct.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def stop(self) -> None:
        stop_process_groups([self.proc], grace=10)
        shutil.rmtree(self.directory, ignore_errors=True)
