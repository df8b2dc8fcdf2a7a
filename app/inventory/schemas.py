"""Seat maps and holds, as the API answers them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from app.contract import AsOf, Currency, HoldStatus, Money, NumericId, ResponseBody

SeatStatus = Annotated[
    Literal["AVAILABLE", "HELD", "BOOKED"],
    Field(
        description=(
            "A held seat whose hold has expired reads `AVAILABLE`; a free seat kept for the show's waiting list "
            '(README "Waiting list") reads `HELD`.'
        )
    ),
]


class Seat(ResponseBody):
    seatId: str = Field(
        min_length=1, max_length=32, description="The seat's id, unique in the venue; use it in `seatIds` when holding."
    )
    section: str
    row: str
    number: int = Field(ge=1)
    tier: str
    price: Money
    accessible: bool = Field(description="Wheelchair-accessible seat.")
    x: int = Field(description="Column on the drawn map, in seat-width units (gaps are missing positions).")
    y: int = Field(description="Row on the drawn map, in seat-height units.")
    standing: bool = Field(
        False,
        description=(
            'Present, and true, only on an admission place of a standing section (README "General admission '
            '(standing)"): hold such places by quantity, with `gaSection`.'
        ),
    )
    status: SeatStatus


class SeatMap(ResponseBody):
    model_config = ConfigDict(title="Full seat map")
    showId: NumericId
    asOf: AsOf
    seats: list[Seat] = Field(
        description=("Every seat of the show, in layout order. The price is in minor units of the show's currency.")
    )


class SectionSeatMap(ResponseBody):
    model_config = ConfigDict(title="One section of the seat map")
    showId: NumericId
    asOf: AsOf
    section: str = Field(description="The section asked for.")
    seats: list[Seat] = Field(min_length=1, description="The section's seats, in layout order.")


class CompactSeatMapStatusCodes(ResponseBody):
    """What each status character means."""

    A: Literal["AVAILABLE"]
    H: Literal["HELD"]
    B: Literal["BOOKED"]


class CompactSeatMap(ResponseBody):
    model_config = ConfigDict(title="Compact seat map")
    showId: NumericId
    asOf: AsOf
    format: Literal["compact"]
    statusCodes: CompactSeatMapStatusCodes = Field(description="What each status character means.")
    seatIds: list[str] = Field(description="Every seat id of the show, in layout order (the order of the full map).")
    status: str = Field(
        pattern="^[AHB]*$", description="One character per seat, `status[i]` being the state of `seatIds[i]`."
    )


class SectionSummaryBounds(ResponseBody):
    """The section's bounding box on the map, inclusive, in seat units."""

    minX: int
    minY: int
    maxX: int
    maxY: int


class SectionSummary(ResponseBody):
    section: str = Field(description="The section's name; pass it as `section` to the seat map.")
    seats: int = Field(ge=1)
    available: int = Field(ge=0)
    held: int = Field(ge=0)
    booked: int = Field(ge=0)
    priceFrom: Money
    priceTo: Money
    bounds: SectionSummaryBounds = Field(description="The section's bounding box on the map, inclusive, in seat units.")
    standing: bool = Field(
        description=(
            "A standing section: `seats` is its capacity and `available` the places left; hold them by quantity "
            "(`gaSection`)."
        )
    )


class SeatMapSections(ResponseBody):
    showId: NumericId
    asOf: AsOf
    sections: list[SectionSummary] = Field(
        description="The show's sections, in layout order. Prices are in minor units of the show's currency."
    )


class Hold(ResponseBody):
    holdId: UUID
    showId: NumericId
    status: HoldStatus
    seatIds: list[str] = Field(min_length=1, description="The held seats, in the order they were asked for.")
    amount: Money = Field(
        description=(
            "What the hold costs, in minor units of `currency`: the sum of the seats' prices, less `discount`. "
            "This is what is charged."
        )
    )
    currency: Currency
    discount: Money = Field(
        description="What the hold's `accessCode` took off the seats' prices (README \"Presale codes and vouchers\").",
    )
    accessCode: str | None = Field(description="The presale code or voucher the hold used, as the manager wrote it.")
    createdAt: datetime
    expiresAt: datetime = Field(description="When the hold lapses and its seats become available again.")
    paymentIntentId: str | None = Field(
        description=(
            "The hold's payment intent at the gateway, once `POST /holds/{holdId}/payment-intents` "
            "created it. While a payment is under way the hold stays `ACTIVE` past `expiresAt` until "
            "the gateway settles it."
        )
    )
    gaSection: str | None = Field(
        description=(
            'Only for a standing-room hold (README "General admission (standing)"): the standing '
            "section asked for, and `seatIds` lists the admission places picked; null for a hold of seats."
        ),
    )
    quantity: int | None = Field(ge=1, description="With `gaSection`: how many places are held; null otherwise.")
