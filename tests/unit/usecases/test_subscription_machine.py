"""Payment events delivered late, twice and in any order still converge on the processor's state.

A model processor keeps, per (fan, artist), a timeline of subscription objects: one is created,
changes tier, has invoices paid or failed, is deleted, and only then may the next one be
created. Every change is emitted as a GatewayEvent into a pool (a bundle). The delivery rules
pick any event from the pool, again and again, in any order, and hand it to the webhook use case
(``handle_stripe_event``, the path a processor's events take), which re-reads the subscription
from the model processor and applies it over the in-memory unit of work.

After every step: at most one live subscription per (fan, artist); a redelivered event changes
nothing; once every event of a subscription (or of a whole pair) has been delivered, the
stored state is the processor's latest and the entitlements it derives are the right ones; and
the standing streaming reads through the cache (whose entries never expire here) always grants
what the database grants, so no write ever leaves a stale entry behind.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from musicconnect.adapters.memory import (
    FrozenClock,
    InMemoryCache,
    InMemoryStore,
    InMemorySubscriptionRepository,
    InMemoryUnitOfWork,
    SequentialIdGenerator,
)
from musicconnect.domain.accounts import DEFAULT_GRACE_DAYS, Artist
from musicconnect.domain.clocks import add_months
from musicconnect.domain.entitlements import entitlements
from musicconnect.domain.errors import NotFound
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus, effective_tier
from musicconnect.domain.tiers import Tier, default_plans
from musicconnect.ports.payments import (
    ApplicationFeeSnapshot,
    ChargeSnapshot,
    ConnectedAccount,
    GatewayEvent,
    GatewayEventKind,
    InvoiceSnapshot,
    OnboardingLink,
    PayoutSnapshot,
    SubscriptionSnapshot,
)
from musicconnect.usecases.caching import InvalidatingUnitOfWork, standing_with
from musicconnect.usecases.webhooks import handle_stripe_event

FANS: Final = ("fan-1", "fan-2")
ARTISTS: Final = ("artist-1", "artist-2")
PAIRS: Final = tuple(itertools.product(FANS, ARTISTS))
START: Final = datetime(2025, 1, 1, tzinfo=UTC)
STEP: Final = timedelta(hours=1)
GRACE: Final = timedelta(days=DEFAULT_GRACE_DAYS)
PAID_TIERS: Final = (Tier.SUPPORTER, Tier.SUPERFAN)
#: Statuses a processor may create a subscription in (incomplete until its first invoice is paid).
CREATED_STATUSES: Final = (
    SubscriptionStatus.INCOMPLETE,
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
)
#: Statuses that keep the subscribed tier for good (no scheduled change comes from the processor).
_PAID_UP: Final = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING})

Pair = tuple[str, str]


PLANS: Final = {plan.tier: plan for plan in default_plans()}


def deliver(
    event: GatewayEvent,
    processor: Processor,
    *,
    uow: InMemoryUnitOfWork | InvalidatingUnitOfWork,
    ids: SequentialIdGenerator,
    clock: FrozenClock,
) -> bool:
    """Hand the event to the webhook use case; True when it was applied (not a duplicate)."""
    outcome = handle_stripe_event(
        event, uow=uow, reads=processor, accounts=_NO_ACCOUNTS, ids=ids, clock=clock
    )
    return outcome.applied and not outcome.duplicate


class _NoAccounts:
    """Subscription events never touch connected accounts."""

    def create_connected_account(self, *, artist_id: str, email: str) -> ConnectedAccount:
        raise AssertionError("not expected")

    def onboarding_link(
        self, *, artist_id: str, refresh_url: str, return_url: str, idempotency_key: str
    ) -> OnboardingLink:
        raise AssertionError("not expected")

    def refresh_account(self, account_ref: str) -> ConnectedAccount:
        raise AssertionError("not expected")


_NO_ACCOUNTS: Final = _NoAccounts()


def seeded_store() -> InMemoryStore:
    store = InMemoryStore()
    with InMemoryUnitOfWork(store) as uow:
        for artist_id in ARTISTS:
            uow.artists.add(Artist(id=artist_id, display_name=artist_id, plans=default_plans()))
        uow.commit()
    return store


@attrs.define
class ProcessorSubscription:
    """The processor's own object, always in its latest state."""

    ref: str
    fan_id: str
    artist_id: str
    tier: Tier
    status: SubscriptionStatus
    period_end: datetime
    created_at: datetime
    event_ids: list[str] = attrs.field(factory=list)

    @property
    def pair(self) -> Pair:
        return self.fan_id, self.artist_id

    @property
    def live(self) -> bool:
        return self.status is not SubscriptionStatus.CANCELED


def expected_tier(subscription: ProcessorSubscription | None, *, within_grace: bool) -> Tier:
    """The tier the processor's state grants, written from the design rules rather than the code."""
    if subscription is None or not subscription.live:
        return Tier.FREE
    if subscription.status in _PAID_UP:
        return subscription.tier
    if subscription.status is SubscriptionStatus.PAST_DUE and within_grace:
        return subscription.tier
    return Tier.FREE


class Processor:
    """A model payment processor. At most one live object per (fan, artist), as in our domain."""

    def __init__(self) -> None:
        self.now = START
        self.objects: dict[str, ProcessorSubscription] = {}
        self.live: dict[Pair, ProcessorSubscription] = {}
        self.events: list[GatewayEvent] = []
        #: The (fan, artist) each event is about.
        self.pairs: dict[str, Pair] = {}
        self._numbers = itertools.count(1)

    def _tick(self) -> datetime:
        self.now += STEP
        # The invariants read "past due" as "within grace" at the latest event; keep that true.
        assert self.now - START < GRACE, "the timeline outgrew the grace period; fewer steps"
        return self.now

    def _emit(self, subscription: ProcessorSubscription, kind: str) -> GatewayEvent:
        event = GatewayEvent(
            id=f"evt_{next(self._numbers)}",
            kind=GatewayEventKind.SUBSCRIPTION_CHANGED,
            type=kind,
            created=self.now,
            object_ref=subscription.ref,
            subscription_ref=subscription.ref,
        )
        subscription.event_ids.append(event.id)
        self.events.append(event)
        self.pairs[event.id] = subscription.pair
        return event

    # --- what the webhook use case reads back ------------------------------------------------

    def fetch_invoice(self, external_ref: str) -> InvoiceSnapshot:
        raise NotFound(f"the model processor keeps no invoices ({external_ref})")

    def fetch_charge(self, external_ref: str) -> ChargeSnapshot:
        raise NotFound(f"the model processor keeps no charges ({external_ref})")

    def fetch_application_fee(self, external_ref: str) -> ApplicationFeeSnapshot:
        raise NotFound(f"the model processor keeps no fees ({external_ref})")

    def fetch_payout(self, external_ref: str, *, account_ref: str | None = None) -> PayoutSnapshot:
        raise NotFound(f"the model processor keeps no payouts ({external_ref}, {account_ref})")

    def fetch_subscription(self, external_ref: str) -> SubscriptionSnapshot:
        found = self.objects[external_ref]
        plan = PLANS[found.tier]
        return SubscriptionSnapshot(
            external_ref=found.ref,
            fan_id=found.fan_id,
            artist_id=found.artist_id,
            tier=found.tier,
            plan_version=plan.version,
            price=plan.price,
            status=found.status,
            created_at=found.created_at,
            current_period_start=add_months(found.period_end, -1),
            current_period_end=found.period_end,
            canceled_at=self.now if found.status is SubscriptionStatus.CANCELED else None,
        )

    def free_pairs(self) -> list[Pair]:
        return [pair for pair in PAIRS if pair not in self.live]

    def create(self, pair: Pair, tier: Tier, status: SubscriptionStatus) -> GatewayEvent:
        assert pair not in self.live
        now = self._tick()
        subscription = ProcessorSubscription(
            ref=f"sub_{len(self.objects) + 1}",
            fan_id=pair[0],
            artist_id=pair[1],
            tier=tier,
            status=status,
            period_end=add_months(now, 1),
            created_at=now,
        )
        self.objects[subscription.ref] = subscription
        self.live[pair] = subscription
        return self._emit(subscription, "customer.subscription.created")

    def change_tier(self, subscription: ProcessorSubscription, tier: Tier) -> GatewayEvent:
        self._tick()
        subscription.tier = tier
        return self._emit(subscription, "customer.subscription.updated")

    def invoice_paid(self, subscription: ProcessorSubscription) -> GatewayEvent:
        self._tick()
        if subscription.status is not SubscriptionStatus.INCOMPLETE:
            subscription.period_end = add_months(subscription.period_end, 1)  # a renewal
        subscription.status = SubscriptionStatus.ACTIVE
        return self._emit(subscription, "invoice.paid")

    def invoice_failed(self, subscription: ProcessorSubscription) -> GatewayEvent:
        self._tick()
        subscription.status = SubscriptionStatus.PAST_DUE
        return self._emit(subscription, "invoice.payment_failed")

    def delete(self, subscription: ProcessorSubscription) -> GatewayEvent:
        self._tick()
        subscription.status = SubscriptionStatus.CANCELED
        del self.live[subscription.pair]
        return self._emit(subscription, "customer.subscription.deleted")


class GatewayEventMachine(RuleBasedStateMachine):
    events = Bundle("events")

    def __init__(self) -> None:
        super().__init__()
        self.store = seeded_store()
        self.clock = FrozenClock(START)
        self.ids = SequentialIdGenerator("sub")
        self.processor = Processor()
        self.delivered: set[str] = set()
        #: Reads what is committed, without a unit of work (so checking every step stays cheap).
        self.repository = InMemorySubscriptionRepository(self.store)
        #: The frozen clock never expires an entry: only invalidation keeps it right.
        self.cache = InMemoryCache(self.clock)

    # --- the system under test ---------------------------------------------------------------

    def uow(self) -> InvalidatingUnitOfWork:
        return InvalidatingUnitOfWork(InMemoryUnitOfWork(self.store), self.cache)

    def apply(self, event: GatewayEvent) -> bool:
        # Read after every change the processor made so far: the webhook re-reads the latest state.
        self.clock.set(max(self.clock.now(), self.processor.now) + timedelta(seconds=1))
        return deliver(event, self.processor, uow=self.uow(), ids=self.ids, clock=self.clock)

    def stored(self) -> tuple[Subscription, ...]:
        """Every subscription in the repository, in a stable order."""
        found = [s for fan in FANS for s in self.repository.of_fan(fan)]
        return tuple(sorted(found, key=lambda s: s.id))

    def deliver(self, event: GatewayEvent) -> None:
        if event.id in self.delivered:
            before = self.stored()
            assert not self.apply(event), f"{event.id} changed something on redelivery"
            assert self.stored() == before
        else:
            self.apply(event)
            self.delivered.add(event.id)

    # --- the processor's rules: each emits an event into the pool ------------------------------

    def _pick_live(self, data: st.DataObject) -> ProcessorSubscription:
        live = sorted(self.processor.live.values(), key=lambda s: s.ref)
        return data.draw(st.sampled_from(live), label="subscription")

    @precondition(lambda self: self.processor.free_pairs())
    @rule(
        target=events,
        data=st.data(),
        tier=st.sampled_from(PAID_TIERS),
        status=st.sampled_from(CREATED_STATUSES),
    )
    def subscription_created(
        self, data: st.DataObject, tier: Tier, status: SubscriptionStatus
    ) -> GatewayEvent:
        pair = data.draw(st.sampled_from(self.processor.free_pairs()), label="pair")
        return self.processor.create(pair, tier, status)

    @precondition(lambda self: self.processor.live)
    @rule(target=events, data=st.data())
    def tier_changed(self, data: st.DataObject) -> GatewayEvent:
        subscription = self._pick_live(data)
        tier = data.draw(st.sampled_from([t for t in PAID_TIERS if t is not subscription.tier]), label="tier")
        return self.processor.change_tier(subscription, tier)

    @precondition(lambda self: self.processor.live)
    @rule(target=events, data=st.data())
    def invoice_paid(self, data: st.DataObject) -> GatewayEvent:
        return self.processor.invoice_paid(self._pick_live(data))

    @precondition(lambda self: self.processor.live)
    @rule(target=events, data=st.data())
    def invoice_failed(self, data: st.DataObject) -> GatewayEvent:
        return self.processor.invoice_failed(self._pick_live(data))

    @precondition(lambda self: self.processor.live)
    @rule(target=events, data=st.data())
    def subscription_deleted(self, data: st.DataObject) -> GatewayEvent:
        return self.processor.delete(self._pick_live(data))

    # --- delivery: any event from the pool, possibly again, in any order ------------------------

    @rule(event=events)
    def deliver_an_event(self, event: GatewayEvent) -> None:
        self.deliver(event)

    @precondition(lambda self: len(self.delivered) < len(self.processor.events))
    @rule(pair=st.sampled_from(PAIRS), data=st.data())
    def deliver_the_rest_of_one_pair_shuffled(self, pair: Pair, data: st.DataObject) -> None:
        mine = [
            e
            for e in self.processor.events
            if e.id not in self.delivered and self.processor.pairs[e.id] == pair
        ]
        for event in data.draw(st.permutations(mine), label="order"):
            self.deliver(event)

    # --- invariants ---------------------------------------------------------------------------

    def _fully_delivered(self, subscription: ProcessorSubscription) -> bool:
        return set(subscription.event_ids) <= self.delivered

    @invariant()
    def at_most_one_live_subscription_per_fan_and_artist(self) -> None:
        live = Counter((s.fan_id, s.artist_id) for s in self.stored() if s.is_live)
        assert all(count == 1 for count in live.values()), live

    @invariant()
    def a_fully_delivered_subscription_is_the_processors_latest_state(self) -> None:
        """Status always; tier and period end while it is live (a canceled one grants nothing)."""
        for expected in self.processor.objects.values():
            if not self._fully_delivered(expected):
                continue
            stored = self.repository.by_external_ref(expected.ref)
            assert stored is not None, f"{expected.ref} was never stored"
            assert stored.status is expected.status, (expected, stored)
            if expected.live:
                assert (stored.tier, stored.current_period_end) == (expected.tier, expected.period_end)

    @invariant()
    def the_cached_standing_grants_what_the_database_grants(self) -> None:
        """Read as streaming reads it (filling the cache), now and past any grace period."""
        for pair in PAIRS:
            cached = standing_with(*pair, uow=self.uow(), cache=self.cache)
            stored = self.repository.live_for(*pair)
            for moment in (self.processor.now, self.processor.now + GRACE + timedelta(days=40)):
                assert cached.tier_at(moment) is effective_tier(stored, moment), (pair, moment, stored)

    @invariant()
    def a_fully_delivered_pair_has_the_processors_live_subscription_and_tier(self) -> None:
        """Right after the last event and again beyond the grace period."""
        for pair in PAIRS:
            objects = [s for s in self.processor.objects.values() if s.pair == pair]
            if not all(self._fully_delivered(s) for s in objects):
                continue
            expected = self.processor.live.get(pair)
            stored = self.repository.live_for(*pair)
            if expected is None:
                assert stored is None, (pair, stored)
            else:
                owner = self.repository.by_external_ref(expected.ref)
                assert stored is not None
                assert owner is not None
                assert stored.id == owner.id
            soon, later = self.processor.now, self.processor.now + GRACE + timedelta(days=1)
            assert entitlements(stored, soon).tier is expected_tier(expected, within_grace=True)
            assert entitlements(stored, later).tier is expected_tier(expected, within_grace=False)


# 40 steps found both bugs fixed in the event path in every run tried (25 found one of them in
# 6 of 10); one bug shrunk at a time keeps a failure's shrinking to minutes, not the 5-minute cap.
GatewayEventMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, report_multiple_bugs=False
)
TestGatewayEventsConverge = GatewayEventMachine.TestCase
TestGatewayEventsConverge.__doc__ = "Any delivery order and any duplicates converge on the processor's state."


# --- the four events of one subscription, in all 24 orders ----------------------------------------


def _four_events(last: str) -> tuple[Processor, list[GatewayEvent]]:
    """created (supporter, incomplete), updated to superfan, invoice.paid, then ``last``."""
    processor = Processor()
    processor.create(("fan-1", "artist-1"), Tier.SUPPORTER, SubscriptionStatus.INCOMPLETE)
    [subscription] = processor.objects.values()
    processor.change_tier(subscription, Tier.SUPERFAN)
    processor.invoice_paid(subscription)
    if last == "customer.subscription.updated":
        processor.change_tier(subscription, Tier.SUPPORTER)
    else:
        processor.delete(subscription)
    return processor, processor.events


ORDERS: Final = list(itertools.permutations(range(4)))


def _deliver_in_order(
    processor: Processor, events: Sequence[GatewayEvent], order: Sequence[int]
) -> tuple[InMemoryStore, list[bool]]:
    store = seeded_store()
    ids, clock = SequentialIdGenerator("sub"), FrozenClock(processor.now)
    replies = [
        deliver(events[i], processor, uow=InMemoryUnitOfWork(store), ids=ids, clock=clock)
        for i in [*order, *order]
    ]
    return store, replies


@pytest.mark.parametrize("order", ORDERS, ids=lambda order: "-".join(map(str, order)))
def test_every_order_of_created_upgraded_paid_downgraded_ends_active_on_supporter(
    order: tuple[int, ...],
) -> None:
    """One live, active supporter subscription whatever the order; the second pass changes nothing."""
    processor, events = _four_events("customer.subscription.updated")

    store, replies = _deliver_in_order(processor, events, order)

    with InMemoryUnitOfWork(store) as uow:
        subscriptions = uow.subscriptions.of_fan("fan-1")
        live = uow.subscriptions.live_for("fan-1", "artist-1")
    assert len(subscriptions) == 1
    assert live is not None
    assert (live.status, live.tier, live.external_ref) == (SubscriptionStatus.ACTIVE, Tier.SUPPORTER, "sub_1")
    assert entitlements(live, events[-1].created + GRACE * 2).tier is Tier.SUPPORTER
    assert replies[0] is True
    assert not any(replies[4:])


@pytest.mark.parametrize("order", ORDERS, ids=lambda order: "-".join(map(str, order)))
def test_every_order_of_created_upgraded_paid_deleted_ends_canceled_and_free(order: tuple[int, ...]) -> None:
    """Even when the deletion arrives first, the older events never bring the subscription back."""
    processor, events = _four_events("customer.subscription.deleted")

    store, replies = _deliver_in_order(processor, events, order)

    with InMemoryUnitOfWork(store) as uow:
        subscriptions = uow.subscriptions.of_fan("fan-1")
        live = uow.subscriptions.live_for("fan-1", "artist-1")
    assert live is None
    assert [s.status for s in subscriptions] == [SubscriptionStatus.CANCELED]
    assert entitlements(live, events[-1].created).tier is Tier.FREE
    assert not any(replies[4:])


def test_a_delayed_event_of_an_older_subscription_never_ends_the_newer_one() -> None:
    """The fan resubscribed; the old creation arrives after the new one: the new one stays live."""
    processor = Processor()
    old_created = processor.create(("fan-1", "artist-1"), Tier.SUPERFAN, SubscriptionStatus.ACTIVE)
    [old] = processor.objects.values()
    old_deleted = processor.delete(old)
    new_created = processor.create(("fan-1", "artist-1"), Tier.SUPPORTER, SubscriptionStatus.ACTIVE)
    store = seeded_store()
    ids, clock = SequentialIdGenerator("sub"), FrozenClock(processor.now)

    for event in (new_created, old_created, old_deleted):
        deliver(event, processor, uow=InMemoryUnitOfWork(store), ids=ids, clock=clock)

    with InMemoryUnitOfWork(store) as uow:
        live = uow.subscriptions.live_for("fan-1", "artist-1")
        older = uow.subscriptions.by_external_ref(old.ref)
    assert live is not None
    assert (live.external_ref, live.tier, live.status) == (
        new_created.subscription_ref,
        Tier.SUPPORTER,
        SubscriptionStatus.ACTIVE,
    )
    assert older is not None
    assert older.status is SubscriptionStatus.CANCELED
