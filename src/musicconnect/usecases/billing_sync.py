"""Bringing our records in line with what a subscription-billing processor says happened.

Each function works inside a unit of work the caller opened and commits: the webhook handler
(one event) and the checkout and tier-change use cases (their own answer) share them. Every
ledger write is keyed by the processor's id, so booking the same invoice, fee or refund twice
books it once, whichever path gets there first.
"""

from __future__ import annotations

import logging
from datetime import datetime

import attrs

from musicconnect.domain import subscriptions as subs
from musicconnect.domain.accounts import Artist
from musicconnect.domain.ledger import charge_transaction, processing_fee_transaction, refund_transaction
from musicconnect.domain.money import PLATFORM_FEE_PERCENT, Money, split_revenue
from musicconnect.domain.payments import IntentStatus
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus
from musicconnect.domain.tiers import Tier, TierPlan
from musicconnect.ports.payments import ChargeSnapshot, InvoiceSnapshot, SubscriptionSnapshot
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import IdGenerator
from musicconnect.usecases.access import require_artist

log = logging.getLogger(__name__)


def _plan(uow: UnitOfWork, artist: Artist, tier: Tier, version: int, price: Money | None) -> TierPlan:
    """The price version the processor bills, as we recorded it (or as it says, if we never did)."""
    recorded = uow.artists.plan_version(artist.id, tier, version)
    if recorded is not None:
        return recorded
    latest = artist.plan(tier)
    if latest.version == version or price is None:
        return latest
    return attrs.evolve(latest, price=price, version=version)


def apply_snapshot(
    snapshot: SubscriptionSnapshot,
    *,
    uow: UnitOfWork,
    ids: IdGenerator,
    read_at: datetime,
) -> Subscription:
    """Make our subscription say what the processor's says, as read at ``read_at``.

    Whatever order events come in, the last one applied carries the processor's latest state.
    A snapshot read before one already applied is stale and changes nothing, and an ended
    subscription never comes back (a new one has a new reference).
    """
    current = uow.subscriptions.by_external_ref(snapshot.external_ref) or _reserved_for(snapshot, uow)
    if current is not None and (
        current.status is SubscriptionStatus.CANCELED
        or (current.last_event_at is not None and current.last_event_at > read_at)
    ):
        return current
    artist = require_artist(uow, snapshot.artist_id)
    plan = _plan(uow, artist, snapshot.tier, snapshot.plan_version, snapshot.price)
    scheduled = None
    if snapshot.scheduled_tier is not None:
        scheduled = _plan(uow, artist, snapshot.scheduled_tier, snapshot.scheduled_version or 1, None)
    if current is None:
        current = subs.start_subscription(
            subscription_id=ids.new_id(),
            fan_id=snapshot.fan_id,
            artist_id=snapshot.artist_id,
            plan=plan,
            now=snapshot.created_at,
            grace_days=artist.grace_days,
            paid=True,
        )
        current = attrs.evolve(current, external_ref=snapshot.external_ref)
        created = True
    else:
        created = False
    updated = attrs.evolve(
        current,
        plan=plan,
        status=snapshot.status,
        current_period_start=snapshot.current_period_start,
        current_period_end=snapshot.current_period_end,
        cancel_at_period_end=snapshot.cancel_at_period_end,
        scheduled_plan=scheduled,
        past_due_since=(current.past_due_since or snapshot.past_due_since or read_at)
        if snapshot.status is SubscriptionStatus.PAST_DUE
        else None,
        canceled_at=(snapshot.canceled_at or read_at)
        if snapshot.status is SubscriptionStatus.CANCELED
        else None,
        last_event_at=read_at,
        external_ref=snapshot.external_ref,
    )
    if created:
        _add_as_the_live_one(updated, uow=uow, at=read_at)
    else:
        uow.subscriptions.save(updated)
    for intent in uow.intents.of_subscription(updated.id):
        if intent.status is IntentStatus.AWAITING_FAN:
            uow.intents.save(intent.settled(read_at))
    return updated


def _reserved_for(snapshot: SubscriptionSnapshot, uow: UnitOfWork) -> Subscription | None:
    """Our subscription that a checkout was started for, before the processor made its own."""
    if snapshot.subscription_id is None:
        return None
    reserved = uow.subscriptions.get(snapshot.subscription_id)
    if reserved is None or reserved.external_ref is not None or reserved.fan_id != snapshot.fan_id:
        return None
    return reserved


def _add_as_the_live_one(arrived: Subscription, *, uow: UnitOfWork, at: datetime) -> None:
    """One live subscription per (fan, artist): the newer one wins, the older one ends now."""
    other = uow.subscriptions.live_for(arrived.fan_id, arrived.artist_id)
    if arrived.is_live and other is not None:
        if other.created_at > arrived.created_at:
            arrived = subs.end_now(arrived, at)
        else:
            uow.subscriptions.save(subs.end_now(other, at))
    uow.subscriptions.add(arrived)


def book_invoice(invoice: InvoiceSnapshot, *, uow: UnitOfWork, ids: IdGenerator, now: datetime) -> bool:
    """Record a paid invoice as a charge split 90/10, keyed by the invoice id; True if new."""
    if not invoice.paid or invoice.amount_paid.amount_minor <= 0:
        return False
    return uow.ledger.record(
        charge_transaction(
            transaction_id=ids.new_id(),
            idempotency_key=invoice.external_ref,
            artist_id=invoice.artist_id,
            fan_id=invoice.fan_id,
            gross=invoice.amount_paid,
            occurred_at=invoice.paid_at or now,
            memo=f"invoice {invoice.external_ref} ({invoice.reason or 'subscription'})",
        ),
    )


@attrs.frozen
class FeeCheck:
    """The platform's share the 90/10 rule expects on a charge, against what the processor routed."""

    charge_ref: str
    expected: Money
    actual: Money | None

    @property
    def ok(self) -> bool:
        return self.actual is None or self.actual == self.expected


def book_charge_costs(
    charge: ChargeSnapshot,
    *,
    uow: UnitOfWork,
    ids: IdGenerator,
    fee_percent: int = PLATFORM_FEE_PERCENT,
) -> FeeCheck:
    """Record the processing fee the processor actually took (the platform bears it), and check
    the application fee it routed to the platform against the 90/10 split."""
    if charge.processor_fee.amount_minor > 0:
        uow.ledger.record(
            processing_fee_transaction(
                transaction_id=ids.new_id(),
                idempotency_key=f"processing_fee:{charge.external_ref}",
                fee=charge.processor_fee,
                occurred_at=charge.created_at,
                artist_id=charge.artist_id,
                memo=f"processor fee on {charge.external_ref}",
            ),
        )
    check = FeeCheck(
        charge_ref=charge.external_ref,
        expected=split_revenue(charge.amount, fee_percent).platform,
        actual=charge.application_fee,
    )
    if not check.ok:
        log.warning(
            "application fee on %s is %s, the %s %% rule says %s",
            charge.external_ref,
            check.actual,
            fee_percent,
            check.expected,
        )
    return check


def book_refunds(charge: ChargeSnapshot, *, uow: UnitOfWork, ids: IdGenerator) -> int:
    """Record each refund of the charge once (keyed by the refund id), splitting on the running
    total so partial refunds take back exactly the charge's split. Returns how many were new."""
    before = Money.zero(charge.amount.currency)
    booked = 0
    for refund in charge.refunds:
        if uow.ledger.record(
            refund_transaction(
                transaction_id=ids.new_id(),
                idempotency_key=f"refund:{refund.external_ref}",
                artist_id=charge.artist_id,
                fan_id=charge.fan_id,
                amount=refund.amount,
                occurred_at=refund.created_at,
                memo=f"refund {refund.external_ref} of {charge.external_ref}",
                refunded_before=before,
            ),
        ):
            booked += 1
        before += refund.amount
    return booked
