"""Subscriptions a processor bills itself (Stripe Billing): checkout, tier changes, cancellation,
and an artist's payout onboarding.

The processor is the source of truth: each use case asks it to act, then applies the state it
answers with, so the fan sees the change at once; the processor's events bring the same state
again later (and anything that happened since). A subscription we bill ourselves (no processor
reference) is handed to the offline use cases in ``usecases.subscriptions``.
"""

from __future__ import annotations

from musicconnect.domain import subscriptions as subs
from musicconnect.domain.accounts import Caller
from musicconnect.domain.errors import Conflict, InvalidInput, NotFound
from musicconnect.domain.money import Money
from musicconnect.domain.subscriptions import Subscription
from musicconnect.domain.tiers import Tier
from musicconnect.ports.payments import BillingGateway, CheckoutSession, OnboardingLink
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, IdGenerator
from musicconnect.usecases import subscriptions as billed_here
from musicconnect.usecases.access import require_artist, require_fan, require_owner
from musicconnect.usecases.billing_sync import apply_snapshot, book_charge_costs, book_invoice


def _email_of(uow: UnitOfWork, account_id: str) -> str:
    account = uow.accounts.get(account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account.email


def start_checkout(
    artist_id: str,
    tier: Tier,
    *,
    caller: Caller,
    success_url: str,
    cancel_url: str,
    uow: UnitOfWork,
    gateway: BillingGateway,
    ids: IdGenerator,
    clock: Clock,
) -> CheckoutSession:
    """A payment page for a paid tier. Asking again before paying returns the same page: the key
    counts the fan's subscriptions to the artist, which only a completed checkout changes."""
    require_fan(caller)
    if tier is Tier.FREE:
        raise InvalidInput("the free tier needs no checkout; follow the artist instead")
    with uow:
        artist = require_artist(uow, artist_id)
        live = uow.subscriptions.live_for(caller.id, artist_id)
        if live is not None and live.tier is not Tier.FREE:
            raise Conflict("already subscribed to this artist; change tier instead")
        plan = artist.plan(tier)
        email = _email_of(uow, caller.id)
        earlier = sum(1 for s in uow.subscriptions.of_fan(caller.id) if s.artist_id == artist_id)
    session = gateway.start_checkout(
        fan_id=caller.id,
        fan_email=email,
        artist_id=artist_id,
        artist_name=artist.display_name,
        plan=plan,
        success_url=success_url,
        cancel_url=cancel_url,
        idempotency_key=f"checkout:{caller.id}:{artist_id}:{tier}:v{plan.version}:n{earlier}",
    )
    if session.subscription_ref is not None:
        # The processor completed checkout at once (offline): take the subscription in now.
        _take_in(session.subscription_ref, uow=uow, gateway=gateway, ids=ids, clock=clock)
    return session


def _take_in(
    subscription_ref: str, *, uow: UnitOfWork, gateway: BillingGateway, ids: IdGenerator, clock: Clock
) -> Subscription:
    """Apply the processor's subscription and book its latest invoice, in one unit of work."""
    read_at = clock.now()
    snapshot = gateway.fetch_subscription(subscription_ref)
    invoice = gateway.fetch_invoice(snapshot.latest_invoice_ref) if snapshot.latest_invoice_ref else None
    charge = (
        gateway.fetch_charge(invoice.charge_ref) if invoice and invoice.paid and invoice.charge_ref else None
    )
    with uow:
        applied = apply_snapshot(snapshot, uow=uow, ids=ids, read_at=read_at)
        if invoice is not None:
            book_invoice(invoice, uow=uow, ids=ids, now=read_at)
        if charge is not None:
            book_charge_costs(charge, uow=uow, ids=ids)
        uow.commit()
    return applied


def change_tier(
    artist_id: str,
    tier: Tier,
    *,
    caller: Caller,
    uow: UnitOfWork,
    gateway: BillingGateway,
    ids: IdGenerator,
    clock: Clock,
) -> billed_here.TierChangeResult:
    """Upgrade at once, the processor charging the prorated difference; downgrade at period end."""
    require_fan(caller)
    now = clock.now()
    with uow:
        artist = require_artist(uow, artist_id)
        current = uow.subscriptions.live_for(caller.id, artist_id)
        if current is None:
            raise NotFound("no subscription to this artist")
        plan = artist.plan(tier)
        # The domain's rules decide (refusals included); the processor carries them out.
        change = subs.change_tier(current, plan, now)
    if current.external_ref is None:
        return billed_here.change_tier(
            artist_id, tier, caller=caller, uow=uow, gateway=gateway, ids=ids, clock=clock
        )
    mode = "now" if change.upgraded else "period_end"
    # Only an upgrade makes an invoice; the one it made is the latest one, if it was not before.
    before = gateway.fetch_subscription(current.external_ref).latest_invoice_ref if change.upgraded else None
    snapshot = gateway.change_subscription_tier(
        external_ref=current.external_ref,
        artist_id=artist_id,
        artist_name=artist.display_name,
        plan=plan,
        at_period_end=not change.upgraded,
        idempotency_key=f"subscription:{current.external_ref}:{tier}:v{plan.version}:{mode}:{now.isoformat()}",
    )
    made = snapshot.latest_invoice_ref if change.upgraded and snapshot.latest_invoice_ref != before else None
    invoice = gateway.fetch_invoice(made) if made else None
    charge = (
        gateway.fetch_charge(invoice.charge_ref) if invoice and invoice.paid and invoice.charge_ref else None
    )
    with uow:
        applied = apply_snapshot(snapshot, uow=uow, ids=ids, read_at=clock.now())
        if invoice is not None:
            book_invoice(invoice, uow=uow, ids=ids, now=now)
        if charge is not None:
            book_charge_costs(charge, uow=uow, ids=ids)
        uow.commit()
    charged = invoice.amount_paid if invoice is not None and invoice.paid else Money.zero(plan.price.currency)
    return billed_here.TierChangeResult(applied, charged)


def cancel(
    artist_id: str,
    *,
    caller: Caller,
    uow: UnitOfWork,
    gateway: BillingGateway,
    ids: IdGenerator,
    clock: Clock,
) -> Subscription:
    """Cancel at the end of the paid period; access stays until then."""
    require_fan(caller)
    with uow:
        current = uow.subscriptions.live_for(caller.id, artist_id)
        if current is None:
            raise NotFound("no subscription to this artist")
        subs.cancel_at_period_end(current)  # refuses what the domain refuses
    if current.external_ref is None:
        return billed_here.cancel(artist_id, caller=caller, uow=uow)
    now = clock.now()
    snapshot = gateway.cancel_at_period_end(
        external_ref=current.external_ref,
        idempotency_key=f"subscription:{current.external_ref}:cancel:{now.isoformat()}",
    )
    with uow:
        applied = apply_snapshot(snapshot, uow=uow, ids=ids, read_at=clock.now())
        uow.commit()
    return applied


def start_payouts_onboarding(
    artist_id: str,
    *,
    caller: Caller,
    refresh_url: str,
    return_url: str,
    uow: UnitOfWork,
    gateway: BillingGateway,
    clock: Clock,
) -> OnboardingLink:
    """The artist's connected account (made on first call) and a link to finish setting it up."""
    require_owner(caller, artist_id)
    with uow:
        require_artist(uow, artist_id)
        email = _email_of(uow, artist_id)
    gateway.create_connected_account(artist_id=artist_id, email=email)
    return gateway.onboarding_link(
        artist_id=artist_id,
        refresh_url=refresh_url,
        return_url=return_url,
        idempotency_key=f"onboarding:{artist_id}:{clock.now().isoformat()}",
    )
