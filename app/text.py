"""One-line text that people type and others see in headers: event titles, venue and user names.

Control characters (C0, DEL, C1) and line or paragraph separators have no place in a title or a
name, and in an email subject a CR or LF breaks the header (or injects another). They are
replaced where the text comes in (each run, with the spaces around it, by one space, so "Rock\\r\\nNight" stays two words)
rather than refused: a title pasted with a stray newline or tab is a slip, not an attack worth
an error, and the stored text is then safe everywhere it is shown. Email headers are cleaned
the same way again when built, for rows stored before this rule.
"""

from __future__ import annotations

import re

# NUL is left alone: PostgreSQL cannot store it, and every input refuses it with 400 (README "Security").
_CONTROL = r"[\x01-\x1f\x7f-\x9f\u2028\u2029]"
# A run of control characters, with the spaces around it: one space in all.
_CONTROLS = re.compile(rf"(?:\s|{_CONTROL})*{_CONTROL}(?:\s|{_CONTROL})*")


def single_line(text: str) -> str:
    return _CONTROLS.sub(" ", text).strip()
