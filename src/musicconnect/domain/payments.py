"""Payment events as the domain sees them, whatever processor sent them."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from musicconnect.domain.money import Money
from musicconnect.domain.subscriptions import SubscriptionStatus
from musicconnect.domain.tiers import Tier


class PaymentEventKind(enum.StrEnum):
    SUBSCRIPTION_CREATED = "subscription.created"
    SUBSCRIPTION_UPDATED = "subscription.updated"
    SUBSCRIPTION_DELETED = "subscription.deleted"
    INVOICE_PAID = "invoice.paid"
    INVOICE_PAYMENT_FAILED = "invoice.payment_failed"


@attrs.frozen
class PaymentEvent:
    """A processor's news about a subscription, carrying the subscription's state at that time.

    Events may arrive twice and in any order: ``event_id`` makes applying idempotent and
    ``occurred_at`` lets a stale event be recognised and ignored.
    """

    event_id: str
    kind: PaymentEventKind
    occurred_at: datetime
    external_ref: str
    fan_id: str
    artist_id: str
    tier: Tier
    status: SubscriptionStatus
    current_period_end: datetime
    amount: Money | None = None


@attrs.frozen
class ChargeResult:
    charge_id: str
    gross: Money
    #: What the processor kept for itself (zero offline).
    processor_fee: Money


@attrs.frozen
class PayoutResult:
    payout_id: str
    amount: Money


@attrs.frozen
class Payout:
    """One artist's payout for a period, with the split of what it pays out."""

    id: str
    artist_id: str
    period: str
    amount: Money
    gross: Money
    platform_fee: Money
    paid_at: datetime
    external_ref: str | None = None
