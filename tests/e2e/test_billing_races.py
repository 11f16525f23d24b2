"""Twenty identical subscribe or upgrade requests at once, through 4 API processes: one charge.

Embedded: SQLite and the offline gateway, charged at once. Production: MongoDB (nx-27017) and
Redis, with Stripe being the stateful double: subscribing answers a Checkout page, paid on the
double, and the upgrade is invoiced by Stripe; one upgrade's answer is lost on the way back
(the double upgrades, then drops the connection) and stripe-python's retry with the same key
gets the stored answer. Every request but one is answered 409 (or the same result).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Final

import attrs
import httpx
import pymongo
import pytest
from pymongo.collection import Collection

from musicconnect.adapters.sqlite import SqliteDatabase, SqliteUnitOfWork
from musicconnect.domain.ledger import TransactionKind
from tests.e2e.backends import backend_env
from tests.support.servers import musicconnect_server
from tests.support.stripe_double import DoubleControl, StripeDouble

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

RACERS: Final = 20
SECRET: Final = "whsec_billing_races"
PASSWORD: Final = "correct horse battery"
ENV: Final = {"MUSICCONNECT_SECRET_KEY": "e2e-billing-races-secret-long-enough-for-hs256"}


@attrs.define
class Shop:
    http: httpx.Client
    base: str
    artist: str = ""
    artist_headers: dict[str, str] = attrs.field(factory=dict)
    fan: dict[str, str] = attrs.field(factory=dict)

    def account(self, email: str, role: str) -> tuple[str, dict[str, str]]:
        body = {"email": email, "password": PASSWORD, "role": role, "display_name": email}
        created = self.http.post("/auth/register", json=body)
        assert created.status_code == 201, created.text
        login = self.http.post("/auth/login", json={"email": email, "password": PASSWORD})
        return created.json()["id"], {"authorization": f"Bearer {login.json()['access_token']}"}

    def race(self, method: str, tier: str) -> list[httpx.Response]:
        """RACERS identical requests released at once, each on its own connection."""
        barrier = threading.Barrier(RACERS)

        def one(_: int) -> httpx.Response:
            with httpx.Client(base_url=self.base, timeout=60) as own:
                barrier.wait()
                return own.request(
                    method, f"/artists/{self.artist}/subscription", headers=self.fan, json={"tier": tier}
                )

        with ThreadPoolExecutor(RACERS) as pool:
            return list(pool.map(one, range(RACERS)))

    def live(self) -> list[dict[str, object]]:
        mine = self.http.get("/me/subscriptions", headers=self.fan)
        assert mine.status_code == 200, mine.text
        return [s for s in mine.json() if s["status"] != "canceled"]


def _one_winner(answers: list[httpx.Response], status: int) -> httpx.Response:
    """One result for all: every answer is 409 or that same result (a request that came after the
    winner recorded it may be given it again, as when the same checkout page is asked for twice)."""
    won = [a for a in answers if a.status_code != 409]
    assert won, [a.text for a in answers]
    assert all(a.status_code == status for a in won), [(a.status_code, a.text) for a in won]
    same = {(a.json()["id"], a.json()["tier"], a.json().get("checkout_url")) for a in won}
    assert len(same) == 1, same
    return won[0]


@contextmanager
def _served(root: Path, env: dict[str, str]) -> Iterator[Shop]:
    with (
        musicconnect_server(root / "data", env={**ENV, **env}, workers=4) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        shop = Shop(http, base)
        shop.artist, shop.artist_headers = shop.account("artist@example.com", "artist")
        _, shop.fan = shop.account("fan@example.com", "fan")
        yield shop


def test_identical_requests_racing_charge_once_on_sqlite(tmp_path: Path) -> None:
    with _served(tmp_path, {}) as shop:
        subscribed = _one_winner(shop.race("POST", "supporter"), 201)
        assert (subscribed.json()["status"], subscribed.json()["charged_minor"]) == ("active", 500)
        assert len(shop.live()) == 1

        upgraded = _one_winner(shop.race("PATCH", "superfan"), 200)
        assert upgraded.json()["tier"] == "superfan"
        assert 0 < upgraded.json()["charged_minor"] <= 500
        [live] = shop.live()
        assert live["tier"] == "superfan"

    with SqliteUnitOfWork(SqliteDatabase(tmp_path / "data" / "musicconnect.sqlite3")) as uow:
        charges = [t for t in uow.ledger.of_artist(shop.artist) if t.kind is TransactionKind.CHARGE]
    assert [t.gross.amount_minor for t in charges if t.gross] == [500, upgraded.json()["charged_minor"]]


@pytest.fixture
def stripe_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], StripeDouble, DoubleControl]]:
    with ExitStack() as stack:
        double = stack.enter_context(StripeDouble(webhook_secret=SECRET))
        control = DoubleControl(double.url)
        stack.callback(control.close)
        servers = stack.enter_context(backend_env("production", tmp_path))
        env = {
            **servers,
            "MUSICCONNECT_STRIPE_API_KEY": double.api_key,
            "MUSICCONNECT_STRIPE_WEBHOOK_SECRET": SECRET,
            "MUSICCONNECT_STRIPE_API_BASE": double.url,
            "MUSICCONNECT_PUBLIC_BASE_URL": "https://app.example",
        }
        yield env, double, control


def _settled(control: DoubleControl, until: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not until():
        assert control.flush_webhooks() == []
        assert time.monotonic() < deadline, "the webhooks did not bring the change"
        time.sleep(0.1)


def test_identical_requests_racing_charge_once_on_mongodb_redis_and_stripe(
    tmp_path: Path, stripe_env: tuple[dict[str, str], StripeDouble, DoubleControl]
) -> None:
    env, double, control = stripe_env
    with _served(tmp_path, env) as shop:
        control.deliver_webhooks_to(f"{shop.base}/webhooks/stripe", SECRET)
        _onboard(shop, control)

        # Twenty subscribes at once: one Checkout page; nothing charged until the fan pays there.
        started = _one_winner(shop.race("POST", "supporter"), 201)
        assert started.json()["status"] == "incomplete"
        assert str(started.json()["checkout_url"]).startswith(double.url)
        [session] = control.objects("checkout.session")
        control.complete_checkout(session["id"])
        _settled(control, lambda: [s["status"] for s in shop.live()] == ["active"])
        assert len(control.objects("charge")) == 1

        # Twenty upgrades at once, the winner's answer from Stripe lost once and retried.
        control.fault("/v1/subscriptions/", "drop")
        upgraded = _one_winner(shop.race("PATCH", "superfan"), 200)
        assert upgraded.json()["tier"] == "superfan"
        assert 0 < upgraded.json()["charged_minor"] <= 500  # Stripe's prorated invoice
        _settled(control, lambda: [s["tier"] for s in shop.live()] == ["superfan"])
        assert len(control.objects("charge")) == 2
        assert len(shop.live()) == 1


def _onboard(shop: Shop, control: DoubleControl) -> None:
    """The artist finishes Stripe onboarding, so they can take payments."""
    onboarding = shop.http.post(
        f"/artists/{shop.artist}/payouts/onboarding",
        headers=shop.artist_headers,
        json={"refresh_url": "https://app.example/again", "return_url": "https://app.example/done"},
    )
    assert onboarding.status_code == 201, onboarding.text
    control.onboard(str(onboarding.json()["url"]).rsplit("/", 1)[-1])


def _onboarded_supporter(shop: Shop, control: DoubleControl) -> None:
    """The artist finishes Stripe onboarding; the fan pays the supporter tier on the Checkout page."""
    _onboard(shop, control)
    started = shop.http.post(
        f"/artists/{shop.artist}/subscription", headers=shop.fan, json={"tier": "supporter"}
    )
    assert started.status_code == 201, started.text
    [session] = control.objects("checkout.session")
    control.complete_checkout(session["id"])
    _settled(control, lambda: [s["status"] for s in shop.live()] == ["active"])


def test_a_server_killed_after_stripe_upgraded_records_the_upgrade_once_after_a_restart(
    tmp_path: Path, stripe_env: tuple[dict[str, str], StripeDouble, DoubleControl]
) -> None:
    """Stripe has upgraded and invoiced, then the API process is killed before recording it. After
    a restart and the lease, the next request finishes it with the same key: no second invoice,
    the upgrade and its money booked once."""
    env, double, control = stripe_env
    env = {**ENV, **env, "MUSICCONNECT_PAYMENT_LEASE_S": "2"}
    processes: list[subprocess.Popen[bytes]] = []
    with (
        musicconnect_server(tmp_path / "data", env=env, started=processes) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        shop = Shop(http, base)
        shop.artist, shop.artist_headers = shop.account("artist@example.com", "artist")
        _, shop.fan = shop.account("fan@example.com", "fan")
        control.deliver_webhooks_to(f"{base}/webhooks/stripe", SECRET)
        _onboarded_supporter(shop, control)
        [subscription] = control.objects("subscription")
        control.fault(f"/v1/subscriptions/{subscription['id']}", "delay", delay_s=20)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(
                http.patch,
                f"/artists/{shop.artist}/subscription",
                headers=shop.fan,
                json={"tier": "superfan"},
            )
            _until(
                lambda: any(
                    r[1] == f"/v1/subscriptions/{subscription['id']}" and r[0] == "POST"
                    for r in double.requests
                )
            )
            os.killpg(processes[0].pid, signal.SIGKILL)
            with pytest.raises(httpx.HTTPError):
                pending.result()
    assert len(control.objects("charge")) == 2  # Stripe charged the prorated difference

    with (
        musicconnect_server(tmp_path / "data", env=env) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        control.deliver_webhooks_to(f"{base}/webhooks/stripe", SECRET)
        control.redeliver_failed()
        restarted = attrs.evolve(shop, http=http, base=base)
        time.sleep(2.5)  # the lease of the killed request's payment passes
        again = http.patch(
            f"/artists/{shop.artist}/subscription", headers=shop.fan, json={"tier": "superfan"}
        )
        assert again.status_code in {200, 409}, again.text
        _settled(control, lambda: [s["tier"] for s in restarted.live()] == ["superfan"])
        dashboard = http.get(f"/artists/{shop.artist}/dashboard", headers=shop.artist_headers)
        assert dashboard.status_code == 200, dashboard.text
    charges = control.objects("charge")
    assert len(charges) == 2
    assert dashboard.json()["revenue_by_currency"]["USD"]["gross_minor"] == sum(c["amount"] for c in charges)
    client: pymongo.MongoClient[dict[str, object]]
    with pymongo.MongoClient(env["MUSICCONNECT_MONGODB_URI"]) as client:
        intents: Collection[dict[str, object]] = client[env["MUSICCONNECT_MONGODB_DATABASE"]][
            "payment_intents"
        ]
        statuses = sorted(str(i["status"]) for i in intents.find())
    # The first month (settled by checkout's event) and the upgrade (by the request after restart).
    assert statuses == ["settled", "settled"]


def _until(done: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "it did not happen in time"
        time.sleep(0.05)
