"""Login throttling holds exactly across `serve --workers 4`, on Redis and on the embedded SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from musicconnect.domain.throttling import Action, Scope, ThrottlePolicy
from tests.support.redis_server import redis_server, redis_url
from tests.support.servers import musicconnect_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ENV = {"MUSICCONNECT_SECRET_KEY": "e2e-throttle-secret-long-enough-for-hs256"}
PASSWORD = "correct horse battery"
PER_ACCOUNT = ThrottlePolicy().limit(Action.LOGIN, Scope.ACCOUNT).limit


@contextmanager
def _backend(name: str, folder: Path) -> Iterator[dict[str, str]]:
    if name == "embedded":
        yield {}
        return
    redis = redis_server(folder / "redis")
    try:
        yield {"MUSICCONNECT_REDIS_URL": redis_url(redis)}
    finally:
        redis.stop()


@pytest.mark.parametrize(("backend", "rounds"), [("redis", 3), ("embedded", 2)])
def test_a_hundred_concurrent_wrong_passwords_are_answered_exactly_ten_times(
    tmp_path: Path, backend: str, rounds: int
) -> None:
    """100 wrong-password logins at once for one account, through 4 API processes: exactly the
    account's limit (10) are checked and answered 401, the other 90 get 429 with Retry-After, and
    the right password is refused too until the window ends.

    Each round is a fresh account guessed from its own loopback address (127.0.0.2, .3, ...), so
    the per-address limit of one round never spills into the next.
    """
    with (
        _backend(backend, tmp_path) as servers,
        musicconnect_server(tmp_path / "data", env={**ENV, **servers}, workers=4) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        for round_ in range(rounds):
            email = f"target{round_}@example.com"
            created = http.post(
                "/auth/register",
                json={"email": email, "password": PASSWORD, "role": "fan", "display_name": "T"},
            )
            assert created.status_code == 201, created.text
            address = f"127.0.0.{round_ + 2}"

            def guess(n: int, email: str = email, address: str = address) -> httpx.Response:
                # A transport per client: closing a client closes its transport.
                transport = httpx.HTTPTransport(local_address=address)
                with httpx.Client(base_url=base, timeout=120, transport=transport) as own:
                    return own.post("/auth/login", json={"email": email, "password": f"wrong guess {n}"})

            with ThreadPoolExecutor(max_workers=32) as pool:
                answers = list(pool.map(guess, range(100)))
            statuses = [a.status_code for a in answers]

            assert (statuses.count(401), statuses.count(429)) == (PER_ACCOUNT, 100 - PER_ACCOUNT), (
                f"round {round_}"
            )
            assert all(int(a.headers["retry-after"]) > 0 for a in answers if a.status_code == 429)
            right = http.post("/auth/login", json={"email": email, "password": PASSWORD})
            assert right.status_code == 429, f"round {round_}"
