"""Who is signed in on the site, and the one decorator for pages that need someone signed in."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, redirect, request, session, url_for
from werkzeug.wrappers import Response


def signed_in_user() -> int | None:
    """The signed-in user's id, or None. Reading the session checks it against the user's
    revocations (README "Security"), so a session ended elsewhere reads as nobody."""
    user_id = session.get("user_id")
    return user_id if isinstance(user_id, int) else None


def to_login(next_path: str) -> Response:
    """Sends the browser to log in, and back to ``next_path`` afterwards."""
    return redirect(url_for("site_auth.login", next=next_path), code=303)


def login_required(
    view: Callable[..., Any] | None = None, *, back_to: str | None = None, refuse: int | None = None
) -> Any:
    """The view is called with ``user_id``, the signed-in user's. Without one the browser is sent to
    log in and brought back to this page (with its query string), or to the endpoint ``back_to``
    (given the view's own arguments: a form posted from the show page returns there); with
    ``refuse``, that status is the answer instead. The site's pages and the manager dashboard's
    (``app/manage/pages.py``, which then checks the role) all use it."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user_id = signed_in_user()
            if user_id is None:
                if refuse is not None:
                    abort(refuse)
                return to_login(url_for(back_to, **kwargs) if back_to else request.full_path.rstrip("?"))
            return view(*args, user_id=user_id, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
