"""Static URLs carry a hash of the file's content, so the edge may let browsers keep them a year."""

import hashlib

from flask import Flask, url_for

from app import static_files


def _static_url(folder, filename: str) -> str:
    app = Flask(__name__, static_folder=str(folder), static_url_path="/static")
    static_files.init_app(app)
    with app.test_request_context():
        return url_for("static", filename=filename)


def _version(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:12]


def test_a_static_url_changes_when_the_file_does(tmp_path):
    script = tmp_path / "js" / "seatmap.js"
    script.parent.mkdir()
    script.write_bytes(b"one")
    first = _static_url(tmp_path, "js/seatmap.js")
    assert first == f"/static/js/seatmap.js?v={_version(b'one')}"

    script.write_bytes(b"two")
    assert _static_url(tmp_path, "js/seatmap.js") == first, "hashed once per process"
    static_files.content_version.cache_clear()  # as a restarted process would
    assert _static_url(tmp_path, "js/seatmap.js") == f"/static/js/seatmap.js?v={_version(b'two')}"


def test_missing_files_and_paths_outside_the_folder_get_no_version(tmp_path):
    (tmp_path / "static").mkdir()
    (tmp_path / "secret.txt").write_text("not static")
    assert _static_url(tmp_path / "static", "missing.js") == "/static/missing.js"
    assert "v=" not in _static_url(tmp_path / "static", "../secret.txt")
