"""An artist's profile and tiers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from musicconnect.domain.accounts import Artist, Caller
from musicconnect.domain.money import Money
from musicconnect.domain.tiers import Tier, TierPlan, revise_plan
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock
from musicconnect.usecases.access import require_artist, require_owner


def view_artist(artist_id: str, *, uow: UnitOfWork, clock: Clock, visitor_id: str | None = None) -> Artist:
    """The public profile; a signed-in visitor counts towards the conversion funnel."""
    with uow:
        artist = require_artist(uow, artist_id)
        if visitor_id is not None and visitor_id != artist_id:
            uow.fans.record_visit(visitor_id, artist_id, clock.now())
            uow.commit()
    return artist


def set_tier(
    artist_id: str,
    tier: Tier,
    *,
    price: Money,
    features: Sequence[str],
    caller: Caller,
    uow: UnitOfWork,
    clock: Clock,
) -> TierPlan:
    """A new price version of a tier; existing subscribers keep their version until they change."""
    require_owner(caller, artist_id)
    with uow:
        artist = require_artist(uow, artist_id)
        plan = revise_plan(artist.plan(tier), price=price, features=features, now=clock.now())
        uow.artists.save(artist.with_plan(plan))
        uow.commit()
    return plan


@attrs.frozen
class Artists:
    """Artist profiles and their tiers, bound once to their ports."""

    uow: Callable[[], UnitOfWork]
    clock: Clock

    def view(self, artist_id: str, *, visitor_id: str | None = None) -> Artist:
        """The artist's profile and tiers (a visit counts in the artist's funnel)."""
        return view_artist(artist_id, uow=self.uow(), clock=self.clock, visitor_id=visitor_id)

    def set_tier(
        self, artist_id: str, tier: Tier, *, price: Money, features: Sequence[str], caller: Caller
    ) -> TierPlan:
        """A new price version of one of the caller's own tiers."""
        return set_tier(
            artist_id, tier, price=price, features=features, caller=caller, uow=self.uow(), clock=self.clock
        )
