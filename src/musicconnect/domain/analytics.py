"""What an artist sees: plays and revenue per day, top fans, and the conversion funnel."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Final

import attrs

from musicconnect.domain.clocks import last_days
from musicconnect.domain.tiers import Tier

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


#: Each step counts the distinct people who reached at least that step, so each is a subset of
#: the one before and no rate exceeds 1 (see ``audience_funnel``).
FUNNEL_STEPS: Final = (
    "profile_visitors",
    "followers",
    "free_subscribers",
    "supporters",
    "superfans",
)


def audience_funnel(
    visitors: Collection[str], followers: Collection[str], tiers: Mapping[str, Tier]
) -> tuple[FunnelStep, ...]:
    """The funnel of an artist's audience, each step the people who reached at least it:
    superfans enjoy the superfan tier now; supporters the supporter tier or more; subscribers
    (``free_subscribers``) hold a live subscription of any tier; followers follow the artist or
    subscribe; visitors (``profile_visitors``) visited the profile or reached any later step
    (a fan may subscribe through a link without opening the page: they still came in).
    ``tiers`` is the tier each fan with a live subscription enjoys now."""
    superfans = {fan for fan, tier in tiers.items() if tier is Tier.SUPERFAN}
    supporters = {fan for fan, tier in tiers.items() if tier.includes(Tier.SUPPORTER)}
    following = set(followers) | set(tiers)
    reached = set(visitors) | following
    return funnel([len(reached), len(following), len(tiers), len(supporters), len(superfans)])


def funnel(counts: Sequence[int]) -> tuple[FunnelStep, ...]:
    """Steps with the rate at each: count / previous count, rounded to 4 places. The counts
    must not grow down the funnel: each step is a subset of the one before."""
    if len(counts) != len(FUNNEL_STEPS):
        raise ValueError("one count per funnel step")
    if any(later > earlier for earlier, later in itertools.pairwise(counts)):
        raise ValueError(f"a funnel step outnumbers the one before it: {list(counts)}")
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
