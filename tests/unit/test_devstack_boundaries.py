"""The test and benchmark harness starts Seatline's processes in one place, `devstack/`, and the
benchmarks stand on their own: these tests read the source (no process is started) and fail when a
module elsewhere starts gunicorn or the edge itself, or when `bench/` or `devstack/` imports the tests."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ("tests", "bench")  # where processes are started for tests and benchmarks


def _modules(*tops: str) -> Iterator[tuple[Path, ast.Module]]:
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            yield path, ast.parse(path.read_text(), str(path))


def _starts_a_process(node: ast.AST) -> str | None:
    """What ``node`` names when it is a piece of a command line that starts one of the stack's servers."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        name = node.value.rstrip("/").rsplit("/", 1)[-1]
        if name in ("gunicorn", "edge.sh"):
            return node.value
    return None


def offenders_starting_processes() -> list[str]:
    found = []
    for path, tree in _modules(*HARNESS):
        if path == Path(__file__).resolve():
            continue  # this file names what it looks for
        for node in ast.walk(tree):
            what = _starts_a_process(node)
            if what:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {what!r}")
    return found


def offenders_importing(package: str, *tops: str) -> list[str]:
    found = []
    for path, tree in _modules(*tops):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name == package or name.startswith(package + "."):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: import {name}")
    return found


def test_only_devstack_names_the_servers_command_lines():
    assert offenders_starting_processes() == [], "start gunicorn and the edge through devstack.commands"


def test_the_benchmarks_and_devstack_do_not_import_the_tests():
    assert offenders_importing("tests", "bench", "devstack") == []


def test_devstack_does_not_import_the_benchmarks():
    assert offenders_importing("bench", "devstack") == []


def test_the_checks_see_what_they_look_for(tmp_path, monkeypatch):
    # The same checks on a tree that breaks each rule once: they must name every offence.
    for top in ("tests", "bench", "devstack"):
        (tmp_path / top).mkdir()
    (tmp_path / "tests" / "x.py").write_text(
        'import subprocess\nsubprocess.Popen([".venv/bin/gunicorn", "wsgi:app"])\n'
    )
    (tmp_path / "bench" / "y.py").write_text('from tests.support.db import app\nargs = ["scripts/edge.sh"]\n')
    (tmp_path / "devstack" / "z.py").write_text("import bench.harness\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert offenders_starting_processes() == ["tests/x.py:2: '.venv/bin/gunicorn'", "bench/y.py:2: 'scripts/edge.sh'"]
    assert offenders_importing("tests", "bench", "devstack") == ["bench/y.py:1: import tests.support.db"]
    assert offenders_importing("bench", "devstack") == ["devstack/z.py:1: import bench.harness"]
