"""The upload size limit is enforced while the body streams in, never by buffering it whole.

These tests drive the ASGI app directly with a body produced chunk by chunk, as a server would
deliver it, and watch the scratch folder and the process's allocations while it is consumed.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import anyio
import attrs
from litestar import Litestar

from musicconnect.bootstrap import Services
from tests.unit.http.conftest import MAX_UPLOAD_BYTES, Api, User, assert_error
from tests.unit.http.fakes import fake_audio

BOUNDARY: Final = b"----musicconnect-test-boundary"
CHUNK: Final = 64 * 1024
THIRTY_MB: Final = 30 * 1024 * 1024


def _form_head(title: str = "Big") -> bytes:
    return (
        b"--"
        + BOUNDARY
        + b'\r\nContent-Disposition: form-data; name="title"\r\n\r\n'
        + title.encode()
        + b"\r\n"
        b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'
        b"Content-Type: audio/wav\r\n\r\n"
    )


def _form_tail() -> bytes:
    return b"\r\n--" + BOUNDARY + b"--\r\n"


def _body_chunks(file_size: int, chunk: int = CHUNK) -> Iterator[bytes]:
    """A multipart body with a ``file_size``-byte audio part, produced lazily ``chunk`` bytes at a time."""
    yield _form_head()
    yield b"RIFF"
    left = file_size - 4
    filler = b"\x01" * chunk
    while left > 0:
        piece = min(chunk, left)
        yield filler[:piece]
        left -= piece
    yield _form_tail()


@attrs.define
class Exchange:
    status: int = 0
    body: bytes = b""
    chunks_read: int = 0
    largest_spool: int = 0


def _spooled_bytes(scratch: Path) -> int:
    return sum(p.stat().st_size for p in scratch.rglob("*") if p.is_file()) if scratch.exists() else 0


def _post(
    app: Litestar,
    user: User,
    chunks: Iterator[bytes],
    *,
    scratch: Path,
    content_length: int | None = None,
) -> Exchange:
    """POST the upload through the ASGI interface, one chunk per ``receive``."""
    exchange = Exchange()
    headers = [
        (b"host", b"testserver"),
        (b"authorization", f"Bearer {user.access_token}".encode()),
        (b"content-type", b"multipart/form-data; boundary=" + BOUNDARY),
    ]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    path = f"/artists/{user.id}/tracks"
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        # Everything received so far has been handled: what is spooled now is what the server kept.
        exchange.largest_spool = max(exchange.largest_spool, _spooled_bytes(scratch))
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        exchange.chunks_read += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
        elif message["type"] == "http.response.body":
            exchange.body += message.get("body", b"")

    anyio.run(app, scope, receive, send)  # type: ignore[arg-type]
    exchange.largest_spool = max(exchange.largest_spool, _spooled_bytes(scratch))
    return exchange


def _nothing_left(api: Api, services: Services, artist: User, scratch: Path) -> None:
    assert _spooled_bytes(scratch) == 0
    assert not any(scratch.iterdir()) if scratch.exists() else True
    assert list(services.storage.list_keys("")) == []
    assert api.client.get(f"/artists/{artist.id}/tracks", headers=artist.headers).json() == []


def _scratch(services: Services) -> Path:
    return services.settings.data_dir / "tmp" / "uploads"


def test_a_30_mb_stream_is_refused_at_the_limit_without_buffering(
    api: Api, app: Litestar, services: Services
) -> None:
    """30 MB with a 1 MB limit and no Content-Length: 413 once 1 MB has arrived, never more on disk
    or in memory, and nothing of it left afterwards."""
    artist = api.artist()
    scratch = _scratch(services)
    tracemalloc.start()
    try:
        exchange = _post(app, artist, _body_chunks(THIRTY_MB), scratch=scratch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert exchange.status == 413, exchange.body
    assert b'"error":"media_too_large"' in exchange.body
    assert exchange.largest_spool <= MAX_UPLOAD_BYTES
    # The server stopped reading right after the limit: about 1 MB of the 30 MB body was consumed.
    assert exchange.chunks_read * CHUNK <= MAX_UPLOAD_BYTES + 2 * CHUNK
    assert peak < 8 * 1024 * 1024, f"peak allocation {peak} bytes"
    _nothing_left(api, services, artist, scratch)


def test_an_announced_oversize_body_is_refused_before_reading(
    api: Api, app: Litestar, services: Services
) -> None:
    """A Content-Length above the limit is a 413 without reading a single chunk."""
    artist = api.artist()
    exchange = _post(
        app, artist, _body_chunks(THIRTY_MB), scratch=_scratch(services), content_length=THIRTY_MB
    )
    assert exchange.status == 413
    assert exchange.chunks_read == 0
    _nothing_left(api, services, artist, _scratch(services))


def test_a_body_in_small_chunks_arrives_intact(api: Api, app: Litestar, services: Services) -> None:
    """Boundaries and headers split across chunks do not confuse the streaming parser."""
    artist = api.artist()
    exchange = _post(app, artist, _body_chunks(50_000, chunk=997), scratch=_scratch(services))
    assert exchange.status == 202, exchange.body
    [original] = [k for k in services.storage.list_keys("") if k.endswith("/original")]
    assert services.storage.get_bytes(original) == b"RIFF" + b"\x01" * (50_000 - 4)
    assert _spooled_bytes(_scratch(services)) == 0


def test_a_file_at_the_limit_is_accepted_and_one_byte_more_is_413(api: Api, services: Services) -> None:
    """The limit counts the file's bytes: exactly max_bytes passes, max_bytes + 1 does not."""
    artist = api.artist()
    assert api.upload(artist, fake_audio(MAX_UPLOAD_BYTES)).status_code == 202
    response = api.upload(artist, fake_audio(MAX_UPLOAD_BYTES + 1))
    assert_error(response, 413, "media_too_large")
    assert len(api.client.get(f"/artists/{artist.id}/tracks", headers=artist.headers).json()) == 1
    assert _spooled_bytes(_scratch(services)) == 0
