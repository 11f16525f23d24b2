"""Signed variant playlists and segments: the signature in the query is the credential."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Annotated, Final, TypeAlias

from litestar import Controller, Response, get
from litestar.params import FromPath, HeaderParameter, QueryParameter

from musicconnect.entrypoints.http.deps import StreamingDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.usecases.streaming import MediaFile

#: A signed media URL's query: when it expires, whom it was signed for, and the signature.
Expiry: TypeAlias = Annotated[str | None, QueryParameter(description="Expiry, Unix seconds")]
Holder: TypeAlias = Annotated[str | None, QueryParameter(description="Whom the URL was signed for")]
Signature: TypeAlias = Annotated[str | None, QueryParameter(description="HMAC signature")]
#: The one byte range a player asks for (``Range``).
ByteRange: TypeAlias = Annotated[
    str | None, HeaderParameter(name="Range", description="One byte range, e.g. bytes=0-1023")
]


def signed_query(exp: str | None, sub: str | None, sig: str | None) -> dict[str, str]:
    """The signature's query parameters that were sent, for the signer to verify."""
    return {name: value for name, value in (("exp", exp), ("sub", sub), ("sig", sig)) if value is not None}


def _cache_control(expires: str | None, now_s: float) -> str:
    # Caches may keep a file only as long as the signature that fetched it stays valid.
    if expires is None or not (expires.isascii() and expires.isdigit()):
        return "private, max-age=0"
    return f"private, max-age={max(0, int(expires) - int(now_s))}"


_BYTE_RANGE: Final = re.compile(r"bytes=(\d*)-(\d*)")


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte a single-range ``Range`` header asks for, clamped.

    None means "send the whole body": no header, or one we do not serve (several ranges, other
    units), which RFC 9110 lets a server ignore. A range past the end raises ValueError (416).
    """
    match = _BYTE_RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # a suffix: the last N bytes, of which there must be at least one
        if int(last) == 0 or size == 0:
            raise ValueError(f"bytes {header} of a {size}-byte file are no bytes at all")
        return max(0, size - int(last)), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or end < start:
        raise ValueError(f"bytes {header} are outside a {size}-byte file")
    return start, end


class MediaController(Controller):
    path = "/media"
    tags = ("streaming",)

    @get(
        "/artists/{artist_id:str}/tracks/{track_id:str}/hls/{rung:str}/{filename:str}",
        sync_to_thread=True,
        media_type="application/octet-stream",
        responses=error_responses(403, 404),
    )
    def media(
        self,
        *,
        artist_id: FromPath[str],
        track_id: FromPath[str],
        rung: FromPath[str],
        filename: FromPath[str],
        streaming: StreamingDep,
        exp: Expiry = None,
        sub: Holder = None,
        sig: Signature = None,
        byte_range: ByteRange = None,
    ) -> Response[bytes]:
        """A variant playlist or segment; tampered or above-tier URLs get 403, expired ones 403
        ``url_expired`` (fetch a fresh master). A ``Range`` is answered with 206."""
        served = streaming.media(artist_id, track_id, rung, filename, signed_query(exp, sub, sig))
        headers = {"Cache-Control": _cache_control(exp, streaming.clock.now().timestamp())}
        return media_response(served, headers, byte_range)


def media_response(served: MediaFile, headers: dict[str, str], byte_range: str | None) -> Response[bytes]:
    """``served`` with ``headers``, whole or the one byte range asked for (206; 416 past its end)."""
    headers = {**headers, "Accept-Ranges": "bytes"}
    size = len(served.body)
    try:
        wanted = _byte_range(byte_range, size)
    except ValueError:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(content=b"", status_code=HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, headers=headers)
    if wanted is None:
        return Response(content=served.body, media_type=served.content_type, headers=headers)
    first, last = wanted
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return Response(
        content=served.body[first : last + 1],
        media_type=served.content_type,
        status_code=HTTPStatus.PARTIAL_CONTENT,
        headers=headers,
    )
