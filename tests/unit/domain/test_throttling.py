"""Throttling windows and limits: properties that must hold for any instant and any attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from musicconnect.adapters.memory import FrozenClock, InMemoryQuotaCounter
from musicconnect.domain.errors import QuotaExceeded
from musicconnect.domain.throttling import Action, Limit, Scope, ThrottlePolicy
from musicconnect.usecases.throttling import throttle

instants = st.datetimes(
    # hypothesis takes naive bounds and attaches the zone itself
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
windows = st.integers(min_value=1, max_value=7 * 24 * 3600).map(lambda s: timedelta(seconds=s))


@given(now=instants, window=windows)
def test_a_window_ends_after_now_and_within_one_window(now: datetime, window: timedelta) -> None:
    """now < end <= now + window, and the wait is whole seconds between 1 and the window."""
    limit = Limit(5, window)
    end = limit.window_end(now)
    assert now < end <= now + window
    assert 1 <= limit.retry_after_s(now) <= max(1, int(window.total_seconds()))


@given(now=instants, window=windows, offset=st.floats(min_value=0, max_value=1, exclude_max=True))
def test_every_instant_of_a_window_shares_its_key(now: datetime, window: timedelta, offset: float) -> None:
    """Processes that only share a clock compute the same key for the same window."""
    limit = Limit(5, window)
    start = limit.window_end(now) - window
    window_us = window // timedelta(microseconds=1)
    inside = start + timedelta(microseconds=min(int(window_us * offset), window_us - 1))
    assert limit.key(Action.LOGIN, Scope.ACCOUNT, "a", inside) == limit.key(
        Action.LOGIN, Scope.ACCOUNT, "a", start
    )
    assert limit.key(Action.LOGIN, Scope.ACCOUNT, "a", start + window) != limit.key(
        Action.LOGIN, Scope.ACCOUNT, "a", start
    )


@given(attempts=st.integers(min_value=0, max_value=40), limit=st.integers(min_value=1, max_value=15))
def test_exactly_the_limit_of_attempts_is_admitted_per_window(attempts: int, limit: int) -> None:
    """Of any number of attempts in one window, min(attempts, limit) pass; the next window
    starts afresh."""
    clock = FrozenClock(datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC))
    policy = ThrottlePolicy({(Action.LOGIN, Scope.ACCOUNT): Limit(limit, timedelta(minutes=15))})
    quota = InMemoryQuotaCounter(clock)

    def attempt() -> bool:
        try:
            throttle(Action.LOGIN, account="a", address=None, policy=policy, quota=quota, clock=clock)
        except QuotaExceeded:
            return False
        return True

    admitted = sum(attempt() for _ in range(attempts))
    clock.advance(minutes=15)

    assert admitted == min(attempts, limit)
    assert attempt()


def test_a_refused_attempt_says_how_long_to_wait() -> None:
    """QuotaExceeded carries the seconds to the window's end."""
    clock = FrozenClock(datetime(2030, 1, 1, 0, 10, tzinfo=UTC))
    policy = ThrottlePolicy({(Action.RESET, Scope.ADDRESS): Limit(1, timedelta(minutes=15))})
    quota = InMemoryQuotaCounter(clock)
    throttle(Action.RESET, account=None, address="1.2.3.4", policy=policy, quota=quota, clock=clock)

    with pytest.raises(QuotaExceeded) as refused:
        throttle(Action.RESET, account=None, address="1.2.3.4", policy=policy, quota=quota, clock=clock)

    assert refused.value.retry_after_s == 5 * 60


@given(factor=st.floats(min_value=0.001, max_value=1000))
def test_scaling_keeps_every_limit_at_least_one(factor: float) -> None:
    """Scaled policies never reach zero (which would refuse everyone)."""
    assert all(limit.limit >= 1 for limit in ThrottlePolicy().scaled(factor).limits.values())
