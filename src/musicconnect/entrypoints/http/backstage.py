"""Virtual-backstage routes: the artist posts (multipart: text, images, a clip), edits, deletes and
moderates; superfans read the feed and comment; media behind short-lived signed URLs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

import anyio.to_thread
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from musicconnect.domain.backstage import DEFAULT_PAGE, MAX_IMAGES, MAX_PAGE, MAX_POST
from musicconnect.entrypoints.http.auth import BEARER, OPTIONAL_BEARER
from musicconnect.entrypoints.http.backstage_schemas import (
    BackstageCommentIn,
    BackstageCommentOut,
    BackstageEditIn,
    BackstageFeedOut,
    BackstagePostOut,
)
from musicconnect.entrypoints.http.deps import BackstageDep, CallerDep, UploadsDep, ViewerDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.hardening import refuse_unknown_query
from musicconnect.entrypoints.http.media import (
    ByteRange,
    Expiry,
    Holder,
    Signature,
    media_response,
    signed_query,
)
from musicconnect.entrypoints.http.streamed_form import MultipartOperation, binary, received_form
from musicconnect.usecases.access import require_owner
from musicconnect.usecases.backstage import NewPost

IMAGE_PART: Final = "image"
CLIP_PART: Final = "clip"
_POST: Final = "/backstage/{post_id:str}"


@dataclass
class PostOperation(MultipartOperation):
    def form_schema(self) -> Schema:
        return Schema(
            type=OpenAPIType.OBJECT,
            required=["body"],
            properties={
                "body": Schema(type=OpenAPIType.STRING, min_length=1, max_length=MAX_POST),
                IMAGE_PART: Schema(type=OpenAPIType.ARRAY, items=binary(), max_items=MAX_IMAGES),
                CLIP_PART: binary(),
            },
            description="The post's text, up to four images (JPEG, PNG, WebP or GIF; "
            "re-encoded, metadata stripped) and an optional audio clip",
        )


class BackstageController(Controller):
    path = "/"
    tags = ("virtual backstage",)
    security = BEARER

    @post(
        "/artists/{artist_id:str}/backstage",
        status_code=HTTP_201_CREATED,
        request_max_body_size=None,  # streamed and measured by the handler itself
        operation_class=PostOperation,
        responses=error_responses(401, 403, 404, 413, 422),
    )
    async def create(
        self,
        *,
        artist_id: FromPath[str],
        request: Request[Any, Any, Any],
        caller: CallerDep,
        backstage: BackstageDep,
        uploads: UploadsDep,
    ) -> BackstagePostOut:
        """Post text with images and an audio clip; the clip reads ``processing`` until transcoded.
        Images that are not whole images are 422, oversized or decompression bombs 413."""
        require_owner(caller, artist_id)  # strangers are refused before their megabytes arrive
        async with received_form(
            request,
            uploads,
            max_file_bytes=MAX_IMAGES * backstage.image_policy.max_bytes + backstage.clip_policy.max_bytes,
            file_parts={IMAGE_PART: MAX_IMAGES, CLIP_PART: 1},
        ) as form:
            clips = form.files.get(CLIP_PART, ())

            def publish() -> BackstagePostOut:
                command = NewPost(
                    artist_id,
                    form.fields.get("body", ""),
                    images=[p.read_bytes() for p in form.files.get(IMAGE_PART, ())],
                    clip=clips[0] if clips else None,
                )
                created = backstage.post(command, caller=caller)
                return BackstagePostOut.of(backstage.view(created.id, caller=caller))

            return await anyio.to_thread.run_sync(publish)

    @get(
        "/artists/{artist_id:str}/backstage",
        sync_to_thread=True,
        responses=error_responses(401, 403, 404, 422),
    )
    def feed(
        self,
        *,
        request: Request[Any, Any, Any],
        artist_id: FromPath[str],
        caller: CallerDep,
        backstage: BackstageDep,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[FromQuery[int], Parameter(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    ) -> BackstageFeedOut:
        """The artist's posts, newest first, for superfans and the artist; ``next_cursor`` pages on."""
        refuse_unknown_query(request, "cursor", "limit")
        return BackstageFeedOut.of(backstage.feed(artist_id, caller=caller, cursor=cursor, limit=limit))

    @get(_POST, sync_to_thread=True, responses=error_responses(401, 403, 404))
    def read(self, *, post_id: FromPath[str], caller: CallerDep, backstage: BackstageDep) -> BackstagePostOut:
        """One post, its media signed for the caller."""
        return BackstagePostOut.of(backstage.view(post_id, caller=caller))

    @patch(_POST, sync_to_thread=True, responses=error_responses(401, 403, 404, 422))
    def edit(
        self,
        *,
        post_id: FromPath[str],
        data: JSONBody[BackstageEditIn],
        caller: CallerDep,
        backstage: BackstageDep,
    ) -> BackstagePostOut:
        """Change a post's text (its media stay)."""
        backstage.edit(post_id, data.body, caller=caller)
        return BackstagePostOut.of(backstage.view(post_id, caller=caller))

    @delete(
        _POST, sync_to_thread=True, status_code=HTTP_204_NO_CONTENT, responses=error_responses(401, 403, 404)
    )
    def remove(self, *, post_id: FromPath[str], caller: CallerDep, backstage: BackstageDep) -> None:
        """Delete a post with its comments and media."""
        backstage.delete(post_id, caller=caller)

    @get(f"{_POST}/comments", sync_to_thread=True, responses=error_responses(401, 403, 404))
    def comments(
        self, *, post_id: FromPath[str], caller: CallerDep, backstage: BackstageDep
    ) -> list[BackstageCommentOut]:
        """The post's comments, oldest first."""
        return [BackstageCommentOut.of(c) for c in backstage.comments(post_id, caller=caller)]

    @post(
        f"{_POST}/comments",
        sync_to_thread=True,
        status_code=HTTP_201_CREATED,
        responses=error_responses(401, 403, 404, 422, 429),
    )
    def comment(
        self,
        *,
        post_id: FromPath[str],
        data: JSONBody[BackstageCommentIn],
        caller: CallerDep,
        backstage: BackstageDep,
    ) -> BackstageCommentOut:
        """Comment as a superfan (or the artist); 403 when blocked, 429 past the hourly limit."""
        return BackstageCommentOut.of(backstage.comment(post_id, data.body, caller=caller))

    @delete(
        f"{_POST}/comments/{{comment_id:str}}",
        sync_to_thread=True,
        status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(401, 403, 404),
    )
    def remove_comment(
        self, *, post_id: FromPath[str], comment_id: FromPath[str], caller: CallerDep, backstage: BackstageDep
    ) -> None:
        """The artist deletes any comment; a fan their own."""
        backstage.delete_comment(post_id, comment_id, caller=caller)

    @get(
        "/artists/{artist_id:str}/backstage/blocks", sync_to_thread=True, responses=error_responses(401, 403)
    )
    def blocks(self, *, artist_id: FromPath[str], caller: CallerDep, backstage: BackstageDep) -> list[str]:
        """The fans the artist blocked from commenting, the latest first."""
        return list(backstage.blocked(artist_id, caller=caller))

    @put(
        "/artists/{artist_id:str}/backstage/blocks/{fan_id:str}",
        sync_to_thread=True,
        status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(401, 403, 404),
    )
    def block(
        self, *, artist_id: FromPath[str], fan_id: FromPath[str], caller: CallerDep, backstage: BackstageDep
    ) -> None:
        """Block a fan from commenting (they still read the backstage)."""
        backstage.block(artist_id, fan_id, caller=caller)

    @delete(
        "/artists/{artist_id:str}/backstage/blocks/{fan_id:str}",
        sync_to_thread=True,
        status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(401, 403),
    )
    def unblock(
        self, *, artist_id: FromPath[str], fan_id: FromPath[str], caller: CallerDep, backstage: BackstageDep
    ) -> None:
        backstage.unblock(artist_id, fan_id, caller=caller)


class BackstageMediaController(Controller):
    """A post's image, and its clip's playlist and segments: the signature in the query is the
    credential; a request that also carries a bearer token must be its holder's."""

    path = "/media/artists/{artist_id:str}/backstage/{post_id:str}"
    tags = ("virtual backstage",)
    security = OPTIONAL_BEARER

    @get(
        "/images/{filename:str}",
        sync_to_thread=True,
        media_type="application/octet-stream",
        responses=error_responses(401, 403, 404),
    )
    def image(
        self,
        *,
        artist_id: FromPath[str],
        post_id: FromPath[str],
        filename: FromPath[str],
        viewer: ViewerDep,
        backstage: BackstageDep,
        exp: Expiry = None,
        sub: Holder = None,
        sig: Signature = None,
        byte_range: ByteRange = None,
    ) -> Response[bytes]:
        """An image of a post, for the superfan (or artist) it was signed for."""
        requester = viewer.id if viewer is not None else None
        served = backstage.image(
            artist_id, post_id, filename, signed_query(exp, sub, sig), requester=requester
        )
        return media_response(served, {"Cache-Control": "private, max-age=300"}, byte_range)

    @get(
        "/clip/hls/{rung:str}/{filename:str}",
        sync_to_thread=True,
        media_type="application/octet-stream",
        responses=error_responses(401, 403, 404),
    )
    def clip(
        self,
        *,
        artist_id: FromPath[str],
        post_id: FromPath[str],
        rung: FromPath[str],
        filename: FromPath[str],
        viewer: ViewerDep,
        backstage: BackstageDep,
        exp: Expiry = None,
        sub: Holder = None,
        sig: Signature = None,
        byte_range: ByteRange = None,
    ) -> Response[bytes]:
        """The clip's playlist (each segment URI signed) or a segment, for its signature's holder."""
        requester = viewer.id if viewer is not None else None
        served = backstage.clip(
            artist_id, post_id, rung, filename, signed_query(exp, sub, sig), requester=requester
        )
        fresh = "private, no-cache" if filename.endswith(".m3u8") else "private, max-age=300"
        return media_response(served, {"Cache-Control": fresh}, byte_range)
