"""Calendar arithmetic in UTC: billing months, payout periods and day windows."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicconnect.domain.clocks import (
    add_months,
    last_days,
    month_key,
    month_start,
    next_month_start,
    parse_period,
    require_aware,
)
from musicconnect.domain.errors import InvalidInput


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (utc(2024, 1, 31), 1, utc(2024, 2, 29)),  # leap year
        (utc(2023, 1, 31), 1, utc(2023, 2, 28)),
        (utc(2024, 3, 31), 1, utc(2024, 4, 30)),
        (utc(2024, 12, 15), 1, utc(2025, 1, 15)),  # across the year
        (utc(2024, 3, 31), -1, utc(2024, 2, 29)),  # backwards
        (utc(2024, 1, 15), -1, utc(2023, 12, 15)),
        (utc(2024, 2, 29), 12, utc(2025, 2, 28)),
        (utc(2024, 5, 10), 0, utc(2024, 5, 10)),
        (utc(2024, 1, 31), 25, utc(2026, 2, 28)),
    ],
)
def test_add_months_clamps_to_the_end_of_short_months(
    moment: datetime, months: int, expected: datetime
) -> None:
    """Jan 31 + 1 month is the last day of February; year boundaries and negatives work."""
    assert add_months(moment, months) == expected


def test_add_months_returns_to_the_anchor_day_when_the_month_allows() -> None:
    """From Feb 29 with anchor 31, next month is Mar 31, not Mar 29."""
    assert add_months(utc(2024, 2, 29), 1, anchor_day=31) == utc(2024, 3, 31)
    assert add_months(utc(2024, 3, 31), 1, anchor_day=31) == utc(2024, 4, 30)


def test_add_months_keeps_the_time_of_day_and_zone() -> None:
    """Only the date moves."""
    moment = datetime(2024, 1, 31, 23, 59, 58, 7, tzinfo=UTC)

    assert add_months(moment, 1) == datetime(2024, 2, 29, 23, 59, 58, 7, tzinfo=UTC)


@settings(max_examples=200)
@given(
    moment=st.datetimes(
        min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds; timezones adds UTC
        max_value=datetime(2200, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    months=st.integers(-240, 240),
    anchor_day=st.none() | st.integers(1, 31),
)
def test_add_months_moves_whole_months_and_keeps_the_anchor_where_it_can(
    moment: datetime, months: int, anchor_day: int | None
) -> None:
    """The month index moves by exactly ``months``; the day is the anchor, clamped to the month."""
    result = add_months(moment, months, anchor_day=anchor_day)

    assert result.year * 12 + result.month == moment.year * 12 + moment.month + months
    wanted = anchor_day or moment.day
    assert result.day == min(wanted, calendar.monthrange(result.year, result.month)[1])
    assert result.timetz() == moment.timetz()


def test_parse_period_gives_the_months_start_and_end() -> None:
    """ "2024-02" is [Feb 1, Mar 1) in UTC."""
    assert parse_period("2024-02") == (utc(2024, 2, 1), utc(2024, 3, 1))


def test_parse_period_of_december_ends_in_january() -> None:
    """The period end rolls into the next year."""
    assert parse_period("2024-12") == (utc(2024, 12, 1), utc(2025, 1, 1))


@pytest.mark.parametrize(
    "period",
    ["", "2024", "2024-13", "2024-00", "2024/01", "24-01", "2024-01-01", " 2024-01", "2024-1", "january"],
)
def test_parse_period_refuses_anything_but_yyyy_mm(period: str) -> None:
    """One spelling per month, so a payout key cannot be made twice for the same month."""
    with pytest.raises(InvalidInput, match="YYYY-MM"):
        parse_period(period)


def test_month_key_is_the_utc_month() -> None:
    """11 pm on Jan 31 in New York is already February in UTC."""
    new_york = timezone(timedelta(hours=-5))

    assert month_key(datetime(2024, 1, 31, 23, 0, tzinfo=new_york)) == "2024-02"
    assert month_key(utc(2024, 1, 31, 23, 59)) == "2024-01"


def test_month_key_round_trips_through_parse_period() -> None:
    """The key of a period's start is the period."""
    assert month_key(parse_period("2025-07")[0]) == "2025-07"


def test_naive_datetimes_are_refused() -> None:
    """A datetime without a zone is ambiguous."""
    with pytest.raises(InvalidInput):
        month_key(datetime(2024, 1, 1))  # noqa: DTZ001 - the naive datetime is the point
    with pytest.raises(InvalidInput):
        require_aware(datetime(2024, 1, 1))  # noqa: DTZ001


def test_require_aware_converts_to_utc() -> None:
    """The same instant, expressed in UTC."""
    paris = timezone(timedelta(hours=1))

    converted = require_aware(datetime(2024, 1, 1, 1, 0, tzinfo=paris))

    assert converted == utc(2024, 1, 1)
    assert converted.tzinfo is UTC


def test_month_start_and_next_month_start_bound_the_calendar_month() -> None:
    """The DM quota window: the first instant of this month and of the next."""
    moment = utc(2024, 12, 31, 22, 15)

    assert month_start(moment) == utc(2024, 12, 1)
    assert next_month_start(moment) == utc(2025, 1, 1)


def test_last_days_are_oldest_first_and_end_today() -> None:
    """Three days ending Mar 1 in a leap year: Feb 28, Feb 29, Mar 1."""
    assert last_days(date(2024, 3, 1), 3) == [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]


def test_last_days_of_thirty_has_thirty_distinct_days() -> None:
    """The dashboard window."""
    days = last_days(date(2024, 6, 30), 30)

    assert len(set(days)) == 30
    assert (days[0], days[-1]) == (date(2024, 6, 1), date(2024, 6, 30))
