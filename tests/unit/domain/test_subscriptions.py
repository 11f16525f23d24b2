"""The subscription state machine and proration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from musicconnect.domain.errors import Conflict, InvalidInput
from musicconnect.domain.money import Money
from musicconnect.domain.subscriptions import (
    LIVE_STATUSES,
    Subscription,
    SubscriptionStatus,
    cancel_at_period_end,
    change_tier,
    effective_tier,
    end_now,
    mark_paid,
    mark_past_due,
    prorate,
    renew,
    start_subscription,
)
from musicconnect.domain.tiers import Tier, TierPlan

APRIL_1 = datetime(2024, 4, 1, 9, 30, tzinfo=UTC)
MAY_1 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)  # April has 30 days
FREE = TierPlan(tier=Tier.FREE, price=Money(0, "USD"), features=())
SUPPORTER = TierPlan(tier=Tier.SUPPORTER, price=Money(500, "USD"), features=())
SUPERFAN = TierPlan(tier=Tier.SUPERFAN, price=Money(1000, "USD"), features=())
TICK = timedelta(microseconds=1)


def subscribe(
    plan: TierPlan, *, now: datetime = APRIL_1, paid: bool = True, grace_days: int = 7
) -> Subscription:
    return start_subscription(
        subscription_id="s1",
        fan_id="f1",
        artist_id="a1",
        plan=plan,
        now=now,
        grace_days=grace_days,
        paid=paid,
    )


# --- starting ---------------------------------------------------------------------------------


def test_a_free_subscription_is_active_at_once_for_one_month() -> None:
    """Free needs no payment: active from now until the same day next month."""
    subscription = subscribe(FREE, paid=False)

    assert subscription.status is SubscriptionStatus.ACTIVE
    assert (subscription.current_period_start, subscription.current_period_end) == (APRIL_1, MAY_1)
    assert subscription.created_at == APRIL_1
    assert effective_tier(subscription, APRIL_1) is Tier.FREE


def test_a_paid_subscription_not_yet_paid_is_incomplete_and_gives_only_free() -> None:
    """Until the first payment succeeds the fan streams as a free listener."""
    subscription = subscribe(SUPPORTER, paid=False)

    assert subscription.status is SubscriptionStatus.INCOMPLETE
    assert subscription.is_live
    assert effective_tier(subscription, APRIL_1) is Tier.FREE


def test_a_paid_subscription_already_paid_is_active_on_its_tier() -> None:
    """A paid start grants the tier from the first instant."""
    subscription = subscribe(SUPERFAN)

    assert subscription.status is SubscriptionStatus.ACTIVE
    assert subscription.tier is Tier.SUPERFAN
    assert subscription.price == Money(1000, "USD")
    assert effective_tier(subscription, APRIL_1) is Tier.SUPERFAN


def test_marking_an_incomplete_subscription_paid_activates_it() -> None:
    """The first successful payment turns incomplete into active."""
    subscription = mark_paid(subscribe(SUPPORTER, paid=False))

    assert subscription.status is SubscriptionStatus.ACTIVE
    assert effective_tier(subscription, APRIL_1) is Tier.SUPPORTER


def test_trialing_grants_the_tier_like_active() -> None:
    """A trial is access without a payment yet."""
    trialing = attrs.evolve(subscribe(SUPERFAN), status=SubscriptionStatus.TRIALING)

    assert effective_tier(trialing, APRIL_1 + timedelta(days=3)) is Tier.SUPERFAN


def test_only_canceled_subscriptions_are_not_live() -> None:
    """One live subscription per (fan, artist): every status but canceled counts."""
    assert set(SubscriptionStatus) - LIVE_STATUSES == {SubscriptionStatus.CANCELED}


# --- upgrades -------------------------------------------------------------------------------


def test_upgrade_halfway_charges_half_the_difference_and_takes_effect_at_once() -> None:
    """Supporter to superfan with 15 of 30 days left charges 2.50 USD and gives superfan now."""
    now = APRIL_1 + timedelta(days=15)

    change = change_tier(subscribe(SUPPORTER), SUPERFAN, now)

    assert change.upgraded
    assert change.charge == Money(250, "USD")
    assert change.subscription.tier is Tier.SUPERFAN
    assert effective_tier(change.subscription, now) is Tier.SUPERFAN
    assert change.subscription.current_period_end == MAY_1  # the billing anchor stays


def test_upgrade_at_the_start_of_the_period_charges_the_whole_difference() -> None:
    """No time used yet: the full 5.00 USD difference."""
    assert change_tier(subscribe(SUPPORTER), SUPERFAN, APRIL_1).charge == Money(500, "USD")


def test_upgrade_from_free_charges_the_prorated_price() -> None:
    """From free, the difference is the whole new price, prorated over the time left."""
    change = change_tier(subscribe(FREE), SUPPORTER, APRIL_1 + timedelta(days=24))

    assert change.charge == Money(100, "USD")  # 6 of 30 days of 5.00


def test_upgrade_clears_a_scheduled_downgrade_or_cancellation() -> None:
    """Moving up replaces whatever was pending at period end."""
    canceled = cancel_at_period_end(subscribe(SUPPORTER))

    upgraded = change_tier(canceled, SUPERFAN, APRIL_1 + timedelta(days=1)).subscription

    assert upgraded.pending_tier is None
    assert not upgraded.cancel_at_period_end
    assert upgraded.scheduled_plan is None


def test_changing_currency_mid_subscription_is_refused() -> None:
    """A paid tier in another currency cannot be prorated against the current price."""
    euro_superfan = TierPlan(tier=Tier.SUPERFAN, price=Money(900, "EUR"), features=())

    with pytest.raises(InvalidInput):
        change_tier(subscribe(SUPPORTER), euro_superfan, APRIL_1)


# --- downgrades and cancellation -----------------------------------------------------------------


def test_downgrade_is_scheduled_and_changes_the_tier_only_at_period_end() -> None:
    """Superfan to supporter: no charge, superfan until May 1, supporter from then on."""
    change = change_tier(subscribe(SUPERFAN), SUPPORTER, APRIL_1 + timedelta(days=3))
    subscription = change.subscription

    assert not change.upgraded
    assert change.charge == Money(0, "USD")
    assert subscription.tier is Tier.SUPERFAN
    assert subscription.pending_tier is Tier.SUPPORTER
    assert effective_tier(subscription, MAY_1 - TICK) is Tier.SUPERFAN
    assert effective_tier(subscription, MAY_1) is Tier.SUPPORTER


def test_renewal_applies_a_scheduled_downgrade_and_charges_the_new_price() -> None:
    """The next period starts on the lower tier, billed at its price."""
    scheduled = change_tier(subscribe(SUPERFAN), SUPPORTER, APRIL_1).subscription

    renewal = renew(scheduled, MAY_1)

    assert renewal is not None
    assert renewal.charge == Money(500, "USD")
    assert renewal.subscription.tier is Tier.SUPPORTER
    assert renewal.subscription.scheduled_plan is None
    assert renewal.subscription.current_period_start == MAY_1


@given(
    tier=st.sampled_from([FREE, SUPPORTER, SUPERFAN]),
    scheduled=st.sampled_from([None, FREE, SUPPORTER]),
    canceling=st.booleans(),
    at=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
)
def test_moving_to_free_is_cancelling_at_period_end_whatever_was_scheduled(
    *, tier: TierPlan, scheduled: TierPlan | None, canceling: bool, at: timedelta
) -> None:
    """The one place of the rule "free means cancel": change_tier to the free tier is exactly
    cancel_at_period_end (nothing charged, any scheduled downgrade replaced, the tier kept
    until the period ends), from any live subscription at any time."""
    live = attrs.evolve(subscribe(tier), scheduled_plan=scheduled, cancel_at_period_end=canceling)

    change = change_tier(live, FREE, APRIL_1 + at)

    assert change.subscription == cancel_at_period_end(live)
    assert (change.charge, change.upgraded) == (Money(0, "USD"), False)
    assert change.subscription.pending_tier is Tier.FREE
    assert effective_tier(change.subscription, MAY_1 - TICK) is live.tier
    assert effective_tier(change.subscription, MAY_1) is Tier.FREE


def test_cancel_keeps_the_tier_until_period_end_then_renew_ends_it() -> None:
    """Cancel at period end: access until May 1, then renew() marks it canceled at no charge."""
    canceled = cancel_at_period_end(subscribe(SUPPORTER))

    assert canceled.pending_tier is Tier.FREE
    assert effective_tier(canceled, MAY_1 - TICK) is Tier.SUPPORTER
    assert effective_tier(canceled, MAY_1) is Tier.FREE
    renewal = renew(canceled, MAY_1 + timedelta(hours=2))
    assert renewal is not None
    assert renewal.subscription.status is SubscriptionStatus.CANCELED
    assert renewal.subscription.canceled_at == MAY_1
    assert renewal.charge == Money(0, "USD")
    assert not renewal.subscription.is_live


def test_a_downgrade_after_a_cancel_replaces_the_cancel() -> None:
    """The last decision wins: cancel then downgrade means stay, on the lower tier."""
    canceled = cancel_at_period_end(subscribe(SUPERFAN))

    subscription = change_tier(canceled, SUPPORTER, APRIL_1).subscription

    assert not subscription.cancel_at_period_end
    assert subscription.pending_tier is Tier.SUPPORTER


def test_changing_back_to_the_current_tier_undoes_a_scheduled_downgrade() -> None:
    """Superfan, schedule supporter, pick superfan again: nothing pending, nothing charged."""
    scheduled = change_tier(subscribe(SUPERFAN), SUPPORTER, APRIL_1).subscription

    change = change_tier(scheduled, SUPERFAN, APRIL_1 + timedelta(days=2))

    assert change.subscription.pending_tier is None
    assert change.charge == Money(0, "USD")
    assert effective_tier(change.subscription, MAY_1) is Tier.SUPERFAN


def test_changing_back_to_the_current_tier_undoes_a_cancellation() -> None:
    """Choosing the tier you are on after cancelling keeps the subscription."""
    canceled = cancel_at_period_end(subscribe(SUPPORTER))

    kept = change_tier(canceled, SUPPORTER, APRIL_1).subscription

    assert not kept.cancel_at_period_end
    assert kept.pending_tier is None


def test_changing_to_the_current_tier_with_nothing_pending_is_a_conflict() -> None:
    """There is nothing to change."""
    with pytest.raises(Conflict):
        change_tier(subscribe(SUPPORTER), SUPPORTER, APRIL_1)


def test_an_ended_subscription_cannot_be_changed_or_canceled_again() -> None:
    """Once canceled, the fan subscribes anew."""
    ended = end_now(subscribe(SUPPORTER), APRIL_1)

    with pytest.raises(Conflict):
        change_tier(ended, SUPERFAN, APRIL_1)
    with pytest.raises(Conflict):
        cancel_at_period_end(ended)


def test_ending_now_cancels_at_once_and_drops_to_free() -> None:
    """end_now is immediate, unlike cancel at period end."""
    ended = end_now(subscribe(SUPERFAN), APRIL_1 + timedelta(days=1))

    assert ended.status is SubscriptionStatus.CANCELED
    assert ended.canceled_at == APRIL_1 + timedelta(days=1)
    assert effective_tier(ended, APRIL_1 + timedelta(days=1)) is Tier.FREE


# --- past due ---------------------------------------------------------------------------------


def test_past_due_keeps_the_tier_for_the_grace_days_then_drops_to_free() -> None:
    """A failed renewal on May 1 keeps superfan for 7 days, then the fan is free."""
    past_due = mark_past_due(subscribe(SUPERFAN, grace_days=7), MAY_1)

    assert past_due.status is SubscriptionStatus.PAST_DUE
    assert effective_tier(past_due, MAY_1 + timedelta(days=7) - TICK) is Tier.SUPERFAN
    assert effective_tier(past_due, MAY_1 + timedelta(days=7)) is Tier.FREE


def test_the_grace_period_is_the_artists_setting() -> None:
    """With zero grace days, past due is free at once."""
    past_due = mark_past_due(subscribe(SUPPORTER, grace_days=0), MAY_1)

    assert effective_tier(past_due, MAY_1) is Tier.FREE


def test_a_second_failure_does_not_restart_the_grace_period() -> None:
    """mark_past_due on a past_due subscription keeps the first date."""
    past_due = mark_past_due(subscribe(SUPPORTER), MAY_1)

    again = mark_past_due(past_due, MAY_1 + timedelta(days=5))

    assert again.past_due_since == MAY_1


def test_past_due_without_a_date_counts_grace_from_period_end() -> None:
    """A past_due state learned from elsewhere starts its grace at the end of the period."""
    past_due = attrs.evolve(subscribe(SUPPORTER), status=SubscriptionStatus.PAST_DUE)

    assert effective_tier(past_due, MAY_1 + timedelta(days=6)) is Tier.SUPPORTER
    assert effective_tier(past_due, MAY_1 + timedelta(days=7)) is Tier.FREE


def test_paying_a_past_due_subscription_restores_it() -> None:
    """A late payment makes it active again and forgets the past-due date."""
    paid = mark_paid(mark_past_due(subscribe(SUPPORTER), MAY_1))

    assert paid.status is SubscriptionStatus.ACTIVE
    assert paid.past_due_since is None
    assert effective_tier(paid, MAY_1 + timedelta(days=30)) is Tier.SUPPORTER


def test_a_past_due_subscription_is_not_renewed() -> None:
    """Renewal waits for the payment to be settled."""
    assert renew(mark_past_due(subscribe(SUPPORTER), MAY_1), MAY_1) is None


# --- renewal ------------------------------------------------------------------------------------


def test_renew_before_period_end_does_nothing() -> None:
    """A subscription is only renewed once its period is over."""
    assert renew(subscribe(SUPPORTER), MAY_1 - TICK) is None


def test_renew_rolls_into_the_next_month_and_charges_the_price() -> None:
    """May 1 to June 1 at 5.00 USD."""
    renewal = renew(subscribe(SUPPORTER), MAY_1)

    assert renewal is not None
    assert renewal.charge == Money(500, "USD")
    assert renewal.subscription.current_period_start == MAY_1
    assert renewal.subscription.current_period_end == datetime(2024, 6, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("created", "ends"),
    [
        (
            datetime(2024, 1, 31, tzinfo=UTC),
            [(2024, 2, 29), (2024, 3, 31), (2024, 4, 30), (2024, 5, 31), (2024, 6, 30)],
        ),
        (
            datetime(2023, 1, 31, tzinfo=UTC),
            [(2023, 2, 28), (2023, 3, 31), (2023, 4, 30), (2023, 5, 31), (2023, 6, 30)],
        ),
        (
            datetime(2024, 12, 30, tzinfo=UTC),
            [(2025, 1, 30), (2025, 2, 28), (2025, 3, 30), (2025, 4, 30), (2025, 5, 30)],
        ),
    ],
)
def test_renewal_keeps_the_anchor_day_through_short_months(
    created: datetime, ends: list[tuple[int, int, int]]
) -> None:
    """Created on Jan 31: Feb 28 or 29, then back to Mar 31, never drifting to the 28th."""
    subscription = subscribe(SUPPORTER, now=created)
    period_ends = [subscription.current_period_end]
    for _ in range(len(ends) - 1):
        renewal = renew(subscription, subscription.current_period_end)
        assert renewal is not None
        subscription = renewal.subscription
        period_ends.append(subscription.current_period_end)

    assert [(d.year, d.month, d.day) for d in period_ends] == ends


def test_a_free_subscription_renews_at_no_charge() -> None:
    """Free renews for free."""
    renewal = renew(subscribe(FREE), MAY_1)

    assert renewal is not None
    assert renewal.charge == Money(0, "USD")


# --- property 6: proration --------------------------------------------------------------------

prices = st.integers(min_value=0, max_value=10**9)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds; timezones adds UTC
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
lengths = st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=400))
offsets = st.timedeltas(min_value=timedelta(days=-500), max_value=timedelta(days=500))


def expected_charge(difference: int, start: datetime, end: datetime, now: datetime) -> int:
    """The price difference times the share of the period left, rounded half-even (Fraction)."""
    if difference <= 0:
        return 0
    if end <= start:
        return difference
    left = min(max(end - now, timedelta(0)), end - start)
    return round(Fraction(difference) * Fraction(left / TICK) / Fraction((end - start) / TICK))


@settings(max_examples=250)
@given(
    old=prices,
    new=prices,
    currency=st.sampled_from(["USD", "JPY", "KWD"]),
    start=instants,
    length=lengths,
    offset=offsets,
)
@example(
    old=500, new=1000, currency="USD", start=APRIL_1, length=timedelta(days=30), offset=timedelta(days=-9)
)
@example(
    old=500, new=1000, currency="USD", start=APRIL_1, length=timedelta(days=30), offset=timedelta(days=45)
)
def test_prorated_charge_is_never_negative_nor_above_the_difference(
    *, old: int, new: int, currency: str, start: datetime, length: timedelta, offset: timedelta
) -> None:
    """Before, inside or after the period, the charge is the exact share left, in [0, difference]."""
    end, now = start + length, start + offset

    charge = prorate(
        old_price=Money(old, currency),
        new_price=Money(new, currency),
        period_start=start,
        period_end=end,
        now=now,
    )

    assert charge.currency == currency
    assert 0 <= charge.amount_minor <= max(new - old, 0)
    assert charge.amount_minor == expected_charge(new - old, start, end, now)


@settings(max_examples=200)
@given(
    old=prices,
    new=prices,
    start=instants,
    length=lengths,
    offsets_pair=st.lists(offsets, min_size=2, max_size=2),
)
def test_prorated_charge_never_grows_as_time_passes(
    old: int, new: int, start: datetime, length: timedelta, offsets_pair: list[timedelta]
) -> None:
    """Upgrading later never costs more than upgrading earlier."""
    earlier, later = sorted(start + offset for offset in offsets_pair)

    def charge_at(now: datetime) -> int:
        return prorate(
            old_price=Money(old, "USD"),
            new_price=Money(new, "USD"),
            period_start=start,
            period_end=start + length,
            now=now,
        ).amount_minor

    assert charge_at(earlier) >= charge_at(later)


def test_proration_of_a_downgrade_is_zero() -> None:
    """Moving to a cheaper price charges nothing (and refunds nothing)."""
    charge = prorate(
        old_price=Money(1000, "USD"),
        new_price=Money(500, "USD"),
        period_start=APRIL_1,
        period_end=MAY_1,
        now=APRIL_1,
    )

    assert charge == Money(0, "USD")


def test_proration_over_an_empty_period_charges_the_whole_difference() -> None:
    """With no period to share, the difference is due in full."""
    charge = prorate(
        old_price=Money(500, "USD"),
        new_price=Money(1000, "USD"),
        period_start=APRIL_1,
        period_end=APRIL_1,
        now=APRIL_1,
    )

    assert charge == Money(500, "USD")


def test_proration_refuses_mixed_currencies() -> None:
    """Prices in two currencies have no difference."""
    with pytest.raises(InvalidInput):
        prorate(
            old_price=Money(500, "USD"),
            new_price=Money(1000, "EUR"),
            period_start=APRIL_1,
            period_end=MAY_1,
            now=APRIL_1,
        )
