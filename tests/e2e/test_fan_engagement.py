"""Monthly Q&A, DM conversations, the virtual backstage and release notifications served over
HTTP, embedded and on MongoDB + Redis (where a separate `musicconnect worker` process runs the
jobs: the backstage clip's transcode, the notifications' fan-out)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from musicconnect.adapters.ffmpeg import generate_demo_audio
from tests.e2e.backends import BACKENDS, backend_env, start_worker
from tests.support import images
from tests.support.accounts import signed_in
from tests.support.audio import require_ffmpeg
from tests.support.corpus import CORPUS, generate
from tests.support.servers import musicconnect_server, stop
from tests.support.tracks import uploaded_track

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ENV = {"MUSICCONNECT_SECRET_KEY": "e2e-engagement-secret-long-enough-for-hs256"}
#: How far ahead the release is set: long enough for the upload and its transcode to finish
#: first, so that the scheduled sweep, not publishing, is what announces it.
RELEASE_IN = timedelta(seconds=40)


def _fan_on(http: httpx.Client, artist_id: str, email: str, tier: str) -> tuple[str, dict[str, str]]:
    fan_id, headers = signed_in(http, email, "fan")
    if tier != "free":
        subscribed = http.post(f"/artists/{artist_id}/subscription", headers=headers, json={"tier": tier})
        assert subscribed.status_code == 201, subscribed.text
    return fan_id, headers


@pytest.mark.parametrize("backend", BACKENDS)
def test_qa_a_dm_thread_and_the_backstage_across_four_processes(tmp_path: Path, backend: str) -> None:
    """50 concurrent questions by one fan: exactly 3 stored; a supporter asks and upvotes, the
    artist answers, a free fan gets 403; a DM thread with a reply reads the same from both sides,
    and the reply reaches the fan's notification feed once; a superfan reads a backstage post
    and plays its clip through signed URLs while the supporter is refused (see ``_backstage``)."""
    with (
        backend_env(backend, tmp_path) as servers,
        musicconnect_server(tmp_path / "data", env={**ENV, **servers}, workers=4) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        artist_id, artist = signed_in(http, "artist@example.com", "artist")
        opened = http.post(f"/artists/{artist_id}/qa", headers=artist, json={"title": "Q&A de décembre"})
        assert opened.status_code == 201, opened.text
        qa_id = opened.json()["id"]
        _, keen = _fan_on(http, artist_id, "keen@example.com", "supporter")
        superfan_id, superfan = _fan_on(http, artist_id, "super@example.com", "superfan")
        _, free = _fan_on(http, artist_id, "free@example.com", "free")

        def ask(n: int) -> int:
            with httpx.Client(base_url=base, timeout=60) as own:
                return own.post(
                    f"/qa/{qa_id}/questions", headers=keen, json={"body": f"Question #{n}?"}
                ).status_code

        with ThreadPoolExecutor(max_workers=25) as pool:
            statuses = list(pool.map(ask, range(50)))
        assert (statuses.count(201), statuses.count(429)) == (3, 47)

        questions = http.get(f"/qa/{qa_id}", headers=keen).json()["questions"]
        assert len(questions) == 3
        first = questions[0]["id"]
        assert http.post(f"/qa/{qa_id}/questions/{first}/votes", headers=superfan).status_code == 204
        answered = http.put(
            f"/qa/{qa_id}/questions/{first}/answer", headers=artist, json={"body": "Oui, en mars !"}
        )
        assert answered.status_code == 200, answered.text
        page = http.get(f"/qa/{qa_id}", headers=superfan).json()["questions"]
        assert (page[0]["id"], page[0]["votes"], page[0]["answer"]) == (first, 1, "Oui, en mars !")
        assert http.get(f"/qa/{qa_id}", headers=free).status_code == 403
        assert http.post(f"/qa/{qa_id}/questions", headers=free, json={"body": "me?"}).status_code == 403

        sent = http.post(
            f"/artists/{artist_id}/messages", headers=superfan, json={"body": "Hello from Lyon 👋"}
        )
        assert sent.status_code == 201, sent.text
        reply = http.post(
            f"/artists/{artist_id}/conversations/{superfan_id}/replies",
            headers=artist,
            json={"body": "Salut !"},
        )
        assert reply.status_code == 201, reply.text
        fan_view = http.get(f"/me/conversations/{artist_id}", headers=superfan).json()
        artist_view = http.get(f"/artists/{artist_id}/conversations/{superfan_id}", headers=artist).json()
        assert (
            [m["body"] for m in fan_view]
            == [m["body"] for m in artist_view]
            == ["Salut !", "Hello from Lyon 👋"]
        )
        inbox = http.get(f"/artists/{artist_id}/conversations", headers=artist).json()
        assert [(c["fan_id"], c["messages"], c["unread"]) for c in inbox] == [(superfan_id, 2, 0)]

        # The reply's notification is fanned out by a job (a worker process on Redis): it arrives once.
        deadline = time.monotonic() + 60
        kinds: list[str] = []
        while time.monotonic() < deadline:
            kinds = [n["kind"] for n in http.get("/me/notifications", headers=superfan).json()]
            if "dm_reply" in kinds:
                break
            time.sleep(0.2)
        assert kinds.count("dm_reply") == 1, kinds

        _backstage(http, tmp_path, artist_id=artist_id, artist=artist, superfan=superfan, supporter=keen)


def _until(check: Callable[[], bool], *, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.3)


def _backstage(
    http: httpx.Client,
    folder: Path,
    *,
    artist_id: str,
    artist: dict[str, str],
    superfan: dict[str, str],
    supporter: dict[str, str],
) -> None:
    """The artist posts text, a GPS-tagged photo and a speech-like voice note; the clip is
    transcoded by a job (the worker process on Redis); the superfan reads the feed, the image, the
    clip's playlist and a segment; the supporter gets 403 for the feed, for the superfan's own URLs
    (sent with the supporter's token) and for a guessed object path; the superfan is notified."""
    voice_note = generate(next(u for u in CORPUS if u.filename == "speech.mp3"), folder)
    created = http.post(
        f"/artists/{artist_id}/backstage",
        headers=artist,
        files=[
            ("body", (None, "Voice note from the studio — « Été » 🎙".encode(), "text/plain")),
            ("image", ("studio.jpg", images.photo_with_gps(), "image/jpeg")),
            ("clip", ("voice-note.mp3", voice_note.read_bytes(), "audio/mpeg")),
        ],
    )
    assert created.status_code == 201, created.text
    post_id = created.json()["id"]
    assert created.json()["clip"]["status"] in {"processing", "ready"}

    def clip_ready() -> bool:
        clip = http.get(f"/backstage/{post_id}", headers=superfan).json()["clip"]
        assert clip["status"] != "failed", clip
        return bool(clip["status"] == "ready")

    _until(clip_ready)
    feed = http.get(f"/artists/{artist_id}/backstage", headers=superfan)
    assert feed.status_code == 200, feed.text
    post = feed.json()["posts"][0]
    assert post["id"] == post_id
    image = http.get(post["images"][0]["url"], headers=superfan)
    assert image.status_code == 200, image.text
    assert image.content.startswith(b"\xff\xd8")  # a JPEG
    assert b"Exif" not in image.content
    playlist = http.get(post["clip"]["url"])
    assert playlist.status_code == 200, playlist.text
    segments = [line for line in playlist.text.splitlines() if line and not line.startswith("#")]
    assert segments, playlist.text
    segment = http.get(segments[0])
    assert segment.status_code == 200, segment.text
    assert len(segment.content) > 1000

    assert http.get(f"/artists/{artist_id}/backstage", headers=supporter).status_code == 403
    for url in (post["clip"]["url"], segments[0], post["images"][0]["url"]):
        assert http.get(url, headers=supporter).status_code == 403, url
    guessed = post["clip"]["url"].split("?", 1)[0]
    assert http.get(guessed, headers=supporter).status_code == 403
    assert http.get(guessed.replace("index.m3u8", "init.mp4")).status_code == 403

    def notified() -> bool:
        kinds = [n["kind"] for n in http.get("/me/notifications", headers=superfan).json()]
        return kinds.count("backstage_post") == 1

    _until(notified)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_release_opening_to_a_follower_notifies_once_across_a_worker_restart(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A free follower of a track released in the near future hears nothing while it is not
    out; the scheduled sweep tells them when it opens; the process running the jobs (the worker
    on Redis, the API process on the embedded default) is SIGKILLed right after the fan-out and
    restarted, sweeps again, and the follower still has exactly one notification of it."""
    require_ffmpeg()
    # Every process started below sweeps twice a second rather than once a minute.
    monkeypatch.setenv("MUSICCONNECT_RELEASE_SWEEP_S", "0.5")
    workers: list[subprocess.Popen[bytes]] = []
    servers: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack:
        env = {**ENV, **stack.enter_context(backend_env(backend, tmp_path, workers=workers))}
        base = stack.enter_context(musicconnect_server(tmp_path / "data", env=env, started=servers))
        http = stack.enter_context(httpx.Client(base_url=base, timeout=60))
        artist_id, artist = signed_in(http, "artist@example.com", "artist")
        _, fan = signed_in(http, "follower@example.com", "fan")
        assert http.post(f"/artists/{artist_id}/follow", headers=fan).status_code == 204
        release_at = datetime.now(UTC) + RELEASE_IN
        track_id = _upload(http, artist_id, artist, tmp_path / "song.wav", release_at)
        _wait_published(http, track_id, artist)
        assert datetime.now(UTC) < release_at, "the transcode outlasted RELEASE_IN: raise it"
        assert _releases_heard(http, fan) == []

        heard = _wait_for_release(http, fan, deadline=release_at + timedelta(seconds=60))
        assert heard == [track_id]
        # Kill whatever runs the jobs at once (no graceful shutdown), then start it again.
        runner = workers[0] if backend == "production" else servers[0]
        os.killpg(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
        if backend == "production":
            restarted = start_worker(tmp_path, env)
            stack.callback(stop, restarted)
        else:
            base = stack.enter_context(musicconnect_server(tmp_path / "data", env=env))
            http = stack.enter_context(httpx.Client(base_url=base, timeout=60))
        time.sleep(5)  # ten sweeps of the restarted process

        feed = http.get("/me/notifications", headers=fan).json()
        assert [(n["kind"], n["subject_id"]) for n in feed] == [("release_open", track_id)], feed


def _upload(
    http: httpx.Client, artist_id: str, artist: dict[str, str], audio: Path, release_at: datetime
) -> str:
    generate_demo_audio(audio, 4.0)
    return uploaded_track(http, artist_id, artist, audio, title="Minuit", release_at=release_at.isoformat())


def _wait_published(http: httpx.Client, track_id: str, artist: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    status = "processing"
    while status == "processing" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = http.get(f"/tracks/{track_id}", headers=artist).json()["status"]
    assert status == "ready", status


def _releases_heard(http: httpx.Client, fan: dict[str, str]) -> list[str]:
    feed = http.get("/me/notifications", headers=fan)
    assert feed.status_code == 200, feed.text
    return [n["subject_id"] for n in feed.json() if n["kind"] == "release_open"]


def _wait_for_release(http: httpx.Client, fan: dict[str, str], *, deadline: datetime) -> list[str]:
    heard: list[str] = []
    while not heard and datetime.now(UTC) < deadline:
        time.sleep(0.1)
        heard = _releases_heard(http, fan)
    return heard
