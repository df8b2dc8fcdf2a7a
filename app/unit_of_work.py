"""A unit of work: one short, explicit transaction that rolls back unless committed."""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, text
from sqlalchemy.orm import Session

from app.extensions import db

# One row's parameters, or a list of them to run the statement once per row.
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]


class UnitOfWork:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._committed = False

    def execute(self, sql: str, params: Params | None = None) -> CursorResult[Any]:
        return cast("CursorResult[Any]", self.session.execute(text(sql), params or {}))  # a text() statement's result

    def commit(self) -> None:
        self.session.commit()
        self._committed = True

    def rollback(self) -> None:
        self.session.rollback()


@contextmanager
def unit_of_work() -> Iterator[UnitOfWork]:
    uow = UnitOfWork(db.session)
    try:
        yield uow
    finally:
        if not uow._committed:
            uow.rollback()
