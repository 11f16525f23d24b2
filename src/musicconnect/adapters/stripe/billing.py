"""``StripeSubscriptionBilling``: the subscription use cases' decisions carried out on Stripe Billing.

A paid subscription starts with Checkout (the fan pays on Stripe's page; ``checkout.session.completed``
completes it); after that Stripe bills it every month and its events tell us. Upgrades are
invoiced by Stripe at once, changes that wait for the period end go through a schedule, and an
ending is ``cancel_at_period_end``. Which of these applies is read from the domain's decision
(``request.after``), never decided here.
"""

from __future__ import annotations

from musicconnect.adapters.stripe.gateway import StripePaymentGateway
from musicconnect.domain.errors import InvalidInput
from musicconnect.ports.payments import BillingOutcome, BillingRequest, ReturnUrls


class StripeSubscriptionBilling:
    """``return_urls`` are the platform's own pages, for checkouts whose client named none (and
    for finishing, after a crash, a checkout whose request is gone)."""

    def __init__(self, gateway: StripePaymentGateway, *, return_urls: ReturnUrls | None = None) -> None:
        self._gateway = gateway
        self._return_urls = return_urls

    def start(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome:
        urls = request.return_urls or self._return_urls
        if urls is None:
            raise InvalidInput("paying on Stripe needs the pages to return to (success_url, cancel_url)")
        after = request.after
        self._remember(request)
        session = self._gateway.start_checkout(
            fan_id=after.fan_id,
            fan_email=request.fan_email,
            artist_id=after.artist_id,
            artist_name=request.artist_name,
            plan=after.plan,
            success_url=urls.success_url,
            cancel_url=urls.cancel_url,
            idempotency_key=idempotency_key,
            subscription_id=after.id,
        )
        customer = self._gateway.ensure_customer(fan_id=after.fan_id, email=request.fan_email)
        return BillingOutcome(checkout=session, customer_ref=customer)

    def _remember(self, request: BillingRequest) -> None:
        """What we stored of the fan's and the artist's ids, so this process need not look."""
        if request.customer_ref is not None:
            self._gateway.remember_customer(fan_id=request.after.fan_id, customer_ref=request.customer_ref)
        if request.account is not None:
            self._gateway.remember_account(request.account)

    def change(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome:
        before, after = request.before, request.after
        gateway = self._gateway
        if before.external_ref is None:
            # Not at Stripe yet (a free subscription): money starts moving through Checkout, and
            # anything that moves no money has nothing to tell Stripe.
            if request.amount.amount_minor > 0:
                return self.start(request, idempotency_key=idempotency_key)
            return BillingOutcome()
        if after.cancel_at_period_end:
            ending = gateway.cancel_at_period_end(
                external_ref=before.external_ref, idempotency_key=idempotency_key
            )
            return BillingOutcome(subscription=ending)
        upgraded = after.tier.rank > before.tier.rank
        # Only an upgrade makes an invoice; the one it made is the latest one, if it was not before.
        earlier = gateway.fetch_subscription(before.external_ref).latest_invoice_ref if upgraded else None
        snapshot = gateway.change_subscription_tier(
            external_ref=before.external_ref,
            artist_id=after.artist_id,
            artist_name=request.artist_name,
            plan=after.scheduled_plan or after.plan,
            at_period_end=not upgraded,
            idempotency_key=idempotency_key,
        )
        made = snapshot.latest_invoice_ref if upgraded and snapshot.latest_invoice_ref != earlier else None
        invoice = gateway.fetch_invoice(made) if made else None
        paid_by = invoice.charge_ref if invoice is not None and invoice.paid else None
        charge = gateway.fetch_charge(paid_by) if paid_by else None
        return BillingOutcome(subscription=snapshot, invoice=invoice, invoice_charge=charge)

    def renew(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome:
        """A subscription the platform bills (none is, once Stripe bills them): its saved card."""
        after = request.after
        charge = self._gateway.charge(
            fan_id=after.fan_id,
            artist_id=after.artist_id,
            amount=request.amount,
            description=request.description,
            idempotency_key=idempotency_key,
        )
        return BillingOutcome(charge=charge)
