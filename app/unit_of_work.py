"""A unit of work: one short, explicit transaction that rolls back unless committed."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Result, text
from sqlalchemy.orm import Session

from app.extensions import db


class UnitOfWork:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._committed = False

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Result[Any]:
        return self.session.execute(text(sql), params or {})

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
