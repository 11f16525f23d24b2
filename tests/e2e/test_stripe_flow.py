"""A month of money over real HTTP: the API (SQLite, real ffmpeg) on Stripe, Stripe being the
stateful double, which delivers its signed webhooks to the API as Stripe would.

The app is assembled with ``bootstrap(settings, payments=stripe_payments(StripePaymentGateway(...)))``
and served by uvicorn on a free port; the double's clock and the app's frozen clock move together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import attrs
import httpx
import pytest
import uvicorn
from litestar import Litestar

from musicconnect.adapters.ffmpeg import generate_demo_audio
from musicconnect.adapters.memory import FrozenClock
from musicconnect.adapters.stripe import StripePaymentGateway, stripe_payments
from musicconnect.bootstrap import Services, bootstrap
from musicconnect.domain.hls import listed_rungs
from musicconnect.domain.money import Money, split_revenue
from musicconnect.domain.payments import LinkKind
from musicconnect.domain.subscriptions import prorate
from musicconnect.entrypoints.http import create_app
from musicconnect.platform import Platform
from musicconnect.settings import Settings
from musicconnect.usecases.accounts import set_admin
from tests.support.accounts import verify_email
from tests.support.servers import free_port
from tests.support.stripe_double import DoubleControl, StripeDouble

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SECRET: Final = "whsec_e2e_flow"
ADMIN: Final = "admin@example.com"
PASSWORD: Final = "correct horse battery"
DAY: Final = timedelta(days=1)


@contextmanager
def serving(app: Litestar) -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn-e2e", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@attrs.define
class Flow:
    http: httpx.Client
    services: Services
    clock: FrozenClock
    double: StripeDouble
    control: DoubleControl
    gateway: StripePaymentGateway
    root: Path
    tokens: dict[str, str] = attrs.field(factory=dict)
    emails: dict[str, str] = attrs.field(factory=dict)

    def register(self, email: str, role: str) -> str:
        created = self.http.post(
            "/auth/register", json={"email": email, "password": PASSWORD, "role": role, "display_name": email}
        )
        assert created.status_code == 201, created.text
        verify_email(self.http, self.services.email, email)  # an artist is paid once verified
        user_id = str(created.json()["id"])
        self.emails[user_id] = email
        return user_id

    def auth(self, user_id: str) -> dict[str, str]:
        """A fresh token each time: access tokens expire as the frozen clock moves on by weeks."""
        login = self.http.post("/auth/login", json={"email": self.emails[user_id], "password": PASSWORD})
        assert login.status_code == 200, login.text
        return {"Authorization": f"Bearer {login.json()['access_token']}"}

    def advance(self, delta: timedelta) -> None:
        """Both clocks move; whatever Stripe does meanwhile reaches the API before this returns."""
        self.clock.advance(delta)
        self.control.advance(int(delta.total_seconds()))
        self.settle()

    def settle(self) -> None:
        assert self.control.flush_webhooks() == [], self.double.webhooks.deliveries[-5:]

    def rungs(self, fan_id: str, track_id: str) -> list[int]:
        master = self.http.get(f"/tracks/{track_id}/stream", headers=self.auth(fan_id))
        assert master.status_code == 200, master.text
        return listed_rungs(master.text)

    def subscription(self, fan_id: str) -> dict[str, Any]:
        mine = self.http.get("/me/subscriptions", headers=self.auth(fan_id))
        assert mine.status_code == 200, mine.text
        live = [s for s in mine.json() if s["status"] != "canceled"]
        assert len(live) == 1, mine.json()
        return dict(live[0])


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    root = tmp_path_factory.mktemp("stripe-flow")
    with StripeDouble(webhook_secret=SECRET) as double:
        clock = FrozenClock(datetime.fromtimestamp(double.state.now, UTC))
        gateway = StripePaymentGateway(double.api_key, api_base=double.url, webhook_secret=SECRET)
        settings = Settings(
            data_dir=root / "data",
            secret_key="e2e-secret-key-that-is-long-enough-for-hs256",
            # A fresh login per call (access tokens expire as the frozen clock moves on by weeks).
            throttle_scale=100,
            stripe_webhook_secret=SECRET,
            payout_minimum_minor=100,
        )
        services = bootstrap(settings, payments=stripe_payments(gateway), clock=clock)
        with (
            serving(create_app(Platform.of(services))) as base,
            httpx.Client(base_url=base, timeout=60) as http,
        ):
            control = DoubleControl(double.url)
            control.deliver_webhooks_to(f"{base}/webhooks/stripe", SECRET)
            yield Flow(http, services, clock, double, control, gateway, root)
            control.close()


def _onboard(flow: Flow, artist: str) -> str:
    """The artist sets up payouts; Stripe reports the finished onboarding with account.updated."""
    onboarding = flow.http.post(
        f"/artists/{artist}/payouts/onboarding",
        headers=flow.auth(artist),
        json={"refresh_url": "https://app.example/again", "return_url": "https://app.example/done"},
    )
    assert onboarding.status_code == 201, onboarding.text
    account = str(onboarding.json()["url"]).rsplit("/", 1)[-1]
    flow.control.onboard(account)
    flow.settle()
    return account


def _publish(flow: Flow, artist: str) -> str:
    """A track, transcoded by real ffmpeg into the three-rung ladder."""
    audio = flow.root / "song.wav"
    generate_demo_audio(audio, 6.0)
    with audio.open("rb") as body:
        upload = flow.http.post(
            f"/artists/{artist}/tracks",
            headers=flow.auth(artist),
            files={"file": ("song.wav", body, "audio/wav")},
            data={"title": "Paid Light"},
        )
    assert upload.status_code == 202, upload.text
    track = str(upload.json()["track_id"])
    deadline = time.monotonic() + 120
    while flow.http.get(f"/tracks/{track}", headers=flow.auth(artist)).json()["status"] == "processing":
        assert time.monotonic() < deadline, "transcode took too long"
        time.sleep(0.3)
    return track


def _upgrade(flow: Flow, artist: str, fan: str, period_start: datetime, period_end: datetime) -> Money:
    """PATCH the subscription: Stripe prorates the difference and invoices it at once."""
    response = flow.http.patch(
        f"/artists/{artist}/subscription", headers=flow.auth(fan), json={"tier": "superfan"}
    )
    assert response.status_code == 200, response.text
    charged = Money(response.json()["charged_minor"], "USD")
    flow.settle()
    expected = prorate(
        old_price=Money(500, "USD"),
        new_price=Money(1200, "USD"),
        period_start=period_start,
        period_end=period_end,
        now=flow.clock.now(),
    )
    assert abs(charged.amount_minor - expected.amount_minor) <= 1  # Stripe rounds per line
    return charged


def _the_payout_arrives(flow: Flow, artist: str, *, gross: int, net: int) -> None:
    """The receipt says pending (or in transit) when sent, and paid once payout.paid arrives; it
    shows the fees Stripe kept on the charges it covers (the platform bore them: net untouched)."""
    [sent] = flow.http.get(f"/artists/{artist}/payouts", headers=flow.auth(artist)).json()
    assert sent["status"] in {"pending", "in_transit"}
    with flow.services.uow() as uow:
        stripe_kept = uow.ledger.balance("platform:processing", "USD")
    assert sent["processor_fee_minor"] == stripe_kept > 0
    flow.advance(3 * DAY)  # the payout arrives: payout.paid is delivered and acknowledged
    [arrived] = flow.http.get(f"/artists/{artist}/payouts", headers=flow.auth(artist)).json()
    assert (arrived["status"], arrived["processor_ref"]) == ("paid", sent["processor_ref"])
    assert arrived["arrived_at"] is not None
    assert (arrived["gross_minor"], arrived["platform_fee_minor"], arrived["net_minor"]) == (
        gross,
        gross - net,
        net,
    )


def _stripe_ids_are_kept(flow: Flow, *, fan: tuple[str, str], artist: tuple[str, str]) -> None:
    """Stripe's ids for the fan and the artist are ours to keep, not a search at Stripe."""
    with flow.services.uow() as uow:
        customer = uow.processor_links.get(LinkKind.CUSTOMER, fan[0])
        account = uow.processor_links.get(LinkKind.CONNECTED_ACCOUNT, artist[0])
    assert customer is not None
    assert customer.external_ref == fan[1]
    assert account is not None
    assert (account.external_ref, account.ready) == (artist[1], True)


def test_a_month_of_stripe_billing_end_to_end(flow: Flow) -> None:
    """Checkout, webhook, richer playlist; a prorated upgrade; a declined renewal, past_due, free
    after the grace period; the payout is gross minus 10 % to the cent; the ledger balances."""
    http = flow.http
    artist = flow.register("nova@example.com", "artist")
    fan = flow.register("fan@example.com", "fan")
    admin = flow.register(ADMIN, "fan")
    set_admin(ADMIN, admin=True, uow=flow.services.uow())  # what `musicconnect admin grant` does
    revised = http.put(
        f"/artists/{artist}/tiers/superfan",
        headers=flow.auth(artist),
        json={"price_minor": 1200, "currency": "USD", "features": ["backstage"]},
    )
    assert revised.status_code == 200, revised.text

    account = _onboard(flow, artist)
    track = _publish(flow, artist)
    assert flow.rungs(fan, track) == [128]

    # Checkout: the fan pays on Stripe's page; the signed webhooks make them a supporter.
    started = http.post(
        f"/artists/{artist}/checkout",
        headers=flow.auth(fan),
        json={
            "tier": "supporter",
            "success_url": "https://app.example/ok",
            "cancel_url": "https://app.example/no",
        },
    )
    assert started.status_code == 201, started.text
    assert started.json()["url"].startswith(flow.double.url)
    flow.control.complete_checkout(started.json()["id"])
    flow.settle()
    assert flow.rungs(fan, track) == [128, 256]
    first = flow.subscription(fan)
    assert (first["tier"], first["status"], first["price_minor"]) == ("supporter", "active", 500)

    # Ten days in, an upgrade to superfan (price version 2): at once, charging the difference.
    flow.advance(10 * DAY)
    period_start = datetime.fromisoformat(first["current_period_start"])
    period_end = datetime.fromisoformat(first["current_period_end"])
    charged = _upgrade(flow, artist, fan, period_start, period_end)
    assert flow.rungs(fan, track) == [128, 256, 320]
    assert flow.subscription(fan)["tier"] == "superfan"

    # The renewal is declined: past_due, still superfan for the grace period, then free.
    customer = flow.gateway.ensure_customer(fan_id=fan, email="fan@example.com")
    flow.control.decline_cards_of(customer)
    flow.advance(period_end - flow.clock.now() + timedelta(seconds=1))
    assert flow.subscription(fan)["status"] == "past_due"
    assert flow.rungs(fan, track) == [128, 256, 320]
    flow.advance(8 * DAY)
    assert flow.rungs(fan, track) == [128]

    # The month's payout: everything paid, minus exactly the 10 %, to the cent.
    paid = [500, charged.amount_minor]
    gross = sum(paid)
    artist_share = sum(split_revenue(Money(p, "USD")).artist.amount_minor for p in paid)
    run = http.post("/payouts/run", headers=flow.auth(admin), json={"period": period_start.strftime("%Y-%m")})
    assert run.status_code == 200, run.text
    [payout] = run.json()["payouts"]
    assert (payout["artist_id"], payout["gross_minor"], payout["amount_minor"]) == (
        artist,
        gross,
        artist_share,
    )
    assert payout["platform_fee_minor"] == gross - artist_share
    assert payout["amount_minor"] == gross - sum(
        split_revenue(Money(p, "USD")).platform.amount_minor for p in paid
    )
    # Stripe's side agrees: the connected account held exactly that, and now holds nothing.
    assert flow.control.balance(account) == {"usd": 0}
    _the_payout_arrives(flow, artist, gross=gross, net=artist_share)

    _stripe_ids_are_kept(flow, fan=(fan, customer), artist=(artist, account))
    with flow.services.uow() as uow:
        assert uow.ledger.trial_balance() == {"USD": 0}
        assert uow.ledger.balance(f"artist:{artist}", "USD") == 0
        assert uow.ledger.balance("platform:processing", "USD") > 0  # Stripe's actual fees, booked
    assert all(d.status == 200 for d in flow.double.webhooks.deliveries), [
        d for d in flow.double.webhooks.deliveries if d.status != 200
    ]
    assert {"checkout.session.completed", "invoice.paid", "invoice.payment_failed", "payout.paid"} <= {
        d.event_type for d in flow.double.webhooks.deliveries
    }
