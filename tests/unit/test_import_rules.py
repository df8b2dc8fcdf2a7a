"""The packages' dependency direction (.importlinter): ``app`` is the core, ``workers`` and ``queue_gate``
build on it and never the reverse, and no new import cycle appears between app's parts. ``app`` names
its jobs by dotted path (app/background); each of those paths must exist in ``workers.jobs``."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import workers.jobs

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "workers", "queue_gate")
JOB_PATH = re.compile(r"""["'](workers\.jobs\.(\w+))["']""")


def test_import_contracts_are_kept():
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--config", str(ROOT / ".importlinter")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_no_imports_inside_functions():
    """An import inside a function or class hides a dependency (and used to dodge an import cycle): each
    goes at its module's top, where a reader and the contracts see it."""
    hidden = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for scope in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    hidden += [
                        f"{path.relative_to(ROOT)}:{node.lineno}"
                        for node in ast.walk(scope)
                        if isinstance(node, (ast.Import, ast.ImportFrom))
                    ]
    assert hidden == []


def test_every_job_the_app_names_is_a_worker_job():
    named = {}
    for package in ("app", "workers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for match in JOB_PATH.finditer(path.read_text()):
                named.setdefault(match.group(1), f"{path.relative_to(ROOT)}")
    assert "workers.jobs.send_notification" in named  # the pattern still finds the app's job names
    missing = {
        path: where
        for path, where in named.items()
        if not callable(getattr(workers.jobs, path.rsplit(".", 1)[1], None))
    }
    assert missing == {}
