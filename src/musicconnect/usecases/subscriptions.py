"""Subscribing, changing tier, cancelling, monthly billing and payment events."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs

from musicconnect.domain import subscriptions as subs
from musicconnect.domain.accounts import Caller
from musicconnect.domain.errors import Conflict, NotFound, PaymentFailed
from musicconnect.domain.ledger import charge_transaction
from musicconnect.domain.money import Money
from musicconnect.domain.payments import PaymentEvent, PaymentEventKind
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus
from musicconnect.domain.tiers import Tier, TierPlan
from musicconnect.ports.payments import PaymentGateway
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, IdGenerator
from musicconnect.usecases.access import require_artist, require_fan

log = logging.getLogger(__name__)


def _collect(
    subscription: Subscription,
    amount: Money,
    *,
    key: str,
    description: str,
    uow: UnitOfWork,
    gateway: PaymentGateway,
    ids: IdGenerator,
    clock: Clock,
) -> None:
    """Charge the fan through the gateway and book it in the ledger under the same key."""
    result = gateway.charge(
        fan_id=subscription.fan_id,
        artist_id=subscription.artist_id,
        amount=amount,
        description=description,
        idempotency_key=key,
    )
    uow.ledger.record(
        charge_transaction(
            transaction_id=ids.new_id(),
            idempotency_key=key,
            artist_id=subscription.artist_id,
            fan_id=subscription.fan_id,
            gross=result.gross,
            occurred_at=clock.now(),
            memo=description,
        ),
    )


def subscribe(
    artist_id: str,
    tier: Tier,
    *,
    caller: Caller,
    uow: UnitOfWork,
    gateway: PaymentGateway,
    ids: IdGenerator,
    clock: Clock,
) -> Subscription:
    """Start a subscription; a paid tier is charged for its first month at once."""
    require_fan(caller)
    now = clock.now()
    with uow:
        artist = require_artist(uow, artist_id)
        if uow.subscriptions.live_for(caller.id, artist_id) is not None:
            raise Conflict("already subscribed to this artist; change tier instead")
        plan = artist.plan(tier)
        subscription = subs.start_subscription(
            subscription_id=ids.new_id(),
            fan_id=caller.id,
            artist_id=artist_id,
            plan=plan,
            now=now,
            grace_days=artist.grace_days,
            paid=True,
        )
        if not plan.price.is_zero:
            _collect(
                subscription,
                plan.price,
                key=f"subscription:{subscription.id}:first",
                description=f"{tier} subscription to {artist.display_name}",
                uow=uow,
                gateway=gateway,
                ids=ids,
                clock=clock,
            )
        uow.subscriptions.add(subscription)
        uow.commit()
    return subscription


def _live(uow: UnitOfWork, fan_id: str, artist_id: str) -> Subscription:
    subscription = uow.subscriptions.live_for(fan_id, artist_id)
    if subscription is None:
        raise NotFound("no subscription to this artist")
    return subscription


@attrs.frozen
class TierChangeResult:
    subscription: Subscription
    charged: Money


def change_tier(
    artist_id: str,
    tier: Tier,
    *,
    caller: Caller,
    uow: UnitOfWork,
    gateway: PaymentGateway,
    ids: IdGenerator,
    clock: Clock,
) -> TierChangeResult:
    """Upgrade at once, charging the prorated difference; downgrade at the end of the period."""
    require_fan(caller)
    now = clock.now()
    with uow:
        artist = require_artist(uow, artist_id)
        current = _live(uow, caller.id, artist_id)
        change = subs.change_tier(current, artist.plan(tier), now)
        if change.charge.amount_minor > 0:
            _collect(
                current,
                change.charge,
                key=f"subscription:{current.id}:upgrade:{tier}:{now.isoformat()}",
                description=f"upgrade to {tier} (prorated)",
                uow=uow,
                gateway=gateway,
                ids=ids,
                clock=clock,
            )
        uow.subscriptions.save(change.subscription)
        uow.commit()
    return TierChangeResult(change.subscription, change.charge)


def cancel(artist_id: str, *, caller: Caller, uow: UnitOfWork) -> Subscription:
    """Cancel at the end of the paid period; access stays until then."""
    require_fan(caller)
    with uow:
        canceled = subs.cancel_at_period_end(_live(uow, caller.id, artist_id))
        uow.subscriptions.save(canceled)
        uow.commit()
    return canceled


def subscriptions_of(caller: Caller, *, uow: UnitOfWork) -> Sequence[Subscription]:
    with uow:
        return uow.subscriptions.of_fan(caller.id)


@attrs.frozen
class BillingReport:
    renewed: int
    canceled: int
    past_due: int
    charged: tuple[Money, ...]


def run_billing(*, uow: UnitOfWork, gateway: PaymentGateway, ids: IdGenerator, clock: Clock) -> BillingReport:
    """Roll every due subscription into its next period and charge for it.

    Each subscription is its own unit of work: one declined card never blocks the others, and
    the charge key (subscription and period) makes a re-run charge nobody twice.
    """
    now = clock.now()
    with uow:
        # A processor-billed subscription (one with an external reference) is renewed and charged
        # by the processor, and reaches us as payment events; charging it here would bill twice.
        due = [s.id for s in uow.subscriptions.due_for_renewal(now) if s.external_ref is None]
    renewed = canceled = past_due = 0
    charged: list[Money] = []
    for subscription_id in due:
        with uow:
            current = uow.subscriptions.get(subscription_id)
            renewal = subs.renew(current, now) if current else None
            if renewal is None:
                continue
            updated = renewal.subscription
            if updated.status is SubscriptionStatus.CANCELED:
                canceled += 1
            elif renewal.charge.amount_minor > 0:
                try:
                    _collect(
                        updated,
                        renewal.charge,
                        key=f"subscription:{updated.id}:period:{updated.current_period_start.isoformat()}",
                        description=f"{updated.tier} renewal",
                        uow=uow,
                        gateway=gateway,
                        ids=ids,
                        clock=clock,
                    )
                    charged.append(renewal.charge)
                    renewed += 1
                except PaymentFailed as failure:
                    log.info("renewal of %s declined: %s", updated.id, failure.detail)
                    updated = subs.mark_past_due(updated, now)
                    past_due += 1
            else:
                renewed += 1
            uow.subscriptions.save(updated)
            uow.commit()
    return BillingReport(renewed=renewed, canceled=canceled, past_due=past_due, charged=tuple(charged))


def apply_payment_event(event: PaymentEvent, *, uow: UnitOfWork, ids: IdGenerator, clock: Clock) -> bool:
    """Apply a processor's event at most once; a stale one (older than what we applied) is ignored.

    Returns True when the event changed something.
    """
    with uow:
        if not uow.processed_events.mark(event.event_id, clock.now()):
            return False
        current = uow.subscriptions.by_external_ref(event.external_ref)
        changed = _apply(current, event, uow=uow, ids=ids)
        uow.commit()
    return changed


def _apply(current: Subscription | None, event: PaymentEvent, *, uow: UnitOfWork, ids: IdGenerator) -> bool:
    if (
        current is not None
        and current.last_event_at is not None
        and event.occurred_at <= current.last_event_at
    ):
        return False
    if current is not None and current.status is SubscriptionStatus.CANCELED:
        return False  # an ended subscription never comes back; a new one has a new reference
    if current is None:
        # Even a deletion is stored (as canceled): otherwise the older events of that
        # subscription, arriving after it, would bring it back to life.
        artist = require_artist(uow, event.artist_id)
        created = subs.start_subscription(
            subscription_id=ids.new_id(),
            fan_id=event.fan_id,
            artist_id=event.artist_id,
            plan=artist.plan(event.tier),
            now=event.occurred_at,
            grace_days=artist.grace_days,
            paid=True,
        )
        arrived = _with_state(attrs.evolve(created, external_ref=event.external_ref), event)
        other = uow.subscriptions.live_for(event.fan_id, event.artist_id)
        if arrived.is_live and other is not None:
            # One live subscription per (fan, artist): the newer one wins. A late event of an
            # older subscription must not end the one the fan has now; that older one had ended.
            if other.created_at > event.occurred_at:
                arrived = subs.end_now(arrived, event.occurred_at)
            else:
                uow.subscriptions.save(subs.end_now(other, event.occurred_at))
        uow.subscriptions.add(arrived)
        return True
    uow.subscriptions.save(
        _with_state(current, event, plan=require_artist(uow, current.artist_id).plan(event.tier))
    )
    return True


def _with_state(
    subscription: Subscription,
    event: PaymentEvent,
    *,
    plan: TierPlan | None = None,
) -> Subscription:
    """The subscription as the processor says it is at ``event.occurred_at``."""
    status = _STATUS_AFTER.get(event.kind, event.status)
    past_due_since = subscription.past_due_since
    if status is SubscriptionStatus.PAST_DUE:
        past_due_since = past_due_since or event.occurred_at
    elif status is SubscriptionStatus.ACTIVE:
        past_due_since = None
    return attrs.evolve(
        subscription,
        plan=plan or subscription.plan,
        status=status,
        current_period_end=event.current_period_end,
        last_event_at=event.occurred_at,
        past_due_since=past_due_since,
        canceled_at=event.occurred_at if status is SubscriptionStatus.CANCELED else subscription.canceled_at,
    )


_STATUS_AFTER = {
    PaymentEventKind.SUBSCRIPTION_DELETED: SubscriptionStatus.CANCELED,
    PaymentEventKind.INVOICE_PAYMENT_FAILED: SubscriptionStatus.PAST_DUE,
    PaymentEventKind.INVOICE_PAID: SubscriptionStatus.ACTIVE,
}
