"""Charges that always succeed at no fee and payouts that go nowhere, idempotent by key.

It also imitates a processor that bills subscriptions itself: checkout completes at once, tier
changes and cancellations are recorded as asked, and the ``fetch_*`` reads return what it
recorded. It never renews anything by itself; the billing use case does that offline.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from datetime import UTC, datetime

import attrs

from musicconnect.domain.clocks import add_months
from musicconnect.domain.errors import Conflict, InvalidInput, NotFound
from musicconnect.domain.money import Money, split_revenue
from musicconnect.domain.payments import ChargeResult, PayoutResult
from musicconnect.domain.subscriptions import SubscriptionStatus, prorate
from musicconnect.domain.tiers import Tier, TierPlan
from musicconnect.ports.payments import (
    ApplicationFeeSnapshot,
    ChargeSnapshot,
    CheckoutSession,
    ConnectedAccount,
    InvoiceSnapshot,
    OnboardingLink,
    PayoutSnapshot,
    SubscriptionSnapshot,
)
from musicconnect.ports.services import Clock, IdGenerator


@attrs.frozen
class OfflineCharge:
    """One charge as it was asked for, and what it returned."""

    idempotency_key: str
    fan_id: str
    artist_id: str
    amount: Money
    description: str
    result: ChargeResult


@attrs.frozen
class OfflinePayout:
    idempotency_key: str
    artist_id: str
    amount: Money
    result: PayoutResult


def _check_request(amount: Money, idempotency_key: str) -> None:
    if not idempotency_key:
        raise InvalidInput("every payment call needs an idempotency key")
    if amount.amount_minor < 0:
        raise InvalidInput("cannot move a negative amount")


def _check_key(idempotency_key: str) -> None:
    if not idempotency_key:
        raise InvalidInput("every payment call needs an idempotency key")


class _UtcNow:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OfflinePaymentGateway:
    """Like a processor's idempotency keys: a retry returns the first result, and reusing a key
    for a different request is refused with Conflict rather than silently answered."""

    def __init__(self, ids: IdGenerator, clock: Clock | None = None) -> None:
        self._ids = ids
        self._clock: Clock = clock or _UtcNow()
        self._lock = threading.Lock()
        self._charges: dict[str, OfflineCharge] = {}
        self._payouts: dict[str, OfflinePayout] = {}
        self._customers: dict[str, str] = {}
        self._prices: dict[str, str] = {}
        self._accounts: dict[str, ConnectedAccount] = {}
        #: idempotency key -> (what was asked, what was answered) for the subscription calls.
        self._answers: dict[str, tuple[Hashable, object]] = {}
        self._subscriptions: dict[str, SubscriptionSnapshot] = {}
        self._invoices: dict[str, InvoiceSnapshot] = {}
        self._charge_records: dict[str, ChargeSnapshot] = {}
        self._payout_records: dict[str, PayoutSnapshot] = {}

    @property
    def charges(self) -> tuple[OfflineCharge, ...]:
        """Every distinct charge, oldest first."""
        with self._lock:
            return tuple(self._charges.values())

    @property
    def payouts(self) -> tuple[OfflinePayout, ...]:
        """Every distinct payout, oldest first."""
        with self._lock:
            return tuple(self._payouts.values())

    # --- money ------------------------------------------------------------------------------------

    def charge(
        self,
        *,
        fan_id: str,
        artist_id: str,
        amount: Money,
        description: str,
        idempotency_key: str,
    ) -> ChargeResult:
        _check_request(amount, idempotency_key)
        with self._lock:
            earlier = self._charges.get(idempotency_key)
            if earlier is not None:
                if (earlier.fan_id, earlier.artist_id, earlier.amount) != (fan_id, artist_id, amount):
                    raise Conflict(f"idempotency key {idempotency_key!r} was used for another charge")
                return earlier.result
            result = self._record_charge(fan_id, artist_id, amount)
            self._charges[idempotency_key] = OfflineCharge(
                idempotency_key=idempotency_key,
                fan_id=fan_id,
                artist_id=artist_id,
                amount=amount,
                description=description,
                result=result,
            )
            return result

    def _record_charge(self, fan_id: str, artist_id: str, amount: Money) -> ChargeResult:
        result = ChargeResult(
            charge_id=f"ch_offline_{self._ids.new_id()}",
            gross=amount,
            processor_fee=Money.zero(amount.currency),
        )
        platform = split_revenue(amount).platform if amount.amount_minor >= 0 else None
        self._charge_records[result.charge_id] = ChargeSnapshot(
            external_ref=result.charge_id,
            fan_id=fan_id,
            artist_id=artist_id,
            amount=amount,
            processor_fee=result.processor_fee,
            application_fee=platform,
            created_at=self._clock.now(),
        )
        return result

    def pay_out(self, *, artist_id: str, amount: Money, idempotency_key: str) -> PayoutResult:
        _check_request(amount, idempotency_key)
        with self._lock:
            earlier = self._payouts.get(idempotency_key)
            if earlier is not None:
                if (earlier.artist_id, earlier.amount) != (artist_id, amount):
                    raise Conflict(f"idempotency key {idempotency_key!r} was used for another payout")
                return earlier.result
            result = PayoutResult(payout_id=f"po_offline_{self._ids.new_id()}", amount=amount)
            self._payouts[idempotency_key] = OfflinePayout(
                idempotency_key=idempotency_key,
                artist_id=artist_id,
                amount=amount,
                result=result,
            )
            # Offline money arrives the moment it is sent.
            self._payout_records[result.payout_id] = PayoutSnapshot(
                external_ref=result.payout_id,
                artist_id=artist_id,
                amount=amount,
                status="paid",
                arrival_at=self._clock.now(),
            )
            return result

    # --- parties ----------------------------------------------------------------------------------

    def ensure_customer(self, *, fan_id: str, email: str) -> str:
        del email  # nobody to send receipts to offline
        with self._lock:
            return self._customers.setdefault(fan_id, f"cus_offline_{self._ids.new_id()}")

    def ensure_price(self, *, artist_id: str, artist_name: str, plan: TierPlan) -> str:
        del artist_name  # names only label a processor's products
        if plan.tier is Tier.FREE:
            raise InvalidInput("the free tier has no price to charge")
        key = f"{artist_id}:{plan.tier}:v{plan.version}"
        with self._lock:
            return self._prices.setdefault(key, f"price_offline_{self._ids.new_id()}")

    def create_connected_account(self, *, artist_id: str, email: str) -> ConnectedAccount:
        del email
        with self._lock:
            account = self._accounts.get(artist_id)
            if account is None:
                # Offline onboarding is complete the moment it starts.
                account = ConnectedAccount(
                    artist_id=artist_id,
                    external_ref=f"acct_offline_{self._ids.new_id()}",
                    transfers_enabled=True,
                    payouts_enabled=True,
                    details_submitted=True,
                )
                self._accounts[artist_id] = account
            return account

    def connected_account(self, artist_id: str) -> ConnectedAccount | None:
        with self._lock:
            return self._accounts.get(artist_id)

    def onboarding_link(
        self, *, artist_id: str, refresh_url: str, return_url: str, idempotency_key: str
    ) -> OnboardingLink:
        del refresh_url  # offline links never expire, so nobody comes back to refresh one
        _check_key(idempotency_key)
        if self.connected_account(artist_id) is None:
            raise NotFound(f"artist {artist_id} has no connected account")
        return OnboardingLink(url=return_url, expires_at=None)

    def refresh_account(self, account_ref: str) -> ConnectedAccount:
        with self._lock:
            for account in self._accounts.values():
                if account.external_ref == account_ref:
                    return account
        raise NotFound(f"no connected account {account_ref}")

    # --- processor-billed subscriptions -----------------------------------------------------------

    def _replay(self, key: str, request: Hashable) -> object | None:
        earlier = self._answers.get(key)
        if earlier is None:
            return None
        if earlier[0] != request:
            raise Conflict(f"idempotency key {key!r} was used for another request")
        return earlier[1]

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
        del fan_email, artist_name, cancel_url  # checkout completes at once: no page, no way back
        _check_key(idempotency_key)
        if plan.tier is Tier.FREE:
            raise InvalidInput("the free tier needs no checkout")
        request = ("checkout", fan_id, artist_id, plan.tier, plan.version)
        with self._lock:
            earlier = self._replay(idempotency_key, request)
            if isinstance(earlier, CheckoutSession):
                return earlier
            now = self._clock.now()
            reference = f"sub_offline_{self._ids.new_id()}"
            invoice = self._record_invoice(reference, fan_id, artist_id, plan.price, "subscription_create")
            self._subscriptions[reference] = SubscriptionSnapshot(
                external_ref=reference,
                fan_id=fan_id,
                artist_id=artist_id,
                tier=plan.tier,
                plan_version=plan.version,
                price=plan.price,
                status=SubscriptionStatus.ACTIVE,
                created_at=now,
                current_period_start=now,
                current_period_end=add_months(now, 1),
                latest_invoice_ref=invoice,
            )
            session = CheckoutSession(
                id=f"cs_offline_{self._ids.new_id()}", url=success_url, subscription_ref=reference
            )
            self._answers[idempotency_key] = (request, session)
            return session

    def _record_invoice(
        self, subscription_ref: str, fan_id: str, artist_id: str, amount: Money, reason: str
    ) -> str:
        charge = self._record_charge(fan_id, artist_id, amount)
        reference = f"in_offline_{self._ids.new_id()}"
        self._invoices[reference] = InvoiceSnapshot(
            external_ref=reference,
            subscription_ref=subscription_ref,
            fan_id=fan_id,
            artist_id=artist_id,
            paid=True,
            amount_paid=amount,
            charge_ref=charge.charge_id,
            paid_at=self._clock.now(),
            reason=reason,
        )
        return reference

    def _subscription(self, external_ref: str) -> SubscriptionSnapshot:
        found = self._subscriptions.get(external_ref)
        if found is None:
            raise NotFound(f"no subscription {external_ref}")
        return found

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
        del artist_id, artist_name  # the recorded subscription knows its artist
        _check_key(idempotency_key)
        request = ("change", external_ref, plan.tier, plan.version, at_period_end)
        with self._lock:
            earlier = self._replay(idempotency_key, request)
            if isinstance(earlier, SubscriptionSnapshot):
                return earlier
            current = self._subscription(external_ref)
            changed = self._scheduled(current, plan) if at_period_end else self._upgraded(current, plan)
            self._subscriptions[external_ref] = changed
            self._answers[idempotency_key] = (request, changed)
            return changed

    @staticmethod
    def _scheduled(current: SubscriptionSnapshot, plan: TierPlan) -> SubscriptionSnapshot:
        if (plan.tier, plan.version) == (current.tier, current.plan_version):
            return attrs.evolve(
                current, scheduled_tier=None, scheduled_version=None, cancel_at_period_end=False
            )
        return attrs.evolve(
            current, scheduled_tier=plan.tier, scheduled_version=plan.version, cancel_at_period_end=False
        )

    def _upgraded(self, current: SubscriptionSnapshot, plan: TierPlan) -> SubscriptionSnapshot:
        difference = prorate(
            old_price=current.price,
            new_price=plan.price,
            period_start=current.current_period_start,
            period_end=current.current_period_end,
            now=self._clock.now(),
        )
        latest = current.latest_invoice_ref
        if difference.amount_minor > 0:
            latest = self._record_invoice(
                current.external_ref, current.fan_id, current.artist_id, difference, "subscription_update"
            )
        return attrs.evolve(
            current,
            tier=plan.tier,
            plan_version=plan.version,
            price=plan.price,
            scheduled_tier=None,
            scheduled_version=None,
            cancel_at_period_end=False,
            latest_invoice_ref=latest,
        )

    def cancel_at_period_end(self, *, external_ref: str, idempotency_key: str) -> SubscriptionSnapshot:
        _check_key(idempotency_key)
        request = ("cancel", external_ref)
        with self._lock:
            earlier = self._replay(idempotency_key, request)
            if isinstance(earlier, SubscriptionSnapshot):
                return earlier
            canceled = attrs.evolve(
                self._subscription(external_ref),
                cancel_at_period_end=True,
                scheduled_tier=None,
                scheduled_version=None,
            )
            self._subscriptions[external_ref] = canceled
            self._answers[idempotency_key] = (request, canceled)
            return canceled

    def fetch_subscription(self, external_ref: str) -> SubscriptionSnapshot:
        with self._lock:
            return self._subscription(external_ref)

    def fetch_invoice(self, external_ref: str) -> InvoiceSnapshot:
        with self._lock:
            found = self._invoices.get(external_ref)
        if found is None:
            raise NotFound(f"no invoice {external_ref}")
        return found

    def fetch_charge(self, external_ref: str) -> ChargeSnapshot:
        with self._lock:
            found = self._charge_records.get(external_ref)
        if found is None:
            raise NotFound(f"no charge {external_ref}")
        return found

    def fetch_application_fee(self, external_ref: str) -> ApplicationFeeSnapshot:
        # Offline charges keep no separate fee objects: the ledger alone splits the money.
        raise NotFound(f"no application fee {external_ref}")

    def fetch_payout(self, external_ref: str, *, account_ref: str | None = None) -> PayoutSnapshot:
        del account_ref  # offline payout ids are unique on their own
        with self._lock:
            found = self._payout_records.get(external_ref)
        if found is None:
            raise NotFound(f"no payout {external_ref}")
        return found
