"""The artist's profile picture: uploaded by its owner (multipart, re-encoded), public to read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeAlias

import anyio.to_thread
from litestar import Controller, Request, Response, get, put
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, QueryParameter

from musicconnect.domain.errors import InvalidInput
from musicconnect.entrypoints.http.auth import BEARER
from musicconnect.entrypoints.http.deps import ArtistsDep, CallerDep, LibraryDep, UploadsDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.schemas import ArtistOut
from musicconnect.entrypoints.http.streamed_form import MultipartOperation, binary, received_form
from musicconnect.entrypoints.http.uploads import FILE_FIELD
from musicconnect.usecases.access import require_owner
from musicconnect.usecases.artists import PICTURE_POLICY

Version: TypeAlias = Annotated[
    str | None, QueryParameter(description="The picture's version, from image_url")
]


@dataclass
class PictureOperation(MultipartOperation):
    def form_schema(self) -> Schema:
        return Schema(
            type=OpenAPIType.OBJECT,
            required=[FILE_FIELD],
            properties={FILE_FIELD: binary()},
            description="A JPEG, PNG, WebP or GIF; kept re-encoded, at most 1024 px a side",
        )


class ArtistPictureController(Controller):
    path = "/artists/{artist_id:str}/image"
    tags = ("artists",)

    @put(
        "/",
        security=BEARER,
        request_max_body_size=None,  # streamed and measured by the handler itself
        operation_class=PictureOperation,
        responses=error_responses(401, 403, 404, 413, 422),
    )
    async def upload(
        self,
        *,
        artist_id: FromPath[str],
        request: Request[Any, Any, Any],
        caller: CallerDep,
        artists: ArtistsDep,
        library: LibraryDep,
        uploads: UploadsDep,
    ) -> ArtistOut:
        """Replace the profile picture (the artist or an admin); its metadata is stripped."""
        require_owner(caller, artist_id)
        async with received_form(request, uploads, max_file_bytes=PICTURE_POLICY.max_bytes) as form:
            upload = form.file
            if upload is None:
                raise InvalidInput(f"the form needs a {FILE_FIELD!r} part")

            def store() -> ArtistOut:
                artist = artists.set_picture(artist_id, upload.read_bytes(), caller=caller)
                return ArtistOut.of(artist, followers=library.followers(artist_id))

            return await anyio.to_thread.run_sync(store)

    @get("/", sync_to_thread=True, media_type="image/jpeg", responses=error_responses(404))
    def picture(
        self,
        *,
        artist_id: FromPath[str],
        artists: ArtistsDep,
        v: Version = None,  # noqa: ARG002 - declared so the schema and unknown-query checks know it
    ) -> Response[bytes]:
        """The artist's profile picture (``v`` only makes each picture's URL its own)."""
        found = artists.picture(artist_id)
        return Response(
            content=found.body,
            media_type=found.content_type,
            headers={"Cache-Control": "public, max-age=86400"},
        )
