"""Server-rendered pages of the fan site."""
from __future__ import annotations

from datetime import date, datetime, timezone

import orjson
from flask import Blueprint, abort, current_app, make_response, render_template, request

from app import admission
from app.catalog import services as catalog
from app.errors import ShowNotFound
from app.extensions import settings
from app.inventory import seatmap
from app.unit_of_work import unit_of_work

bp = Blueprint("site", __name__)


@bp.get("/")
def home():
    """Shows in a city on a (city-local) date; htmx swaps only the results when the filters change."""
    with unit_of_work() as uow:
        cities = catalog.list_cities(uow)
        if not cities:
            return render_template("site/home.html", cities=[], listing=None, groups=[])
        city_id = request.args.get("city", cities[0]["cityId"])
        if city_id not in {c["cityId"] for c in cities}:
            city_id = cities[0]["cityId"]
        raw_date = request.args.get("date", "")
        try:
            day = date.fromisoformat(raw_date) if raw_date else catalog.city_today(uow, int(city_id))
        except ValueError:
            day = catalog.city_today(uow, int(city_id))
        listing = catalog.shows_on_date(uow, int(city_id), day)
    groups: dict[str, dict] = {}
    for show in listing["shows"]:
        group = groups.setdefault(show["eventId"], {"title": show["title"], "category": show["category"], "shows": []})
        group["shows"].append({**show, "time": datetime.fromisoformat(show["startTime"]).strftime("%H:%M")})
    context = {"cities": cities, "city_id": city_id, "listing": listing, "groups": list(groups.values())}
    template = "site/_shows.html" if request.headers.get("HX-Request") else "site/home.html"
    response = make_response(render_template(template, **context))
    response.headers["Vary"] = "HX-Request"
    return response


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
