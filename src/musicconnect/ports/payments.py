"""The payment processor, as the domain needs it.

Two ways of billing meet here. ``charge`` and ``pay_out`` move money when the platform is the
billing engine (the offline default: use cases decide when to charge). Checkout, tier changes and
the ``fetch_*`` reads serve a processor that bills subscriptions itself (Stripe Billing): it tells
us what happened through events, and we re-read its objects before applying them, so events may
arrive late, twice or out of order. ``PaymentGateway`` is the first part; ``BillingGateway``
adds the second.

The values below are snapshots of the processor's objects in domain terms: no processor types.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

from musicconnect.domain.errors import NotFound
from musicconnect.domain.money import Money
from musicconnect.domain.payments import ChargeResult, PayoutResult
from musicconnect.domain.subscriptions import SubscriptionStatus
from musicconnect.domain.tiers import Tier, TierPlan


class ForeignObject(NotFound):
    """A processor object that Music Connect did not make (a Dashboard invoice, say): there is
    nothing of ours to apply it to."""

    code = "foreign_object"


@attrs.frozen
class CheckoutSession:
    """Where to send the fan to pay. A processor that completes checkout at once (offline) says
    which subscription it made; otherwise the subscription arrives later through an event."""

    id: str
    url: str
    subscription_ref: str | None = None


@attrs.frozen
class ConnectedAccount:
    """An artist's account at the processor, which receives their share and pays it out."""

    artist_id: str
    external_ref: str
    #: Destination charges may route money to it.
    transfers_enabled: bool
    payouts_enabled: bool
    details_submitted: bool


@attrs.frozen
class OnboardingLink:
    url: str
    expires_at: datetime | None


@attrs.frozen
class SubscriptionSnapshot:
    """A processor-billed subscription as the processor has it now."""

    external_ref: str
    fan_id: str
    artist_id: str
    tier: Tier
    plan_version: int
    price: Money
    status: SubscriptionStatus
    created_at: datetime
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool = False
    #: The tier (and its price version) the subscription moves to at period end, if scheduled.
    scheduled_tier: Tier | None = None
    scheduled_version: int | None = None
    #: When the unpaid period began, for a past_due subscription (its grace period counts from it).
    past_due_since: datetime | None = None
    canceled_at: datetime | None = None
    latest_invoice_ref: str | None = None


@attrs.frozen
class InvoiceSnapshot:
    external_ref: str
    subscription_ref: str | None
    fan_id: str
    artist_id: str
    paid: bool
    amount_paid: Money
    #: The processor's charge that paid it, when paid.
    charge_ref: str | None
    paid_at: datetime | None
    #: Why it was made: subscription_create, subscription_cycle, subscription_update ...
    reason: str


@attrs.frozen
class RefundSnapshot:
    external_ref: str
    amount: Money
    created_at: datetime


@attrs.frozen
class ChargeSnapshot:
    external_ref: str
    fan_id: str
    artist_id: str
    amount: Money
    #: What the processor kept for itself.
    processor_fee: Money
    #: What the processor routed to the platform out of the charge (None when it kept no fee).
    application_fee: Money | None
    created_at: datetime
    #: Successful refunds, oldest first.
    refunds: tuple[RefundSnapshot, ...] = ()


@attrs.frozen
class ApplicationFeeSnapshot:
    external_ref: str
    charge_ref: str
    account_ref: str
    amount: Money


@attrs.frozen
class PayoutSnapshot:
    external_ref: str
    artist_id: str
    amount: Money
    #: pending, in_transit, paid, failed or canceled.
    status: str
    arrival_at: datetime | None


class GatewayEventKind(enum.StrEnum):
    CHECKOUT_COMPLETED = "checkout.completed"
    SUBSCRIPTION_CHANGED = "subscription.changed"
    INVOICE_PAID = "invoice.paid"
    INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
    CHARGE_REFUNDED = "charge.refunded"
    ACCOUNT_UPDATED = "account.updated"
    APPLICATION_FEE_CREATED = "application_fee.created"
    PAYOUT_PAID = "payout.paid"
    #: Anything else the processor sends: recorded, not applied.
    OTHER = "other"


@attrs.frozen
class GatewayEvent:
    """A verified processor event: only what identifies the objects to re-read, never their state."""

    id: str
    kind: GatewayEventKind
    #: The processor's own name for it (``invoice.paid``), for logs.
    type: str
    created: datetime
    object_ref: str
    #: The subscription the object belongs to, when it belongs to one (links never change).
    subscription_ref: str | None = None
    #: The connected account the event happened on (Connect events).
    account_ref: str | None = None


class PaymentGateway(Protocol):
    """Moves money. Every call carries a deterministic idempotency key: a retry never pays twice."""

    def charge(
        self,
        *,
        fan_id: str,
        artist_id: str,
        amount: Money,
        description: str,
        idempotency_key: str,
    ) -> ChargeResult:
        """Take ``amount`` from the fan for the artist; raise PaymentFailed if declined."""
        ...

    def pay_out(self, *, artist_id: str, amount: Money, idempotency_key: str) -> PayoutResult:
        """Send ``amount`` to the artist's bank or connected account."""
        ...


@runtime_checkable
class BillingGateway(PaymentGateway, Protocol):
    """A payment gateway that also hosts checkout, bills subscriptions itself and holds the
    artists' connected accounts (Stripe Billing and Connect; the offline gateway imitates it).

    Mutating calls take an idempotency key from the caller, or derive one from our ids. The
    ``fetch_*`` reads raise NotFound for an unknown reference and ForeignObject for one that is
    not ours; every call raises
    ServiceUnavailable when the processor cannot be reached.
    """

    # --- parties --------------------------------------------------------------------------------

    def ensure_customer(self, *, fan_id: str, email: str) -> str:
        """The fan's customer reference, made on first use; the same fan always gets the same one."""
        ...

    def ensure_price(self, *, artist_id: str, artist_name: str, plan: TierPlan) -> str:
        """The processor's price for this version of the artist's tier, made on first use."""
        ...

    def create_connected_account(self, *, artist_id: str, email: str) -> ConnectedAccount:
        """The artist's connected account, made on first call; later calls return the same one."""
        ...

    def connected_account(self, artist_id: str) -> ConnectedAccount | None: ...

    def onboarding_link(
        self, *, artist_id: str, refresh_url: str, return_url: str, idempotency_key: str
    ) -> OnboardingLink:
        """Where the artist completes their payout details; NotFound without a connected account."""
        ...

    def refresh_account(self, account_ref: str) -> ConnectedAccount:
        """Re-read a connected account and remember its status."""
        ...

    # --- processor-billed subscriptions ------------------------------------------------------------

    def start_checkout(
        self,
        *,
        fan_id: str,
        fan_email: str,
        artist_id: str,
        artist_name: str,
        plan: TierPlan,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        """A hosted payment page for a monthly subscription to ``plan``, paying the artist's share
        to their connected account and the platform's fee to the platform."""
        ...

    def change_subscription_tier(
        self,
        *,
        external_ref: str,
        artist_id: str,
        artist_name: str,
        plan: TierPlan,
        at_period_end: bool,
        idempotency_key: str,
    ) -> SubscriptionSnapshot:
        """Move to ``plan``: at once, charging the prorated difference (PaymentFailed if declined),
        or at the end of the paid period. Moving to the current plan at period end undoes a
        scheduled change or cancellation."""
        ...

    def cancel_at_period_end(self, *, external_ref: str, idempotency_key: str) -> SubscriptionSnapshot: ...

    def fetch_subscription(self, external_ref: str) -> SubscriptionSnapshot: ...

    def fetch_invoice(self, external_ref: str) -> InvoiceSnapshot: ...

    def fetch_charge(self, external_ref: str) -> ChargeSnapshot: ...

    def fetch_application_fee(self, external_ref: str) -> ApplicationFeeSnapshot: ...

    def fetch_payout(self, external_ref: str, *, account_ref: str | None = None) -> PayoutSnapshot: ...
