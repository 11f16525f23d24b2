"""The payment processor, as the use cases need it: small roles, one per need.

- ``SubscriptionBilling`` carries out what the subscription use cases decided (start, change,
  renew). Offline it charges the amount the domain computed; on Stripe it starts Checkout and
  moves the Stripe subscription, which then bills itself.
- ``Charges`` and ``PayoutSender`` move one-off money; ``ConnectedAccounts`` holds the artists'
  payout accounts; ``ProcessorReads`` re-reads the processor's objects when its events arrive
  (late, twice or out of order), so what is applied is always its latest state.
- ``EventVerifier`` checks a processor's signed events (webhooks); only a processor that sends
  them has one.

The values below are snapshots of the processor's objects in domain terms: no processor types.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Protocol

import attrs

from musicconnect.domain.errors import NotFound
from musicconnect.domain.money import Money
from musicconnect.domain.payments import ChargeResult, LinkKind, PayoutResult, ProcessorLink
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus
from musicconnect.domain.tiers import Tier


class ForeignObject(NotFound):
    """A processor object that Music Connect did not make (a Dashboard invoice, say): there is
    nothing of ours to apply it to."""

    code = "foreign_object"


@attrs.frozen
class CheckoutSession:
    """Where to send the fan to pay; the subscription arrives later, through the processor's event."""

    id: str
    url: str


@attrs.frozen
class ConnectedAccount:
    """An artist's account at the processor, which receives their share and pays it out."""

    artist_id: str
    external_ref: str
    #: Destination charges may route money to it.
    transfers_enabled: bool
    payouts_enabled: bool
    details_submitted: bool

    @property
    def link(self) -> ProcessorLink:
        """What we keep of it: its id, and whether money may be routed to it yet."""
        return ProcessorLink(
            LinkKind.CONNECTED_ACCOUNT, self.artist_id, self.external_ref, self.transfers_enabled
        )


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
    #: Our subscription it was made for, when we reserved one before asking (checkout).
    subscription_id: str | None = None


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
    #: A payout arrived, failed or was canceled: its status is re-read.
    PAYOUT_UPDATED = "payout.updated"
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


class Charges(Protocol):
    """One-off charges of a fan's saved payment method, for money the platform decided to take."""

    def charge(
        self,
        *,
        fan_id: str,
        artist_id: str,
        amount: Money,
        description: str,
        idempotency_key: str,
    ) -> ChargeResult:
        """Take ``amount`` from the fan for the artist; raise PaymentFailed if declined.

        The same key always returns the first result: a retry never charges twice."""
        ...


class PayoutSender(Protocol):
    def pay_out(
        self, *, artist_id: str, amount: Money, idempotency_key: str, account_ref: str | None = None
    ) -> PayoutResult:
        """Send ``amount`` to the artist's bank or connected account (``account_ref`` when we know
        it), once per key."""
        ...


@attrs.frozen
class ReturnUrls:
    """Where a hosted payment page sends the fan back to."""

    success_url: str
    cancel_url: str


@attrs.frozen
class BillingRequest:
    """A subscription change the use case decided, for the processor to carry out.

    ``before`` is the subscription as it is, ``after`` as the domain says it must become, and
    ``amount`` what the domain says to take now (the first month, a prorated difference, a
    renewal; zero for changes that wait for the period end).
    """

    before: Subscription
    after: Subscription
    amount: Money
    fan_email: str
    artist_name: str
    description: str
    return_urls: ReturnUrls | None = None
    #: The fan's customer at the processor, when we know it already.
    customer_ref: str | None = None
    #: The artist's connected account, when we know it already.
    account: ProcessorLink | None = None


@attrs.frozen
class BillingOutcome:
    """What the processor did. At most one of the first two is set."""

    #: Money taken now, booked under the intent's key.
    charge: ChargeResult | None = None
    #: The fan pays on this page; the processor's event completes the subscription later.
    checkout: CheckoutSession | None = None
    #: A processor that bills subscriptions itself: its subscription as it is now, and the
    #: invoice (with the charge that paid it) that this change made, if any.
    subscription: SubscriptionSnapshot | None = None
    invoice: InvoiceSnapshot | None = None
    invoice_charge: ChargeSnapshot | None = None
    #: The fan's customer at the processor, for us to keep.
    customer_ref: str | None = None


class SubscriptionBilling(Protocol):
    """Carries out the subscription use cases' decisions where the money is.

    Every call carries the key of the intent it serves: calling again with it (a retry, or the
    repair of an intent a crash left open) returns the first outcome and moves no more money.
    Raise PaymentFailed when declined, ServiceUnavailable when the processor cannot be reached.
    """

    def start(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome: ...

    def change(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome: ...

    def renew(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome: ...


class ConnectedAccounts(Protocol):
    """The artists' accounts at the processor, which receive their share and pay it out."""

    def create_connected_account(self, *, artist_id: str, email: str) -> ConnectedAccount:
        """The artist's connected account, made on first call; later calls return the same one."""
        ...

    def onboarding_link(
        self, *, artist_id: str, refresh_url: str, return_url: str, idempotency_key: str
    ) -> OnboardingLink:
        """Where the artist completes their payout details; NotFound without a connected account."""
        ...

    def refresh_account(self, account_ref: str) -> ConnectedAccount:
        """Re-read a connected account and remember its status."""
        ...


class ProcessorReads(Protocol):
    """The processor's objects as they are now. Raise NotFound for an unknown reference,
    ForeignObject for one that is not ours, ServiceUnavailable when it cannot be reached."""

    def fetch_subscription(self, external_ref: str) -> SubscriptionSnapshot: ...

    def fetch_invoice(self, external_ref: str) -> InvoiceSnapshot: ...

    def fetch_charge(self, external_ref: str) -> ChargeSnapshot: ...

    def fetch_application_fee(self, external_ref: str) -> ApplicationFeeSnapshot: ...

    def fetch_payout(self, external_ref: str, *, account_ref: str | None = None) -> PayoutSnapshot: ...


class EventVerifier(Protocol):
    """The processor's check of a signed event it sent (a webhook)."""

    def verify_event(self, payload: bytes, signature_header: str | None) -> GatewayEvent:
        """The event, if the processor signed it; SignatureInvalid otherwise."""
        ...


@attrs.frozen
class Payments:
    """The processor's roles, assembled once by bootstrap: one set offline, one on Stripe."""

    billing: SubscriptionBilling
    charges: Charges
    payouts: PayoutSender
    accounts: ConnectedAccounts
    reads: ProcessorReads
    #: Checks the processor's webhooks; None when it sends none (offline, or no webhook secret),
    #: and then the processor's routes (webhook, hosted checkout, onboarding) are not served.
    events: EventVerifier | None = None
