"""What every payment gateway must do: move money once per idempotency key, hold the artists'
connected accounts and read back what it did; and what a processor that bills subscriptions itself
adds (``ProcessorBillingContract``): checkout, tier changes and cancellations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Final, Protocol, runtime_checkable

import pytest

from musicconnect.domain.errors import Conflict, NotFound
from musicconnect.domain.money import Money, split_revenue
from musicconnect.domain.payments import ChargeResult
from musicconnect.domain.subscriptions import SubscriptionStatus
from musicconnect.domain.tiers import Tier, TierPlan, default_plans, revise_plan
from musicconnect.ports.payments import (
    Charges,
    CheckoutSession,
    ConnectedAccount,
    ConnectedAccounts,
    PayoutSender,
    ProcessorReads,
    SubscriptionSnapshot,
)

T0: Final = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
PLANS: Final = {plan.tier: plan for plan in default_plans()}
SUPPORTER: Final = PLANS[Tier.SUPPORTER]
SUPERFAN: Final = PLANS[Tier.SUPERFAN]


def _key(label: str) -> str:
    # Unique per run, so a gateway that remembers keys across runs (Stripe) sees fresh ones.
    return f"contract:{label}:{uuid.uuid4().hex}"


class Gateway(Charges, PayoutSender, ConnectedAccounts, ProcessorReads, Protocol):
    """Every gateway's roles, and the account look-up the tests use."""

    def connected_account(self, artist_id: str) -> ConnectedAccount | None: ...


@runtime_checkable
class BillingGateway(Gateway, Protocol):
    """A processor that bills subscriptions itself (Stripe Billing), as ``SubscriptionBilling``
    on it uses it."""

    def ensure_customer(self, *, fan_id: str, email: str) -> str: ...

    def ensure_price(self, *, artist_id: str, artist_name: str, plan: TierPlan) -> str: ...

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
        subscription_id: str | None = None,
    ) -> CheckoutSession: ...

    def change_subscription_tier(
        self,
        *,
        external_ref: str,
        artist_id: str,
        artist_name: str,
        plan: TierPlan,
        at_period_end: bool,
        idempotency_key: str,
    ) -> SubscriptionSnapshot: ...

    def cancel_at_period_end(self, *, external_ref: str, idempotency_key: str) -> SubscriptionSnapshot: ...


class PaymentGatewayContract:
    """Subclass as ``Test<Adapter>``; ``prepare_parties`` may set up more parties."""

    fan_id = "fan-contract"
    artist_id = "artist-contract"
    fan_email = "fan-contract@example.com"
    artist_email = "artist-contract@example.com"
    artist_name = "Contract Artist"

    def make_gateway(self) -> Gateway:
        raise NotImplementedError

    def prepare_parties(self, gateway: Gateway) -> None:
        """The fan's customer and the artist's connected account, ready to pay and be paid."""
        gateway.create_connected_account(artist_id=self.artist_id, email=self.artist_email)

    @pytest.fixture
    def gateway(self) -> Gateway:
        gateway = self.make_gateway()
        self.prepare_parties(gateway)
        return gateway

    def _charge(self, gateway: Gateway, amount: Money, key: str) -> ChargeResult:
        return gateway.charge(
            fan_id=self.fan_id,
            artist_id=self.artist_id,
            amount=amount,
            description="contract charge",
            idempotency_key=key,
        )

    def test_charge_takes_the_amount_as_gross(self, gateway: Gateway) -> None:
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

    def test_same_key_twice_is_one_charge(self, gateway: Gateway) -> None:
        """Retrying a charge with its key returns the first charge, not a second one."""
        key = _key("retry")
        first = self._charge(gateway, Money(500, "USD"), key)
        again = self._charge(gateway, Money(500, "USD"), key)
        assert again == first

    def test_different_keys_are_different_charges(self, gateway: Gateway) -> None:
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

    def test_same_key_with_another_amount_is_a_conflict(self, gateway: Gateway) -> None:
        """Reusing a charge key for a different amount is refused, not answered from memory."""
        key = _key("conflict")
        self._charge(gateway, Money(500, "USD"), key)
        with pytest.raises(Conflict):
            self._charge(gateway, Money(1000, "USD"), key)

    def test_payout_pays_the_amount_once_per_key(self, gateway: Gateway) -> None:
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

    def test_payout_key_with_another_amount_is_a_conflict(self, gateway: Gateway) -> None:
        """Reusing a payout key for a different amount is refused."""
        key = _key("payout-conflict")
        gateway.pay_out(artist_id=self.artist_id, amount=Money(4500, "USD"), idempotency_key=key)
        with pytest.raises(Conflict):
            gateway.pay_out(artist_id=self.artist_id, amount=Money(4600, "USD"), idempotency_key=key)

    def test_an_artist_has_one_connected_account(self, gateway: Gateway) -> None:
        """Creating it again returns it; it is found by artist and by reference; onboarding has a link."""
        account = gateway.create_connected_account(artist_id=self.artist_id, email=self.artist_email)
        again = gateway.create_connected_account(artist_id=self.artist_id, email=self.artist_email)
        assert again.external_ref == account.external_ref
        assert gateway.connected_account(self.artist_id) is not None
        assert gateway.refresh_account(account.external_ref).artist_id == self.artist_id
        link = gateway.onboarding_link(
            artist_id=self.artist_id,
            refresh_url="https://app.example/again",
            return_url="https://app.example/done",
            idempotency_key=_key("onboarding"),
        )
        assert link.url.startswith("http")

    def test_one_off_charges_and_payouts_read_back(self, gateway: Gateway) -> None:
        """A charge reads back with its parties and split; a payout with its artist and amount."""
        result = gateway.charge(
            fan_id=self.fan_id,
            artist_id=self.artist_id,
            amount=Money(1000, "USD"),
            description="read back",
            idempotency_key=_key("read-charge"),
        )
        charge = gateway.fetch_charge(result.charge_id)
        assert (charge.amount, charge.fan_id, charge.artist_id) == (
            Money(1000, "USD"),
            self.fan_id,
            self.artist_id,
        )
        assert charge.processor_fee == result.processor_fee
        assert charge.application_fee in {None, Money(100, "USD")}
        payout = gateway.pay_out(
            artist_id=self.artist_id, amount=Money(900, "USD"), idempotency_key=_key("read-po")
        )
        account = gateway.connected_account(self.artist_id)
        assert account is not None
        read = gateway.fetch_payout(payout.payout_id, account_ref=account.external_ref)
        assert (read.artist_id, read.amount) == (self.artist_id, Money(900, "USD"))

    def test_unknown_references_are_not_found(self, gateway: Gateway) -> None:
        """Reading what does not exist raises NotFound, never a processor's own error."""
        with pytest.raises(NotFound):
            gateway.fetch_subscription("sub_doesnotexist")
        with pytest.raises(NotFound):
            gateway.fetch_invoice("in_doesnotexist")
        with pytest.raises(NotFound):
            gateway.fetch_charge("ch_doesnotexist")
        with pytest.raises(NotFound):
            gateway.fetch_payout("po_doesnotexist")


class ProcessorBillingContract(PaymentGatewayContract):
    """A processor that bills subscriptions itself; the subclass says how a fan finishes checkout."""

    def complete_checkout(self, gateway: BillingGateway, session: CheckoutSession) -> str:
        """Pay on the session's page; return the subscription it started."""
        raise NotImplementedError

    @pytest.fixture
    def billing(self, gateway: Gateway) -> BillingGateway:
        if not isinstance(gateway, BillingGateway):  # pragma: no cover - subclasses make one
            pytest.fail(f"{type(gateway).__name__} does not bill subscriptions itself")
        return gateway

    def _subscribe(self, gateway: BillingGateway, plan: TierPlan = SUPPORTER) -> SubscriptionSnapshot:
        session = gateway.start_checkout(
            fan_id=self.fan_id,
            fan_email=self.fan_email,
            artist_id=self.artist_id,
            artist_name=self.artist_name,
            plan=plan,
            success_url="https://app.example/paid",
            cancel_url="https://app.example/cancelled",
            idempotency_key=_key("checkout"),
        )
        return gateway.fetch_subscription(self.complete_checkout(gateway, session))

    def test_the_same_fan_is_always_the_same_customer(self, billing: BillingGateway) -> None:
        """ensure_customer returns one reference per fan, and another for another fan."""
        first = billing.ensure_customer(fan_id=self.fan_id, email=self.fan_email)
        again = billing.ensure_customer(fan_id=self.fan_id, email=self.fan_email)
        other = billing.ensure_customer(fan_id=f"{self.fan_id}-other", email="other@example.com")
        assert first == again
        assert other != first

    def test_each_price_version_has_its_own_price(self, billing: BillingGateway) -> None:
        """One price per (artist, tier, version): asked again it is the same; a new version is new."""
        first = billing.ensure_price(artist_id=self.artist_id, artist_name=self.artist_name, plan=SUPPORTER)
        again = billing.ensure_price(artist_id=self.artist_id, artist_name=self.artist_name, plan=SUPPORTER)
        revised = revise_plan(SUPPORTER, price=Money(700, "USD"), features=SUPPORTER.features, now=T0)
        newer = billing.ensure_price(artist_id=self.artist_id, artist_name=self.artist_name, plan=revised)
        other = billing.ensure_price(artist_id=self.artist_id, artist_name=self.artist_name, plan=SUPERFAN)
        assert first == again
        assert len({first, newer, other}) == 3

    def test_checkout_asked_twice_with_its_key_is_one_session(self, billing: BillingGateway) -> None:
        """The same key answers the same session; reusing it for another plan is refused."""
        key = _key("checkout-twice")

        def start(plan: TierPlan) -> CheckoutSession:
            return billing.start_checkout(
                fan_id=self.fan_id,
                fan_email=self.fan_email,
                artist_id=self.artist_id,
                artist_name=self.artist_name,
                plan=plan,
                success_url="https://app.example/paid",
                cancel_url="https://app.example/cancelled",
                idempotency_key=key,
            )

        first = start(SUPPORTER)
        assert start(SUPPORTER) == first
        assert first.url.startswith("http")
        with pytest.raises(Conflict):
            start(SUPERFAN)

    def test_a_paid_checkout_starts_the_subscription_and_its_first_invoice(
        self, billing: BillingGateway
    ) -> None:
        """The subscription is active on the plan, and its first invoice paid the price, 10 % to us."""
        subscription = self._subscribe(billing)
        assert (subscription.fan_id, subscription.artist_id) == (self.fan_id, self.artist_id)
        assert (subscription.tier, subscription.plan_version, subscription.price) == (
            Tier.SUPPORTER,
            1,
            SUPPORTER.price,
        )
        assert subscription.status is SubscriptionStatus.ACTIVE
        assert subscription.current_period_end > subscription.current_period_start
        assert subscription.latest_invoice_ref is not None
        invoice = billing.fetch_invoice(subscription.latest_invoice_ref)
        assert invoice.paid
        assert invoice.amount_paid == SUPPORTER.price
        assert invoice.subscription_ref == subscription.external_ref
        assert invoice.charge_ref is not None
        charge = billing.fetch_charge(invoice.charge_ref)
        assert (charge.amount, charge.fan_id, charge.artist_id) == (
            SUPPORTER.price,
            self.fan_id,
            self.artist_id,
        )
        assert 0 <= charge.processor_fee.amount_minor < charge.amount.amount_minor
        assert charge.application_fee in {None, split_revenue(SUPPORTER.price).platform}

    def test_an_upgrade_takes_effect_at_once_and_charges_the_difference(
        self, billing: BillingGateway
    ) -> None:
        """Moving up changes the tier now and pays a new invoice of at most the prorated difference."""
        subscription = self._subscribe(billing)
        upgraded = billing.change_subscription_tier(
            external_ref=subscription.external_ref,
            artist_id=self.artist_id,
            artist_name=self.artist_name,
            plan=SUPERFAN,
            at_period_end=False,
            idempotency_key=_key("upgrade"),
        )
        assert upgraded.tier is Tier.SUPERFAN
        assert upgraded.scheduled_tier is None
        assert upgraded.latest_invoice_ref not in {None, subscription.latest_invoice_ref}
        assert upgraded.latest_invoice_ref is not None
        invoice = billing.fetch_invoice(upgraded.latest_invoice_ref)
        difference = SUPERFAN.price - SUPPORTER.price
        assert invoice.paid
        # Checkout just happened, so nearly the whole period is left; Stripe rounds per line (+-1).
        assert difference.amount_minor - 1 <= invoice.amount_paid.amount_minor <= difference.amount_minor + 1

    def test_a_downgrade_waits_for_the_period_end_and_can_be_undone(self, billing: BillingGateway) -> None:
        """Moving down keeps the tier and schedules the lower one; choosing the current plan undoes it."""
        subscription = self._subscribe(billing, SUPERFAN)
        scheduled = billing.change_subscription_tier(
            external_ref=subscription.external_ref,
            artist_id=self.artist_id,
            artist_name=self.artist_name,
            plan=SUPPORTER,
            at_period_end=True,
            idempotency_key=_key("downgrade"),
        )
        assert (scheduled.tier, scheduled.scheduled_tier) == (Tier.SUPERFAN, Tier.SUPPORTER)
        assert scheduled.latest_invoice_ref == subscription.latest_invoice_ref
        kept = billing.change_subscription_tier(
            external_ref=subscription.external_ref,
            artist_id=self.artist_id,
            artist_name=self.artist_name,
            plan=SUPERFAN,
            at_period_end=True,
            idempotency_key=_key("keep"),
        )
        assert (kept.tier, kept.scheduled_tier, kept.cancel_at_period_end) == (Tier.SUPERFAN, None, False)

    def test_cancelling_waits_for_the_period_end(self, billing: BillingGateway) -> None:
        """A cancellation is scheduled: the subscription stays active until its period ends."""
        subscription = self._subscribe(billing)
        canceled = billing.cancel_at_period_end(
            external_ref=subscription.external_ref, idempotency_key=_key("cancel")
        )
        assert canceled.cancel_at_period_end
        assert canceled.status is SubscriptionStatus.ACTIVE
        assert canceled.current_period_end == subscription.current_period_end
