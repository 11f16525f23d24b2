"""What a fan may do with an artist, derived from (tier, subscription status, clock)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

import attrs

from musicconnect.domain.subscriptions import Subscription, effective_tier
from musicconnect.domain.tiers import Feature, Tier, default_features

#: The highest rung each tier may stream, in kbps.
MAX_KBPS: Final[dict[Tier, int]] = {Tier.FREE: 128, Tier.SUPPORTER: 256, Tier.SUPERFAN: 320}
#: Direct messages a superfan may send one artist per calendar month (UTC).
DM_PER_MONTH: Final = 5


@attrs.frozen
class Entitlements:
    tier: Tier
    features: frozenset[Feature]
    max_kbps: int

    def has(self, feature: Feature) -> bool:
        return feature in self.features

    def allowed_rungs(self, available_kbps: Iterable[int]) -> tuple[int, ...]:
        """The rungs of a track's ladder this listener may stream, lowest first."""
        return tuple(sorted(k for k in available_kbps if k <= self.max_kbps))

    def may_stream(self, kbps: int) -> bool:
        return kbps <= self.max_kbps


def entitlements_for_tier(tier: Tier) -> Entitlements:
    # Capabilities follow the tier itself; an artist's own feature list is what the tier page shows.
    return Entitlements(tier=tier, features=default_features(tier), max_kbps=MAX_KBPS[tier])


def entitlements(subscription: Subscription | None, now: datetime) -> Entitlements:
    return entitlements_for_tier(effective_tier(subscription, now))


#: The artist hears their own music at the top of the ladder.
OWNER_ENTITLEMENTS: Final = entitlements_for_tier(Tier.SUPERFAN)
