"""StripePaymentGateway, through stripe-python, against the stateful Stripe double on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Final

import pytest

from musicconnect.adapters.stripe import StripePaymentGateway
from musicconnect.domain.errors import Conflict, InsufficientBalance, PaymentFailed, ServiceUnavailable
from musicconnect.domain.money import Money
from musicconnect.domain.subscriptions import SubscriptionStatus
from musicconnect.domain.tiers import Tier
from musicconnect.ports.payments import CheckoutSession
from tests.contract.payments_contract import (
    SUPERFAN,
    SUPPORTER,
    BillingGateway,
    Gateway,
    ProcessorBillingContract,
)
from tests.support.servers import free_port
from tests.support.stripe_double import DoubleControl, StripeDouble

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

DAY: Final = 24 * 3600


@pytest.fixture(scope="module")
def double() -> Iterator[StripeDouble]:
    with StripeDouble(capture_webhooks=True) as running:
        yield running


@pytest.fixture(scope="module")
def control(double: StripeDouble) -> Iterator[DoubleControl]:
    client = DoubleControl(double.url)
    yield client
    client.close()


def gateway_on(double: StripeDouble, *, timeout_s: float = 5.0, retries: int = 2) -> StripePaymentGateway:
    return StripePaymentGateway(
        double.api_key,
        api_base=double.url,
        webhook_secret="whsec_integration",
        timeout_s=timeout_s,
        max_network_retries=retries,
    )


def card_on_file(gateway: StripePaymentGateway, customer: str) -> str:
    """What a fan's saved card looks like to Stripe: attached and the default for invoices."""
    card = gateway.client.v1.payment_methods.attach("pm_card_visa", {"customer": customer})
    gateway.client.v1.customers.update(customer, {"invoice_settings": {"default_payment_method": card.id}})
    return card.id


class Parties:
    """A fan with a card and an artist whose onboarding is done, fresh for each test."""

    def __init__(self, gateway: StripePaymentGateway, control: DoubleControl) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.gateway = gateway
        self.fan_id, self.artist_id = f"fan-{suffix}", f"artist-{suffix}"
        self.customer = gateway.ensure_customer(fan_id=self.fan_id, email=f"{self.fan_id}@example.com")
        card_on_file(gateway, self.customer)
        self.account = gateway.create_connected_account(
            artist_id=self.artist_id, email=f"{self.artist_id}@example.com"
        ).external_ref
        control.onboard(self.account)

    def checkout(self, control: DoubleControl, tier: Tier = Tier.SUPPORTER) -> str:
        session = self.gateway.start_checkout(
            fan_id=self.fan_id,
            fan_email=f"{self.fan_id}@example.com",
            artist_id=self.artist_id,
            artist_name="Artist",
            plan=SUPPORTER if tier is Tier.SUPPORTER else SUPERFAN,
            success_url="https://app.example/paid",
            cancel_url="https://app.example/cancelled",
            idempotency_key=f"checkout:{self.fan_id}:{tier}",
        )
        return str(control.complete_checkout(session.id)["subscription"])


class TestStripePaymentGateway(ProcessorBillingContract):
    """The payment gateway contract, held against Stripe's API as the double serves it."""

    @pytest.fixture(autouse=True)
    def _on_the_double(self, double: StripeDouble, control: DoubleControl) -> None:
        self.double, self.control = double, control

    def make_gateway(self) -> Gateway:
        return gateway_on(self.double)

    def prepare_parties(self, gateway: Gateway) -> None:
        assert isinstance(gateway, StripePaymentGateway)
        super().prepare_parties(gateway)
        customer = gateway.ensure_customer(fan_id=self.fan_id, email=self.fan_email)
        card_on_file(gateway, customer)
        account = gateway.create_connected_account(artist_id=self.artist_id, email=self.artist_email)
        self.control.onboard(account.external_ref)
        self.control.fund(account.external_ref, 1_000_000)

    def complete_checkout(self, gateway: BillingGateway, session: CheckoutSession) -> str:
        return str(self.control.complete_checkout(session.id)["subscription"])


# --- idempotency and retries -------------------------------------------------------------------


def _customers_of(control: DoubleControl, fan_id: str) -> list[str]:
    return [c["id"] for c in control.objects("customer") if c["metadata"].get("fan_id") == fan_id]


def test_a_call_retried_after_a_timeout_creates_no_duplicate(
    double: StripeDouble, control: DoubleControl
) -> None:
    """The double makes the customer but answers after the client gave up; the retry (same key) gets
    the stored answer: one customer, and the two requests carried the same key."""
    gateway = gateway_on(double, timeout_s=0.5, retries=2)
    fan_id = f"fan-{uuid.uuid4().hex[:8]}"
    control.fault("/v1/customers", "delay", delay_s=1.5)

    customer = gateway.ensure_customer(fan_id=fan_id, email="slow@example.com")

    assert _customers_of(control, fan_id) == [customer]
    sent = [
        r
        for r in double.requests
        if r[0] == "POST" and r[1] == "/v1/customers" and r[3] == f"customer:{fan_id}"
    ]
    assert len(sent) == 2


def test_our_retry_after_a_timeout_reuses_the_key_and_pays_once(
    double: StripeDouble, control: DoubleControl
) -> None:
    """Without client retries the timeout surfaces as ServiceUnavailable; the caller's retry with the
    same key returns the charge that was made, and there is only one."""
    parties = Parties(gateway_on(double), control)
    impatient = gateway_on(double, timeout_s=0.5, retries=0)
    impatient.ensure_customer(fan_id=parties.fan_id, email="x@example.com")
    impatient.create_connected_account(artist_id=parties.artist_id, email="y@example.com")
    control.fault("/v1/payment_intents", "delay", delay_s=1.5)
    key = f"charge:{uuid.uuid4().hex}"

    def charge() -> str:
        return impatient.charge(
            fan_id=parties.fan_id,
            artist_id=parties.artist_id,
            amount=Money(1200, "USD"),
            description="retried",
            idempotency_key=key,
        ).charge_id

    with pytest.raises(ServiceUnavailable):
        charge()
    charge_id = charge()

    intents = [i for i in control.objects("payment_intent") if i["customer"] == parties.customer]
    assert len(intents) == 1
    assert intents[0]["latest_charge"] == charge_id


def test_a_server_error_is_retried_with_the_same_key(double: StripeDouble, control: DoubleControl) -> None:
    """A 500 before anything happened is retried by the client; the price exists once."""
    parties = Parties(gateway_on(double), control)
    control.fault("/v1/prices", "error")
    price = parties.gateway.ensure_price(artist_id=parties.artist_id, artist_name="A", plan=SUPERFAN)
    lookup = f"{parties.artist_id}:superfan:v1"
    assert [p["id"] for p in control.objects("price") if p["lookup_key"] == lookup] == [price]


def test_every_mutating_call_sends_a_key_derived_from_our_ids(
    double: StripeDouble, control: DoubleControl
) -> None:
    """With the client's own retries off (so stripe-python adds no random key), every POST of a
    whole flow carries a key, and the ones the adapter derives are built from our ids."""
    gateway = gateway_on(double, retries=0)
    before = len(double.requests)
    parties = Parties(gateway, control)
    subscription = parties.checkout(control)
    gateway.change_subscription_tier(
        external_ref=subscription,
        artist_id=parties.artist_id,
        artist_name="A",
        plan=SUPERFAN,
        at_period_end=False,
        idempotency_key=f"upgrade:{subscription}",
    )
    gateway.change_subscription_tier(
        external_ref=subscription,
        artist_id=parties.artist_id,
        artist_name="A",
        plan=SUPPORTER,
        at_period_end=True,
        idempotency_key=f"downgrade:{subscription}",
    )
    gateway.cancel_at_period_end(external_ref=subscription, idempotency_key=f"cancel:{subscription}")

    posts = [(path, key) for method, path, _, key in double.requests[before:] if method != "GET"]
    ours = [(path, key) for path, key in posts if not path.startswith("/v1/payment_methods")]
    assert all(key for _, key in ours), ours
    keys = {key for _, key in ours}
    lookup = f"{parties.artist_id}:supporter:v1"
    assert {
        f"customer:{parties.fan_id}",
        f"account:{parties.artist_id}",
        f"product:{parties.artist_id}",
        f"price:{lookup}",
        f"checkout:{parties.fan_id}:supporter",
        f"upgrade:{subscription}",
        f"downgrade:{subscription}:schedule",
        f"downgrade:{subscription}:phases",
        f"cancel:{subscription}",
        f"cancel:{subscription}:release",
    } <= keys


def test_a_fresh_process_finds_what_an_earlier_one_made(double: StripeDouble, control: DoubleControl) -> None:
    """A new gateway (empty memory) finds the fan's customer, the artist's account and the price
    again instead of making second ones."""
    parties = Parties(gateway_on(double), control)
    first_price = parties.gateway.ensure_price(artist_id=parties.artist_id, artist_name="A", plan=SUPPORTER)
    fresh = gateway_on(double)

    assert fresh.ensure_customer(fan_id=parties.fan_id, email="again@example.com") == parties.customer
    found = fresh.connected_account(parties.artist_id)
    assert found is not None
    assert found.external_ref == parties.account
    assert found.transfers_enabled
    assert fresh.ensure_price(artist_id=parties.artist_id, artist_name="A", plan=SUPPORTER) == first_price
    [account] = [a for a in control.objects("account") if a["id"] == parties.account]
    assert account["settings"]["payouts"]["schedule"]["interval"] == "manual"  # our run pays out
    assert len(_customers_of(control, parties.fan_id)) == 1


# --- money and errors ---------------------------------------------------------------------------


def test_destination_charges_route_the_artist_share_to_their_account(
    double: StripeDouble, control: DoubleControl
) -> None:
    """A charge of 10.00 leaves 9.00 on the artist's account and 1.00 as the platform's fee."""
    parties = Parties(gateway_on(double), control)
    result = parties.gateway.charge(
        fan_id=parties.fan_id,
        artist_id=parties.artist_id,
        amount=Money(1000, "USD"),
        description="one-off",
        idempotency_key=f"one-off:{parties.fan_id}",
    )
    assert control.balance(parties.account) == {"usd": 900}
    charge = parties.gateway.fetch_charge(result.charge_id)
    assert charge.application_fee == Money(100, "USD")
    assert charge.processor_fee == Money(59, "USD")  # 2.9 % + 30


def test_a_declined_card_is_payment_failed_and_an_upgrade_is_undone(
    double: StripeDouble, control: DoubleControl
) -> None:
    """Declines raise PaymentFailed; a declined upgrade leaves the subscription on its old tier."""
    parties = Parties(gateway_on(double), control)
    subscription = parties.checkout(control)
    control.decline_cards_of(parties.customer)

    with pytest.raises(PaymentFailed):
        parties.gateway.charge(
            fan_id=parties.fan_id,
            artist_id=parties.artist_id,
            amount=Money(1000, "USD"),
            description="declined",
            idempotency_key=f"declined:{parties.fan_id}",
        )
    with pytest.raises(PaymentFailed):
        parties.gateway.change_subscription_tier(
            external_ref=subscription,
            artist_id=parties.artist_id,
            artist_name="A",
            plan=SUPERFAN,
            at_period_end=False,
            idempotency_key=f"declined-upgrade:{subscription}",
        )
    assert parties.gateway.fetch_subscription(subscription).tier is Tier.SUPPORTER


def test_checkout_waits_for_the_artist_to_finish_onboarding(
    double: StripeDouble, control: DoubleControl
) -> None:
    """Until Stripe enables transfers on the artist's account, there is no checkout to pay them."""
    gateway = gateway_on(double)
    artist_id = f"artist-{uuid.uuid4().hex[:8]}"
    gateway.create_connected_account(artist_id=artist_id, email="new@example.com")
    with pytest.raises(Conflict):
        gateway.start_checkout(
            fan_id="fan-x",
            fan_email="fan-x@example.com",
            artist_id=artist_id,
            artist_name="New",
            plan=SUPPORTER,
            success_url="https://app.example/paid",
            cancel_url="https://app.example/cancelled",
            idempotency_key=f"too-early:{artist_id}",
        )


def test_processor_failures_become_domain_errors(double: StripeDouble, control: DoubleControl) -> None:
    """A wrong key, an unreachable server and an overdrawn payout each raise a domain error."""
    parties = Parties(gateway_on(double), control)
    wrong_key = StripePaymentGateway("sk_test_wrong", api_base=double.url, max_network_retries=0)
    nowhere = StripePaymentGateway(
        double.api_key, api_base=f"http://127.0.0.1:{free_port()}", max_network_retries=0, timeout_s=1
    )
    with pytest.raises(ServiceUnavailable):
        wrong_key.fetch_subscription("sub_x")
    with pytest.raises(ServiceUnavailable):
        nowhere.ensure_customer(fan_id="f", email="f@example.com")
    with pytest.raises(InsufficientBalance):
        parties.gateway.pay_out(
            artist_id=parties.artist_id,
            amount=Money(10**9, "USD"),
            idempotency_key=f"too-much:{parties.artist_id}",
        )


# --- Stripe's clock -----------------------------------------------------------------------------


def test_a_declined_renewal_makes_the_subscription_past_due(
    double: StripeDouble, control: DoubleControl
) -> None:
    """At period end Stripe bills again; declined, the subscription is past_due since the new period."""
    parties = Parties(gateway_on(double), control)
    subscription = parties.gateway.fetch_subscription(parties.checkout(control))
    control.decline_cards_of(parties.customer)

    control.advance(
        int((subscription.current_period_end - subscription.current_period_start).total_seconds())
    )

    renewed = parties.gateway.fetch_subscription(subscription.external_ref)
    assert renewed.status is SubscriptionStatus.PAST_DUE
    assert renewed.current_period_start == subscription.current_period_end
    assert renewed.past_due_since == subscription.current_period_end
    assert renewed.latest_invoice_ref is not None
    assert not parties.gateway.fetch_invoice(renewed.latest_invoice_ref).paid


def test_a_scheduled_downgrade_and_a_cancellation_happen_at_period_end(
    double: StripeDouble, control: DoubleControl
) -> None:
    """The next period is billed at the lower price; a cancelled subscription ends instead."""
    parties = Parties(gateway_on(double), control)
    subscription = parties.gateway.fetch_subscription(parties.checkout(control, Tier.SUPERFAN))
    parties.gateway.change_subscription_tier(
        external_ref=subscription.external_ref,
        artist_id=parties.artist_id,
        artist_name="A",
        plan=SUPPORTER,
        at_period_end=True,
        idempotency_key=f"down:{subscription.external_ref}",
    )
    period = subscription.current_period_end - subscription.current_period_start
    control.advance(int(period.total_seconds()))

    renewed = parties.gateway.fetch_subscription(subscription.external_ref)
    assert (renewed.tier, renewed.scheduled_tier, renewed.status) == (
        Tier.SUPPORTER,
        None,
        SubscriptionStatus.ACTIVE,
    )
    assert renewed.latest_invoice_ref is not None
    assert parties.gateway.fetch_invoice(renewed.latest_invoice_ref).amount_paid == SUPPORTER.price

    parties.gateway.cancel_at_period_end(external_ref=subscription.external_ref, idempotency_key="end-it")
    control.advance(
        int((renewed.current_period_end - renewed.current_period_start + timedelta(days=1)).total_seconds())
    )
    assert parties.gateway.fetch_subscription(subscription.external_ref).status is SubscriptionStatus.CANCELED
