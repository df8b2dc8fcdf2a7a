"""Who is signed in on the site is read in one place: app/accounts/signed_in.py (``signed_in_user``
and the ``login_required`` decorator; templates call ``signed_in_user()``). A page that read the
session itself could skip the checks that reading does there, or answer a missing session its own way."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READER = Path("app/accounts/signed_in.py")
# Reading the signed-in user's id out of the session, however it is spelt (writing it, when
# signing in, is an assignment and not matched).
READS = re.compile(r"""session\s*(?:\.\s*get\s*\(\s*|\[\s*)['"]user_id['"]\s*[\],)](?!\s*=[^=])""")


def readers(root: Path) -> list[str]:
    found = []
    paths = [p for package in ("app", "queue_gate", "workers") for p in sorted((root / package).rglob("*.py"))]
    for path in [*paths, *sorted((root / "templates").rglob("*.html"))]:
        relative = path.relative_to(root)
        if relative == READER:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if READS.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    return found


def test_only_the_signed_in_module_reads_who_is_signed_in():
    assert readers(ROOT) == []


def test_the_reader_itself_is_found_and_so_would_another(tmp_path):
    assert READS.search((ROOT / READER).read_text())
    for line in (
        'user = session.get("user_id")',
        "if session['user_id']:",
        'x = session [ "user_id" ] + 1',
        'session.get( "user_id" , None)',
    ):
        assert READS.search(line), line
    for line in ('session["user_id"] = user.id', "session.get('ep', 0)", 'request.args.get("user_id")'):
        assert not READS.search(line), line
    page = tmp_path / "app" / "site" / "page.py"
    page.parent.mkdir(parents=True)
    page.write_text('def view():\n    return session.get("user_id")\n')
    template = tmp_path / "templates" / "site" / "page.html"
    template.parent.mkdir(parents=True)
    template.write_text('<nav>\n{% if session.get("user_id") %}Hello{% endif %}\n</nav>\n')
    assert readers(tmp_path) == [
        'app/site/page.py:2: return session.get("user_id")',
        'templates/site/page.html:2: {% if session.get("user_id") %}Hello{% endif %}',
    ]
