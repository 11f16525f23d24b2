"""Money moving through a processor as the domain sees it: charges, payouts, and intents."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Final

import attrs

from musicconnect.domain.money import Money
from musicconnect.domain.tiers import Tier


@attrs.frozen
class ChargeResult:
    charge_id: str
    gross: Money
    #: What the processor kept for itself (zero offline).
    processor_fee: Money


class PayoutStatus(enum.StrEnum):
    """Where a payout is, after Stripe's payout statuses."""

    PENDING = "pending"
    IN_TRANSIT = "in_transit"
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def undelivered(self) -> bool:
        """The money did not reach the artist and is theirs to be paid again."""
        return self in {PayoutStatus.FAILED, PayoutStatus.CANCELED}

    @classmethod
    def parse(cls, value: str) -> PayoutStatus:
        """A processor's status; one we do not know yet is still on its way."""
        try:
            return cls(value)
        except ValueError:
            return cls.PENDING


@attrs.frozen
class PayoutResult:
    payout_id: str
    amount: Money
    status: PayoutStatus = PayoutStatus.PAID
    arrived_at: datetime | None = None


@attrs.frozen
class Payout:
    """One artist's payout for a period, with the split of what it pays out."""

    id: str
    artist_id: str
    period: str
    amount: Money
    gross: Money
    platform_fee: Money
    #: When it was sent.
    paid_at: datetime
    external_ref: str | None = None
    status: PayoutStatus = PayoutStatus.PAID
    #: When the money reached the artist's bank, once the processor says so.
    arrived_at: datetime | None = None
    #: What the processor kept on the charges this payout covers, as booked when it was sent.
    #: The platform bears it (the net is untouched); None when unknown (payouts made before it
    #: was kept).
    processor_fee: Money | None = None

    @property
    def net(self) -> Money:
        """What the artist receives: the gross less the platform's fee."""
        return self.amount


class IntentKind(enum.StrEnum):
    """What money movement an intent stands for."""

    START = "start"
    CHANGE = "change"
    RENEWAL = "renewal"
    PAYOUT = "payout"


class IntentStatus(enum.StrEnum):
    #: Reserved: the processor may or may not have been called yet.
    OPEN = "open"
    #: The processor answered that the fan must act (a checkout page); its event settles it.
    AWAITING_FAN = "awaiting_fan"
    SETTLED = "settled"
    FAILED = "failed"


#: Intents still waiting for their outcome to be recorded.
UNSETTLED: Final = frozenset({IntentStatus.OPEN, IntentStatus.AWAITING_FAN})

#: How long an open intent belongs to the request that reserved it. A processor call (with its own
#: retries) ends well inside it; an intent older than this was left by a crash, and whoever finds
#: it next calls the processor again with the same key, which can only return the first answer.
INTENT_LEASE: Final = timedelta(minutes=2)


#: How long a processor's payment page stays payable (Stripe Checkout's default); a checkout not
#: paid by then is abandoned, and what it reserved is let go.
CHECKOUT_LIFETIME: Final = timedelta(hours=24)


@attrs.frozen
class PaymentIntent:
    """Money about to move, committed before the processor is called.

    Reserve (commit an intent), call the processor with ``key`` (the same on every retry, so the
    processor's idempotency makes a retry return the first result), then record the outcome and
    settle the intent in one unit of work. A crash between the steps leaves an open intent that the
    next request, webhook or billing run completes, never by charging again.
    """

    key: str
    kind: IntentKind
    artist_id: str
    amount: Money
    created_at: datetime
    subscription_id: str | None = None
    fan_id: str | None = None
    #: The tier (and price version) the subscription moves to, for starts and changes.
    tier: Tier | None = None
    plan_version: int | None = None
    status: IntentStatus = IntentStatus.OPEN
    #: The processor's id for what it made: a charge, a payout, a checkout session.
    external_ref: str | None = None
    settled_at: datetime | None = None

    @property
    def is_unsettled(self) -> bool:
        return self.status in UNSETTLED

    def in_progress(self, now: datetime, lease: timedelta = INTENT_LEASE) -> bool:
        """Reserved so recently that its own request may still be talking to the processor."""
        return self.status is IntentStatus.OPEN and now < self.created_at + lease

    def abandoned(self, now: datetime) -> bool:
        """A payment page the fan never paid, past its lifetime."""
        return self.status is IntentStatus.AWAITING_FAN and now >= self.created_at + CHECKOUT_LIFETIME

    def settled(self, now: datetime, *, external_ref: str | None = None) -> PaymentIntent:
        return attrs.evolve(
            self, status=IntentStatus.SETTLED, settled_at=now, external_ref=external_ref or self.external_ref
        )

    def failed(self, now: datetime) -> PaymentIntent:
        return attrs.evolve(self, status=IntentStatus.FAILED, settled_at=now)

    def awaiting_fan(self, external_ref: str) -> PaymentIntent:
        return attrs.evolve(self, status=IntentStatus.AWAITING_FAN, external_ref=external_ref)


class LinkKind(enum.StrEnum):
    """Which of our parties a processor's id stands for."""

    #: A fan, as the processor's customer.
    CUSTOMER = "customer"
    #: An artist, as the processor's connected account that receives their share.
    CONNECTED_ACCOUNT = "connected_account"


@attrs.frozen
class ProcessorLink:
    """The processor's id for one of our parties, kept so no process has to search for it."""

    kind: LinkKind
    owner_id: str
    external_ref: str
    #: For a connected account: whether money may be routed to it yet (onboarding finished).
    ready: bool = True
