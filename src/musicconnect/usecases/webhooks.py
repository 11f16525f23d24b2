"""Applying a payment processor's events: each at most once, in any order, all or nothing.

- The event says only which objects changed. Their state is re-read from the processor first,
  outside any transaction (no database lock is held across a network call); a subscription read
  earlier than one already applied is recognised as stale and left alone. So whichever order
  events arrive in, the state applied last is the latest.
- Then one unit of work records the effects and the event id together: a failure part-way
  commits nothing and the redelivery starts over; a redelivery after success is a duplicate.
- Two deliveries of one event at the same moment: one commits, the other finds the event recorded
  and answers as a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Final

import attrs

from musicconnect.domain.errors import Conflict
from musicconnect.domain.ledger import payout_reversal_transaction
from musicconnect.domain.money import PLATFORM_FEE_PERCENT
from musicconnect.domain.payments import PayoutStatus
from musicconnect.ports.payments import (
    ChargeSnapshot,
    ConnectedAccounts,
    ForeignObject,
    GatewayEvent,
    GatewayEventKind,
    InvoiceSnapshot,
    ProcessorReads,
    SubscriptionSnapshot,
)
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, IdGenerator
from musicconnect.usecases.billing_sync import (
    FeeCheck,
    apply_snapshot,
    book_charge_costs,
    book_invoice,
    book_refunds,
)

log = logging.getLogger(__name__)

#: Attempts when a concurrent unit of work committed a conflicting write first.
_ATTEMPTS: Final = 3


@attrs.frozen
class WebhookOutcome:
    event_id: str
    #: Our records changed (or were confirmed) because of this event.
    applied: bool
    #: The event had been applied before: nothing was done this time.
    duplicate: bool = False
    detail: str = ""
    fee_check: FeeCheck | None = None


@attrs.frozen
class _Context:
    reads: ProcessorReads
    accounts: ConnectedAccounts
    ids: IdGenerator
    clock: Clock
    fee_percent: int


#: What an event's re-read found, ready to be written in one unit of work.
_Apply = Callable[[UnitOfWork], WebhookOutcome]


def handle_stripe_event(
    event: GatewayEvent,
    *,
    uow: UnitOfWork,
    reads: ProcessorReads,
    accounts: ConnectedAccounts,
    ids: IdGenerator,
    clock: Clock,
    fee_percent: int = PLATFORM_FEE_PERCENT,
) -> WebhookOutcome:
    """Apply a verified processor event at most once.

    Raises whatever stopped it (the processor unreachable, a record missing): nothing is
    committed then, and the processor's redelivery applies it later.
    """
    context = _Context(reads=reads, accounts=accounts, ids=ids, clock=clock, fee_percent=fee_percent)
    for attempt in range(1, _ATTEMPTS + 1):
        with uow:
            if uow.processed_events.seen(event.id):
                return WebhookOutcome(event.id, applied=False, duplicate=True)
        apply = _read(event, context)
        try:
            return _write(event, apply, uow=uow, now=clock.now())
        except Conflict:
            # Someone committed first: this very event (then it is done), or a neighbour's write
            # (then read and apply again on top of it).
            if attempt == _ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _read(event: GatewayEvent, context: _Context) -> _Apply:
    try:
        return _READERS.get(event.kind, _ignore)(event, context)
    except ForeignObject as foreign:
        detail = foreign.detail
        log.info("event %s (%s) is not about our objects: %s", event.id, event.type, detail)
        return lambda _: WebhookOutcome(event.id, applied=False, detail=detail)


def _write(event: GatewayEvent, apply: _Apply, *, uow: UnitOfWork, now: datetime) -> WebhookOutcome:
    with uow:
        if not uow.processed_events.mark(event.id, now):
            return WebhookOutcome(event.id, applied=False, duplicate=True)
        outcome = apply(uow)
        uow.commit()
    return outcome


def _ignore(event: GatewayEvent, context: _Context) -> _Apply:
    del context
    return lambda _: WebhookOutcome(event.id, applied=False, detail=f"{event.type} needs nothing from us")


@attrs.frozen
class _Subscription:
    snapshot: SubscriptionSnapshot
    read_at: datetime

    @classmethod
    def read(cls, subscription_ref: str, context: _Context) -> _Subscription:
        read_at = context.clock.now()  # taken before the read: what was applied since is newer
        return cls(context.reads.fetch_subscription(subscription_ref), read_at)

    def apply(self, uow: UnitOfWork, context: _Context) -> str:
        applied = apply_snapshot(self.snapshot, uow=uow, ids=context.ids, read_at=self.read_at)
        return f"subscription {self.snapshot.external_ref}: {applied.tier} {applied.status}"


@attrs.frozen
class _PaidInvoice:
    invoice: InvoiceSnapshot
    charge: ChargeSnapshot | None

    @classmethod
    def read(cls, invoice_ref: str, context: _Context) -> _PaidInvoice:
        invoice = context.reads.fetch_invoice(invoice_ref)
        paid_by = invoice.charge_ref if invoice.paid else None
        return cls(invoice, context.reads.fetch_charge(paid_by) if paid_by else None)

    def apply(self, uow: UnitOfWork, context: _Context) -> FeeCheck | None:
        book_invoice(self.invoice, uow=uow, ids=context.ids, now=context.clock.now())
        if self.charge is None:
            return None
        return book_charge_costs(self.charge, uow=uow, ids=context.ids, fee_percent=context.fee_percent)


def _subscription_changed(event: GatewayEvent, context: _Context) -> _Apply:
    if event.subscription_ref is None:
        return _ignore(event, context)
    subscription = _Subscription.read(event.subscription_ref, context)
    return lambda uow: WebhookOutcome(event.id, applied=True, detail=subscription.apply(uow, context))


def _checkout_completed(event: GatewayEvent, context: _Context) -> _Apply:
    """The first invoice is booked here too: whichever of this and invoice.paid comes first."""
    if event.subscription_ref is None:
        return _ignore(event, context)
    subscription = _Subscription.read(event.subscription_ref, context)
    latest = subscription.snapshot.latest_invoice_ref
    invoice = _PaidInvoice.read(latest, context) if latest else None

    def apply(uow: UnitOfWork) -> WebhookOutcome:
        detail = subscription.apply(uow, context)
        check = invoice.apply(uow, context) if invoice else None
        return WebhookOutcome(event.id, applied=True, detail=detail, fee_check=check)

    return apply


def _invoice_paid(event: GatewayEvent, context: _Context) -> _Apply:
    invoice = _PaidInvoice.read(event.object_ref, context)
    subscription = _Subscription.read(event.subscription_ref, context) if event.subscription_ref else None

    def apply(uow: UnitOfWork) -> WebhookOutcome:
        check = invoice.apply(uow, context)
        detail = subscription.apply(uow, context) if subscription else ""
        return WebhookOutcome(event.id, applied=True, detail=detail, fee_check=check)

    return apply


def _charge_refunded(event: GatewayEvent, context: _Context) -> _Apply:
    charge = context.reads.fetch_charge(event.object_ref)

    def apply(uow: UnitOfWork) -> WebhookOutcome:
        booked = book_refunds(charge, uow=uow, ids=context.ids)
        detail = f"{booked} new refund(s) of {charge.external_ref}"
        return WebhookOutcome(event.id, applied=True, detail=detail)

    return apply


def _application_fee_created(event: GatewayEvent, context: _Context) -> _Apply:
    fee = context.reads.fetch_application_fee(event.object_ref)
    charge = context.reads.fetch_charge(fee.charge_ref)

    def apply(uow: UnitOfWork) -> WebhookOutcome:
        check = book_charge_costs(charge, uow=uow, ids=context.ids, fee_percent=context.fee_percent)
        return WebhookOutcome(event.id, applied=True, detail=f"fee on {fee.charge_ref}", fee_check=check)

    return apply


def _account_updated(event: GatewayEvent, context: _Context) -> _Apply:
    account = context.accounts.refresh_account(event.account_ref or event.object_ref)
    enabled = f"transfers {account.transfers_enabled}, payouts {account.payouts_enabled}"

    def apply(uow: UnitOfWork) -> WebhookOutcome:
        uow.processor_links.save(account.link)
        return WebhookOutcome(event.id, applied=True, detail=f"artist {account.artist_id}: {enabled}")

    return apply


def _payout_updated(event: GatewayEvent, context: _Context) -> _Apply:
    payout = context.reads.fetch_payout(event.object_ref, account_ref=event.account_ref)

    def apply(uow: UnitOfWork) -> WebhookOutcome:
        ours = uow.payouts.by_external_ref(payout.external_ref)
        if ours is None:
            return WebhookOutcome(event.id, applied=False, detail=f"payout {payout.external_ref} is not ours")
        if ours.amount != payout.amount:
            log.error(
                "payout %s arrived as %s but we sent %s", payout.external_ref, payout.amount, ours.amount
            )
        status = PayoutStatus.parse(payout.status)
        arrived = payout.arrival_at if status is PayoutStatus.PAID else None
        uow.payouts.save(attrs.evolve(ours, status=status, arrived_at=arrived))
        if status.undelivered:
            # Booked as paid when it was sent: owed to the artist again, and paid by the next run.
            uow.ledger.record(
                payout_reversal_transaction(
                    transaction_id=context.ids.new_id(),
                    artist_id=ours.artist_id,
                    payout_ref=payout.external_ref,
                    amount=ours.amount,
                    occurred_at=context.clock.now(),
                ),
            )
        return WebhookOutcome(event.id, applied=True, detail=f"payout {payout.external_ref} {status}")

    return apply


_READERS: Final[dict[GatewayEventKind, Callable[[GatewayEvent, _Context], _Apply]]] = {
    GatewayEventKind.CHECKOUT_COMPLETED: _checkout_completed,
    GatewayEventKind.SUBSCRIPTION_CHANGED: _subscription_changed,
    GatewayEventKind.INVOICE_PAYMENT_FAILED: _subscription_changed,
    GatewayEventKind.INVOICE_PAID: _invoice_paid,
    GatewayEventKind.CHARGE_REFUNDED: _charge_refunded,
    GatewayEventKind.APPLICATION_FEE_CREATED: _application_fee_created,
    GatewayEventKind.ACCOUNT_UPDATED: _account_updated,
    GatewayEventKind.PAYOUT_UPDATED: _payout_updated,
}


@attrs.frozen
class Webhooks:
    """The payment processor's events, applied at most once; bound once to their ports."""

    uow: Callable[[], UnitOfWork]
    reads: ProcessorReads
    accounts: ConnectedAccounts
    ids: IdGenerator
    clock: Clock

    def handle(self, event: GatewayEvent) -> WebhookOutcome:
        """Apply a verified processor event at most once (see ``handle_stripe_event``)."""
        return handle_stripe_event(
            event, uow=self.uow(), reads=self.reads, accounts=self.accounts, ids=self.ids, clock=self.clock
        )
