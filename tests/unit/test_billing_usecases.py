"""One billing path, reserve -> charge -> record, on a real SQLite file and the offline gateway.

Identical requests racing charge once; a lost reply or a crash between the charge and its record
is repaired later with the same key, never by charging again; no processor call holds SQLite's
write lock; and moving to the free tier is cancelling, whichever way it is asked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import attrs
import pytest

from musicconnect.adapters.crypto import ScryptPasswordHasher
from musicconnect.adapters.memory import FrozenClock, SequentialIdGenerator
from musicconnect.adapters.offline import ChargingSubscriptionBilling, OfflinePaymentGateway
from musicconnect.adapters.sqlite import SqliteDatabase, SqliteUnitOfWork
from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.errors import Conflict, DomainError
from musicconnect.domain.ledger import TransactionKind
from musicconnect.domain.money import Money
from musicconnect.domain.payments import (
    CHECKOUT_LIFETIME,
    INTENT_LEASE,
    ChargeResult,
    IntentStatus,
    PayoutResult,
)
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus
from musicconnect.domain.tiers import Tier
from musicconnect.ports.payments import (
    BillingOutcome,
    BillingRequest,
    Charges,
    CheckoutSession,
    SubscriptionBilling,
)
from musicconnect.usecases import accounts, subscriptions
from musicconnect.usecases.payouts import run_payouts
from musicconnect.usecases.subscriptions import Subscriptions
from tests.support.accounts import memory_mail
from tests.unit.usecases.conftest import LostAfterCharging

T0: Final = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
RACERS: Final = 20


class ProcessKilled(BaseException):
    """Stands for the process dying: not an error any use case could catch and handle."""


@attrs.define
class SlowCharges:
    """Takes ``seconds`` to answer, as a processor on a bad day."""

    inner: Charges
    seconds: float
    started: threading.Event = attrs.field(factory=threading.Event)

    def charge(
        self, *, fan_id: str, artist_id: str, amount: Money, description: str, idempotency_key: str
    ) -> ChargeResult:
        self.started.set()
        time.sleep(self.seconds)
        return self.inner.charge(
            fan_id=fan_id,
            artist_id=artist_id,
            amount=amount,
            description=description,
            idempotency_key=idempotency_key,
        )


@attrs.define
class Shop:
    db: SqliteDatabase
    clock: FrozenClock
    ids: SequentialIdGenerator
    gateway: OfflinePaymentGateway
    artist: Caller = attrs.field(factory=lambda: Caller("", Role.ARTIST))
    fan: Caller = attrs.field(factory=lambda: Caller("", Role.FAN))

    def uow(self) -> SqliteUnitOfWork:
        return SqliteUnitOfWork(self.db)

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

    def desk(self, charges: Charges | None = None) -> Subscriptions:
        """The subscription use cases, charging through ``charges`` (the offline gateway by default)."""
        return Subscriptions(
            self.uow, ChargingSubscriptionBilling(charges or self.gateway), self.ids, self.clock
        )

    def subscribe(self, tier: Tier, charges: Charges | None = None) -> subscriptions.TierChangeResult:
        return self.desk(charges).subscribe(self.artist.id, tier, caller=self.fan)

    def change(self, tier: Tier, charges: Charges | None = None) -> subscriptions.TierChangeResult:
        return self.desk(charges).change_tier(self.artist.id, tier, caller=self.fan)

    def live(self) -> Subscription:
        with self.uow() as uow:
            found = uow.subscriptions.live_for(self.fan.id, self.artist.id)
        assert found is not None
        return found

    def booked(self) -> list[int]:
        with self.uow() as uow:
            return [
                t.gross.amount_minor
                for t in uow.ledger.of_artist(self.artist.id)
                if t.kind is TransactionKind.CHARGE and t.gross is not None
            ]


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    clock = FrozenClock(T0)
    ids = SequentialIdGenerator("bill")
    made = Shop(
        SqliteDatabase(tmp_path / "shop.sqlite3"), clock, ids, OfflinePaymentGateway(ids, clock=clock)
    )
    made.artist, made.fan = made.register(Role.ARTIST), made.register(Role.FAN)
    return made


def _race(action: Callable[[], object]) -> list[object]:
    """Run ``action`` RACERS times at once; each answer or the domain error it raised."""
    barrier = threading.Barrier(RACERS)

    def one() -> object:
        barrier.wait()
        try:
            return action()
        except DomainError as refused:
            return refused

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(lambda _: one(), range(RACERS)))


def test_twenty_identical_subscribes_at_once_charge_once(shop: Shop) -> None:
    """One reserves and charges; every other one is refused with Conflict; one live subscription."""
    answers = _race(lambda: shop.subscribe(Tier.SUPPORTER))

    made = [a for a in answers if isinstance(a, subscriptions.TierChangeResult)]
    assert len(made) == 1
    assert all(isinstance(a, Conflict) for a in answers if a not in made)
    assert len(shop.gateway.charges) == 1
    assert shop.booked() == [500]
    assert shop.live().status is SubscriptionStatus.ACTIVE


def test_twenty_identical_upgrades_at_once_charge_the_difference_once(shop: Shop) -> None:
    shop.subscribe(Tier.SUPPORTER)
    shop.clock.advance(days=10)

    answers = _race(lambda: shop.change(Tier.SUPERFAN))

    made = [a for a in answers if isinstance(a, subscriptions.TierChangeResult)]
    assert len(made) == 1
    assert all(isinstance(a, Conflict) for a in answers if a not in made)
    assert len(shop.gateway.charges) == 2
    assert shop.booked() == [500, made[0].charged.amount_minor]
    assert shop.live().tier is Tier.SUPERFAN


def test_a_crash_after_the_charge_is_recorded_by_the_next_request_without_a_second_charge(
    shop: Shop,
) -> None:
    """The process dies between the processor's charge and our record; within the lease the
    subscription is busy (409), after it the next request finishes it with the same key."""
    with pytest.raises(ProcessKilled):
        shop.subscribe(Tier.SUPPORTER, LostAfterCharging(shop.gateway, ProcessKilled))
    assert shop.live().status is SubscriptionStatus.INCOMPLETE
    assert shop.booked() == []
    with pytest.raises(Conflict):
        shop.subscribe(Tier.SUPPORTER)

    shop.clock.advance(INTENT_LEASE + timedelta(seconds=1))
    again = shop.subscribe(Tier.SUPPORTER)

    assert again.subscription.status is SubscriptionStatus.ACTIVE
    assert len(shop.gateway.charges) == 1
    assert shop.booked() == [500]


def test_a_crash_after_an_upgrade_is_charged_is_recorded_by_the_billing_run(shop: Shop) -> None:
    shop.subscribe(Tier.SUPPORTER)
    shop.clock.advance(days=3)
    with pytest.raises(ProcessKilled):
        shop.change(Tier.SUPERFAN, LostAfterCharging(shop.gateway, ProcessKilled))
    assert shop.live().tier is Tier.SUPPORTER

    shop.clock.advance(INTENT_LEASE + timedelta(seconds=1))
    report = shop.desk().run_billing()

    assert report.repaired == 1
    assert shop.live().tier is Tier.SUPERFAN
    assert len(shop.gateway.charges) == 2
    assert shop.booked() == [500, shop.gateway.charges[1].amount.amount_minor]
    with shop.uow() as uow:
        assert [i.status for i in uow.intents.of_subscription(shop.live().id)] == [IntentStatus.SETTLED] * 2


def test_a_slow_processor_holds_no_database_lock(shop: Shop) -> None:
    """While a charge takes 2 s, another writer on the same SQLite file commits at once."""
    slow = SlowCharges(shop.gateway, seconds=2.0)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(shop.subscribe, Tier.SUPPORTER, slow)
        assert slow.started.wait(10)
        began = time.monotonic()
        other = shop.register(Role.FAN)
        took = time.monotonic() - began
        pending.result()
    assert other.id
    assert took < 1.0, f"another writer waited {took:.2f} s for the processor"
    assert shop.booked() == [500]


@attrs.define
class SlowPayouts:
    """Takes ``seconds`` to send a payout, as a processor on a bad day."""

    inner: OfflinePaymentGateway
    seconds: float
    started: threading.Event = attrs.field(factory=threading.Event)

    def pay_out(
        self, *, artist_id: str, amount: Money, idempotency_key: str, account_ref: str | None = None
    ) -> PayoutResult:
        self.started.set()
        time.sleep(self.seconds)
        return self.inner.pay_out(
            artist_id=artist_id, amount=amount, idempotency_key=idempotency_key, account_ref=account_ref
        )


def test_a_slow_payout_holds_no_database_lock(shop: Shop) -> None:
    """While a payout takes 2 s to send, another writer on the same SQLite file commits at once;
    the payout is then recorded once."""
    shop.subscribe(Tier.SUPPORTER)
    with shop.uow() as uow:
        artist = uow.accounts.get(shop.artist.id)
        assert artist is not None
        uow.accounts.save(attrs.evolve(artist, email_verified=True))  # an artist is paid once verified
        uow.commit()
    slow = SlowPayouts(shop.gateway, seconds=2.0)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(
            run_payouts,
            "2025-03",
            caller=Caller("operator", Role.ADMIN),
            uow=shop.uow(),
            gateway=slow,
            ids=shop.ids,
            clock=shop.clock,
        )
        assert slow.started.wait(10)
        began = time.monotonic()
        other = shop.register(Role.FAN)
        took = time.monotonic() - began
        [payout] = pending.result()
    assert other.id
    assert took < 1.0, f"another writer waited {took:.2f} s for the processor"
    assert payout.amount.amount_minor == 450
    assert len(shop.gateway.payouts) == 1


def test_moving_to_free_is_cancelling_at_period_end(shop: Shop) -> None:
    """PATCH to free and DELETE are one rule: cancel at period end, no charge, access until then."""
    shop.subscribe(Tier.SUPERFAN)

    moved = shop.change(Tier.FREE).subscription
    again = shop.desk().cancel(shop.artist.id, caller=shop.fan)

    assert moved.cancel_at_period_end
    assert moved.scheduled_plan is None
    assert moved.pending_tier is Tier.FREE
    assert again == moved
    assert shop.live().tier is Tier.SUPERFAN
    assert len(shop.gateway.charges) == 1


@attrs.define
class DiesAfterChanging:
    """A processor that carries out a change, but our process dies before its answer arrives."""

    inner: SubscriptionBilling

    def start(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome:
        return self.inner.start(request, idempotency_key=idempotency_key)

    def change(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome:
        self.inner.change(request, idempotency_key=idempotency_key)
        raise ProcessKilled

    def renew(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome:
        return self.inner.renew(request, idempotency_key=idempotency_key)


def test_a_move_to_free_that_the_processor_already_ended_is_settled_by_the_repair(shop: Shop) -> None:
    """A move to free is carried out, our process dies, and the processor's events then end the
    subscription at its period end. The repair finds the change done (the domain's pending tier
    of a cancellation is free) and settles the intent with its key: no failure, no charge."""
    shop.subscribe(Tier.SUPPORTER)
    dying = Subscriptions(
        shop.uow, DiesAfterChanging(ChargingSubscriptionBilling(shop.gateway)), shop.ids, shop.clock
    )
    with pytest.raises(ProcessKilled):
        dying.change_tier(shop.artist.id, Tier.FREE, caller=shop.fan)
    live = shop.live()
    assert not live.cancel_at_period_end
    shop.clock.advance(days=31)
    with shop.uow() as uow:  # what the processor's events bring: cancelled, then ended
        ended = attrs.evolve(
            live,
            cancel_at_period_end=True,
            status=SubscriptionStatus.CANCELED,
            canceled_at=live.current_period_end,
        )
        uow.subscriptions.save(ended)
        uow.commit()

    report = shop.desk().run_billing()

    assert report.repaired == 1
    with shop.uow() as uow:
        assert [i.status for i in uow.intents.of_subscription(live.id)] == [IntentStatus.SETTLED] * 2
        assert uow.subscriptions.get(live.id) == ended
    assert len(shop.gateway.charges) == 1


def test_a_free_fan_taking_a_paid_tier_through_checkout_is_upgraded(shop: Shop) -> None:
    """The checkout page's way in: a fan on the free tier is upgraded, not refused."""
    shop.subscribe(Tier.FREE)
    shop.clock.advance(days=15)

    upgraded = shop.desk().subscribe_or_upgrade(shop.artist.id, Tier.SUPPORTER, caller=shop.fan)

    assert upgraded.subscription.tier is Tier.SUPPORTER
    assert 0 < upgraded.charged.amount_minor < 500
    assert shop.booked() == [upgraded.charged.amount_minor]


def test_cancelling_a_free_subscription_ends_it_at_its_period_end(shop: Shop) -> None:
    """DELETE on a free subscription is answered like any other cancellation, not refused."""
    shop.subscribe(Tier.FREE)

    canceled = shop.desk().cancel(shop.artist.id, caller=shop.fan)

    assert (canceled.tier, canceled.cancel_at_period_end) == (Tier.FREE, True)
    assert shop.gateway.charges == ()


@attrs.define
class PagesToPay:
    """A processor that hosts payment: every start (and every change that takes money) answers a
    page to pay, one per key; ``refuse`` makes it refuse before doing anything."""

    pages: dict[str, CheckoutSession] = attrs.field(factory=dict)
    refuse: DomainError | None = None

    def _page(self, key: str) -> BillingOutcome:
        if self.refuse is not None:
            raise self.refuse
        page = self.pages.setdefault(
            key, CheckoutSession(f"cs_{len(self.pages)}", f"https://pay.example/{key}")
        )
        return BillingOutcome(checkout=page)

    def start(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome:
        return self._page(idempotency_key)

    def change(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome:
        return self._page(idempotency_key) if request.amount.amount_minor else BillingOutcome()

    def renew(self, request: BillingRequest, *, idempotency_key: str) -> BillingOutcome:
        raise AssertionError("a processor that bills itself renews by itself")


def _hosted(shop: Shop, pages: PagesToPay) -> Subscriptions:
    return Subscriptions(shop.uow, pages, shop.ids, shop.clock)


def test_a_page_left_unpaid_is_the_same_page_until_it_expires_then_lets_go(shop: Shop) -> None:
    """Asked again: the same page. Another tier meanwhile: 409, two payable pages could both be
    paid. After the page's lifetime the reserved subscription ends and a new start is possible."""
    pages = PagesToPay()
    desk = _hosted(shop, pages)
    first = desk.subscribe(shop.artist.id, Tier.SUPPORTER, caller=shop.fan)
    assert first.checkout is not None
    assert first.subscription.status is SubscriptionStatus.INCOMPLETE
    assert desk.subscribe(shop.artist.id, Tier.SUPPORTER, caller=shop.fan).checkout == first.checkout
    with pytest.raises(Conflict, match="waiting to be paid"):
        desk.subscribe(shop.artist.id, Tier.SUPERFAN, caller=shop.fan)
    with pytest.raises(Conflict):
        desk.change_tier(shop.artist.id, Tier.SUPERFAN, caller=shop.fan)

    shop.clock.advance(CHECKOUT_LIFETIME)
    again = desk.subscribe(shop.artist.id, Tier.SUPERFAN, caller=shop.fan)

    assert again.checkout is not None
    assert again.checkout != first.checkout
    with shop.uow() as uow:
        statuses = {s.id: s.status for s in uow.subscriptions.of_fan(shop.fan.id)}
        old_intents = [i.status for i in uow.intents.of_subscription(first.subscription.id)]
    assert statuses[first.subscription.id] is SubscriptionStatus.CANCELED
    assert old_intents == [IntentStatus.FAILED]


def test_a_free_fan_gets_one_payable_page_at_a_time(shop: Shop) -> None:
    shop.subscribe(Tier.FREE)
    desk = _hosted(shop, PagesToPay())

    supporter = desk.change_tier(shop.artist.id, Tier.SUPPORTER, caller=shop.fan)

    assert supporter.checkout is not None
    assert desk.change_tier(shop.artist.id, Tier.SUPPORTER, caller=shop.fan).checkout == supporter.checkout
    with pytest.raises(Conflict, match="waiting to be paid"):
        desk.change_tier(shop.artist.id, Tier.SUPERFAN, caller=shop.fan)


def test_a_processor_refusing_before_acting_lets_the_reservation_go(shop: Shop) -> None:
    """The artist cannot take payments yet: 409 for the fan, the reserved subscription ends, and
    neither a retry nor the billing run is stuck behind it."""
    pages = PagesToPay(
        refuse=Conflict("the artist cannot take payments until they finish setting up payouts")
    )
    desk = _hosted(shop, pages)
    with pytest.raises(Conflict, match="setting up payouts"):
        desk.subscribe(shop.artist.id, Tier.SUPPORTER, caller=shop.fan)

    with shop.uow() as uow:
        assert uow.subscriptions.live_for(shop.fan.id, shop.artist.id) is None
    shop.clock.advance(INTENT_LEASE + timedelta(seconds=1))
    assert desk.run_billing().repaired == 0
    pages.refuse = None
    assert desk.subscribe(shop.artist.id, Tier.SUPPORTER, caller=shop.fan).checkout is not None
