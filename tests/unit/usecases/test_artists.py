"""An artist's public profile, profile visits, and new price versions of a tier."""

from __future__ import annotations

from datetime import timedelta

import pytest

from musicconnect.domain.accounts import Caller
from musicconnect.domain.errors import Forbidden, InvalidInput, NotFound
from musicconnect.domain.money import Money
from musicconnect.domain.tiers import Tier, TierPlan
from musicconnect.usecases.artists import set_tier, view_artist
from tests.unit.usecases.conftest import World


def _set_price(
    world: World, artist: Caller, tier: Tier, minor: int, *, caller: Caller | None = None
) -> TierPlan:
    return set_tier(
        artist.id,
        tier,
        price=Money(minor, "USD"),
        features=["  backstage  ", "", "backstage", "q&a"],
        caller=caller or artist,
        uow=world.uow(),
        clock=world.clock,
    )


def test_a_profile_lists_the_artists_tiers(world: World) -> None:
    """Anyone may read it; the name is the one the artist registered with."""
    artist = world.artist("Nina")

    profile = view_artist(artist.id, uow=world.uow(), clock=world.clock)

    assert profile.display_name == "Nina"
    assert [p.tier for p in profile.plans] == [Tier.FREE, Tier.SUPPORTER, Tier.SUPERFAN]


def test_an_unknown_artist_is_not_found(world: World) -> None:
    """No profile, no visit recorded."""
    fan = world.fan()

    with pytest.raises(NotFound):
        view_artist("nobody", uow=world.uow(), clock=world.clock, visitor_id=fan.id)


def test_each_signed_in_visitor_counts_once_and_the_artist_not_at_all(world: World) -> None:
    """Two visits by one fan, one by another, one anonymous, one by the artist: two visitors."""
    artist = world.artist()
    first, second = world.fan(), world.fan()

    for visitor in (first.id, first.id, second.id, None, artist.id):
        view_artist(artist.id, uow=world.uow(), clock=world.clock, visitor_id=visitor)

    with world.uow() as uow:
        assert uow.fans.visitor_count(artist.id) == 2


def test_setting_a_tier_makes_a_new_price_version_and_keeps_the_old_one(world: World) -> None:
    """Version 2 with the cleaned feature list; version 1 still readable."""
    artist = world.artist()

    plan = _set_price(world, artist, Tier.SUPPORTER, 700)

    assert plan.version == 2
    assert plan.price == Money(700, "USD")
    assert plan.features == ("backstage", "q&a")
    assert plan.effective_from == world.clock.now()
    with world.uow() as uow:
        profile = uow.artists.get(artist.id)
        first = uow.artists.plan_version(artist.id, Tier.SUPPORTER, 1)
    assert profile is not None
    assert profile.plan(Tier.SUPPORTER) == plan
    assert first is not None
    assert first.price == Money(500, "USD")


def test_a_price_change_never_rewrites_what_existing_subscribers_pay(world: World) -> None:
    """The old subscriber renews at the old price; a new subscriber pays the new one."""
    artist = world.artist()
    before = world.fan_on(artist, Tier.SUPPORTER)
    _set_price(world, artist, Tier.SUPPORTER, 700)
    after = world.fan_on(artist, Tier.SUPPORTER)

    world.clock.advance(timedelta(days=31))
    world.subscriptions.run_billing()

    paid = {(c.fan_id, c.amount.amount_minor) for c in world.gateway.charges}
    assert paid == {(before.id, 500), (after.id, 700)}


def test_only_the_artist_or_an_admin_may_set_a_tier(world: World) -> None:
    """Another artist and a fan are Forbidden and change nothing; an admin may."""
    artist, other, fan, admin = world.artist(), world.artist(), world.fan(), world.admin()

    for intruder in (other, fan):
        with pytest.raises(Forbidden):
            _set_price(world, artist, Tier.SUPERFAN, 1, caller=intruder)
    plan = _set_price(world, artist, Tier.SUPERFAN, 1500, caller=admin)

    assert plan.version == 2


@pytest.mark.parametrize(("tier", "minor"), [(Tier.FREE, 100), (Tier.SUPPORTER, 0), (Tier.SUPERFAN, -5)])
def test_a_tier_price_must_fit_the_tier(world: World, tier: Tier, minor: int) -> None:
    """Free costs nothing, paid tiers cost something, nothing is negative: the plan is unchanged."""
    artist = world.artist()

    with pytest.raises(InvalidInput):
        _set_price(world, artist, tier, minor)

    with world.uow() as uow:
        profile = uow.artists.get(artist.id)
    assert profile is not None
    assert profile.plan(tier).version == 1
