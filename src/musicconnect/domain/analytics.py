"""What an artist sees: plays and revenue per day, top fans, and the conversion funnel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Final

import attrs

from musicconnect.domain.clocks import last_days

WINDOW_DAYS: Final = 30


@attrs.frozen
class PlayEvent:
    artist_id: str
    track_id: str
    fan_id: str
    at: datetime


@attrs.frozen
class Listened:
    """One track in a fan's listening history: when they last played it and how often."""

    track_id: str
    artist_id: str
    last_played_at: datetime
    plays: int


@attrs.frozen
class FanScore:
    fan_id: str
    display_name: str
    value: int


@attrs.frozen
class FunnelStep:
    name: str
    count: int
    #: Share of the previous step that reached this one (None for the first step or an empty one).
    rate: float | None


FUNNEL_STEPS: Final = (
    "profile_visitors",
    "followers",
    "free_subscribers",
    "supporters",
    "superfans",
)


def funnel(counts: Sequence[int]) -> tuple[FunnelStep, ...]:
    """Steps with the rate at each: count / previous count, rounded to 4 places."""
    if len(counts) != len(FUNNEL_STEPS):
        raise ValueError("one count per funnel step")
    steps = []
    previous: int | None = None
    for name, count in zip(FUNNEL_STEPS, counts, strict=True):
        rate = None if not previous else round(count / previous, 4)
        steps.append(FunnelStep(name, count, rate))
        previous = count
    return tuple(steps)


def fill_days(today: date, by_day: Mapping[date, int], days: int = WINDOW_DAYS) -> dict[date, int]:
    """Every day of the window, oldest first, zero where nothing happened."""
    return {day: by_day.get(day, 0) for day in last_days(today, days)}


@attrs.frozen
class Revenue:
    """Money fans paid an artist in one currency (net of refunds), and the artist's share of it."""

    currency: str
    gross_minor: int = 0
    #: What the artist earns: the gross less the platform's 10 %.
    net_minor: int = 0

    def plus(self, gross_minor: int, net_minor: int) -> Revenue:
        return attrs.evolve(
            self, gross_minor=self.gross_minor + gross_minor, net_minor=self.net_minor + net_minor
        )


@attrs.frozen
class Dashboard:
    artist_id: str
    #: The currency of the daily series: the artist's current one.
    currency: str
    plays_30d: dict[date, int]
    #: What fans paid per day (gross), in ``currency``.
    revenue_30d: dict[date, int]
    #: The artist's share per day (net of the platform's 10 %), in ``currency``.
    revenue_net_30d: dict[date, int]
    #: The window's totals in every currency the artist was paid in.
    revenue_by_currency: tuple[Revenue, ...]
    top_fans_by_plays: tuple[FanScore, ...]
    top_fans_by_spend: tuple[FanScore, ...]
    funnel: tuple[FunnelStep, ...]
    #: Distinct fans who played the artist over the same 30 days.
    unique_listeners_30d: int = 0
