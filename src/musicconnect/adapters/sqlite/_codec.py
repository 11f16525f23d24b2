"""Conversions between domain values and SQLite columns, and small helpers every repository uses."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from itertools import count
from typing import Any, Final

from musicconnect.domain.clocks import require_aware
from musicconnect.domain.errors import Conflict
from musicconnect.domain.money import Money
from musicconnect.domain.tiers import Tier, TierPlan

#: How a repository reaches the unit of work's connection (inside its transaction).
Connect = Callable[[], sqlite3.Connection]

_savepoints: Final = count()


def instant(moment: datetime) -> str:
    """ISO-8601 in UTC with microseconds always written, so text order is time order."""
    return require_aware(moment).isoformat(timespec="microseconds")


def instant_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else instant(moment)


def read_instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def read_instant_or_none(text: str | None) -> datetime | None:
    return None if text is None else read_instant(text)


def day(value: date) -> str:
    return value.isoformat()


def read_day(text: str) -> date:
    return date.fromisoformat(text)


def read_money(amount_minor: int | None, currency: str | None) -> Money | None:
    if amount_minor is None or currency is None:
        return None
    return Money(int(amount_minor), currency)


def strings(values: tuple[str, ...]) -> str:
    return json.dumps(list(values))


def read_strings(text: str) -> tuple[str, ...]:
    return tuple(str(v) for v in json.loads(text))


def ints(values: tuple[int, ...]) -> str:
    return json.dumps(list(values))


def read_ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in json.loads(text))


def plan_columns(plan: TierPlan) -> tuple[str, int, int, str, str, str | None]:
    """(tier, version, price_minor, currency, features, effective_from)."""
    return (
        plan.tier.value,
        plan.version,
        plan.price.amount_minor,
        plan.price.currency,
        strings(plan.features),
        instant_or_none(plan.effective_from),
    )


def read_plan(columns: Sequence[Any]) -> TierPlan:
    """The inverse of ``plan_columns``."""
    tier, version, price_minor, currency, features, effective_from = columns
    return TierPlan(
        tier=Tier(tier),
        price=Money(int(price_minor), currency),
        features=read_strings(features),
        version=int(version),
        effective_from=read_instant_or_none(effective_from),
    )


@contextmanager
def atomic(connection: sqlite3.Connection) -> Iterator[None]:
    """A savepoint: a repository call that writes several rows writes all of them or none."""
    name = f"sp_{next(_savepoints)}"
    connection.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        connection.execute(f"ROLLBACK TO {name}")
        connection.execute(f"RELEASE {name}")
        raise
    connection.execute(f"RELEASE {name}")


def insert_or_conflict(
    connection: sqlite3.Connection,
    sql: str,
    parameters: tuple[Any, ...] | dict[str, Any],
    conflict: str,
) -> None:
    """Run an INSERT, turning a broken UNIQUE constraint into the domain's Conflict."""
    try:
        connection.execute(sql, parameters)
    except sqlite3.IntegrityError as error:
        if "UNIQUE" in str(error) or "PRIMARY KEY" in str(error):
            raise Conflict(conflict) from error
        raise
