"""POST /webhooks/stripe over the HTTP app: signatures, at-most-once, any order, all or nothing.

The app runs on in-memory repositories with the Stripe gateway pointed at the Stripe double (in
threads of this process); the double captures the events it emits and each test delivers them,
signed as Stripe signs, in the order and number it wants.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import attrs
import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from musicconnect.adapters.crypto import ScryptPasswordHasher
from musicconnect.adapters.inprocess import InlineJobQueue
from musicconnect.adapters.memory import (
    FrozenClock,
    InMemoryStore,
    InMemorySubscriptionRepository,
    InMemoryUnitOfWork,
    SequentialIdGenerator,
)
from musicconnect.adapters.offline import OfflinePaymentGateway, offline_payments
from musicconnect.adapters.stripe import StripePaymentGateway, stripe_payments
from musicconnect.bootstrap import Services, bootstrap
from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.errors import ServiceUnavailable, SignatureInvalid
from musicconnect.domain.ledger import TransactionKind, artist_account
from musicconnect.domain.money import Money
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus
from musicconnect.domain.tiers import Tier
from musicconnect.entrypoints.http import create_app
from musicconnect.platform import Platform
from musicconnect.ports.payments import GatewayEvent, Payments, SubscriptionSnapshot
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.settings import Settings
from musicconnect.usecases.payouts import run_payouts
from tests.support.accounts import verify_email
from tests.support.stripe_double import DoubleControl, StripeDouble, sign
from tests.unit.http.fakes import FakeMediaProbe, FakeTranscoder

SECRET: Final = "whsec_unit_webhooks"
PASSWORD: Final = "correct horse battery"
Event = dict[str, Any]


class FlakyStripeGateway(StripePaymentGateway):
    """Fails to re-read subscriptions ``failures`` times: after the invoice was already booked in
    the unit of work, so a half-written state would show if anything were committed."""

    failures = 0
    error: Exception = ServiceUnavailable("Stripe did not answer")

    def fetch_subscription(self, external_ref: str) -> SubscriptionSnapshot:
        if self.failures:
            self.failures -= 1
            raise self.error
        return super().fetch_subscription(external_ref)


@pytest.fixture(scope="module")
def double() -> Iterator[StripeDouble]:
    with StripeDouble(capture_webhooks=True) as running:
        yield running


@pytest.fixture(scope="module")
def control(double: StripeDouble) -> Iterator[DoubleControl]:
    client = DoubleControl(double.url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def gateway(double: StripeDouble) -> FlakyStripeGateway:
    return FlakyStripeGateway(
        double.api_key, api_base=double.url, webhook_secret=SECRET, max_network_retries=0
    )


@attrs.define
class _SwitchableUnitsOfWork:
    """The units of work the module's one app uses: a test points them at a fresh or a failing
    store (the app's use cases were bound once to this factory)."""

    factory: Callable[[], UnitOfWork]

    def __call__(self) -> UnitOfWork:
        return self.factory()


_UOWS = _SwitchableUnitsOfWork(lambda: InMemoryUnitOfWork(InMemoryStore()))


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, double: StripeDouble, gateway: FlakyStripeGateway
) -> Services:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("webhooks"), secret_key="k" * 32, stripe_webhook_secret=SECRET
    )
    store = InMemoryStore()
    _UOWS.factory = lambda: InMemoryUnitOfWork(store)
    return bootstrap(
        settings,
        uow=_UOWS,
        clock=FrozenClock(datetime.fromtimestamp(double.state.now, UTC)),
        hasher=ScryptPasswordHasher(n=2, r=1, p=1),
        probe=FakeMediaProbe(),
        transcoder=FakeTranscoder(),
        jobs=InlineJobQueue({}),
        payments=stripe_payments(gateway),
    )


@pytest.fixture(scope="module")
def client(services: Services) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(Platform.of(services))) as test_client:
        yield test_client


@attrs.define
class Scene:
    """One artist with a finished onboarding and one fan with a card, in a fresh store."""

    client: TestClient[Litestar]
    services: Services
    double: StripeDouble
    control: DoubleControl
    gateway: FlakyStripeGateway
    store: InMemoryStore
    #: The store the artist and fan registered in, which fresh stores copy the artist from.
    base: InMemoryStore
    artist_id: str = ""
    fan_id: str = ""
    fan_token: str = ""
    customer: str = ""
    account: str = ""

    def register(self, role: str) -> tuple[str, str]:
        email = f"{role}-{uuid.uuid4().hex[:10]}@example.com"
        created = self.client.post(
            "/auth/register", json={"email": email, "password": PASSWORD, "role": role, "display_name": role}
        )
        assert created.status_code == 201, created.text
        verify_email(self.client, self.services.email, email)  # artists are paid once verified
        login = self.client.post("/auth/login", json={"email": email, "password": PASSWORD})
        return str(created.json()["id"]), str(login.json()["access_token"])

    def emitted(self, action: Any) -> list[Event]:
        """The events the double emits while ``action`` runs."""
        before = len(self.double.webhooks.captured)
        action()
        self.double.webhooks.flush()
        return list(self.double.webhooks.captured[before:])

    def subscribe(self, tier: str = "supporter") -> list[Event]:
        """Checkout through the API, paid on the double's page: the events that followed."""
        started = self.client.post(
            f"/artists/{self.artist_id}/checkout",
            json={
                "tier": tier,
                "success_url": "https://app.example/ok",
                "cancel_url": "https://app.example/no",
            },
            headers={"Authorization": f"Bearer {self.fan_token}"},
        )
        assert started.status_code == 201, started.text
        return self.emitted(lambda: self.control.complete_checkout(started.json()["id"]))

    def deliver(
        self, event: Event, *, secret: str = SECRET, at: int | None = None, header: str | None = None
    ) -> httpx.Response:
        payload = json.dumps(event)
        headers = {"Content-Type": "application/json"}
        signature = header if header is not None else sign(payload, secret, at)
        if signature:
            headers["Stripe-Signature"] = signature
        return self.client.post("/webhooks/stripe", content=payload.encode(), headers=headers)

    def fresh_store(self) -> None:
        self.store = InMemoryStore()
        store = self.store
        _UOWS.factory = lambda: InMemoryUnitOfWork(store)
        self._seed()

    def _seed(self) -> None:
        # The same artist and fan ids in the new store: the double still knows them.
        with InMemoryUnitOfWork(self.store) as uow, InMemoryUnitOfWork(self.base) as base:
            artist = base.artists.get(self.artist_id)
            assert artist is not None
            uow.artists.add(artist)
            uow.commit()

    def subscriptions(self) -> list[Any]:
        with InMemoryUnitOfWork(self.store) as uow:
            return list(uow.subscriptions.of_fan(self.fan_id))

    def ledger(self) -> list[Any]:
        with InMemoryUnitOfWork(self.store) as uow:
            return list(uow.ledger.of_artist(self.artist_id))

    def processing_fees(self) -> int:
        with InMemoryUnitOfWork(self.store) as uow:
            return uow.ledger.balance("platform:processing", "USD")

    def trial_balance(self) -> dict[str, int]:
        with InMemoryUnitOfWork(self.store) as uow:
            return uow.ledger.trial_balance()

    def nothing_written(self) -> bool:
        """Nothing since checkout began: the subscription it reserved is still waiting for payment."""
        state = self.store.published
        return (
            len(state.processed_events) == 0
            and all(s.status is SubscriptionStatus.INCOMPLETE for s in state.subscriptions.values())
            and len(state.transactions_by_key) == 0
        )


@pytest.fixture
def scene(
    client: TestClient[Litestar],
    services: Services,
    double: StripeDouble,
    control: DoubleControl,
    gateway: FlakyStripeGateway,
) -> Scene:
    store = InMemoryStore()
    _UOWS.factory = lambda: InMemoryUnitOfWork(store)
    gateway.failures = 0
    made = Scene(client, services, double, control, gateway, store, store)
    made.artist_id, artist_token = made.register("artist")
    made.fan_id, made.fan_token = made.register("fan")
    onboarding = client.post(
        f"/artists/{made.artist_id}/payouts/onboarding",
        json={"refresh_url": "https://app.example/again", "return_url": "https://app.example/done"},
        headers={"Authorization": f"Bearer {artist_token}"},
    )
    assert onboarding.status_code == 201, onboarding.text
    account = gateway.connected_account(made.artist_id)
    assert account is not None
    made.account = account.external_ref
    made.emitted(lambda: control.onboard(made.account))
    made.customer = gateway.ensure_customer(fan_id=made.fan_id, email="fan@example.com")
    return made


def _first(events: list[Event], kind: str) -> Event:
    return next(e for e in events if e["type"] == kind)


def _charges(scene: Scene) -> list[Any]:
    return [t for t in scene.ledger() if t.kind is TransactionKind.CHARGE]


# --- signatures ---------------------------------------------------------------------------------


def test_a_correctly_signed_event_is_applied(scene: Scene) -> None:
    """The baseline the refusals are measured against: signed now, with the right secret, 200."""
    events = scene.subscribe()
    response = scene.deliver(_first(events, "checkout.session.completed"))
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "applied": True, "duplicate": False}
    assert [s.tier for s in scene.subscriptions()] == [Tier.SUPPORTER]


@pytest.mark.parametrize(
    ("case", "options"),
    [
        ("bad signature", {"header": "t={now},v1=" + "0" * 64}),
        ("wrong secret", {"secret": "whsec_someone_else"}),
        ("missing header", {"header": ""}),
        ("garbled header", {"header": "v1=abc,t=notanumber"}),
        ("301 s old", {"at": -301}),
        ("301 s ahead", {"at": +301}),
    ],
)
def test_a_badly_signed_event_is_refused_and_writes_nothing(
    scene: Scene, case: str, options: dict[str, Any]
) -> None:
    """Bad signature, wrong secret, no header, stale or future timestamp: 400, and no write."""
    event = _first(scene.subscribe(), "checkout.session.completed")
    now = int(time.time())
    if "at" in options:
        options = {"at": now + options["at"]}
    if "header" in options:
        options = {"header": options["header"].format(now=now)}

    response = scene.deliver(event, **options)

    assert response.status_code == 400, f"{case}: {response.text}"
    assert response.json()["error"] == "invalid_signature"
    assert scene.nothing_written()


def test_a_tampered_body_is_refused(scene: Scene) -> None:
    """A signature made for one body does not vouch for another."""
    event = _first(scene.subscribe(), "checkout.session.completed")
    header = sign(json.dumps(event), SECRET)
    forged = dict(event, id="evt_forged")
    response = scene.deliver(forged, header=header)
    assert response.status_code == 400
    assert scene.nothing_written()


def test_timestamps_just_inside_the_tolerance_are_accepted(scene: Scene) -> None:
    """299 s either way is still within Stripe's 300 s."""
    events = scene.subscribe()
    assert (
        scene.deliver(_first(events, "customer.subscription.created"), at=int(time.time()) - 299).status_code
        == 200
    )
    assert scene.deliver(_first(events, "invoice.paid"), at=int(time.time()) + 299).status_code == 200


# --- at most once -------------------------------------------------------------------------------


def test_one_event_delivered_ten_times_has_one_effect(scene: Scene) -> None:
    """The first delivery applies; the nine others are answered 200 as duplicates."""
    paid = _first(scene.subscribe(), "invoice.paid")
    answers = [scene.deliver(paid).json() for _ in range(10)]
    assert [a["duplicate"] for a in answers] == [False] + [True] * 9
    assert [t.gross for t in _charges(scene)] == [Money(500, "USD")]
    assert len(scene.subscriptions()) == 1


def test_one_event_delivered_ten_times_at_once_has_one_effect(scene: Scene) -> None:
    """Ten simultaneous deliveries: all 200, exactly one applies, one charge is booked."""
    paid = _first(scene.subscribe(), "invoice.paid")
    start = threading.Barrier(10)
    answers: list[httpx.Response] = []

    def deliver() -> None:
        start.wait()
        answers.append(scene.deliver(paid))

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [a.status_code for a in answers] == [200] * 10
    assert sum(not a.json()["duplicate"] for a in answers) == 1
    assert [t.gross for t in _charges(scene)] == [Money(500, "USD")]
    assert len(scene.subscriptions()) == 1


# --- any order ----------------------------------------------------------------------------------


def test_any_order_of_four_subscription_events_ends_on_the_right_tier(scene: Scene) -> None:
    """Created, first invoice paid, upgraded to superfan (with its prorated invoice), downgrade
    scheduled: all 24 orders end superfan, moving to supporter at period end, with both invoices
    booked once each. Each event is applied from Stripe's object as it is now, not as it was."""
    events = scene.subscribe()
    subscription = _first(events, "customer.subscription.created")["data"]["object"]["id"]
    created = _first(events, "customer.subscription.created")
    first_invoice = _first(events, "invoice.paid")
    upgrade_events = scene.emitted(
        lambda: scene.gateway.change_subscription_tier(
            external_ref=subscription,
            artist_id=scene.artist_id,
            artist_name="artist",
            plan=_plan(scene, Tier.SUPERFAN),
            at_period_end=False,
            idempotency_key=f"up:{subscription}",
        )
    )
    upgraded = _first(upgrade_events, "customer.subscription.updated")
    scene.emitted(
        lambda: scene.gateway.change_subscription_tier(
            external_ref=subscription,
            artist_id=scene.artist_id,
            artist_name="artist",
            plan=_plan(scene, Tier.SUPPORTER),
            at_period_end=True,
            idempotency_key=f"down:{subscription}",
        )
    )
    four = [created, first_invoice, upgraded, _first(upgrade_events, "invoice.paid")]
    proration = _first(upgrade_events, "invoice.paid")["data"]["object"]["amount_paid"]

    for order in itertools.permutations(four):
        scene.fresh_store()
        for event in order:
            assert scene.deliver(event).status_code == 200
        [subscribed] = scene.subscriptions()
        assert (subscribed.tier, subscribed.pending_tier, subscribed.status) == (
            Tier.SUPERFAN,
            Tier.SUPPORTER,
            SubscriptionStatus.ACTIVE,
        ), [e["type"] for e in order]
        assert sorted(t.gross.amount_minor for t in _charges(scene)) == sorted([500, proration])
        assert scene.trial_balance() == {"USD": 0}


def _plan(scene: Scene, tier: Tier) -> Any:
    with scene.services.uow() as uow:
        artist = uow.artists.get(scene.artist_id)
        assert artist is not None
        return artist.plan(tier)


# --- all or nothing -----------------------------------------------------------------------------


class BreakingSubscriptions(InMemorySubscriptionRepository):
    """Refuses to store subscriptions while ``fuse`` holds a count: a write failing part-way."""

    def __init__(self, session: Any, fuse: list[int]) -> None:
        super().__init__(session)
        self.fuse = fuse

    def _blow(self) -> None:
        if self.fuse[0]:
            self.fuse[0] -= 1
            raise RuntimeError("the database went away mid-write")

    def add(self, subscription: Subscription) -> None:
        self._blow()
        super().add(subscription)

    def save(self, subscription: Subscription) -> None:
        self._blow()
        super().save(subscription)


def _breaking_uow(store: InMemoryStore, fuse: list[int]) -> InMemoryUnitOfWork:
    uow = InMemoryUnitOfWork(store)
    uow.subscriptions = BreakingSubscriptions(uow._session, fuse)
    return uow


@pytest.mark.parametrize(
    ("failure", "status"),
    [("processor down", 503), ("bug while reading", 500), ("write fails after the charge was booked", 500)],
)
def test_a_handler_failing_part_way_writes_nothing_and_the_redelivery_succeeds(
    scene: Scene, failure: str, status: int
) -> None:
    """invoice.paid fails: re-reading the subscription (Stripe down, or a bug), or storing it after
    the charge and the event id were already written in the unit of work. 5xx, nothing committed
    (no charge, no subscription, the event not marked); Stripe's redelivery then applies it whole."""
    paid = _first(scene.subscribe(), "invoice.paid")
    fuse = [0]
    store = scene.store
    _UOWS.factory = lambda: _breaking_uow(store, fuse)
    if failure == "processor down":
        scene.gateway.failures, scene.gateway.error = 1, ServiceUnavailable("Stripe did not answer")
    elif failure == "bug while reading":
        scene.gateway.failures, scene.gateway.error = 1, RuntimeError("a bug")
    else:
        fuse[0] = 1

    failed = scene.deliver(paid)

    assert failed.status_code == status, failed.text
    assert scene.nothing_written()
    again = scene.deliver(paid)
    assert again.status_code == 200
    assert again.json()["applied"]
    assert [t.gross for t in _charges(scene)] == [Money(500, "USD")]
    assert [s.tier for s in scene.subscriptions()] == [Tier.SUPPORTER]


# --- money events -------------------------------------------------------------------------------


def test_paid_invoices_book_the_split_and_stripes_actual_fee(scene: Scene) -> None:
    """invoice.paid books 5.00 as 4.50 owed to the artist and 0.50 to us; application_fee.created
    books the 0.44 Stripe kept (2.9 % of 5.00 is 14.5, half-even 14, + 30) as our expense."""
    events = scene.subscribe()
    for kind in ("invoice.paid", "application_fee.created"):
        assert scene.deliver(_first(events, kind)).status_code == 200
    with InMemoryUnitOfWork(scene.store) as uow:
        assert uow.ledger.balance(artist_account(scene.artist_id), "USD") == -450
        assert uow.ledger.balance("platform:fees", "USD") == -50
    assert scene.processing_fees() == 44
    assert scene.trial_balance() == {"USD": 0}


def test_refunds_are_booked_once_each_whatever_the_order(scene: Scene) -> None:
    """Two partial refunds (2.00 then 3.00) of the 5.00 charge, their events delivered backwards
    and twice: two refunds, taking back exactly the charge's 4.50 / 0.50 split."""
    events = scene.subscribe()
    scene.deliver(_first(events, "invoice.paid"))
    charge = _first(events, "charge.succeeded")["data"]["object"]["id"]
    refunded = [
        _first(
            scene.emitted(
                lambda amount=amount: scene.gateway.client.v1.refunds.create(
                    {"charge": charge, "amount": amount}
                )
            ),
            "charge.refunded",
        )
        for amount in (200, 300)
    ]
    for event in [*reversed(refunded), *refunded]:
        assert scene.deliver(event).status_code == 200
    refunds = [t for t in scene.ledger() if t.kind is TransactionKind.REFUND]
    assert sorted(t.gross.amount_minor for t in refunds) == [-300, -200]
    with InMemoryUnitOfWork(scene.store) as uow:
        assert uow.ledger.balance(artist_account(scene.artist_id), "USD") == 0
        assert uow.ledger.balance("platform:fees", "USD") == 0


def test_account_and_payout_events_are_acknowledged(scene: Scene) -> None:
    """account.updated re-reads the artist's account; payout.paid is matched to a payout we sent."""
    onboarded = [
        e
        for e in scene.double.webhooks.captured
        if e["type"] == "account.updated" and e.get("account") == scene.account
    ]
    assert scene.deliver(onboarded[-1]).json()["applied"]
    account = scene.gateway.connected_account(scene.artist_id)
    assert account is not None
    assert account.payouts_enabled

    events = scene.subscribe()
    for event in events:
        scene.deliver(event)
    # The payout run as a use case: its HTTP door is the payouts tests' business.
    [payout] = run_payouts(
        scene.services.clock.now().strftime("%Y-%m"),
        caller=Caller("admin", Role.ADMIN),
        uow=scene.services.uow(),
        gateway=scene.gateway,
        ids=scene.services.ids,
        clock=scene.services.clock,
    )
    assert payout.amount == Money(450, "USD")
    arrived = scene.emitted(lambda: scene.control.advance(3 * 24 * 3600))
    paid = _first(arrived, "payout.paid")
    assert paid["account"] == scene.account
    answer = scene.deliver(paid).json()
    assert answer["applied"]
    assert not answer["duplicate"]


def test_an_invoice_that_is_not_ours_is_acknowledged_and_ignored(scene: Scene) -> None:
    """A subscription made outside Music Connect (no metadata): 200, nothing applied or booked."""
    price = scene.gateway.ensure_price(
        artist_id=scene.artist_id, artist_name="a", plan=_plan(scene, Tier.SUPPORTER)
    )
    session = scene.gateway.client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "customer": scene.customer,
            "line_items": [{"price": price, "quantity": 1}],
            "success_url": "https://elsewhere.example/ok",
            "cancel_url": "https://elsewhere.example/no",
        }
    )
    events = scene.emitted(lambda: scene.control.complete_checkout(session.id))
    answer = scene.deliver(_first(events, "invoice.paid"))
    assert answer.status_code == 200
    assert answer.json()["applied"] is False
    assert scene.subscriptions() == []
    assert _charges(scene) == []


def _memory_services(tmp_path: Path, *, payments: Payments | None = None) -> Services:
    """The embedded default's services on memory adapters; offline payments unless ``payments``."""
    return bootstrap(
        Settings(data_dir=tmp_path, secret_key="k" * 32),
        uow=lambda: InMemoryUnitOfWork(InMemoryStore()),
        probe=FakeMediaProbe(),
        transcoder=FakeTranscoder(),
        jobs=InlineJobQueue({}),
        payments=payments,
    )


def test_webhook_routes_exist_only_on_stripe(tmp_path: Path) -> None:
    """On the embedded default (offline payments) there is no webhook to call."""
    with TestClient(create_app(Platform.of(_memory_services(tmp_path)))) as offline:
        assert offline.post("/webhooks/stripe", content=b"{}").status_code in {404, 405}


@attrs.define
class _RefusingVerifier:
    """A processor's event check that refuses every event, and remembers it was asked."""

    asked: list[bytes] = attrs.field(factory=list)

    def verify_event(self, payload: bytes, signature_header: str | None) -> GatewayEvent:
        self.asked.append(payload)
        raise SignatureInvalid("not signed by this processor")


def test_the_webhook_route_follows_the_verifier_bootstrap_chose_not_the_gateways_class(
    tmp_path: Path,
) -> None:
    """The HTTP layer asks the Payments bootstrap assembled whether events can be verified; it
    never checks which gateway class is behind it (no isinstance switching on the backend)."""
    verifier = _RefusingVerifier()
    offline = offline_payments(OfflinePaymentGateway(SequentialIdGenerator("pay")))
    services = _memory_services(tmp_path, payments=attrs.evolve(offline, events=verifier))
    with TestClient(create_app(Platform.of(services))) as app:
        answer = app.post("/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=x"})

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_signature"
    assert verifier.asked == [b"{}"]


def test_the_stripe_routes_are_in_the_openapi_schema(client: TestClient[Litestar]) -> None:
    """With Stripe configured, the schema documents the webhook, checkout and onboarding routes."""
    schema = client.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {
        "/webhooks/stripe",
        "/artists/{artist_id}/checkout",
        "/artists/{artist_id}/payouts/onboarding",
    } <= set(paths)
    assert "400" in paths["/webhooks/stripe"]["post"]["responses"]
