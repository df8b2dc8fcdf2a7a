"""The catalog API's response bodies: cities, a city's shows, a show's detail."""

from __future__ import annotations

import datetime as dt
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.contract import Currency, Money, NumericId, ResponseBody, SaleStatus, ShowStatus


class City(ResponseBody):
    cityId: NumericId
    name: str
    country: str = Field(pattern="^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code.")
    timezone: str = Field(
        description="IANA time zone of the city, e.g. `Asia/Kolkata`. A city's dates are its local dates."
    )


class CityList(ResponseBody):
    cities: list[City]


class ShowSummary(ResponseBody):
    showId: NumericId
    eventId: NumericId
    title: str
    category: str = Field(description="e.g. `movie`, `concert`, `sport`.")
    venueId: NumericId
    venueName: str
    startTime: datetime = Field(description="Start time with the city's local offset.")
    status: ShowStatus
    saleStatus: SaleStatus
    queueRequired: bool = Field(description="The sale is protected by the virtual waiting room.")
    currency: Currency
    priceFrom: int | None = Field(
        ge=0, description="The cheapest tier's price, in minor units of `currency`; null when the show has no prices."
    )
    priceTo: int | None = Field(
        ge=0, description="The dearest tier's price, in minor units of `currency`; null when the show has no prices."
    )


class CityShows(ResponseBody):
    cityId: NumericId
    date: dt.date = Field(description="The city-local date the shows start on.")
    timezone: str = Field(description="The city's IANA time zone.")
    shows: list[ShowSummary] = Field(description="Ordered by start time, then title.")


class Venue(ResponseBody):
    venueId: NumericId
    name: str
    kind: str = Field(description="e.g. `cinema`, `concert_hall`, `stadium`.")
    address: str
    cityId: NumericId
    cityName: str
    timezone: str = Field(description="The city's IANA time zone.")
    seatCount: int = Field(ge=0, description="Seats in the venue's layout. Use it to choose a seat-map shape.")


class PriceTier(ResponseBody):
    tier: str
    price: Money
    currency: Currency


class RefundPolicyRule(BaseModel):
    hoursBefore: float | None = Field(
        None, ge=0, description="The rule applies when cancelling at least this many hours before the start."
    )
    refundPercent: float | None = Field(
        None, ge=0, le=100, description="The share of the amount paid that comes back (taken as a whole number)."
    )


class ShowRefundPolicy(BaseModel):
    """The show's refund policy as the venue set it, e.g. `{"rules": [{"hoursBefore": 48, "refundPercent": 100}, {"hoursBefore": 24, "refundPercent": 50}], "feeMinor": 0}`. When a fan cancels a booking (`POST /bookings/{bookingId}/cancel`), of the rules whose `hoursBefore` the show's start is at least that many hours away, the one with the most hours applies: the refund is that `refundPercent` of the amount paid (rounded down), less `feeMinor`, never below 0. If no rule applies, or the show has started, the booking cannot be cancelled. An empty policy (`{}`, no rules) allows no cancellation."""

    model_config = ConfigDict(extra="allow")
    rules: list[RefundPolicyRule] | None = Field(None)
    feeMinor: Money | None = Field(
        None, description="A cancellation fee taken off every refund, in minor units of the show's currency."
    )


class ShowDetail(ResponseBody):
    showId: NumericId
    eventId: NumericId
    title: str
    category: str = Field(description="e.g. `movie`, `concert`, `sport`.")
    description: str
    durationMinutes: int
    venue: Venue
    startTime: datetime = Field(description="Start time with the venue city's local offset.")
    saleOpensAt: datetime = Field(description="When seats can first be held (city-local offset).")
    saleClosesAt: datetime = Field(description="When the sale ends (city-local offset).")
    status: ShowStatus
    saleStatus: SaleStatus
    queueRequired: bool = Field(description="The sale is protected by the virtual waiting room.")
    currency: Currency
    priceTiers: list[PriceTier] = Field(description="Every price tier of the show, dearest first.")
    refundPolicy: ShowRefundPolicy
    transferCutoffMinutes: int = Field(
        ge=0,
        description=(
            "Tickets can be transferred (`POST /bookings/{bookingId}/transfer`) until this many minutes before "
            "the start."
        ),
    )
    maxSeatsPerHold: int = Field(ge=1, description="The most seats one hold may list.")
