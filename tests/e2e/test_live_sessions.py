"""Live sessions end to end: nginx's RTMP module takes an ffmpeg push, superfans listen live.

The API and `musicconnect live` (nginx with the generated config, on a free loopback port) run as
processes; ffmpeg pushes generated audio as OBS would, and ffmpeg listens as a player would.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import attrs
import boto3
import httpx
import pytest

from musicconnect.domain.hls import listed_rungs
from tests.e2e.backends import AWS_ENV
from tests.support.accounts import SignedIn as User
from tests.support.live import live_ingest, push, refused, require_nginx_rtmp, rtmp_port
from tests.support.moto_s3 import endpoint_url, moto_server
from tests.support.servers import musicconnect_server

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PASSWORD: Final = "correct horse battery"
ORIGIN: Final = "https://player.example"
#: The main push: a minute on the local folder (the issue's budget), a short one on S3.
PUSH_S: Final = {"local": 60.0, "s3": 15.0}
GRACE_S: Final = 3


@attrs.frozen
class World:
    backend: str
    http: httpx.Client
    base: str
    data_dir: Path
    artist: User
    other_artist: User
    fans: dict[str, User]


def _user(http: httpx.Client, email: str, role: str) -> User:
    created = http.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "role": role, "display_name": email[:5]}
    )
    assert created.status_code == 201, created.text
    tokens = http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return User(created.json()["id"], tokens.json()["access_token"])


def _s3_env(stack: ExitStack, root: Path) -> dict[str, str]:
    s3 = moto_server(root / "moto")
    stack.callback(s3.stop)
    bucket = "musicconnect-live"
    boto3.client(
        "s3",
        endpoint_url=endpoint_url(s3),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    return {**AWS_ENV, "MUSICCONNECT_S3_BUCKET": bucket, "MUSICCONNECT_S3_ENDPOINT_URL": endpoint_url(s3)}


@pytest.fixture(scope="module", params=("local", "s3"))
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require_nginx_rtmp()
    root = tmp_path_factory.mktemp(f"live-{request.param}")
    data_dir = root / "data"
    port = rtmp_port()
    with ExitStack() as stack:
        env = {
            "MUSICCONNECT_SECRET_KEY": "live-e2e-" + "k" * 40,
            "MUSICCONNECT_LIVE_GRACE_S": str(GRACE_S),
            "MUSICCONNECT_LIVE_INGEST_URL": f"rtmp://127.0.0.1:{port}/live",
            "MUSICCONNECT_CORS_ORIGINS": ORIGIN,
        }
        if request.param == "s3":
            env |= _s3_env(stack, root)
        base = stack.enter_context(musicconnect_server(data_dir, env=env))
        stack.enter_context(live_ingest(data_dir, base, port, root / "live.log", env))
        http = stack.enter_context(httpx.Client(base_url=base, timeout=30))
        artist = _user(http, "nova@example.com", "artist")
        fans = {tier: _user(http, f"{tier}@example.com", "fan") for tier in ("free", "supporter", "superfan")}
        for tier, fan in fans.items():
            subscribed = http.post(
                f"/artists/{artist.id}/subscription", headers=fan.auth, json={"tier": tier}
            )
            assert subscribed.status_code == 201, subscribed.text
        yield World(
            request.param, http, base, data_dir, artist, _user(http, "rival@example.com", "artist"), fans
        )


def _schedule(world: World, artist: User, title: str = "Sunday session") -> dict[str, Any]:
    made = world.http.post(
        f"/artists/{artist.id}/live",
        headers=artist.auth,
        json={"title": title, "starts_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
    )
    assert made.status_code == 201, made.text
    assert made.json()["session"]["status"] == "scheduled"
    return dict(made.json())


def _push_url(issued: dict[str, Any], key: str | None = None) -> str:
    return f"{issued['ingest_url']}/{key or issued['stream_key']}"


def _live_master(world: World, session_id: str, fan: User, timeout_s: float = 25.0) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        master = world.http.get(f"/live/{session_id}/stream", headers={**fan.auth, "origin": ORIGIN})
        if master.status_code != 409 or time.monotonic() > deadline:
            return master
        time.sleep(0.5)


def _session(world: World, session_id: str) -> dict[str, Any]:
    return dict(world.http.get(f"/live/{session_id}").json())


def _wait(condition: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout_s} s")


def _listen(url: str, seconds: float) -> subprocess.CompletedProcess[str]:
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg
    return subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-i", url, "-t", f"{seconds:g}", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_superfans_listen_live_and_keep_the_recording(world: World) -> None:
    """A pushed session: superfans (and the artist) get a three-rung live master that ffmpeg plays
    during the push, supporters and free fans get 403, a second push is refused; after the push the
    session ends and its recording is a ready track that only superfans see."""
    issued = _schedule(world, world.artist)
    session_id = issued["session"]["id"]
    seconds = PUSH_S[world.backend]
    pushing = push(_push_url(issued), seconds)
    started = time.monotonic()
    try:
        superfan = world.fans["superfan"]
        master = _live_master(world, session_id, superfan)
        assert master.status_code == 200, master.text
        assert master.headers["access-control-allow-origin"] == ORIGIN
        assert listed_rungs(master.text) == [128, 256, 320]
        assert _session(world, session_id)["status"] == "live"
        for tier in ("supporter", "free"):
            assert _live_master(world, session_id, world.fans[tier]).status_code == 403
        assert listed_rungs(_live_master(world, session_id, world.artist).text) == [128, 256, 320]

        variant = [line for line in master.text.splitlines() if line.startswith("/media/")][-1]
        heard = _listen(world.base + variant, 4)
        assert heard.returncode == 0, heard.stderr
        # A guessed or re-addressed URL is no credential.
        unsigned = variant.split("?", 1)[0]
        assert world.http.get(unsigned).status_code == 403
        stolen = variant.replace(f"sub={superfan.id}", f"sub={world.fans['supporter'].id}")
        assert world.http.get(stolen).status_code == 403

        assert refused(_push_url(issued)), "a second push with the same key was accepted"
        assert time.monotonic() - started < seconds, "the push ended before the checks were done"
        assert pushing.wait(timeout=seconds + 30) == 0
    finally:
        if pushing.poll() is None:
            pushing.kill()

    ended = _wait(
        lambda: (s := _session(world, session_id))["recording_track_id"] and s, GRACE_S + 60, "no recording"
    )
    assert ended["status"] == "ended"
    track_id = ended["recording_track_id"]
    track = _wait(
        lambda: (
            (t := world.http.get(f"/tracks/{track_id}", headers=superfan.auth).json())["status"]
            != "processing"
            and t
        ),
        120,
        "the recording is still processing",
    )
    assert track["status"] == "ready", track
    assert track["duration_s"] > seconds * 0.7
    assert world.http.get(f"/tracks/{track_id}", headers=world.fans["supporter"].auth).status_code == 404
    assert world.http.get(f"/tracks/{track_id}/stream", headers=superfan.auth).status_code == 200
    assert world.http.get(f"/live/{session_id}/stream", headers=superfan.auth).status_code == 409
    assert refused(_push_url(issued)), "the key of an ended session was accepted"


def _nothing_written(world: World, artist: User, session_id: str) -> None:
    assert _session(world, session_id)["status"] in {"scheduled", "ended"}
    assert not (world.data_dir / "media" / "artists" / artist.id / "live" / session_id).exists()
    assert not (world.data_dir / "live" / "work" / session_id).exists()


# The refusals are the API's whatever the storage: checked once, on the local folder.
@pytest.mark.parametrize("world", ["local"], indirect=True)
def test_pushes_that_are_not_the_sessions_own_are_refused_and_write_nothing(world: World) -> None:
    """A wrong key, an ended session's key and another artist's key for this session: all dropped."""
    mine = _schedule(world, world.artist, "Wrong keys")
    theirs = _schedule(world, world.other_artist, "Rival set")
    called_off = _schedule(world, world.artist, "Called off")
    ended = world.http.post(f"/live/{called_off['session']['id']}/end", headers=world.artist.auth)
    assert ended.status_code == 200, ended.text
    session_id = mine["session"]["id"]
    their_secret = theirs["stream_key"].split(".", 1)[1]

    assert refused(_push_url(mine, f"{session_id}.not-the-secret"))
    assert refused(_push_url(mine, f"{session_id}.{their_secret}"))
    assert refused(_push_url(called_off))
    assert refused(_push_url(mine, "no-session-at-all"))

    _nothing_written(world, world.artist, session_id)
    _nothing_written(world, world.artist, called_off["session"]["id"])
    assert _session(world, session_id)["status"] == "scheduled"
