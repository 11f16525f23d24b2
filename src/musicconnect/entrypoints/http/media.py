"""Signed variant playlists and segments: the signature in the query is the credential."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.params import FromPath, QueryParameter

from musicconnect.entrypoints.http.deps import ServicesDep, UowDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.usecases import streaming


def _cache_control(expires: str | None, now_s: float) -> str:
    # Caches may keep a file only as long as the signature that fetched it stays valid.
    if expires is None or not (expires.isascii() and expires.isdigit()):
        return "private, max-age=0"
    return f"private, max-age={max(0, int(expires) - int(now_s))}"


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
        services: ServicesDep,
        uow: UowDep,
        exp: Annotated[str | None, QueryParameter(description="Expiry, Unix seconds")] = None,
        sub: Annotated[str | None, QueryParameter(description="Whom the URL was signed for")] = None,
        sig: Annotated[str | None, QueryParameter(description="HMAC signature")] = None,
    ) -> Response[bytes]:
        """A variant playlist or segment; tampered, expired or above-tier URLs get 403."""
        query = {
            name: value for name, value in (("exp", exp), ("sub", sub), ("sig", sig)) if value is not None
        }
        served = streaming.serve_media(
            artist_id,
            track_id,
            rung,
            filename,
            query,
            uow=uow,
            cache=services.cache,
            storage=services.storage,
            signer=services.signer,
            clock=services.clock,
            ttl=services.url_ttl,
        )
        return Response(
            content=served.body,
            media_type=served.content_type,
            headers={"Cache-Control": _cache_control(exp, services.clock.now().timestamp())},
        )
