"""`serve --workers 4`: quotas, revocations and tier changes hold across processes, on both backends."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from musicconnect.adapters.ffmpeg import generate_demo_audio
from musicconnect.domain.hls import listed_rungs
from tests.e2e.backends import backend_env
from tests.support.accounts import signed_in
from tests.support.audio import require_ffmpeg
from tests.support.servers import musicconnect_server
from tests.support.tracks import uploaded_track

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ENV = {"MUSICCONNECT_SECRET_KEY": "e2e-workers-secret-long-enough-for-hs256"}


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
        artist_id, artist = signed_in(http, "artist@example.com", "artist")
        for round_ in range(rounds):
            fan = _subscribed_fan(http, artist_id, f"fan{round_}@example.com", "superfan")

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
        _, fan = signed_in(http, "fan@example.com", "fan")
        assert http.post("/auth/logout", headers=fan).status_code == 204
        answers = _everywhere(base, lambda fresh: fresh.get("/me/subscriptions", headers=fan))
        assert {answer.status_code for answer in answers} == {401}


@pytest.mark.parametrize("backend", ["embedded", "production"])
def test_a_tier_change_is_heard_by_every_process_at_once(tmp_path: Path, backend: str) -> None:
    """Every process serves a supporter's master playlist (so each may hold their standing in its
    cache), the fan upgrades through one of them, and at once every process lists 320 kbps too."""
    with _a_ready_track_on_four_processes(tmp_path, backend) as (base, http, artist_id, track_id, _):
        fan = _subscribed_fan(http, artist_id, "fan@example.com", "supporter")

        def rungs_everywhere() -> set[tuple[int, ...]]:
            masters = _everywhere(base, lambda fresh: fresh.get(f"/tracks/{track_id}/stream", headers=fan))
            refused = [master.text for master in masters if master.status_code != 200]
            assert not refused, refused[0]
            return {tuple(listed_rungs(master.text)) for master in masters}

        before = rungs_everywhere()
        upgraded = http.patch(f"/artists/{artist_id}/subscription", headers=fan, json={"tier": "superfan"})
        assert upgraded.status_code == 200, upgraded.text
        after = rungs_everywhere()

    assert before == {(128, 256)}
    assert after == {(128, 256, 320)}


@pytest.mark.parametrize("backend", ["embedded", "production"])
def test_an_edit_and_a_deletion_are_heard_by_every_process(tmp_path: Path, backend: str) -> None:
    """Every process remembers the published track (each served its master); the artist raises
    its tier through one process and then deletes it: every process refuses the free fan, then
    everyone. At once on Redis (the change mark is read with the token check); on the embedded
    default, which shares no cache, within the two seconds a process trusts what it remembers."""
    settle_s = 0.0 if backend == "production" else 2.1
    with _a_ready_track_on_four_processes(tmp_path, backend) as (base, http, artist_id, track_id, artist):
        _, free = signed_in(http, "free@example.com", "fan")
        superfan = _subscribed_fan(http, artist_id, "superfan@example.com", "superfan")

        def statuses_everywhere(fan: dict[str, str]) -> set[int]:
            streams = _everywhere(base, lambda fresh: fresh.get(f"/tracks/{track_id}/stream", headers=fan))
            return {stream.status_code for stream in streams}

        before = statuses_everywhere(free)
        raised = http.patch(f"/tracks/{track_id}", headers=artist, json={"required_tier": "superfan"})
        assert raised.status_code == 200, raised.text
        time.sleep(settle_s)
        after_edit = (statuses_everywhere(free), statuses_everywhere(superfan))
        assert http.delete(f"/tracks/{track_id}", headers=artist).status_code == 204
        time.sleep(settle_s)
        after_delete = statuses_everywhere(superfan)

    assert before == {200}
    assert after_edit == ({404}, {200})
    assert after_delete == {404}


@contextlib.contextmanager
def _a_ready_track_on_four_processes(
    tmp_path: Path, backend: str
) -> Iterator[tuple[str, httpx.Client, str, str, dict[str, str]]]:
    """``serve --workers 4`` on ``backend`` with an artist's track transcoded and ready: the base
    URL, a client, the artist's id, the track's id and the artist's auth headers."""
    require_ffmpeg()
    audio = tmp_path / "short.wav"
    generate_demo_audio(audio, 5.0)
    with (
        backend_env(backend, tmp_path) as servers,
        musicconnect_server(tmp_path / "data", env={**ENV, **servers}, workers=4) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        artist_id, artist = signed_in(http, "artist@example.com", "artist")
        track_id = uploaded_track(http, artist_id, artist, audio, title="Short")
        _until_ready(http, track_id, artist)
        yield base, http, artist_id, track_id, artist


def _subscribed_fan(http: httpx.Client, artist_id: str, email: str, tier: str) -> dict[str, str]:
    """The auth headers of a new fan subscribed to the artist at ``tier``."""
    _, fan = signed_in(http, email, "fan")
    subscribed = http.post(f"/artists/{artist_id}/subscription", headers=fan, json={"tier": tier})
    assert subscribed.status_code == 201, subscribed.text
    return fan


def _everywhere(base: str, ask: Callable[[httpx.Client], httpx.Response]) -> list[httpx.Response]:
    """``ask`` over 40 fresh connections, which the server spreads over its processes."""
    answers = []
    for _ in range(40):
        with httpx.Client(base_url=base, timeout=60) as fresh:
            answers.append(ask(fresh))
    return answers


def _until_ready(http: httpx.Client, track_id: str, artist: dict[str, str], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while (status := http.get(f"/tracks/{track_id}", headers=artist).json()["status"]) != "ready":
        assert status == "processing", f"the track is {status}"
        assert time.monotonic() < deadline, "the track was not ready in time"
        time.sleep(0.2)
