"""Live sessions: scheduling, the live master and media, and the RTMP server's callbacks.

Thin: each handler turns the request into a call on the bound ``LiveSessions`` use cases.
"""

from __future__ import annotations

from typing import Any, Final

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from musicconnect.domain.errors import DomainError, Forbidden
from musicconnect.entrypoints.http.auth import BEARER, provide_caller
from musicconnect.entrypoints.http.deps import AccountsDep, CallerDep, LiveDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.media import (
    ByteRange,
    Expiry,
    Holder,
    Signature,
    media_response,
    signed_query,
)
from musicconnect.entrypoints.http.schemas import LiveKeyOut, LiveSessionIn, LiveSessionOut
from musicconnect.entrypoints.http.tracks import HLS_MEDIA_TYPE
from musicconnect.usecases.live import IssuedKey

#: The callbacks nginx's RTMP module makes (``on_publish``, ``on_publish_done``, ``on_update``).
INGEST_PATH: Final = "/live/ingest"


def _key_out(issued: IssuedKey) -> LiveKeyOut:
    return LiveKeyOut(
        session=LiveSessionOut.of(issued.session), ingest_url=issued.ingest_url, stream_key=issued.stream_key
    )


class LiveController(Controller):
    path = "/"
    tags = ("live",)

    @post(
        "/artists/{artist_id:str}/live",
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        security=BEARER,
        responses=error_responses(401, 403, 404),
    )
    def schedule(
        self,
        *,
        artist_id: FromPath[str],
        data: JSONBody[LiveSessionIn],
        caller: CallerDep,
        live: LiveDep,
    ) -> LiveKeyOut:
        """Schedule a live session; the answer holds the RTMP server and the secret stream key."""
        issued = live.schedule(artist_id, title=data.title, starts_at=data.starts_at, caller=caller)
        return _key_out(issued)

    @get("/artists/{artist_id:str}/live", sync_to_thread=True, responses=error_responses(404))
    def sessions(self, *, artist_id: FromPath[str], live: LiveDep) -> list[LiveSessionOut]:
        """The artist's live sessions, soonest first."""
        return [LiveSessionOut.of(s) for s in live.of_artist(artist_id)]

    @get("/live/{session_id:str}", sync_to_thread=True, responses=error_responses(404))
    def session(self, *, session_id: FromPath[str], live: LiveDep) -> LiveSessionOut:
        """A live session's state and times, and the track its recording became."""
        return LiveSessionOut.of(live.view(session_id))

    @post(
        "/live/{session_id:str}/key",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        security=BEARER,
        responses=error_responses(401, 403, 404, 409),
    )
    def rotate_key(self, *, session_id: FromPath[str], caller: CallerDep, live: LiveDep) -> LiveKeyOut:
        """A new stream key; the old one stops working, even for a push that reconnects."""
        return _key_out(live.rotate_key(session_id, caller=caller))

    @post(
        "/live/{session_id:str}/end",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        security=BEARER,
        responses=error_responses(401, 403, 404),
    )
    def end(self, *, session_id: FromPath[str], caller: CallerDep, live: LiveDep) -> LiveSessionOut:
        """End the session (a scheduled one is called off); its recording becomes a track."""
        return LiveSessionOut.of(live.end(session_id, caller=caller))

    @get(
        "/live/{session_id:str}/stream",
        security=BEARER,
        media_type=HLS_MEDIA_TYPE,
        responses=error_responses(401, 403, 404, 409),
    )
    async def stream(
        self,
        *,
        session_id: FromPath[str],
        request: Request[Any, Any, Any],
        accounts: AccountsDep,
        live: LiveDep,
    ) -> Response[str]:
        """The live master for superfans and the artist: the rungs their tier allows, signed."""

        def authorise() -> str:
            return live.authorise_stream(session_id, caller=provide_caller(request, accounts))

        playlist = await anyio.to_thread.run_sync(authorise)
        return Response(
            content=playlist, media_type=HLS_MEDIA_TYPE, headers={"Cache-Control": "private, no-store"}
        )

    @get(
        "/media/artists/{artist_id:str}/live/{session_id:str}/hls/{rung:str}/{filename:str}",
        sync_to_thread=True,
        media_type="application/octet-stream",
        responses=error_responses(403, 404),
    )
    def media(
        self,
        *,
        artist_id: FromPath[str],
        session_id: FromPath[str],
        rung: FromPath[str],
        filename: FromPath[str],
        live: LiveDep,
        exp: Expiry = None,
        sub: Holder = None,
        sig: Signature = None,
        byte_range: ByteRange = None,
    ) -> Response[bytes]:
        """A live variant playlist (it slides: never cached) or segment, for its signature's holder."""
        served = live.serve_media(artist_id, session_id, rung, filename, signed_query(exp, sub, sig))
        fresh = "no-cache" if filename.endswith(".m3u8") else "private, max-age=60"
        return media_response(served, {"Cache-Control": fresh}, byte_range)

    @post(f"{INGEST_PATH}/{{event:str}}", status_code=HTTP_200_OK, include_in_schema=False)
    async def ingest(
        self, *, event: FromPath[str], request: Request[Any, Any, Any], live: LiveDep
    ) -> Response[str]:
        """nginx-rtmp's callbacks: 2xx lets the push go on, anything else drops it."""
        live.check_ingest_token(request.query_params.get("token", ""))
        form = await request.form()
        key = str(form.get("name", ""))
        calls = {"publish": live.accept_push, "publish_done": live.push_ended, "update": live.relaying}
        call = calls.get(event)
        if call is None:
            raise Forbidden(f"no ingest event {event}")
        try:
            await anyio.to_thread.run_sync(call, key)
        except DomainError as refused:
            # The RTMP server only looks at the status; the log says why.
            return Response(content=refused.detail, status_code=403, media_type="text/plain")
        return Response(content="ok", media_type="text/plain")
