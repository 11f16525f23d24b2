"""The payment processor, as the domain needs it."""

from __future__ import annotations

from typing import Protocol

from musicconnect.domain.money import Money
from musicconnect.domain.payments import ChargeResult, PayoutResult


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
