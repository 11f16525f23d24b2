"""The processor-billed use cases (checkout, tier changes, cancellation, payout onboarding) on the
offline gateway, which completes checkout at once, and the webhook use case's rules on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import attrs
import pytest

from musicconnect.adapters.crypto import ScryptPasswordHasher
from musicconnect.adapters.memory import FrozenClock, InMemoryStore, InMemoryUnitOfWork, SequentialIdGenerator
from musicconnect.adapters.offline import OfflinePaymentGateway
from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.errors import Conflict, Forbidden, InvalidInput
from musicconnect.domain.ledger import TransactionKind
from musicconnect.domain.money import Money, split_revenue
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus, effective_tier, prorate
from musicconnect.domain.tiers import Tier
from musicconnect.ports.payments import GatewayEvent, GatewayEventKind
from musicconnect.usecases import accounts, checkout, subscriptions
from musicconnect.usecases.webhooks import handle_stripe_event
from tests.support.accounts import memory_mail

T0: Final = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@attrs.define
class Shop:
    store: InMemoryStore
    clock: FrozenClock
    ids: SequentialIdGenerator
    gateway: OfflinePaymentGateway
    artist: Caller = attrs.field(factory=lambda: Caller("", Role.ARTIST))
    fan: Caller = attrs.field(factory=lambda: Caller("", Role.FAN))

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    def register(self, role: Role) -> Caller:
        account = accounts.register(
            accounts.Register(
                f"{role}-{self.ids.new_id()}@example.com", "correct horse battery", role, str(role)
            ),
            uow=self.uow(),
            hasher=ScryptPasswordHasher(n=2, r=1, p=1),
            ids=self.ids,
            clock=self.clock,
            mail=memory_mail(self.clock),
        )
        return Caller(account.id, account.role)

    def checkout(self, tier: Tier = Tier.SUPPORTER) -> None:
        checkout.start_checkout(
            self.artist.id,
            tier,
            caller=self.fan,
            success_url="https://app.example/ok",
            cancel_url="https://app.example/no",
            uow=self.uow(),
            gateway=self.gateway,
            ids=self.ids,
            clock=self.clock,
        )

    def change(self, tier: Tier) -> subscriptions.TierChangeResult:
        return checkout.change_tier(
            self.artist.id,
            tier,
            caller=self.fan,
            uow=self.uow(),
            gateway=self.gateway,
            ids=self.ids,
            clock=self.clock,
        )

    def live(self) -> Subscription:
        with self.uow() as uow:
            found = uow.subscriptions.live_for(self.fan.id, self.artist.id)
        assert found is not None
        return found

    def charges(self) -> list[int]:
        with self.uow() as uow:
            return [
                t.gross.amount_minor
                for t in uow.ledger.of_artist(self.artist.id)
                if t.kind is TransactionKind.CHARGE and t.gross is not None
            ]


@pytest.fixture
def shop() -> Shop:
    clock = FrozenClock(T0)
    ids = SequentialIdGenerator("bill")
    made = Shop(InMemoryStore(), clock, ids, OfflinePaymentGateway(ids, clock=clock))
    made.artist, made.fan = made.register(Role.ARTIST), made.register(Role.FAN)
    return made


def test_offline_checkout_subscribes_at_once_and_books_the_first_month(shop: Shop) -> None:
    """The offline processor completes checkout at once: an active supporter, 5.00 booked."""
    shop.checkout()
    subscription = shop.live()
    assert (subscription.tier, subscription.status) == (Tier.SUPPORTER, SubscriptionStatus.ACTIVE)
    assert subscription.external_ref is not None
    assert shop.charges() == [500]


def test_checkout_is_for_paid_tiers_and_fans_without_one(shop: Shop) -> None:
    """Free needs no checkout; a second paid subscription is a tier change; artists cannot buy."""
    with pytest.raises(InvalidInput):
        shop.checkout(Tier.FREE)
    shop.checkout()
    with pytest.raises(Conflict):
        shop.checkout(Tier.SUPERFAN)
    with pytest.raises(Forbidden):
        checkout.start_checkout(
            shop.artist.id,
            Tier.SUPPORTER,
            caller=shop.artist,
            success_url="https://a.example",
            cancel_url="https://a.example",
            uow=shop.uow(),
            gateway=shop.gateway,
            ids=shop.ids,
            clock=shop.clock,
        )


def test_an_upgrade_through_the_processor_charges_the_prorated_difference(shop: Shop) -> None:
    """Ten days in, supporter to superfan: at once, charging the difference for the time left."""
    shop.checkout()
    before = shop.live()
    shop.clock.advance(days=10)
    result = shop.change(Tier.SUPERFAN)
    expected = prorate(
        old_price=Money(500, "USD"),
        new_price=Money(1000, "USD"),
        period_start=before.current_period_start,
        period_end=before.current_period_end,
        now=shop.clock.now(),
    )
    assert result.charged == expected
    assert result.subscription.tier is Tier.SUPERFAN
    assert shop.charges() == [500, expected.amount_minor]


def test_a_downgrade_and_a_cancel_wait_for_the_period_end(shop: Shop) -> None:
    """Superfan keeps superfan until the period ends, then supporter; cancelling, then free."""
    shop.checkout(Tier.SUPERFAN)
    result = shop.change(Tier.SUPPORTER)
    assert result.charged == Money(0, "USD")
    subscription = shop.live()
    assert (subscription.tier, subscription.pending_tier) == (Tier.SUPERFAN, Tier.SUPPORTER)
    assert effective_tier(subscription, subscription.current_period_end) is Tier.SUPPORTER
    canceled = checkout.cancel(
        shop.artist.id, caller=shop.fan, uow=shop.uow(), gateway=shop.gateway, ids=shop.ids, clock=shop.clock
    )
    assert canceled.cancel_at_period_end
    assert effective_tier(canceled, canceled.current_period_end - timedelta(seconds=1)) is Tier.SUPERFAN
    assert effective_tier(canceled, canceled.current_period_end) is Tier.FREE


def test_a_subscription_billed_here_is_changed_by_the_offline_use_cases(shop: Shop) -> None:
    """Without a processor reference the change goes through usecases.subscriptions, as before."""
    subscriptions.subscribe(
        shop.artist.id,
        Tier.SUPPORTER,
        caller=shop.fan,
        uow=shop.uow(),
        gateway=shop.gateway,
        ids=shop.ids,
        clock=shop.clock,
    )
    result = shop.change(Tier.SUPERFAN)
    assert result.subscription.external_ref is None
    assert result.subscription.tier is Tier.SUPERFAN


def test_payout_onboarding_is_for_the_artist_themself(shop: Shop) -> None:
    """The artist gets a link (and an account); a fan asking for it is refused."""
    link = checkout.start_payouts_onboarding(
        shop.artist.id,
        caller=shop.artist,
        refresh_url="https://app.example/again",
        return_url="https://app.example/done",
        uow=shop.uow(),
        gateway=shop.gateway,
        clock=shop.clock,
    )
    assert link.url == "https://app.example/done"
    assert shop.gateway.connected_account(shop.artist.id) is not None
    with pytest.raises(Forbidden):
        checkout.start_payouts_onboarding(
            shop.artist.id,
            caller=shop.fan,
            refresh_url="https://a.example",
            return_url="https://a.example",
            uow=shop.uow(),
            gateway=shop.gateway,
            clock=shop.clock,
        )


def test_events_applied_on_the_offline_gateway_book_once_and_keep_the_split(shop: Shop) -> None:
    """handle_stripe_event speaks to any BillingGateway: an invoice event re-read from the offline
    one books its charge once, however often it comes; the books balance."""
    shop.checkout()
    subscription = shop.live()
    assert subscription.external_ref is not None
    invoice = shop.gateway.fetch_subscription(subscription.external_ref).latest_invoice_ref
    assert invoice is not None
    event = GatewayEvent(
        id="evt_offline_1",
        kind=GatewayEventKind.INVOICE_PAID,
        type="invoice.paid",
        created=T0,
        object_ref=invoice,
        subscription_ref=subscription.external_ref,
    )
    outcomes = [
        handle_stripe_event(event, uow=shop.uow(), gateway=shop.gateway, ids=shop.ids, clock=shop.clock)
        for _ in range(3)
    ]
    assert [o.duplicate for o in outcomes] == [False, True, True]
    assert outcomes[0].fee_check is not None
    assert outcomes[0].fee_check.expected == split_revenue(Money(500, "USD")).platform
    assert outcomes[0].fee_check.ok
    assert shop.charges() == [500]
    with shop.uow() as uow:
        assert uow.ledger.trial_balance() == {"USD": 0}
