"""Entitlements: what each tier may do and stream, and that they only grow with the tier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicconnect.domain.entitlements import (
    DM_PER_MONTH,
    MAX_KBPS,
    OWNER_ENTITLEMENTS,
    entitlements,
    entitlements_for_tier,
)
from musicconnect.domain.money import Money
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus, effective_tier
from musicconnect.domain.tiers import Feature, Tier, TierPlan, default_features

#: The design's table, restated so a changed constant in the code is caught, not mirrored.
DESIGN_MAX_KBPS = {Tier.FREE: 128, Tier.SUPPORTER: 256, Tier.SUPERFAN: 320}

tiers = st.sampled_from(list(Tier))
#: Arbitrary ladders, with the design's rungs and their neighbours over-represented.
rungs = st.one_of(st.sampled_from([127, 128, 129, 255, 256, 257, 319, 320, 321]), st.integers(1, 10_000))
ladders = st.lists(rungs, max_size=8)
instants = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds; timezones adds UTC
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def test_free_tier_is_capped_at_128kbps() -> None:
    """A free listener streams 128 kbps and nothing above."""
    free = entitlements_for_tier(Tier.FREE)

    assert free.max_kbps == 128
    assert free.may_stream(128)
    assert not free.may_stream(129)


def test_supporter_is_capped_at_256kbps() -> None:
    """A supporter streams up to 256 kbps."""
    supporter = entitlements_for_tier(Tier.SUPPORTER)

    assert supporter.max_kbps == 256
    assert supporter.allowed_rungs((320, 128, 256)) == (128, 256)


def test_superfan_streams_the_whole_design_ladder() -> None:
    """A superfan gets 320 kbps, the top rung."""
    assert entitlements_for_tier(Tier.SUPERFAN).allowed_rungs((320, 256, 128)) == (128, 256, 320)


def test_max_kbps_matches_the_design_table() -> None:
    """128 / 256 / 320 kbps for free / supporter / superfan."""
    assert MAX_KBPS == DESIGN_MAX_KBPS


def test_no_subscription_means_free() -> None:
    """A listener with no subscription has the free tier's entitlements."""
    assert entitlements(None, datetime(2024, 1, 1, tzinfo=UTC)) == entitlements_for_tier(Tier.FREE)


def test_the_owner_hears_the_top_of_the_ladder() -> None:
    """An artist streams their own music at superfan quality with every feature."""
    assert OWNER_ENTITLEMENTS.max_kbps == 320
    assert OWNER_ENTITLEMENTS.features == frozenset(Feature)


def test_direct_messages_are_superfan_only_and_five_a_month() -> None:
    """Only superfans may message, five times per calendar month."""
    assert DM_PER_MONTH == 5
    assert [t for t in Tier if entitlements_for_tier(t).has(Feature.DIRECT_MESSAGES)] == [Tier.SUPERFAN]


def test_entitlement_features_are_the_tiers_features() -> None:
    """Capabilities follow the tier's cumulative feature list."""
    for tier in Tier:
        assert entitlements_for_tier(tier).features == default_features(tier)


# --- property 4: monotonic in the tier -------------------------------------------------------


@settings(max_examples=200)
@given(pair=st.lists(tiers, min_size=2, max_size=2), ladder=ladders)
def test_a_higher_tier_never_has_less(pair: list[Tier], ladder: list[int]) -> None:
    """For tiers a <= b: features, max kbps and allowed rungs of a are within those of b."""
    a, b = sorted(pair, key=lambda t: t.rank)
    low, high = entitlements_for_tier(a), entitlements_for_tier(b)

    assert low.features <= high.features
    assert low.max_kbps <= high.max_kbps
    assert set(low.allowed_rungs(ladder)) <= set(high.allowed_rungs(ladder))


@st.composite
def subscription_states(draw: st.DrawFn) -> Subscription:
    """Any combination of plan, status, period, schedule and past-due date, consistent or not."""

    def plan(tier: Tier) -> TierPlan:
        price = 0 if tier is Tier.FREE else draw(st.integers(1, 10**6))
        return TierPlan(tier=tier, price=Money(price, "USD"), features=())

    start = draw(instants)
    return Subscription(
        id="s1",
        fan_id="f1",
        artist_id="a1",
        plan=plan(draw(tiers)),
        status=draw(st.sampled_from(list(SubscriptionStatus))),
        current_period_start=start,
        current_period_end=start + draw(st.timedeltas(timedelta(0), timedelta(days=62))),
        created_at=start - draw(st.timedeltas(timedelta(0), timedelta(days=400))),
        grace_days=draw(st.integers(0, 30)),
        cancel_at_period_end=draw(st.booleans()),
        scheduled_plan=draw(st.none() | tiers.map(plan)),
        past_due_since=draw(st.none() | instants),
    )


@settings(max_examples=250)
@given(subscription=subscription_states(), now=instants)
def test_effective_tier_never_exceeds_the_subscribed_or_scheduled_tier(
    subscription: Subscription, now: datetime
) -> None:
    """Whatever the status and the clock, access is never above what was subscribed or scheduled."""
    tier = effective_tier(subscription, now)
    subscribed = [subscription.tier]
    if subscription.scheduled_plan is not None:
        subscribed.append(subscription.scheduled_plan.tier)
    ceiling = max(subscribed, key=lambda t: t.rank)

    assert tier.rank <= ceiling.rank
    assert tier in {subscription.tier, subscription.pending_tier, Tier.FREE}
    assert entitlements(subscription, now).max_kbps <= DESIGN_MAX_KBPS[ceiling]


@pytest.mark.parametrize(
    "status",
    [SubscriptionStatus.INCOMPLETE, SubscriptionStatus.CANCELED, SubscriptionStatus.UNPAID],
)
def test_unpaid_statuses_stream_at_free_quality(status: SubscriptionStatus) -> None:
    """Incomplete, canceled and unpaid subscriptions give only the free tier."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    subscription = Subscription(
        id="s1",
        fan_id="f1",
        artist_id="a1",
        plan=TierPlan(tier=Tier.SUPERFAN, price=Money(1000, "USD"), features=()),
        status=status,
        current_period_start=start,
        current_period_end=start + timedelta(days=31),
        created_at=start,
    )

    assert entitlements(subscription, start + timedelta(days=1)).max_kbps == 128
