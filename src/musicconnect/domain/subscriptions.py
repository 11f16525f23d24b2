"""The subscription state machine, after Stripe's statuses, and proration.

Upgrades take effect at once and charge the prorated difference; downgrades and cancellations
wait for the end of the paid period; past_due keeps access for the artist's grace period.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from musicconnect.domain.clocks import add_months
from musicconnect.domain.errors import Conflict, InvalidInput
from musicconnect.domain.money import Money
from musicconnect.domain.tiers import Tier, TierPlan


class SubscriptionStatus(enum.StrEnum):
    INCOMPLETE = "incomplete"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"


#: Statuses that still count as "the" subscription of a (fan, artist) pair.
LIVE_STATUSES: Final = frozenset(SubscriptionStatus) - {SubscriptionStatus.CANCELED}
#: Statuses that grant the subscribed tier without conditions.
_PAID_UP: Final = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING})


@attrs.frozen
class Subscription:
    id: str
    fan_id: str
    artist_id: str
    plan: TierPlan
    status: SubscriptionStatus
    current_period_start: datetime
    current_period_end: datetime
    created_at: datetime
    grace_days: int = 7
    cancel_at_period_end: bool = False
    scheduled_plan: TierPlan | None = None
    past_due_since: datetime | None = None
    canceled_at: datetime | None = None
    external_ref: str | None = None
    #: When the last payment event applied to this subscription happened; older ones are stale.
    last_event_at: datetime | None = None

    @property
    def tier(self) -> Tier:
        return self.plan.tier

    @property
    def price(self) -> Money:
        return self.plan.price

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def pending_tier(self) -> Tier | None:
        """The tier the subscription moves to at period end, if a change is scheduled."""
        if self.cancel_at_period_end:
            return Tier.FREE
        return self.scheduled_plan.tier if self.scheduled_plan else None


def start_subscription(
    *,
    subscription_id: str,
    fan_id: str,
    artist_id: str,
    plan: TierPlan,
    now: datetime,
    grace_days: int,
    paid: bool,
) -> Subscription:
    """A new subscription: active at once when free or already paid, otherwise incomplete."""
    active = paid or plan.tier is Tier.FREE
    return Subscription(
        id=subscription_id,
        fan_id=fan_id,
        artist_id=artist_id,
        plan=plan,
        status=SubscriptionStatus.ACTIVE if active else SubscriptionStatus.INCOMPLETE,
        current_period_start=now,
        current_period_end=add_months(now, 1),
        created_at=now,
        grace_days=grace_days,
    )


@attrs.frozen
class Standing:
    """What a fan's tier with an artist derives from: enough to answer for any instant.

    A subscription without its money and history, small enough to cache; ``tier_at`` is the one
    rule for the tier a fan enjoys at a moment.
    """

    tier: Tier
    status: SubscriptionStatus
    current_period_end: datetime
    pending_tier: Tier | None = None
    past_due_since: datetime | None = None
    grace_days: int = 7

    def tier_at(self, now: datetime) -> Tier:
        if self.status in _PAID_UP:
            if now >= self.current_period_end and self.pending_tier is not None:
                return self.pending_tier
            return self.tier
        if self.status is SubscriptionStatus.PAST_DUE:
            since = self.past_due_since or self.current_period_end
            if now < since + timedelta(days=self.grace_days):
                return self.tier
        return Tier.FREE


#: A fan with no live subscription: free, whatever the time.
NO_STANDING: Final = Standing(
    tier=Tier.FREE,
    status=SubscriptionStatus.CANCELED,
    current_period_end=datetime.min.replace(tzinfo=UTC),
)


def standing_of(subscription: Subscription | None) -> Standing:
    if subscription is None:
        return NO_STANDING
    return Standing(
        tier=subscription.tier,
        status=subscription.status,
        current_period_end=subscription.current_period_end,
        pending_tier=subscription.pending_tier,
        past_due_since=subscription.past_due_since,
        grace_days=subscription.grace_days,
    )


def effective_tier(subscription: Subscription | None, now: datetime) -> Tier:
    """The tier a fan enjoys right now. Derived from (tier, status, clock), never stored."""
    return standing_of(subscription).tier_at(now)


def prorate(
    *,
    old_price: Money,
    new_price: Money,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
) -> Money:
    """The charge for moving up from ``old_price`` to ``new_price`` for the rest of the period.

    Never negative and never above the price difference.
    """
    difference = new_price - old_price
    if difference.amount_minor <= 0:
        return Money.zero(new_price.currency)
    total = period_end - period_start
    if total <= timedelta(0):
        return difference
    left = min(max(period_end - now, timedelta(0)), total)
    charge = difference.scaled(left // timedelta(microseconds=1), total // timedelta(microseconds=1))
    return Money(min(max(charge.amount_minor, 0), difference.amount_minor), charge.currency)


@attrs.frozen
class TierChange:
    subscription: Subscription
    #: What to charge now: the prorated difference on an upgrade, zero otherwise.
    charge: Money
    upgraded: bool


def change_tier(subscription: Subscription, plan: TierPlan, now: datetime) -> TierChange:
    """Upgrade at once with proration, or schedule a downgrade for the end of the period."""
    if not subscription.is_live:
        raise Conflict("the subscription has ended; subscribe again")
    if plan.price.currency != subscription.price.currency and plan.tier is not Tier.FREE:
        raise InvalidInput("cannot change currency mid-subscription")
    current = subscription.tier
    if plan.tier is Tier.FREE:
        # The one place where moving to free means cancelling: nobody is billed for a free tier,
        # so the subscription (paid or free) runs to the end of its period and then ends.
        ending = cancel_at_period_end(subscription)
        return TierChange(ending, Money.zero(subscription.price.currency), upgraded=False)
    if plan.tier.rank > current.rank:
        charge = prorate(
            old_price=subscription.price,
            new_price=plan.price,
            period_start=subscription.current_period_start,
            period_end=subscription.current_period_end,
            now=now,
        )
        upgraded = attrs.evolve(
            subscription,
            plan=plan,
            scheduled_plan=None,
            cancel_at_period_end=False,
        )
        return TierChange(upgraded, charge, upgraded=True)
    if plan.tier is current:
        if subscription.pending_tier is None:
            raise Conflict(f"already on the {current} tier")
        # Changing back to the current tier undoes a scheduled downgrade or cancellation.
        kept = attrs.evolve(subscription, scheduled_plan=None, cancel_at_period_end=False)
        return TierChange(kept, Money.zero(subscription.price.currency), upgraded=False)
    scheduled = attrs.evolve(subscription, scheduled_plan=plan, cancel_at_period_end=False)
    return TierChange(scheduled, Money.zero(subscription.price.currency), upgraded=False)


def cancel_at_period_end(subscription: Subscription) -> Subscription:
    if not subscription.is_live:
        raise Conflict("the subscription has already ended")
    return attrs.evolve(subscription, cancel_at_period_end=True, scheduled_plan=None)


@attrs.frozen
class Renewal:
    subscription: Subscription
    #: What to charge for the new period (zero for free, or when the subscription ended).
    charge: Money


def renew(subscription: Subscription, now: datetime) -> Renewal | None:
    """Roll a due subscription into its next period, applying what was scheduled.

    Returns None when the period has not ended yet or the subscription is not renewable.
    """
    if subscription.status not in _PAID_UP or now < subscription.current_period_end:
        return None
    if subscription.cancel_at_period_end:
        ended = attrs.evolve(
            subscription,
            status=SubscriptionStatus.CANCELED,
            canceled_at=subscription.current_period_end,
        )
        return Renewal(ended, Money.zero(subscription.price.currency))
    plan = subscription.scheduled_plan or subscription.plan
    start = subscription.current_period_end
    renewed = attrs.evolve(
        subscription,
        plan=plan,
        scheduled_plan=None,
        current_period_start=start,
        current_period_end=add_months(start, 1, anchor_day=subscription.created_at.day),
    )
    return Renewal(renewed, plan.price)


def mark_paid(subscription: Subscription) -> Subscription:
    return attrs.evolve(subscription, status=SubscriptionStatus.ACTIVE, past_due_since=None)


def mark_past_due(subscription: Subscription, now: datetime) -> Subscription:
    if subscription.status is SubscriptionStatus.PAST_DUE:
        return subscription
    return attrs.evolve(subscription, status=SubscriptionStatus.PAST_DUE, past_due_since=now)


def end_now(subscription: Subscription, now: datetime) -> Subscription:
    return attrs.evolve(subscription, status=SubscriptionStatus.CANCELED, canceled_at=now)
