"""Faults on the production backends, driven over real HTTP: Redis, the database, a worker die.

The API (`musicconnect serve`) runs on MongoDB (nx-27017), Redis and S3 (moto), with transcodes
in a separate `musicconnect worker` process, each a real process on loopback that these tests
kill (SIGKILL, no chance to tidy up) and bring back on the same port:

- Redis gone: DM quotas and token revocation fail closed (503, never an admission or a token
  let through), reads that need only the database still answer, the streaming caches fall back
  to the database (a listener's signed playlist still plays, with their tier checked), and when
  Redis returns the service resumes with the quota exactly where it was. A quota counter Redis cannot update
  refuses the message (503) on its own as well, with the token check passing.
- The database gone: writes answer 503 with the error body, nothing of them is there afterwards,
  and writes succeed again once it is back.
- A worker gone mid-transcode: the track stays `processing` with nothing published, and the next
  worker's sweep retries the job to a full three-rung ladder.

Redis here keeps an append-only file synced on every write, as a production Redis must (the
denylist and quotas live there): the restarted server remembers what the killed one knew.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import boto3
import httpx
import pytest
import redis

from musicconnect.adapters.ffmpeg import generate_demo_audio
from musicconnect.domain.clocks import month_key
from musicconnect.domain.hls import listed_rungs
from musicconnect.domain.messages import dm_quota_key
from musicconnect.usecases.caching import playlist_key, standing_key
from tests.e2e.backends import AWS_ENV
from tests.support.audio import require_ffmpeg
from tests.support.mongo_server import mongo_uri, nx_27017_server
from tests.support.moto_s3 import endpoint_url, moto_server
from tests.support.processes import ServerProcess
from tests.support.redis_server import redis_server, redis_url
from tests.support.servers import musicconnect_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PASSWORD = "correct horse battery"
BUCKET = "musicconnect-faults"
ENV = {"MUSICCONNECT_SECRET_KEY": "e2e-faults-secret-key-long-enough-for-hs256"}
#: Long enough that a worker is surely killed while ffmpeg is still at it.
LONG_TRACK_S = 60.0
#: How long the tests watch the system while a component is down.
OUTAGE_WATCH_S = 3.0


@attrs.frozen
class User:
    id: str
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@attrs.define
class Worker:
    """A `musicconnect worker` process of our own, killed or started again at will."""

    env: dict[str, str]
    data_dir: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "musicconnect", "worker", "--data-dir", str(self.data_dir)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (a drain), or SIGKILL to the whole group: the worker and any ffmpeg it runs."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def children_named(self, name: str) -> list[int]:
        """Pids of processes called ``name`` in the worker's process group (it leads its session)."""
        if not self.alive():
            return []
        assert self.process is not None
        return [pid for pid, comm, group in _processes() if group == self.process.pid and comm == name]


def _processes() -> Iterator[tuple[int, str, int]]:
    """(pid, command name, process group) of every process, from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        yield int(entry.name), comm, int(fields[2])


@attrs.define
class Stack:
    root: Path
    mongo: ServerProcess
    redis: ServerProcess
    moto: ServerProcess
    worker: Worker
    http: httpx.Client
    s3: Any
    artist: User
    superfan: User
    fan: User
    track_id: str

    def objects(self, prefix: str) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return [str(item["Key"]) for item in listed.get("Contents", [])]

    def hls_keys(self, track_id: str) -> list[str]:
        return self.objects(f"media/artists/{self.artist.id}/tracks/{track_id}/hls/")


def _register(http: httpx.Client, email: str, role: str) -> User:
    created = http.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "role": role, "display_name": email}
    )
    assert created.status_code == 201, created.text
    return _login(http, email, created.json()["id"])


def _login(http: httpx.Client, email: str, user_id: str) -> User:
    tokens = http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return User(user_id, email, tokens.json()["access_token"])


def _upload(http: httpx.Client, artist: User, audio: Path, title: str) -> str:
    with audio.open("rb") as body:
        upload = http.post(
            f"/artists/{artist.id}/tracks",
            headers=artist.auth,
            files={"file": (audio.name, body, "audio/wav")},
            data={"title": title},
        )
    assert upload.status_code == 202, upload.text
    return str(upload.json()["track_id"])


def _eventually(check: Callable[[], bool], what: str, timeout_s: float = 30.0, every_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(every_s)


def _status(http: httpx.Client, track_id: str, auth: dict[str, str]) -> str:
    response = http.get(f"/tracks/{track_id}", headers=auth)
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_ffmpeg()
    root = tmp_path_factory.mktemp("faults")
    mongo = nx_27017_server(root / "mongo")
    moto = redis = None
    worker: Worker | None = None
    try:
        moto = moto_server(root / "moto")
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint_url(moto),
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket=BUCKET)
        redis = redis_server(root / "redis", persistent=True)
        env = {
            **ENV,
            **AWS_ENV,
            "MUSICCONNECT_MONGODB_URI": mongo_uri(mongo),
            "MUSICCONNECT_MONGODB_DATABASE": "faults",
            "MUSICCONNECT_S3_BUCKET": BUCKET,
            "MUSICCONNECT_S3_ENDPOINT_URL": endpoint_url(moto),
            "MUSICCONNECT_REDIS_URL": redis_url(redis),
        }
        worker = Worker(env, root / "worker-data", root / "worker.log").start()
        with (
            musicconnect_server(root / "data", env=env) as base,
            httpx.Client(base_url=base, timeout=60) as http,
        ):
            artist = _register(http, "artist@example.com", "artist")
            superfan = _register(http, "superfan@example.com", "fan")
            fan = _register(http, "fan@example.com", "fan")
            subscribed = http.post(
                f"/artists/{artist.id}/subscription", headers=superfan.auth, json={"tier": "superfan"}
            )
            assert subscribed.status_code == 201, subscribed.text
            audio = root / "short.wav"
            generate_demo_audio(audio, 5.0)
            track_id = _upload(http, artist, audio, "Short")
            _eventually(lambda: _status(http, track_id, artist.auth) == "ready", "the first track ready", 90)
            yield Stack(root, mongo, redis, moto, worker, http, s3, artist, superfan, fan, track_id)
    finally:
        if worker is not None:
            worker.stop(kill=True)
        for server in (redis, moto, mongo):
            if server is not None:
                server.stop()


def _dm(stack: Stack, n: int) -> httpx.Response:
    return stack.http.post(
        f"/artists/{stack.artist.id}/messages", headers=stack.superfan.auth, json={"body": f"message {n}"}
    )


def _unavailable(response: httpx.Response) -> bool:
    return response.status_code == 503 and response.json()["error"] == "service_unavailable"


def test_redis_down_fails_closed_and_service_resumes(stack: Stack) -> None:
    """With Redis killed, DMs and signed-in requests answer 503 (never 201 or 200, even for a
    revoked token); public reads from the database still answer. Back on the same port: DMs are
    admitted again, up to exactly the month's five across the outage, all of them stored."""
    accepted = [_dm(stack, n).status_code for n in range(2)]
    assert accepted == [201, 201]
    variants = _variant_urls(stack, stack.superfan)
    playlist_before = stack.http.get(variants[320])
    assert playlist_before.status_code == 200, playlist_before.text
    cached = [
        f"musicconnect:cache:{standing_key(stack.superfan.id, stack.artist.id)}",
        f"musicconnect:cache:{playlist_key(stack.track_id, 320)}",
    ]
    with redis.Redis(port=stack.redis.port) as client:
        assert client.exists(*cached) == len(cached), "the streaming reads went through the cache"
    revoked = _login(stack.http, stack.fan.email, stack.fan.id)
    assert stack.http.post("/auth/logout", headers=revoked.auth).status_code == 204

    stack.redis.stop(kill=True)
    try:
        during = [_dm(stack, n) for n in range(2, 7)]
        assert {r.status_code for r in during} <= {503, 429}, [r.text for r in during]
        assert all(_unavailable(r) for r in during if r.status_code == 503)
        assert "retry-after" in during[0].headers
        for user in (stack.fan, revoked):
            mine = stack.http.get("/me/subscriptions", headers=user.auth)
            assert _unavailable(mine), mine.text
        # A signed-in read of a public route also needs the revocation check: it fails closed too.
        assert stack.http.get(f"/artists/{stack.artist.id}", headers=stack.fan.auth).status_code == 503
        profile = stack.http.get(f"/artists/{stack.artist.id}")
        assert profile.status_code == 200, profile.text
        assert profile.json()["id"] == stack.artist.id
        track = stack.http.get(f"/tracks/{stack.track_id}")
        assert track.status_code == 200, track.text
        assert track.json()["status"] == "ready"
        # Signed media needs no token: its tier and playlist come from the database while the
        # cache is gone, and the same playlist comes back.
        playlist = stack.http.get(variants[320])
        assert playlist.status_code == 200, playlist.text
        assert _unsigned(playlist.text) == _unsigned(playlist_before.text)
    finally:
        stack.redis.start()

    _eventually(
        lambda: stack.http.get("/me/subscriptions", headers=stack.fan.auth).status_code == 200,
        "signed-in requests answered again after Redis returned",
    )
    # The revocation outlived the outage (the append-only file), so the revoked token stays out.
    assert stack.http.get("/me/subscriptions", headers=revoked.auth).status_code == 401
    after = [_dm(stack, n).status_code for n in range(7, 12)]
    assert after == [201, 201, 201, 429, 429], "the quota counts the two sent before the outage"
    inbox = stack.http.get(f"/artists/{stack.artist.id}/messages", headers=stack.artist.auth)
    assert inbox.status_code == 200, inbox.text
    assert len(inbox.json()) == accepted.count(201) + after.count(201) == 5
    assert stack.worker.alive(), "the worker outlives a Redis outage"


def _variant_urls(stack: Stack, user: User) -> dict[int, str]:
    """The signed variant-playlist URLs of the user's master playlist for the first track, by kbps."""
    master = stack.http.get(f"/tracks/{stack.track_id}/stream", headers=user.auth)
    assert master.status_code == 200, master.text
    uris = [line for line in master.text.splitlines() if line and not line.startswith("#")]
    return dict(zip(listed_rungs(master.text), uris, strict=True))


def _unsigned(playlist: str) -> list[str]:
    """A playlist's lines with the signatures cut off its URIs (they carry a fresh expiry)."""
    return [line.partition("?")[0] for line in playlist.splitlines()]


def test_a_quota_redis_cannot_count_refuses_the_message(stack: Stack) -> None:
    """The quota fails closed on its own too: with Redis up (the token checks out) but unable to
    run the quota script on the fan's counter, the DM answers 503 and nothing is stored."""
    fan = _register(stack.http, "superfan2@example.com", "fan")
    subscribed = stack.http.post(
        f"/artists/{stack.artist.id}/subscription", headers=fan.auth, json={"tier": "superfan"}
    )
    assert subscribed.status_code == 201, subscribed.text
    inbox_before = stack.http.get(f"/artists/{stack.artist.id}/messages", headers=stack.artist.auth).json()
    counter = f"musicconnect:quota:{dm_quota_key(fan.id, stack.artist.id, month_key(datetime.now(UTC)))}"
    with redis.Redis(port=stack.redis.port) as client:
        client.rpush(counter, "not a counter")  # the script's GET now fails with WRONGTYPE
        try:
            refused = stack.http.post(
                f"/artists/{stack.artist.id}/messages", headers=fan.auth, json={"body": "hello"}
            )
        finally:
            client.delete(counter)
    assert _unavailable(refused), (refused.status_code, refused.text)
    inbox = stack.http.get(f"/artists/{stack.artist.id}/messages", headers=stack.artist.auth).json()
    assert inbox == inbox_before
    sent = stack.http.post(f"/artists/{stack.artist.id}/messages", headers=fan.auth, json={"body": "hello"})
    assert sent.status_code == 201, sent.text


def test_database_down_writes_answer_503_and_leave_nothing(stack: Stack) -> None:
    """With the database killed, follow, subscribe and register answer 503 with the error body;
    once it is back on the same port none of them happened, and each succeeds when tried again."""
    fan = stack.fan
    board_before = stack.http.get(f"/artists/{stack.artist.id}/dashboard", headers=stack.artist.auth)
    assert board_before.status_code == 200, board_before.text
    followers_before = board_before.json()["conversion_funnel"]["followers"]
    subscriptions_before = stack.http.get("/me/subscriptions", headers=fan.auth).json()
    assert subscriptions_before == []

    stack.mongo.stop(kill=True)
    try:
        writes = [
            stack.http.post(f"/artists/{stack.artist.id}/follow", headers=fan.auth),
            stack.http.post(
                f"/artists/{stack.artist.id}/subscription", headers=fan.auth, json={"tier": "supporter"}
            ),
            stack.http.post(
                "/auth/register",
                json={"email": "late@example.com", "password": PASSWORD, "role": "fan", "display_name": "L"},
            ),
        ]
        for response in writes:
            assert _unavailable(response), (response.status_code, response.text)
            assert response.json()["detail"]
            assert response.headers["retry-after"]
    finally:
        stack.mongo.start()

    _eventually(
        lambda: stack.http.get(f"/artists/{stack.artist.id}").status_code == 200,
        "the API reads the database again",
    )
    assert stack.http.get("/me/subscriptions", headers=fan.auth).json() == subscriptions_before
    board = stack.http.get(f"/artists/{stack.artist.id}/dashboard", headers=stack.artist.auth).json()
    assert board["conversion_funnel"]["followers"] == followers_before
    nobody = stack.http.post("/auth/login", json={"email": "late@example.com", "password": PASSWORD})
    assert nobody.status_code == 401

    assert stack.http.post(f"/artists/{stack.artist.id}/follow", headers=fan.auth).status_code == 204
    subscribed = stack.http.post(
        f"/artists/{stack.artist.id}/subscription", headers=fan.auth, json={"tier": "supporter"}
    )
    assert subscribed.status_code == 201, subscribed.text
    assert [s["tier"] for s in stack.http.get("/me/subscriptions", headers=fan.auth).json()] == ["supporter"]
    board = stack.http.get(f"/artists/{stack.artist.id}/dashboard", headers=stack.artist.auth).json()
    assert board["conversion_funnel"]["followers"] == followers_before + 1
    _register(stack.http, "late@example.com", "fan")


def test_a_worker_killed_mid_transcode_is_retried_and_never_publishes_a_partial_ladder(
    stack: Stack,
) -> None:
    """SIGKILL to the worker (and its ffmpeg) while it transcodes: the track stays processing,
    its stream answers 409 and no master playlist exists in S3. A new worker's sweep retries the
    job: the track turns ready with all three rungs, and only then does the stream answer."""
    audio = stack.root / "long.wav"
    generate_demo_audio(audio, LONG_TRACK_S)
    track_id = _upload(stack.http, stack.artist, audio, "Long")
    _eventually(lambda: bool(stack.worker.children_named("ffmpeg")), "ffmpeg running in the worker")
    time.sleep(0.5)  # well into the work, nowhere near its end
    assert _status(stack.http, track_id, stack.artist.auth) == "processing"
    stack.worker.stop(kill=True)

    def unpublished() -> None:
        assert _status(stack.http, track_id, stack.artist.auth) == "processing"
        stream = stack.http.get(f"/tracks/{track_id}/stream", headers=stack.superfan.auth)
        assert stream.status_code == 409, stream.text
        assert stream.json()["error"] == "conflict"

    deadline = time.monotonic() + OUTAGE_WATCH_S
    while time.monotonic() < deadline:
        unpublished()
        assert not [k for k in stack.hls_keys(track_id) if k.endswith("master.m3u8")]
        time.sleep(0.3)
    assert stack.hls_keys(track_id) == [], "the killed worker stored nothing of the ladder"

    restarted_at = time.monotonic()
    stack.worker.start()
    # Until the retry publishes, the stream answers 409; the first answer that is not 409 must
    # be the whole ladder, and by then the track is ready (the status is read after the stream).
    while True:
        stream = stack.http.get(f"/tracks/{track_id}/stream", headers=stack.superfan.auth)
        track = stack.http.get(f"/tracks/{track_id}", headers=stack.artist.auth).json()
        if stream.status_code != 409:
            break
        assert stream.json()["error"] == "conflict"
        assert track["status"] in {"processing", "ready"}, track
        if time.monotonic() - restarted_at > 150:
            raise AssertionError("the transcode was not retried within 150 s")
        time.sleep(0.5)
    assert stream.status_code == 200, stream.text
    assert track["status"] == "ready", track
    assert listed_rungs(stream.text) == [128, 256, 320]
    master_key = f"media/artists/{stack.artist.id}/tracks/{track_id}/hls/master.m3u8"
    stored = stack.s3.get_object(Bucket=BUCKET, Key=master_key)["Body"].read().decode("utf-8")
    assert listed_rungs(stored) == [128, 256, 320]
    log = (stack.root / "worker.log").read_text(errors="replace")
    assert "sweeping abandoned job" in log, log[-3000:]
