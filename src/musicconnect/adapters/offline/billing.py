"""Subscription billing with the platform as the billing engine: each decision is one charge.

The use cases compute every amount (first month, prorated difference, renewal); this only takes
it through ``Charges`` under the intent's key, so asking again returns the first charge.
"""

from __future__ import annotations

from musicconnect.ports.payments import BillingOutcome, BillingRequest, Charges


class ChargingSubscriptionBilling:
    """``SubscriptionBilling`` over one-off charges: nothing to schedule, cancel or check out."""

    def __init__(self, charges: Charges) -> None:
        self._charges = charges

    def _take(self, request: BillingRequest, key: str) -> BillingOutcome:
        if request.amount.amount_minor <= 0:
            return BillingOutcome()
        return BillingOutcome(
            charge=self._charges.charge(
                fan_id=request.after.fan_id,
                artist_id=request.after.artist_id,
                amount=request.amount,
                description=request.description,
                idempotency_key=key,
            ),
        )

    def start(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome:
        return self._take(request, idempotency_key)

    def change(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome:
        return self._take(request, idempotency_key)

    def renew(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome:
        return self._take(request, idempotency_key)
