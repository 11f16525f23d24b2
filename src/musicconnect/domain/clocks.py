"""Calendar arithmetic in UTC: billing months and calendar-month windows."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

from musicconnect.domain.errors import InvalidInput


def require_aware(moment: datetime) -> datetime:
    """Naive datetimes are ambiguous; every instant in the domain is timezone-aware UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput("datetimes must be timezone-aware")
    return moment.astimezone(UTC)


def add_months(moment: datetime, months: int, *, anchor_day: int | None = None) -> datetime:
    """``moment`` plus whole calendar months, keeping the anchor day where the month allows."""
    day = anchor_day or moment.day
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return moment.replace(year=year, month=month, day=min(day, last))


def month_start(moment: datetime) -> datetime:
    moment = require_aware(moment)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month_start(moment: datetime) -> datetime:
    return add_months(month_start(moment), 1)


def month_key(moment: datetime) -> str:
    """``YYYY-MM`` of the UTC calendar month containing ``moment``."""
    return require_aware(moment).strftime("%Y-%m")


def parse_period(period: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` to its [start, end) instants in UTC."""
    try:
        start = datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f"period must be YYYY-MM, got {period!r}") from None
    # strptime also takes "2024-1"; one spelling per month keeps payout keys unique.
    if period != f"{start.year:04d}-{start.month:02d}":
        raise InvalidInput(f"period must be YYYY-MM, got {period!r}")
    return start, add_months(start, 1)


def last_days(today: date, count: int) -> list[date]:
    """The ``count`` days ending with ``today``, oldest first."""
    return [today - timedelta(days=offset) for offset in range(count - 1, -1, -1)]
