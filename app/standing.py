"""Naming the places of standing sections (README "General admission (standing)") for fans: a
leaf module that the pages, the messages and the tickets share."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from flask_babel import gettext


def standing_places_sql(show: str, seat_ids: str) -> str:
    """SQL: a jsonb object naming the standing section of each of ``seat_ids`` (an expression) that
    is a standing place of the venue of ``show`` (an expression), README "General admission (standing)"."""
    return f"""(SELECT coalesce(jsonb_object_agg(vs.seat_id, vs.section), CAST('{{}}' AS jsonb))
                FROM shows gs JOIN venue_seats vs ON vs.venue_id = gs.venue_id
                WHERE gs.id = {show} AND vs.standing AND vs.seat_id = ANY({seat_ids}))"""


def seat_words(seat_ids: Sequence[str], standing: Mapping[str, str]) -> str:
    """Seats as a fan reads them, in the current language: seat ids, and the places of a standing
    section as the section and how many (``A1, A2, Standing, Floor × 2``)."""
    counts = Counter(standing[s] for s in seat_ids if s in standing)
    parts = [s for s in seat_ids if s not in standing]
    parts += [gettext("Standing, %(section)s × %(count)s", section=section, count=n) for section, n in counts.items()]
    return ", ".join(parts)
