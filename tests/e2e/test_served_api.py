"""The served API over real HTTP, real SQLite, real media files and real ffmpeg, as a user drives it."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
import httpx
import pytest

from musicconnect.adapters.ffmpeg import generate_demo_audio
from musicconnect.adapters.filesystem import HmacUrlSigner
from musicconnect.domain.hls import listed_rungs
from tests.e2e.backends import BACKENDS, backend_env
from tests.support.accounts import SignedIn as User
from tests.support.accounts import grant_admin, verify_from_outbox
from tests.support.servers import musicconnect_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SECRET = "e2e-secret-key-that-is-long-enough-for-hs256"
ADMIN = "admin@example.com"
PASSWORD = "correct horse battery"


@attrs.define
class World:
    base: str
    http: httpx.Client
    data_dir: Path
    artist: User
    fans: dict[str, User]
    admin: User
    track_id: str
    backend: dict[str, str]


def _register(http: httpx.Client, email: str, role: str, name: str) -> User:
    created = http.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "role": role, "display_name": name}
    )
    assert created.status_code == 201, created.text
    return _login(http, email, created.json()["id"])


def _login(http: httpx.Client, email: str, user_id: str) -> User:
    tokens = http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["token_type"] == "bearer"
    return User(user_id, tokens.json()["access_token"])


def _wait_ready(
    http: httpx.Client, track_id: str, auth: dict[str, str], timeout_s: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        track = http.get(f"/tracks/{track_id}", headers=auth).json()
        if track["status"] != "processing":
            return dict(track)
        time.sleep(0.3)
    raise AssertionError(f"track {track_id} still processing after {timeout_s} s")


ENV = {"MUSICCONNECT_SECRET_KEY": SECRET}


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp(f"e2e-{request.param}")
    data_dir = root / "data"
    with (
        backend_env(request.param, root) as backend,
        musicconnect_server(data_dir, env={**ENV, **backend}) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        artist = _register(http, "nova@example.com", "artist", "Nova")
        verify_from_outbox(http, data_dir, "nova@example.com")  # an artist is paid once verified
        fans = {
            tier: _register(http, f"{tier}@example.com", "fan", tier.title())
            for tier in ("free", "supporter", "superfan")
        }
        _register(http, ADMIN, "fan", "Admin")
        grant_admin(data_dir, ADMIN, env={**ENV, **backend})
        admin = _login(http, ADMIN, "admin")
        for tier, price in (("supporter", 500), ("superfan", 1000)):
            put = http.put(
                f"/artists/{artist.id}/tiers/{tier}",
                headers=artist.auth,
                json={"price_minor": price, "currency": "USD", "features": [f"{tier} perks"]},
            )
            assert put.status_code == 200, put.text
        audio = root / "song.wav"
        generate_demo_audio(audio, 20.0)
        with audio.open("rb") as body:
            upload = http.post(
                f"/artists/{artist.id}/tracks",
                headers=artist.auth,
                files={"file": ("song.wav", body, "audio/wav")},
                data={"title": "First Light"},
            )
        assert upload.status_code == 202, upload.text
        assert upload.json()["status"] == "processing"
        track = _wait_ready(http, upload.json()["track_id"], artist.auth)
        assert track["status"] == "ready", track
        for tier, fan in fans.items():
            subscribed = http.post(
                f"/artists/{artist.id}/subscription", headers=fan.auth, json={"tier": tier}
            )
            assert subscribed.status_code == 201, subscribed.text
        yield World(base, http, data_dir, artist, fans, admin, track["id"], backend)


def _master(world: World, fan: User) -> str:
    response = world.http.get(f"/tracks/{world.track_id}/stream", headers=fan.auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    return response.text


def _uris(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def test_each_tier_gets_its_own_rungs(world: World) -> None:
    """Free, supporter and superfan fans see 1, 2 and 3 rungs, capped at 128, 256 and 320 kbps."""
    listed = {tier: listed_rungs(_master(world, fan)) for tier, fan in world.fans.items()}
    assert listed == {"free": [128], "supporter": [128, 256], "superfan": [128, 256, 320]}


def test_a_segment_streams_through_its_signed_url(world: World) -> None:
    """The variant playlist and a segment behind it come back with their content types."""
    variant_url = _uris(_master(world, world.fans["superfan"]))[-1]
    variant = world.http.get(variant_url)
    assert variant.status_code == 200, variant.text
    segments = _uris(variant.text)
    assert segments
    segment = world.http.get(segments[0])
    assert segment.status_code == 200
    assert segment.headers["content-type"].startswith("audio/mp4")
    assert len(segment.content) > 10_000


def test_a_rung_above_the_tier_is_refused_even_if_guessed(world: World) -> None:
    """A free fan who rewrites their 128k URL to 256k or 320k gets 403."""
    url = _uris(_master(world, world.fans["free"]))[0]
    for rung in ("256k", "320k"):
        guessed = world.http.get(url.replace("/128k/", f"/{rung}/"))
        assert guessed.status_code == 403
        assert guessed.json()["error"] == "signature_invalid"


def test_a_correctly_signed_url_above_the_tier_is_still_refused(world: World) -> None:
    """Even a valid signature for 320k does not open it to a free fan: the tier is checked on serving."""
    signer = HmacUrlSigner(SECRET.encode())
    path = f"/media/artists/{world.artist.id}/tracks/{world.track_id}/hls/320k/index.m3u8"
    url = signer.sign(
        path, subject=world.fans["free"].id, expires_at=datetime.now(UTC) + timedelta(minutes=5)
    )
    assert world.http.get(url).status_code == 403


def test_tampered_and_expired_signatures_are_refused(world: World) -> None:
    """Changing the signature or the subject, or a signature already expired: 403."""
    url = _uris(_master(world, world.fans["superfan"]))[0]
    split = urlsplit(url)
    query = dict(parse_qsl(split.query))
    tampered_sig = {**query, "sig": query["sig"][:-2] + ("AA" if not query["sig"].endswith("AA") else "BB")}
    tampered_sub = {**query, "sub": world.fans["free"].id}
    for params in (tampered_sig, tampered_sub, {}):
        assert world.http.get(split.path, params=params).status_code == 403
    signer = HmacUrlSigner(SECRET.encode())
    expired = signer.sign(
        split.path, subject=world.fans["superfan"].id, expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert world.http.get(expired).status_code == 403


def test_ffprobe_reads_the_stream_from_the_served_master(world: World) -> None:
    """ffprobe, given the master URL and the fan's bearer token, finds an AAC audio stream."""
    ffprobe = shutil.which("ffprobe")
    assert ffprobe, "install ffmpeg: apt-get install ffmpeg"
    fan = world.fans["supporter"]
    result = subprocess.run(
        [
            ffprobe,
            "-v",
            "error",
            "-headers",
            f"Authorization: Bearer {fan.token}\r\n",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
            f"{world.base}/tracks/{world.track_id}/stream",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "aac" in result.stdout


def test_upgrade_charges_the_prorated_difference_and_adds_the_rung(world: World) -> None:
    """Free to supporter mid-period: a charge of at most the price difference, and 256k appears."""
    fan = world.fans["free"]
    before = _revenue(world)
    upgraded = world.http.patch(
        f"/artists/{world.artist.id}/subscription", headers=fan.auth, json={"tier": "supporter"}
    )
    assert upgraded.status_code == 200, upgraded.text
    body = upgraded.json()
    assert body["tier"] == "supporter"
    assert 0 < body["charged_minor"] <= 500
    assert _revenue(world) - before == body["charged_minor"]
    assert listed_rungs(_master(world, fan)) == [128, 256]


def _revenue(world: World) -> int:
    board = world.http.get(f"/artists/{world.artist.id}/dashboard", headers=world.artist.auth)
    assert board.status_code == 200, board.text
    return sum(board.json()["revenue_30d"].values())


def test_the_sixth_message_in_a_month_is_refused(world: World) -> None:
    """A superfan sends five messages; the sixth answers 429. A supporter may not message at all."""
    fan = world.fans["superfan"]
    statuses = [
        world.http.post(
            f"/artists/{world.artist.id}/messages", headers=fan.auth, json={"body": f"hi {n}"}
        ).status_code
        for n in range(6)
    ]
    assert statuses == [201] * 5 + [429]
    below = world.http.post(
        f"/artists/{world.artist.id}/messages",
        headers=world.fans["supporter"].auth,
        json={"body": "hi"},
    )
    assert below.status_code == 403


def test_plays_reach_the_dashboard(world: World) -> None:
    """Plays recorded today show in plays_30d (a fan's replays within 30 s count once), top fans
    rank by plays, and the funnel counts tiers."""
    for _ in range(4):
        played = world.http.post(f"/tracks/{world.track_id}/plays", headers=world.fans["superfan"].auth)
        assert played.status_code == 202
    world.http.post(f"/artists/{world.artist.id}/follow", headers=world.fans["superfan"].auth)
    board = world.http.get(f"/artists/{world.artist.id}/dashboard", headers=world.artist.auth).json()
    today = datetime.now(UTC).date().isoformat()
    assert board["plays_30d"][today] >= 1
    assert len(board["plays_30d"]) == 30
    assert board["top_fans"]["by_plays"][0]["fan_id"] == world.fans["superfan"].id
    funnel = board["conversion_funnel"]
    assert funnel["free_subscribers"] == 3
    assert funnel["superfans"] == 1


def test_payouts_run_twice_pay_once_with_the_split(world: World) -> None:
    """Two runs for one period make one payout: the artist gets gross minus 10 %, to the cent."""
    period = datetime.now(UTC).strftime("%Y-%m")
    first = world.http.post("/payouts/run", headers=world.admin.auth, json={"period": period})
    second = world.http.post("/payouts/run", headers=world.admin.auth, json={"period": period})
    assert first.status_code == 200, first.text
    assert second.status_code == 200
    assert len(first.json()["payouts"]) == 1
    assert second.json()["payouts"] == []
    history = world.http.get(f"/artists/{world.artist.id}/payouts", headers=world.artist.auth).json()
    assert len(history) == 1
    payout = history[0]
    assert payout["gross_minor"] == _revenue(world)
    assert payout["platform_fee_minor"] + payout["amount_minor"] == payout["gross_minor"]
    assert payout["platform_fee_minor"] == round(payout["gross_minor"] / 10)
    forbidden = world.http.post("/payouts/run", headers=world.fans["free"].auth, json={"period": period})
    assert forbidden.status_code == 403


def test_logout_revokes_the_token(world: World) -> None:
    """After logout the same access token answers 401."""
    user = _login(world.http, "supporter@example.com", world.fans["supporter"].id)
    assert world.http.get("/me/subscriptions", headers=user.auth).status_code == 200
    assert world.http.post("/auth/logout", headers=user.auth).status_code == 204
    assert world.http.get("/me/subscriptions", headers=user.auth).status_code == 401


def test_data_survives_a_restart(world: World) -> None:
    """A second server on the same data folder knows the accounts, the track and its media."""
    with (
        musicconnect_server(world.data_dir, env={**ENV, **world.backend}) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        fan = _login(http, "superfan@example.com", world.fans["superfan"].id)
        track = http.get(f"/tracks/{world.track_id}", headers=fan.auth).json()
        assert track["status"] == "ready"
        master = http.get(f"/tracks/{world.track_id}/stream", headers=fan.auth)
        assert listed_rungs(master.text) == [128, 256, 320]
        subscriptions = http.get("/me/subscriptions", headers=fan.auth).json()
        assert [s["tier"] for s in subscriptions] == ["superfan"]


def test_the_waveform_is_there_for_a_player(world: World) -> None:
    """The transcoder's waveform peaks are served as JSON: many values, the loudest 1.0."""
    response = world.http.get(f"/tracks/{world.track_id}/waveform", headers=world.fans["free"].auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["duration_s"] == pytest.approx(20.0, abs=0.5)
    assert len(body["peaks"]) >= 100
    assert all(0.0 <= p <= 1.0 for p in body["peaks"])
    assert max(body["peaks"]) == pytest.approx(1.0)
