"""The gate's signing-key file is readable by its owner only from the moment it exists."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from queue_gate.keys import load_keys, rotate_file


@pytest.fixture
def permissive_umask():
    old = os.umask(0)  # the most permissive: a plain write would make the file world-readable
    yield
    os.umask(old)


@pytest.fixture
def no_chmod(monkeypatch):
    """Nothing may fix the mode up after writing: the file must be created 0600."""

    def refuse(*args, **kwargs):
        raise AssertionError("the key file's mode must come from its creation, not from a chmod after writing")

    monkeypatch.setattr(os, "chmod", refuse)
    monkeypatch.setattr(os, "fchmod", refuse)
    monkeypatch.setattr(Path, "chmod", refuse)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_key_file_is_created_0600(tmp_path, permissive_umask, no_chmod):
    path = tmp_path / "run" / "gate-keys.json"
    rotate_file(path)
    assert mode(path) == 0o600
    assert len(load_keys(path.read_text())) == 1
    assert [p.name for p in path.parent.iterdir()] == ["gate-keys.json"]  # no temporary file left behind


def test_a_rotated_key_file_stays_0600_and_keeps_the_old_keys(tmp_path, permissive_umask, no_chmod):
    path = tmp_path / "gate-keys.json"
    rotate_file(path)
    first = json.loads(path.read_text())[0]["kid"]
    rotate_file(path)
    assert mode(path) == 0o600
    assert [e["kid"] for e in json.loads(path.read_text())][1] == first
