"""The waiting list, as the API answers it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from app.contract import Currency, Money, NumericId, ResponseBody

EntryStatus = Literal["WAITING", "OFFERED", "CLAIMED", "MISSED", "LEFT", "CLOSED"]


class WaitlistJoined(ResponseBody):
    waitlistId: UUID = Field(description="The entry; see `GET /waitlist`.")
    position: int = Field(
        ge=0, description="The place in the show's line (1 is next); 0 while an offer is open for the fan."
    )


class WaitlistOffer(ResponseBody):
    holdId: UUID = Field(description="The hold made for the fan: pay it like any hold, before `expiresAt`.")
    seatIds: list[str] = Field(min_length=1)
    expiresAt: datetime
    amount: Money
    currency: Currency


class WaitlistEntry(ResponseBody):
    waitlistId: UUID
    showId: NumericId
    title: str = Field(description="The event's title.")
    startTime: datetime = Field(description="The show's start time, with its city's local offset.")
    quantity: int = Field(ge=1, le=8)
    tier: str | None = Field(description="The price tier asked for; null: any tier.")
    status: EntryStatus = Field(
        description=(
            "`WAITING` in line; `OFFERED`: seats are held for the fan (`offer`); `CLAIMED`: the offer was paid; "
            "`MISSED`: the offer lapsed or was released unpaid (the fan may join again); `LEFT`: the fan left; "
            "`CLOSED`: the show was cancelled or its sale ended while the fan waited (the fan is emailed)."
        )
    )
    position: int | None = Field(ge=1, description="While `WAITING`: the place in line (1 is next).")
    joinedAt: datetime
    offer: WaitlistOffer | None = Field(description="The open offer, while `OFFERED`.")


class WaitlistList(ResponseBody):
    entries: list[WaitlistEntry] = Field(description="The caller's entries, the newest first (at most 100).")
