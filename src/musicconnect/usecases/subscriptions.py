"""Subscribing, changing tier, cancelling and monthly billing: one path on every payment backend.

Every change that may move money goes in three steps (see ``usecases.intents``):
1. reserve: one unit of work checks the domain's rules and commits a ``PaymentIntent`` (and, for
   a new subscription, the subscription itself, incomplete). Of identical requests racing, one
   reserves; the others are refused with Conflict by the database's unique keys;
2. call the processor outside any transaction, with the intent's key;
3. record the outcome and settle the intent in one unit of work.
An intent that a crash left open is completed by the next request for that subscription or by
the billing run, and a checkout by the processor's event: never by charging again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs

from musicconnect.domain import subscriptions as subs
from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from musicconnect.domain.money import Money
from musicconnect.domain.payments import INTENT_LEASE, IntentKind, IntentStatus, PaymentIntent
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus
from musicconnect.domain.tiers import Tier, TierPlan
from musicconnect.ports.payments import CheckoutSession, ReturnUrls, SubscriptionBilling
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, IdGenerator
from musicconnect.usecases.access import require_artist, require_fan, require_open_artist
from musicconnect.usecases.intents import complete

log = logging.getLogger(__name__)


@attrs.frozen
class TierChangeResult:
    subscription: Subscription
    charged: Money
    #: Set when the fan must pay on the processor's page first.
    checkout: CheckoutSession | None = None


@attrs.frozen
class TierQuote:
    """What a move to ``tier`` would do, computed by the same rules as the move itself."""

    tier: Tier
    current: Subscription | None
    #: Charged at once: the first month, or the prorated difference of an upgrade.
    charge: Money
    #: When the new tier begins: now, or the end of the paid period for a downgrade or cancel.
    effective_at: datetime


@attrs.frozen
class Subscriptions:
    """The subscription use cases, bound once to their ports. Each call opens its own units of
    work, and no processor call runs inside one."""

    uow: Callable[[], UnitOfWork]
    billing: SubscriptionBilling
    ids: IdGenerator
    clock: Clock
    #: How long a reserved payment belongs to its request before others may finish it.
    lease: timedelta = INTENT_LEASE

    def subscribe(
        self, artist_id: str, tier: Tier, *, caller: Caller, return_urls: ReturnUrls | None = None
    ) -> TierChangeResult:
        """Start a subscription: free at once; a paid tier once its first month is paid (at once
        offline, after the processor's checkout page on Stripe)."""
        require_fan(caller)
        self._tidy(artist_id, caller)
        now = self.clock.now()
        with self.uow() as uow:
            artist = require_open_artist(uow, artist_id)
            live = uow.subscriptions.live_for(caller.id, artist_id)
            unfinished = _unfinished(uow.intents.of_subscription(live.id)) if live is not None else None
            if live is None:
                plan = artist.plan(tier)
                subscription = subs.start_subscription(
                    subscription_id=self.ids.new_id(),
                    fan_id=caller.id,
                    artist_id=artist_id,
                    plan=plan,
                    now=now,
                    grace_days=artist.grace_days,
                    paid=False,
                )
                uow.subscriptions.add(subscription)
                if plan.price.is_zero:
                    uow.commit()
                    return TierChangeResult(subscription, Money.zero(plan.price.currency))
                unfinished = _intent(
                    subscription,
                    IntentKind.START,
                    amount=plan.price,
                    key=f"subscription:{subscription.id}:first",
                    now=now,
                    plan=plan,
                )
                uow.intents.add(unfinished)
                uow.commit()
            elif unfinished is not None and unfinished.kind is IntentKind.START:
                # The same subscription asked for again before its first payment was recorded.
                _refuse_if_in_progress(unfinished, now, self.lease)
                if unfinished.status is IntentStatus.AWAITING_FAN and unfinished.tier is not tier:
                    raise _waiting_for(unfinished)
        # Outside any transaction: the processor is asked with the intent's key.
        if unfinished is not None and unfinished.kind is IntentKind.START:
            return self._complete(unfinished.key, return_urls)
        raise Conflict("already subscribed to this artist; change tier instead")

    def subscribe_or_upgrade(
        self, artist_id: str, tier: Tier, *, caller: Caller, return_urls: ReturnUrls | None = None
    ) -> TierChangeResult:
        """A paid tier, for a fan with no subscription or on the free tier (a checkout page's way in)."""
        if tier is Tier.FREE:
            raise InvalidInput("the free tier needs no payment page; subscribe to it instead")
        with self.uow() as uow:
            live = uow.subscriptions.live_for(caller.id, artist_id)
        upgrade = live is not None and live.tier is Tier.FREE
        use = self.change_tier if upgrade else self.subscribe
        return use(artist_id, tier, caller=caller, return_urls=return_urls)

    def change_tier(
        self, artist_id: str, tier: Tier, *, caller: Caller, return_urls: ReturnUrls | None = None
    ) -> TierChangeResult:
        """Upgrade at once, charging the prorated difference; downgrade or cancel (the free tier) at
        the end of the paid period."""
        require_fan(caller)
        self._repair_unfinished(self._tidy(artist_id, caller))
        now = self.clock.now()
        with self.uow() as uow:
            # Cancelling (a move to the free tier) stays possible after the artist is erased.
            artist = (require_artist if tier is Tier.FREE else require_open_artist)(uow, artist_id)
            current = _live(uow, caller.id, artist_id)
            if current.status is SubscriptionStatus.INCOMPLETE:
                raise Conflict("the first payment of this subscription is not finished yet")
            plan = artist.plan(tier)
            # One read for both the check and the key: a change reserved since the repair above
            # is either seen here (and wins) or not counted in the key (and its key wins).
            earlier = uow.intents.of_subscription(current.id)
            pending = _unfinished(earlier)
            if pending is not None:
                _refuse_if_in_progress(pending, now, self.lease)
            if pending is not None and _same_page(pending, plan):
                # Asked again before paying on the processor's page: the same page, after this block.
                intent = pending
            elif pending is not None and pending.status is IntentStatus.AWAITING_FAN:
                # One payable page at a time: two could both be paid.
                raise _waiting_for(pending)
            else:
                change = subs.change_tier(current, plan, now)
                if change.subscription == current:
                    return TierChangeResult(current, Money.zero(plan.price.currency))
                # Numbered per subscription: identical requests racing compute one key; one wins.
                key = f"subscription:{current.id}:change:{len(earlier)}"
                intent = _intent(
                    current, IntentKind.CHANGE, amount=change.charge, key=key, now=now, plan=plan
                )
                uow.intents.add(intent)
                uow.commit()
        return self._complete(intent.key, return_urls)

    def cancel(self, artist_id: str, *, caller: Caller) -> Subscription:
        """Cancel at the end of the paid period (a move to the free tier); access stays until then."""
        return self.change_tier(artist_id, Tier.FREE, caller=caller).subscription

    def quote(self, artist_id: str, tier: Tier, *, caller: Caller) -> TierQuote:
        """What subscribing or changing to ``tier`` would charge and when it would take effect,
        changing nothing: the amount a fan sees before confirming."""
        require_fan(caller)
        now = self.clock.now()
        with self.uow() as uow:
            plan = require_open_artist(uow, artist_id).plan(tier)
            current = uow.subscriptions.live_for(caller.id, artist_id)
        if current is None:
            return TierQuote(tier, None, plan.price, now)
        change = subs.change_tier(current, plan, now)
        # An upgrade (or undoing a scheduled change) is at once; a move down waits for the period end.
        at_once = change.upgraded or tier is current.tier
        effective_at = now if at_once else current.current_period_end
        return TierQuote(tier, current, change.charge, effective_at)

    def standing_with(self, artist_id: str, *, caller: Caller | None) -> tuple[Subscription | None, Tier]:
        """The caller's live subscription with the artist (None for strangers and artists) and
        the tier they enjoy now."""
        if caller is None or caller.role is not Role.FAN:
            return None, Tier.FREE
        with self.uow() as uow:
            live = uow.subscriptions.live_for(caller.id, artist_id)
        return live, subs.effective_tier(live, self.clock.now())

    def of_fan(self, caller: Caller) -> Sequence[Subscription]:
        """The caller's subscriptions, live and ended."""
        with self.uow() as uow:
            return uow.subscriptions.of_fan(caller.id)

    def run_billing(self) -> BillingReport:
        """Finish what crashes left open, then roll every due subscription into its next period and
        charge for it. Each subscription is its own intent: one declined card never blocks the
        others, and the key (subscription and period) makes a re-run charge nobody twice."""
        now = self.clock.now()
        repaired = self._repair_stranded()
        with self.uow() as uow:
            # A processor-billed subscription (one with an external reference) is renewed and
            # charged by the processor and reaches us as its events; charging it here would bill twice.
            due = [s.id for s in uow.subscriptions.due_for_renewal(now) if s.external_ref is None]
        report = BillingReport(renewed=0, canceled=0, past_due=0, charged=(), repaired=repaired)
        for subscription_id in due:
            report = report.plus(self._renew(subscription_id, now))
        return report

    def _renew(self, subscription_id: str, now: datetime) -> BillingReport | None:
        with self.uow() as uow:
            current = uow.subscriptions.get(subscription_id)
            renewal = subs.renew(current, now) if current else None
            if current is None or renewal is None:
                return None
            if renewal.charge.amount_minor == 0:
                uow.subscriptions.save(renewal.subscription)
                uow.commit()
                ended = renewal.subscription.status is SubscriptionStatus.CANCELED
                return BillingReport(renewed=int(not ended), canceled=int(ended), past_due=0, charged=())
            start = renewal.subscription.current_period_start.isoformat()
            intent = _intent(
                current,
                IntentKind.RENEWAL,
                amount=renewal.charge,
                key=f"subscription:{current.id}:period:{start}",
                now=now,
                plan=renewal.subscription.plan,
            )
            try:
                uow.intents.add(intent)
                uow.commit()
            except Conflict:
                return None  # another run reserved this renewal
        done = self._complete(intent.key)
        if done.subscription.status is SubscriptionStatus.PAST_DUE:
            return BillingReport(renewed=0, canceled=0, past_due=1, charged=())
        return BillingReport(renewed=1, canceled=0, past_due=0, charged=(done.charged,))

    def _complete(self, key: str, return_urls: ReturnUrls | None = None) -> TierChangeResult:
        done = complete(
            key, uow=self.uow(), billing=self.billing, ids=self.ids, clock=self.clock, return_urls=return_urls
        )
        return TierChangeResult(done.subscription, done.charged, done.checkout)

    def _tidy(self, artist_id: str, caller: Caller) -> PaymentIntent | None:
        """Before a new request for this fan and artist, in one read: a payment page left unpaid
        past its lifetime reserves nothing any more (its intent fails, and a subscription that was
        waiting for its first payment ends). Returns the change a crash left open, if any."""
        now = self.clock.now()
        with self.uow() as uow:
            live = uow.subscriptions.live_for(caller.id, artist_id)
            if live is None:
                return None
            intents = uow.intents.of_subscription(live.id)
            abandoned = [i for i in intents if i.abandoned(now)]
            for intent in abandoned:
                uow.intents.save(intent.failed(now))
            if abandoned and live.status is SubscriptionStatus.INCOMPLETE:
                uow.subscriptions.save(subs.end_now(live, now))
            if abandoned:
                uow.commit()
            unfinished = _unfinished([i for i in intents if i not in abandoned])
        return unfinished if unfinished is not None and unfinished.kind is not IntentKind.START else None

    def _repair_unfinished(self, unfinished: PaymentIntent | None) -> None:
        """Finish what a crash left of this fan's last change before making a new one."""
        if unfinished is None:
            return
        _refuse_if_in_progress(unfinished, self.clock.now(), self.lease)
        if unfinished.external_ref is None:
            self._complete(unfinished.key)

    def _repair_stranded(self) -> int:
        with self.uow() as uow:
            stranded = [
                i.key
                for i in uow.intents.open_before(self.clock.now() - self.lease)
                if i.kind is not IntentKind.PAYOUT
            ]
        repaired = 0
        for key in stranded:
            try:
                self._complete(key)
                repaired += 1
            except DomainError as failure:
                # One payment that cannot be finished now never stops the others or the run.
                log.warning("could not complete payment %s: %s", key, failure.detail)
                continue
        return repaired


def _intent(
    subscription: Subscription, kind: IntentKind, *, amount: Money, key: str, now: datetime, plan: TierPlan
) -> PaymentIntent:
    return PaymentIntent(
        key=key,
        kind=kind,
        artist_id=subscription.artist_id,
        amount=amount,
        created_at=now,
        subscription_id=subscription.id,
        fan_id=subscription.fan_id,
        tier=plan.tier,
        plan_version=plan.version,
    )


def _live(uow: UnitOfWork, fan_id: str, artist_id: str) -> Subscription:
    subscription = uow.subscriptions.live_for(fan_id, artist_id)
    if subscription is None:
        raise NotFound("no subscription to this artist")
    return subscription


def _unfinished(intents: Sequence[PaymentIntent]) -> PaymentIntent | None:
    """The intent whose outcome is not recorded yet, if any: one whose processor call may be
    under way before one that waits for the fan on a payment page."""
    unsettled = [i for i in intents if i.is_unsettled]
    return next((i for i in unsettled if i.status is IntentStatus.OPEN), unsettled[0] if unsettled else None)


def _same_page(pending: PaymentIntent, plan: TierPlan) -> bool:
    """A change to ``plan`` already waiting for the fan on the processor's page."""
    return pending.status is IntentStatus.AWAITING_FAN and (pending.tier, pending.plan_version) == (
        plan.tier,
        plan.version,
    )


def _waiting_for(intent: PaymentIntent) -> Conflict:
    return Conflict(
        f"a payment page for the {intent.tier} tier is waiting to be paid; pay it there, "
        "or ask again once it has expired"
    )


def _refuse_if_in_progress(intent: PaymentIntent, now: datetime, lease: timedelta) -> None:
    if intent.in_progress(now, lease):
        raise Conflict("a payment for this subscription is under way; try again in a moment")


@attrs.frozen
class BillingReport:
    renewed: int
    canceled: int
    past_due: int
    charged: tuple[Money, ...]
    #: Intents left open by a crash, completed by this run.
    repaired: int = 0

    def plus(self, other: BillingReport | None) -> BillingReport:
        if other is None:
            return self
        return BillingReport(
            renewed=self.renewed + other.renewed,
            canceled=self.canceled + other.canceled,
            past_due=self.past_due + other.past_due,
            charged=self.charged + other.charged,
            repaired=self.repaired + other.repaired,
        )
