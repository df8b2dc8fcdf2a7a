"""The README's layout table names what is there: every path it lists exists, and every top-level
folder, every package of ``app`` and every script is named in it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _table() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Layout", 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("## "):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] not in ("path", "---"):
            rows.append((cells[0], cells[1]))
    return rows


def _named_paths() -> list[str]:
    return [p for first, _ in _table() for p in re.findall(r"`([^`]+)`", first)]


def test_every_listed_path_exists():
    assert _named_paths(), "the README has no layout table"
    missing = [p for p in _named_paths() if not list(ROOT.glob(p.rstrip("/")))]
    assert missing == []


def test_every_top_level_folder_is_listed():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    folders = {line.split("/", 1)[0] for line in tracked.splitlines() if "/" in line} - {".ci"}
    listed = {p.split("/", 1)[0] for p in _named_paths()}
    assert sorted(folders - listed) == []


def test_every_app_package_is_named():
    text = " ".join(f"{first} {what}" for first, what in _table())
    packages = sorted(p.parent.name for p in (ROOT / "app").glob("*/__init__.py"))
    unnamed = [name for name in packages if f"`app/{name}" not in text and f"`{name}`" not in text]
    assert unnamed == []


def test_every_script_is_named():
    scripts_row = " ".join(what for first, what in _table() if first == "`scripts/`")
    unnamed = [p.name for p in sorted((ROOT / "scripts").iterdir()) if f"`{p.name}`" not in scripts_row]
    assert unnamed == []
