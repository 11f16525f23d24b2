"""What every PaymentGateway adapter must do: move money once per idempotency key."""

from __future__ import annotations

import uuid

import pytest

from musicconnect.domain.errors import Conflict
from musicconnect.domain.money import Money
from musicconnect.domain.payments import ChargeResult
from musicconnect.ports.payments import PaymentGateway


def _key(label: str) -> str:
    # Unique per run, so a gateway that remembers keys across runs (Stripe) sees fresh ones.
    return f"contract:{label}:{uuid.uuid4().hex}"


class PaymentGatewayContract:
    """Subclass as ``Test<Adapter>``; override ``fan_id``/``artist_id`` if the gateway needs real
    parties set up beforehand."""

    fan_id = "fan-contract"
    artist_id = "artist-contract"

    def make_gateway(self) -> PaymentGateway:
        raise NotImplementedError

    @pytest.fixture
    def gateway(self) -> PaymentGateway:
        return self.make_gateway()

    def _charge(self, gateway: PaymentGateway, amount: Money, key: str) -> ChargeResult:
        return gateway.charge(
            fan_id=self.fan_id,
            artist_id=self.artist_id,
            amount=amount,
            description="contract charge",
            idempotency_key=key,
        )

    def test_charge_takes_the_amount_as_gross(self, gateway: PaymentGateway) -> None:
        """A charge reports the amount as gross, and a fee in the same currency within it."""
        amount = Money(1000, "USD")
        result = gateway.charge(
            fan_id=self.fan_id,
            artist_id=self.artist_id,
            amount=amount,
            description="superfan, June",
            idempotency_key=_key("gross"),
        )
        assert result.gross == amount
        assert result.processor_fee.currency == "USD"
        assert 0 <= result.processor_fee.amount_minor <= amount.amount_minor
        assert result.charge_id

    def test_same_key_twice_is_one_charge(self, gateway: PaymentGateway) -> None:
        """Retrying a charge with its key returns the first charge, not a second one."""
        key = _key("retry")
        first = self._charge(gateway, Money(500, "USD"), key)
        again = self._charge(gateway, Money(500, "USD"), key)
        assert again == first

    def test_different_keys_are_different_charges(self, gateway: PaymentGateway) -> None:
        """Two keys make two charges even for the same amount."""
        first = gateway.charge(
            fan_id=self.fan_id,
            artist_id=self.artist_id,
            amount=Money(500, "USD"),
            description="one",
            idempotency_key=_key("one"),
        )
        second = gateway.charge(
            fan_id=self.fan_id,
            artist_id=self.artist_id,
            amount=Money(500, "USD"),
            description="two",
            idempotency_key=_key("two"),
        )
        assert first.charge_id != second.charge_id

    def test_same_key_with_another_amount_is_a_conflict(self, gateway: PaymentGateway) -> None:
        """Reusing a charge key for a different amount is refused, not answered from memory."""
        key = _key("conflict")
        self._charge(gateway, Money(500, "USD"), key)
        with pytest.raises(Conflict):
            self._charge(gateway, Money(1000, "USD"), key)

    def test_payout_pays_the_amount_once_per_key(self, gateway: PaymentGateway) -> None:
        """A payout reports its amount, and retrying it with its key returns the same payout."""
        key = _key("payout")
        first = gateway.pay_out(artist_id=self.artist_id, amount=Money(4500, "USD"), idempotency_key=key)
        again = gateway.pay_out(artist_id=self.artist_id, amount=Money(4500, "USD"), idempotency_key=key)
        other = gateway.pay_out(
            artist_id=self.artist_id, amount=Money(4500, "USD"), idempotency_key=_key("p2")
        )
        assert first.amount == Money(4500, "USD")
        assert again == first
        assert other.payout_id != first.payout_id

    def test_payout_key_with_another_amount_is_a_conflict(self, gateway: PaymentGateway) -> None:
        """Reusing a payout key for a different amount is refused."""
        key = _key("payout-conflict")
        gateway.pay_out(artist_id=self.artist_id, amount=Money(4500, "USD"), idempotency_key=key)
        with pytest.raises(Conflict):
            gateway.pay_out(artist_id=self.artist_id, amount=Money(4600, "USD"), idempotency_key=key)
