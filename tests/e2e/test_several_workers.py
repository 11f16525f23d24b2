"""`serve --workers 4` on the embedded defaults: quotas and revocations hold across processes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.backends import backend_env
from tests.support.servers import musicconnect_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ENV = {"MUSICCONNECT_SECRET_KEY": "e2e-workers-secret-long-enough-for-hs256"}
PASSWORD = "correct horse battery"


def _account(http: httpx.Client, email: str, role: str) -> tuple[str, dict[str, str]]:
    created = http.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "role": role, "display_name": email}
    )
    assert created.status_code == 201, created.text
    token = http.post("/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
    return created.json()["id"], {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("backend", "rounds"), [("embedded", 3), ("production", 20)])
def test_a_hundred_concurrent_messages_admit_exactly_five(tmp_path: Path, backend: str, rounds: int) -> None:
    """100 DMs at once from one superfan through 4 API processes: 5 accepted, 95 answered 429, 5 stored.

    Repeated with a fresh superfan each round (20 rounds on MongoDB + Redis): never an extra admission.
    """
    with (
        backend_env(backend, tmp_path) as servers,
        musicconnect_server(tmp_path / "data", env={**ENV, **servers}, workers=4) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        artist_id, artist = _account(http, "artist@example.com", "artist")
        for round_ in range(rounds):
            _, fan = _account(http, f"fan{round_}@example.com", "fan")
            subscribed = http.post(
                f"/artists/{artist_id}/subscription", headers=fan, json={"tier": "superfan"}
            )
            assert subscribed.status_code == 201, subscribed.text

            def send(n: int, fan: dict[str, str] = fan) -> int:
                with httpx.Client(base_url=base, timeout=60) as own:
                    return own.post(
                        f"/artists/{artist_id}/messages", headers=fan, json={"body": f"#{n}"}
                    ).status_code

            with ThreadPoolExecutor(max_workers=32) as pool:
                statuses = list(pool.map(send, range(100)))
            assert (statuses.count(201), statuses.count(429)) == (5, 95), f"round {round_}"
        inbox = http.get(f"/artists/{artist_id}/messages", headers=artist)
        assert inbox.status_code == 200, inbox.text
        assert len(inbox.json()) == 5 * rounds


def test_logout_in_one_process_revokes_in_all(tmp_path: Path) -> None:
    """After logout, every worker process refuses the token (tried over many fresh connections)."""
    with (
        musicconnect_server(tmp_path / "data", env=ENV, workers=4) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        _, fan = _account(http, "fan@example.com", "fan")
        assert http.post("/auth/logout", headers=fan).status_code == 204
        statuses = set()
        for _ in range(40):
            with httpx.Client(base_url=base, timeout=60) as fresh:
                statuses.add(fresh.get("/me/subscriptions", headers=fan).status_code)
        assert statuses == {401}
