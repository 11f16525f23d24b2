"""Uploading tracks, reading their details, and the caller's master playlist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import anyio.to_thread
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED

from musicconnect.domain.clocks import require_aware
from musicconnect.domain.errors import InvalidInput
from musicconnect.domain.tracks import check_release_at
from musicconnect.entrypoints.http.auth import BEARER, OPTIONAL_BEARER, required_bearer_token
from musicconnect.entrypoints.http.deps import (
    CallerDep,
    LibraryDep,
    StreamingDep,
    TracksDep,
    UploadsDep,
    ViewerDep,
)
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.schemas import TrackAcceptedOut, TrackEditIn, TrackOut
from musicconnect.entrypoints.http.streamed_form import MultipartOperation, binary, received_form
from musicconnect.entrypoints.http.uploads import FILE_FIELD, ReceivedForm
from musicconnect.usecases.access import require_owner
from musicconnect.usecases.tracks import IngestTrack

HLS_MEDIA_TYPE: Final = "application/vnd.apple.mpegurl"
_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off", ""})


@dataclass
class UploadOperation(MultipartOperation):
    def form_schema(self) -> Schema:
        return Schema(
            type=OpenAPIType.OBJECT,
            required=[FILE_FIELD, "title"],
            properties={
                FILE_FIELD: binary(),
                "title": Schema(type=OpenAPIType.STRING, min_length=1, max_length=200),
                "release_at": Schema(
                    type=OpenAPIType.STRING,
                    description="ISO 8601 with a timezone, e.g. 2025-06-01T12:00:00Z",
                ),
                "exclusive": Schema(type=OpenAPIType.BOOLEAN),
            },
            description="An audio file, its title, an optional release time and exclusivity",
        )


def _parse_release_at(value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("release_at must be an ISO 8601 date and time") from None
    checked = check_release_at(moment)  # the domain's range, before any conversion can overflow
    return require_aware(checked) if checked is not None else None


def _parse_flag(value: str | None) -> bool:
    cleaned = (value or "").strip().lower()
    if cleaned in _TRUE:
        return True
    if cleaned in _FALSE:
        return False
    raise InvalidInput("exclusive must be true or false")


def ingest_command(artist_id: str, form: ReceivedForm) -> IngestTrack:
    if form.file is None:
        raise InvalidInput(f"the form needs a {FILE_FIELD!r} part")
    return IngestTrack(
        artist_id=artist_id,
        title=form.fields.get("title", ""),
        upload=form.file,
        release_at=_parse_release_at(form.fields.get("release_at")),
        exclusive=_parse_flag(form.fields.get("exclusive")),
    )


class TrackController(Controller):
    path = "/"
    tags = ("tracks",)

    @post(
        "/artists/{artist_id:str}/tracks",
        status_code=HTTP_202_ACCEPTED,
        security=BEARER,
        # The body is streamed and measured by the handler itself, against the upload policy.
        request_max_body_size=None,
        operation_class=UploadOperation,
        responses=error_responses(401, 403, 404, 413),
    )
    async def upload(
        self,
        *,
        artist_id: FromPath[str],
        request: Request[Any, Any, Any],
        caller: CallerDep,
        tracks: TracksDep,
        uploads: UploadsDep,
    ) -> TrackAcceptedOut:
        """Upload an audio file; it is validated now and transcoded into the HLS ladder in the background."""
        # Refuse strangers before receiving megabytes from them; ingest_track checks again.
        require_owner(caller, artist_id)
        async with received_form(request, uploads, max_file_bytes=tracks.policy.max_bytes) as form:
            command = ingest_command(artist_id, form)
            track = await anyio.to_thread.run_sync(lambda: tracks.ingest(command, caller=caller))
        return TrackAcceptedOut(track_id=track.id, status=track.status.value)

    @get(
        "/artists/{artist_id:str}/tracks",
        sync_to_thread=True,
        security=OPTIONAL_BEARER,
        responses=error_responses(401, 404),
    )
    def list_tracks(
        self, *, artist_id: FromPath[str], viewer: ViewerDep, tracks: TracksDep
    ) -> list[TrackOut]:
        """The artist's tracks that the caller may see (early access and exclusives by tier)."""
        return [TrackOut.of(t) for t in tracks.of_artist(artist_id, caller=viewer)]

    @get(
        "/tracks/{track_id:str}",
        sync_to_thread=True,
        security=OPTIONAL_BEARER,
        responses=error_responses(401, 404),
    )
    def track(
        self, *, track_id: FromPath[str], viewer: ViewerDep, tracks: TracksDep, library: LibraryDep
    ) -> TrackOut:
        """A track's status and details, for whoever may see it."""
        track = tracks.view(track_id, caller=viewer)
        return TrackOut.of(track, likes=library.likes_of(track.id))

    @patch(
        "/tracks/{track_id:str}",
        sync_to_thread=True,
        security=BEARER,
        responses=error_responses(401, 403, 404),
    )
    def edit_track(
        self, *, track_id: FromPath[str], data: JSONBody[TrackEditIn], caller: CallerDep, tracks: TracksDep
    ) -> TrackOut:
        """The artist changes a track's title, description, required tier or release date; every
        API process streams by the new rules from the next request."""
        return TrackOut.of(tracks.edit(track_id, data.edit(), caller=caller))

    @delete(
        "/tracks/{track_id:str}",
        sync_to_thread=True,
        security=BEARER,
        responses=error_responses(401, 403, 404),
    )
    def delete_track(self, *, track_id: FromPath[str], caller: CallerDep, tracks: TracksDep) -> None:
        """The artist deletes a track: it leaves the catalogue, its streams stop, its media is removed."""
        tracks.delete(track_id, caller=caller)

    @get(
        "/tracks/{track_id:str}/stream",
        security=BEARER,
        media_type=HLS_MEDIA_TYPE,
        responses=error_responses(401, 403, 404, 409),
    )
    async def stream(
        self,
        *,
        track_id: FromPath[str],
        request: Request[Any, Any, Any],
        streaming: StreamingDep,
    ) -> Response[str]:
        """The caller's master playlist: only the rungs their tier allows, each URI signed and expiring."""
        # The token is read here rather than through the caller dependency: its revocation is
        # checked together with the fan's standing, in one awaited round trip. One dependency,
        # too: Litestar resolves two or more in a task group, which costs this route about half
        # its speed.
        token = required_bearer_token(request)
        playlist = await streaming.master_playlist_for(track_id, access_token=token)
        return Response(
            content=playlist,
            media_type=HLS_MEDIA_TYPE,
            headers={"Cache-Control": "private, no-store"},
        )

    @get(
        "/tracks/{track_id:str}/waveform",
        sync_to_thread=True,
        security=OPTIONAL_BEARER,
        media_type="application/json",
        responses=error_responses(401, 404),
    )
    def waveform(self, *, track_id: FromPath[str], viewer: ViewerDep, tracks: TracksDep) -> Response[bytes]:
        """Waveform peaks for a player: ``{"duration_s": ..., "peaks": [0..1, ...]}``."""
        body = tracks.waveform(track_id, caller=viewer)
        return Response(
            content=body, media_type="application/json", headers={"Cache-Control": "private, max-age=3600"}
        )
