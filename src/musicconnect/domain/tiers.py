"""Subscription tiers, their features and their price versions."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Final

import attrs

from musicconnect.domain.errors import InvalidInput
from musicconnect.domain.money import Money


class Tier(enum.StrEnum):
    FREE = "free"
    SUPPORTER = "supporter"
    SUPERFAN = "superfan"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def includes(self, other: Tier) -> bool:
        """True when this tier has everything ``other`` has (tiers are cumulative)."""
        return self.rank >= other.rank

    @classmethod
    def parse(cls, value: str) -> Tier:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(t.value for t in cls)
            raise InvalidInput(f"unknown tier {value!r}; expected one of {names}") from None


_RANK: Final[dict[Tier, int]] = {Tier.FREE: 0, Tier.SUPPORTER: 1, Tier.SUPERFAN: 2}
TIERS_ASCENDING: Final[tuple[Tier, ...]] = (Tier.FREE, Tier.SUPPORTER, Tier.SUPERFAN)


class Feature(enum.StrEnum):
    STREAM_PUBLIC = "stream_public"
    FOLLOW = "follow"
    LIKE = "like"
    EARLY_ACCESS = "early_access"
    EXCLUSIVE_TRACKS = "exclusive_tracks"
    MONTHLY_QA = "monthly_qa"
    DIRECT_MESSAGES = "direct_messages"
    VIRTUAL_BACKSTAGE = "virtual_backstage"
    LIVE_SESSIONS = "live_sessions"


#: The one table of which tier grants which feature: what each tier adds to the tiers below it.
#: Every gated use case asks ``Entitlements.has(Feature.X)``, which reads this table.
_ADDED: Final[dict[Tier, tuple[Feature, ...]]] = {
    Tier.FREE: (Feature.STREAM_PUBLIC, Feature.FOLLOW, Feature.LIKE),
    Tier.SUPPORTER: (Feature.EARLY_ACCESS, Feature.EXCLUSIVE_TRACKS, Feature.MONTHLY_QA),
    Tier.SUPERFAN: (Feature.DIRECT_MESSAGES, Feature.VIRTUAL_BACKSTAGE, Feature.LIVE_SESSIONS),
}


def lowest_tier_with(feature: Feature) -> Tier:
    """The cheapest tier that grants ``feature`` (what a fan refused a perk is told to join)."""
    return next(t for t in TIERS_ASCENDING if feature in _ADDED[t])


def default_features(tier: Tier) -> frozenset[Feature]:
    """The seed's cumulative feature list for ``tier``."""
    return frozenset(f for t in TIERS_ASCENDING if tier.includes(t) for f in _ADDED[t])


DEFAULT_PRICES_MINOR: Final[dict[Tier, int]] = {
    Tier.FREE: 0,
    Tier.SUPPORTER: 500,
    Tier.SUPERFAN: 1000,
}
DEFAULT_CURRENCY: Final[str] = "USD"


@attrs.frozen
class TierPlan:
    """One price version of one artist's tier. A price change makes a new version."""

    tier: Tier
    price: Money
    #: The artist's own words for what the tier offers: display text for the tier page only.
    #: What a tier grants is ``default_features`` (the one table), asked through ``Entitlements``.
    features: tuple[str, ...]
    version: int = 1
    effective_from: datetime | None = None

    def __attrs_post_init__(self) -> None:
        if self.price.amount_minor < 0:
            raise InvalidInput("a tier price cannot be negative")
        if self.tier is Tier.FREE and not self.price.is_zero:
            raise InvalidInput("the free tier costs nothing")
        if self.tier is not Tier.FREE and self.price.is_zero:
            raise InvalidInput(f"the {self.tier} tier needs a price above zero")


def default_plans(currency: str = DEFAULT_CURRENCY) -> tuple[TierPlan, ...]:
    return tuple(
        TierPlan(
            tier=t,
            price=Money(DEFAULT_PRICES_MINOR[t], currency),
            features=tuple(sorted(default_features(t))),
        )
        for t in TIERS_ASCENDING
    )


def revise_plan(
    current: TierPlan,
    *,
    price: Money,
    features: Iterable[str],
    now: datetime,
) -> TierPlan:
    """The next price version of a tier; subscribers on ``current`` keep it until they change."""
    cleaned = tuple(dict.fromkeys(f.strip() for f in features if f.strip()))
    return TierPlan(
        tier=current.tier,
        price=price,
        features=cleaned,
        version=current.version + 1,
        effective_from=now,
    )
