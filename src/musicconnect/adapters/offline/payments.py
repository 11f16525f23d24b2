"""Charges that always succeed at no fee and payouts that go nowhere, idempotent by key."""

from __future__ import annotations

import threading

import attrs

from musicconnect.domain.errors import Conflict, InvalidInput
from musicconnect.domain.money import Money
from musicconnect.domain.payments import ChargeResult, PayoutResult
from musicconnect.ports.services import IdGenerator


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


class OfflinePaymentGateway:
    """Like a processor's idempotency keys: a retry returns the first result, and reusing a key
    for a different request is refused with Conflict rather than silently answered."""

    def __init__(self, ids: IdGenerator) -> None:
        self._ids = ids
        self._lock = threading.Lock()
        self._charges: dict[str, OfflineCharge] = {}
        self._payouts: dict[str, OfflinePayout] = {}

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
            result = ChargeResult(
                charge_id=f"ch_offline_{self._ids.new_id()}",
                gross=amount,
                processor_fee=Money.zero(amount.currency),
            )
            self._charges[idempotency_key] = OfflineCharge(
                idempotency_key=idempotency_key,
                fan_id=fan_id,
                artist_id=artist_id,
                amount=amount,
                description=description,
                result=result,
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
            return result
