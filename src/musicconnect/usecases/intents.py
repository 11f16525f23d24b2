"""Carrying out a subscription's payment intent: call the processor, then record what it did.

The reserve step (in ``usecases.subscriptions``) has committed a ``PaymentIntent``. ``complete``
does the rest, outside any transaction while the processor is asked:

1. read the intent and the subscription, and work out what the domain says the subscription
   becomes (``after``);
2. call ``SubscriptionBilling`` with the intent's key: asked again with it, the processor answers
   what it answered the first time and moves no more money;
3. in one unit of work, book the money, write ``after`` (or the processor's own state, when it
   bills the subscription itself) and settle the intent.

So ``complete`` may run twice for one intent (the request that reserved it, and the repair of a
crash): the processor charges once, the ledger books its key once, and the second recorder finds
the intent settled and leaves it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import attrs

from musicconnect.domain import subscriptions as subs
from musicconnect.domain.errors import Conflict, InvalidInput, NotFound, PaymentFailed
from musicconnect.domain.ledger import charge_transaction
from musicconnect.domain.money import Money
from musicconnect.domain.payments import IntentKind, LinkKind, PaymentIntent, ProcessorLink
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus
from musicconnect.ports.payments import (
    BillingOutcome,
    BillingRequest,
    CheckoutSession,
    ReturnUrls,
    SubscriptionBilling,
)
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, IdGenerator
from musicconnect.usecases.access import require_artist
from musicconnect.usecases.billing_sync import apply_snapshot, book_charge_costs, book_invoice

log = logging.getLogger(__name__)


@attrs.frozen
class Completed:
    """What became of an intent."""

    subscription: Subscription
    #: What the fan was charged now (zero when nothing was, or not yet).
    charged: Money
    #: Set when the fan must pay on the processor's page before anything changes.
    checkout: CheckoutSession | None = None


def complete(
    key: str,
    *,
    uow: UnitOfWork,
    billing: SubscriptionBilling,
    ids: IdGenerator,
    clock: Clock,
    return_urls: ReturnUrls | None = None,
) -> Completed:
    """Carry out the subscription intent ``key``. Raises PaymentFailed (after recording the
    refusal) when the processor declines a start or a change; a declined renewal is recorded
    as past due and returned."""
    with uow:
        intent = uow.intents.get(key)
        if intent is None or intent.subscription_id is None:
            raise NotFound(f"no subscription payment {key}")
        before = uow.subscriptions.get(intent.subscription_id)
        if before is None:
            raise NotFound(f"no subscription {intent.subscription_id}")
        if not intent.is_unsettled:
            return Completed(before, Money.zero(intent.amount.currency))
        artist = require_artist(uow, intent.artist_id)
        fan = uow.accounts.get(before.fan_id)
        customer = uow.processor_links.get(LinkKind.CUSTOMER, before.fan_id)
        account = uow.processor_links.get(LinkKind.CONNECTED_ACCOUNT, before.artist_id)
        try:
            after = _after(intent, before, uow=uow, now=clock.now())
        except Conflict:
            if not _already_done(intent, before):
                # The subscription moved on since the reservation (it ended, say): what was
                # reserved no longer applies.
                uow.intents.save(intent.failed(clock.now()))
                uow.commit()
                raise
            # The processor's own events brought the change already (its request died before
            # recording it): asking again with the key returns what it did, and it is recorded.
            after = before
    request = BillingRequest(
        before=before,
        after=after,
        amount=intent.amount,
        fan_email=fan.email if fan is not None else "",
        artist_name=artist.display_name,
        description=_DESCRIPTIONS[intent.kind].format(tier=after.tier, artist=artist.display_name),
        return_urls=return_urls,
        customer_ref=customer.external_ref if customer is not None else None,
        account=account,
    )
    call = _CALLS[intent.kind](billing)
    # Taken before asking: a processor event read meanwhile is newer than this answer.
    asked_at = clock.now()
    try:
        outcome = call(request, idempotency_key=intent.key)
    except PaymentFailed:
        _record_refusal(intent, after, uow=uow, now=clock.now())
        if intent.kind is IntentKind.RENEWAL:
            return Completed(subs.mark_past_due(after, clock.now()), Money.zero(intent.amount.currency))
        raise
    except (InvalidInput, Conflict, NotFound):
        # Refused before anything was done (the artist cannot take payments yet, say): what was
        # reserved will not happen. A renewal stays open for the next run to try again.
        if intent.kind is not IntentKind.RENEWAL:
            _record_refusal(intent, after, uow=uow, now=clock.now())
        raise
    return _record(intent, after, outcome, uow=uow, ids=ids, now=asked_at)


_DESCRIPTIONS = {
    IntentKind.START: "{tier} subscription to {artist}",
    IntentKind.CHANGE: "change to {tier} with {artist} (prorated)",
    IntentKind.RENEWAL: "{tier} renewal with {artist}",
}

_Call = Callable[..., BillingOutcome]
_CALLS: dict[IntentKind, Callable[[SubscriptionBilling], _Call]] = {
    IntentKind.START: lambda billing: billing.start,
    IntentKind.CHANGE: lambda billing: billing.change,
    IntentKind.RENEWAL: lambda billing: billing.renew,
}


def _after(intent: PaymentIntent, before: Subscription, *, uow: UnitOfWork, now: datetime) -> Subscription:
    """What the domain says the subscription becomes once the intent's money has moved."""
    if intent.kind is IntentKind.START:
        return subs.mark_paid(before)
    if intent.kind is IntentKind.RENEWAL:
        renewal = subs.renew(before, now)
        if renewal is None:
            raise Conflict(f"subscription {before.id} is not due for renewal any more")
        return renewal.subscription
    if intent.tier is None or intent.plan_version is None:
        raise NotFound(f"the change {intent.key} names no plan")
    plan = uow.artists.plan_version(intent.artist_id, intent.tier, intent.plan_version)
    if plan is None:
        raise NotFound(f"no {intent.tier} plan version {intent.plan_version}")
    return subs.change_tier(before, plan, now).subscription


def _already_done(intent: PaymentIntent, subscription: Subscription) -> bool:
    """Whether a tier change's target is what the subscription already has or has scheduled.

    A change with no plan scheduled is done once the subscription moves to its tier at period
    end: that is the domain's ``pending_tier`` (a cancellation moves to free), so the rule "free
    means cancel" stays in ``domain.subscriptions`` alone."""
    if intent.kind is not IntentKind.CHANGE:
        return False
    if subscription.scheduled_plan is None and subscription.pending_tier is intent.tier:
        return True
    plans = [subscription.plan, subscription.scheduled_plan]
    return any(p is not None and (p.tier, p.version) == (intent.tier, intent.plan_version) for p in plans)


def _record_refusal(intent: PaymentIntent, after: Subscription, *, uow: UnitOfWork, now: datetime) -> None:
    with uow:
        current = uow.intents.get(intent.key)
        if current is None or not current.is_unsettled:
            return
        if intent.kind is IntentKind.START:
            # A first payment refused: the reserved subscription never started.
            started = uow.subscriptions.get(after.id)
            if started is not None and started.status is SubscriptionStatus.INCOMPLETE:
                uow.subscriptions.save(subs.end_now(started, now))
        elif intent.kind is IntentKind.RENEWAL:
            uow.subscriptions.save(subs.mark_past_due(after, now))
        uow.intents.save(current.failed(now))
        uow.commit()


def _record(
    intent: PaymentIntent,
    after: Subscription,
    outcome: BillingOutcome,
    *,
    uow: UnitOfWork,
    ids: IdGenerator,
    now: datetime,
) -> Completed:
    nothing = Money.zero(intent.amount.currency)
    try:
        with uow:
            current = uow.intents.get(intent.key)
            if current is None or not current.is_unsettled:
                # Recorded already (by the processor's event, or a repair that got there first).
                return Completed(uow.subscriptions.get(after.id) or after, nothing)
            if outcome.customer_ref is not None:
                uow.processor_links.save(ProcessorLink(LinkKind.CUSTOMER, after.fan_id, outcome.customer_ref))
            if outcome.checkout is not None:
                if current.external_ref != outcome.checkout.id:
                    uow.intents.save(current.awaiting_fan(outcome.checkout.id))
                uow.commit()
                # Nothing changes until the fan has paid on the processor's page.
                unchanged = uow.subscriptions.get(after.id) or after
                return Completed(unchanged, nothing, outcome.checkout)
            recorded, charged = _book(intent, after, outcome, uow=uow, ids=ids, now=now)
            charge_ref = outcome.charge.charge_id if outcome.charge is not None else None
            uow.intents.save(current.settled(now, external_ref=charge_ref))
            uow.commit()
    except Conflict:
        # Another recorder of this intent committed first; what it wrote is the outcome.
        with uow:
            subscription = uow.subscriptions.get(after.id)
        if subscription is None:
            raise
        return Completed(subscription, nothing, outcome.checkout)
    return Completed(recorded, charged)


def _book(
    intent: PaymentIntent,
    after: Subscription,
    outcome: BillingOutcome,
    *,
    uow: UnitOfWork,
    ids: IdGenerator,
    now: datetime,
) -> tuple[Subscription, Money]:
    """Write the subscription's new state and the money that moved; return both."""
    if outcome.subscription is not None:
        # The processor bills this subscription itself: its state is the truth.
        recorded = apply_snapshot(outcome.subscription, uow=uow, ids=ids, read_at=now)
        charged = Money.zero(intent.amount.currency)
        if outcome.invoice is not None:
            book_invoice(outcome.invoice, uow=uow, ids=ids, now=now)
            if outcome.invoice.paid:
                charged = outcome.invoice.amount_paid
        if outcome.invoice_charge is not None:
            book_charge_costs(outcome.invoice_charge, uow=uow, ids=ids)
        return recorded, charged
    uow.subscriptions.save(after)
    if outcome.charge is None:
        return after, Money.zero(intent.amount.currency)
    uow.ledger.record(
        charge_transaction(
            transaction_id=ids.new_id(),
            idempotency_key=intent.key,
            artist_id=after.artist_id,
            fan_id=after.fan_id,
            gross=outcome.charge.gross,
            occurred_at=now,
            memo=f"{intent.kind} {intent.key}",
        ),
    )
    return after, outcome.charge.gross
