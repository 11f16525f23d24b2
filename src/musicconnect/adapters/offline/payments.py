"""Charges that always succeed at no fee and payouts that go nowhere, idempotent by key.

The platform is the billing engine offline: the use cases decide every amount and this only
takes it (``ChargingSubscriptionBilling``). The ``fetch_*`` reads return what it recorded.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import attrs

from musicconnect.domain.errors import Conflict, InvalidInput, NotFound
from musicconnect.domain.money import Money, split_revenue
from musicconnect.domain.payments import ChargeResult, PayoutResult
from musicconnect.ports.payments import (
    ApplicationFeeSnapshot,
    ChargeSnapshot,
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
        self._accounts: dict[str, ConnectedAccount] = {}
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

    def pay_out(
        self, *, artist_id: str, amount: Money, idempotency_key: str, account_ref: str | None = None
    ) -> PayoutResult:
        del account_ref  # offline artists have no account anywhere
        _check_request(amount, idempotency_key)
        with self._lock:
            earlier = self._payouts.get(idempotency_key)
            if earlier is not None:
                if (earlier.artist_id, earlier.amount) != (artist_id, amount):
                    raise Conflict(f"idempotency key {idempotency_key!r} was used for another payout")
                return earlier.result
            # Offline money arrives the moment it is sent.
            result = PayoutResult(
                payout_id=f"po_offline_{self._ids.new_id()}", amount=amount, arrived_at=self._clock.now()
            )
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

    # --- reads ---------------------------------------------------------------------------------------

    def fetch_subscription(self, external_ref: str) -> SubscriptionSnapshot:
        # Offline the platform bills subscriptions itself: the processor holds none.
        raise NotFound(f"no subscription {external_ref}")

    def fetch_invoice(self, external_ref: str) -> InvoiceSnapshot:
        raise NotFound(f"no invoice {external_ref}")

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
