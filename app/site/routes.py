"""Server-rendered pages of the fan site."""
from __future__ import annotations

from datetime import datetime, timezone

import orjson
from flask import Blueprint, abort, current_app, render_template, request

from app import admission
from app.catalog import services as catalog
from app.errors import ShowNotFound
from app.extensions import settings
from app.inventory import seatmap
from app.unit_of_work import unit_of_work

bp = Blueprint("site", __name__)


@bp.get("/shows/<int:show_id>")
def show_page(show_id: int):
    with unit_of_work() as uow:
        try:
            show = catalog.show_detail(uow, show_id, settings().max_seats_per_hold)
        except ShowNotFound:
            abort(404)
        granted = None
        if show["queueRequired"]:
            try:
                granted = current_app.extensions["seatline.admission"].verify_for_event(
                    request.cookies.get(admission.COOKIE), int(show["eventId"])
                )
            except admission.AdmissionRefused:
                join_url = f"{settings().gate_public_url}/gate/queues/{show['eventId']}"
                return render_template("site/waiting_room_required.html", show=show, join_url=join_url), 403
        sections = orjson.loads(seatmap.render_sections(uow, show_id))["sections"]
    start = datetime.fromisoformat(show["startTime"])
    return render_template(
        "site/show.html",
        show=show,
        sections=sections,
        start_text=start.strftime("%a %d %b %Y, %H:%M"),
        admission=granted,
        admission_until=datetime.fromtimestamp(granted.expires_at, timezone.utc).strftime("%H:%M UTC") if granted else None,
    )
