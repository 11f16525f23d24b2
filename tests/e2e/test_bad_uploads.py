"""Bad uploads over real HTTP: refused with 413 or 422, and nothing of them stays stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import httpx
import pytest

from tests.support import audio
from tests.support.servers import musicconnect_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LIMIT = 2 * 1024 * 1024
ENV = {
    "MUSICCONNECT_SECRET_KEY": "e2e-bad-uploads-secret-long-enough-for-hs256",
    "MUSICCONNECT_MAX_UPLOAD_BYTES": str(LIMIT),
}


@attrs.frozen
class Server:
    http: httpx.Client
    data_dir: Path
    artist_id: str
    auth: dict[str, str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("bad-uploads") / "data"
    with musicconnect_server(data_dir, env=ENV) as base, httpx.Client(base_url=base, timeout=60) as http:
        credentials = {"email": "artist@example.com", "password": "correct horse battery"}
        artist = http.post("/auth/register", json={**credentials, "role": "artist", "display_name": "A"})
        token = http.post("/auth/login", json=credentials).json()["access_token"]
        yield Server(http, data_dir, artist.json()["id"], {"authorization": f"Bearer {token}"})


def _stored_files(data_dir: Path) -> list[Path]:
    media = data_dir / "media"
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


def _upload(server: Server, path: Path, name: str) -> httpx.Response:
    with path.open("rb") as body:
        return server.http.post(
            f"/artists/{server.artist_id}/tracks",
            headers=server.auth,
            files={"file": (name, body, "audio/mpeg")},
            data={"title": "bad"},
        )


def _oversize(tmp: Path) -> Path:
    return audio.tone_wav(tmp / "long.wav", seconds=30.0)  # about 5 MB of WAV against a 2 MiB limit


HOSTILE: dict[str, tuple[Callable[[Path], Path], int]] = {
    "text renamed .mp3": (lambda tmp: audio.text_as_mp3(tmp / "lyrics.mp3"), 422),
    # A file cut short is not here: what decodes of it is published (test_ffmpeg_probe.py).
    "HLS playlist as .mp3": (lambda tmp: audio.hls_playlist_as_mp3(tmp / "list.mp3"), 422),
    "ffconcat with file: reference": (
        lambda tmp: audio.ffconcat_with_file_reference(tmp / "concat.mp3"),
        422,
    ),
    "concat: protocol text": (lambda tmp: audio.concat_protocol_text(tmp / "proto.mp3"), 422),
    "oversize": (_oversize, 413),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_bad_upload_is_refused_and_nothing_is_stored(server: Server, kind: str, tmp_path: Path) -> None:
    """Each hostile or oversize upload gets its status, no track appears and no file is left behind."""
    build, status = HOSTILE[kind]
    before = _stored_files(server.data_dir)
    response = _upload(server, build(tmp_path), "upload.mp3")
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error", "detail"}
    assert _stored_files(server.data_dir) == before
    tracks = server.http.get(f"/artists/{server.artist_id}/tracks", headers=server.auth).json()
    assert tracks == []
    uploads_tmp = server.data_dir / "tmp" / "uploads"
    assert not uploads_tmp.exists() or not any(uploads_tmp.iterdir())


def test_a_good_upload_after_bad_ones_is_accepted(server: Server, tmp_path: Path) -> None:
    """The server is unharmed by what it refused: a real song is accepted with 202."""
    response = _upload(server, audio.tone_wav(tmp_path / "fine.wav", 5.0), "fine.wav")
    assert response.status_code == 202, response.text
