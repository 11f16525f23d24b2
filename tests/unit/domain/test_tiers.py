"""Tiers: their order, their cumulative features and their price versions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from musicconnect.domain.errors import InvalidInput
from musicconnect.domain.money import Money
from musicconnect.domain.tiers import (
    TIERS_ASCENDING,
    Feature,
    Tier,
    TierPlan,
    default_features,
    default_plans,
    lowest_tier_with,
    revise_plan,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_tiers_rank_free_below_supporter_below_superfan() -> None:
    """The ascending order is free, supporter, superfan."""
    assert [t.rank for t in TIERS_ASCENDING] == [0, 1, 2]
    assert TIERS_ASCENDING == (Tier.FREE, Tier.SUPPORTER, Tier.SUPERFAN)


@pytest.mark.parametrize("higher", list(Tier))
@pytest.mark.parametrize("lower", list(Tier))
def test_a_tier_includes_exactly_the_tiers_not_above_it(higher: Tier, lower: Tier) -> None:
    """includes() is the rank order, reflexive."""
    assert higher.includes(lower) == (higher.rank >= lower.rank)


def test_parse_reads_a_tier_name() -> None:
    """The wire form of a tier is its lower-case name."""
    assert Tier.parse("supporter") is Tier.SUPPORTER


def test_parse_refuses_an_unknown_tier_and_names_the_valid_ones() -> None:
    """A typo is an input error that lists the tiers to choose from."""
    with pytest.raises(InvalidInput, match="free, supporter, superfan"):
        Tier.parse("platinum")


def test_free_tier_has_stream_follow_and_like() -> None:
    """The free tier's features are the design's three."""
    assert default_features(Tier.FREE) == {Feature.STREAM_PUBLIC, Feature.FOLLOW, Feature.LIKE}


def test_supporter_adds_early_access_exclusives_and_qa() -> None:
    """Supporter has everything free has plus its own three."""
    added = {Feature.EARLY_ACCESS, Feature.EXCLUSIVE_TRACKS, Feature.MONTHLY_QA}
    assert default_features(Tier.SUPPORTER) == default_features(Tier.FREE) | added


def test_superfan_has_every_feature() -> None:
    """Superfan is the top tier: it has all nine features."""
    assert default_features(Tier.SUPERFAN) == frozenset(Feature)


def test_default_plans_are_free_five_and_ten_dollars() -> None:
    """The seed prices are 0, 5.00 and 10.00 USD at version 1, lowest tier first."""
    plans = default_plans()

    assert [(p.tier, p.price, p.version) for p in plans] == [
        (Tier.FREE, Money(0, "USD"), 1),
        (Tier.SUPPORTER, Money(500, "USD"), 1),
        (Tier.SUPERFAN, Money(1000, "USD"), 1),
    ]
    assert all(set(p.features) == default_features(p.tier) for p in plans)


def test_default_plans_can_be_priced_in_another_currency() -> None:
    """The currency is a parameter; the minor amounts stay as seeded."""
    assert {p.price.currency for p in default_plans("EUR")} == {"EUR"}


def test_free_tier_must_cost_nothing() -> None:
    """A price on the free tier is refused."""
    with pytest.raises(InvalidInput):
        TierPlan(tier=Tier.FREE, price=Money(100, "USD"), features=())


@pytest.mark.parametrize("tier", [Tier.SUPPORTER, Tier.SUPERFAN])
def test_paid_tier_must_cost_more_than_zero(tier: Tier) -> None:
    """A paid tier at zero would be a second free tier."""
    with pytest.raises(InvalidInput):
        TierPlan(tier=tier, price=Money(0, "USD"), features=())


@pytest.mark.parametrize("tier", list(Tier))
def test_no_tier_has_a_negative_price(tier: Tier) -> None:
    """Negative prices are refused on every tier."""
    with pytest.raises(InvalidInput):
        TierPlan(tier=tier, price=Money(-1, "USD"), features=())


def test_revising_a_plan_makes_the_next_version_from_now() -> None:
    """A price change is a new version, effective from the moment it is made."""
    current = default_plans()[1]

    revised = revise_plan(current, price=Money(700, "USD"), features=["early_access"], now=NOW)

    assert revised.tier is Tier.SUPPORTER
    assert revised.price == Money(700, "USD")
    assert revised.version == current.version + 1
    assert revised.effective_from == NOW
    assert current.price == Money(500, "USD")  # the old version is untouched


def test_revising_a_plan_strips_and_dedupes_features_keeping_their_order() -> None:
    """Blank and repeated features are dropped; the artist's order is kept."""
    current = default_plans()[2]

    revised = revise_plan(
        current,
        price=Money(1200, "USD"),
        features=[" live_sessions ", "early_access", "", "  ", "live_sessions", "early_access"],
        now=NOW,
    )

    assert revised.features == ("live_sessions", "early_access")


def test_revising_a_paid_plan_to_zero_is_refused() -> None:
    """The same validation applies to every version."""
    with pytest.raises(InvalidInput):
        revise_plan(default_plans()[1], price=Money(0, "USD"), features=[], now=NOW)


def test_revisions_count_up_one_at_a_time() -> None:
    """Three revisions of version 1 make version 4."""
    plan = default_plans()[1]
    for price in (600, 700, 800):
        plan = revise_plan(plan, price=Money(price, "USD"), features=plan.features, now=NOW)

    assert plan.version == 4
    assert plan.price == Money(800, "USD")


@pytest.mark.parametrize("feature", list(Feature))
def test_the_lowest_tier_with_a_feature_grants_it_and_no_tier_below_does(feature: Feature) -> None:
    """What a refused fan is told to join: the cheapest tier whose features include the perk."""
    tier = lowest_tier_with(feature)

    assert feature in default_features(tier)
    assert not [
        below for below in TIERS_ASCENDING if below.rank < tier.rank and feature in default_features(below)
    ]


def test_the_perks_are_granted_from_the_tiers_the_product_names() -> None:
    assert lowest_tier_with(Feature.MONTHLY_QA) is Tier.SUPPORTER
    assert lowest_tier_with(Feature.DIRECT_MESSAGES) is Tier.SUPERFAN
    assert lowest_tier_with(Feature.LIVE_SESSIONS) is Tier.SUPERFAN
