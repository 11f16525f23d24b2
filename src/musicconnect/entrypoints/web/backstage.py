"""The virtual backstage in the browser: superfans read the feed, play clips and comment; the artist
posts (text, images and an audio clip, a native multipart form), deletes posts and comments, blocks
commenters."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.to_thread
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.backstage import MAX_IMAGES
from musicconnect.domain.tiers import Feature
from musicconnect.entrypoints.web.common import CallsDep, Form, VisitorDep, page, require_visitor, see_other
from musicconnect.entrypoints.web.perks import perk
from musicconnect.usecases.access import is_owner
from musicconnect.usecases.backstage import CLIP_POLICY, Backstage, NewPost

#: The web form carries text, a few images and one clip.
_MAX_FORM_BYTES: Final = MAX_IMAGES * 15 * 1024 * 1024 + CLIP_POLICY.max_bytes + 64 * 1024


class BackstagePages(Controller):
    path = "/"

    @get("/artist/{artist_id:str}/backstage", sync_to_thread=True)
    def feed(
        self, *, artist_id: FromPath[str], calls: CallsDep, visitor: VisitorDep, cursor: FromQuery[str] = ""
    ) -> Template:
        reader = require_visitor(visitor)
        backstage = calls.platform.backstage
        artist = calls.platform.artists.view(artist_id)
        with perk(Feature.VIRTUAL_BACKSTAGE, artist_id, reader):
            shown = backstage.feed(artist_id, caller=reader, cursor=cursor or None, limit=10)
        owner = is_owner(reader, artist_id)
        return page(
            "backstage.html",
            visitor,
            artist=artist,
            feed=shown,
            comments={v.post.id: backstage.comments(v.post.id, caller=reader) for v in shown.posts},
            is_owner=owner,
            blocked=backstage.blocked(artist_id, caller=reader) if owner else (),
            max_images=MAX_IMAGES,
        )

    @post("/artist/{artist_id:str}/backstage", request_max_body_size=_MAX_FORM_BYTES)
    async def create(
        self,
        *,
        request: Request[Any, Any, Any],
        artist_id: FromPath[str],
        calls: CallsDep,
        visitor: VisitorDep,
    ) -> Redirect:
        artist = require_visitor(visitor, Role.ARTIST)
        form = await request.form()  # parsed once already, for its CSRF token
        parts = form.getall("image", [])  # none when the form had no file input at all
        uploads = [part for part in parts if isinstance(part, UploadFile) and part.filename]
        pictures = [await part.read() for part in uploads]
        clip = form.get("clip")
        async with _on_disk(clip, calls.settings.data_dir / "tmp" / "uploads") as clip_path:
            command = NewPost(artist_id, str(form.get("body", "")), images=pictures, clip=clip_path)
            await anyio.to_thread.run_sync(lambda: calls.platform.backstage.post(command, caller=artist))
        return see_other(f"/artist/{artist_id}/backstage?posted=1")

    @post("/backstage/{post_id:str}/comment", sync_to_thread=True)
    def comment(
        self, *, post_id: FromPath[str], data: Form, calls: CallsDep, visitor: VisitorDep
    ) -> Redirect:
        reader = require_visitor(visitor)
        made = calls.platform.backstage.comment(post_id, data.get("body", ""), caller=reader)
        return see_other(f"/artist/{made.artist_id}/backstage#post-{post_id}")

    @post("/backstage/{post_id:str}/comments/{comment_id:str}/delete", sync_to_thread=True)
    def delete_comment(
        self, *, post_id: FromPath[str], comment_id: FromPath[str], calls: CallsDep, visitor: VisitorDep
    ) -> Redirect:
        reader = require_visitor(visitor)
        backstage = calls.platform.backstage
        artist_id = backstage.view(post_id, caller=reader).post.artist_id
        backstage.delete_comment(post_id, comment_id, caller=reader)
        return see_other(f"/artist/{artist_id}/backstage#post-{post_id}")

    @post("/backstage/{post_id:str}/delete", sync_to_thread=True)
    def delete_post(self, *, post_id: FromPath[str], calls: CallsDep, visitor: VisitorDep) -> Redirect:
        artist = require_visitor(visitor, Role.ARTIST)
        calls.platform.backstage.delete(post_id, caller=artist)
        return see_other(f"/artist/{artist.id}/backstage")

    @post("/artist/{artist_id:str}/backstage/blocks", sync_to_thread=True)
    def block(
        self, *, artist_id: FromPath[str], data: Form, calls: CallsDep, visitor: VisitorDep
    ) -> Redirect:
        artist = require_visitor(visitor, Role.ARTIST)
        _moderate(calls.platform.backstage, artist, artist_id, data)
        return see_other(f"/artist/{artist_id}/backstage")


@contextlib.asynccontextmanager
async def _on_disk(part: object, scratch: Path) -> AsyncIterator[Path | None]:
    """The form's clip as a file (the probe and the transcoder read files), removed afterwards;
    None when the form had no clip (no part, or a file input left empty)."""
    if not isinstance(part, UploadFile) or not part.filename:
        yield None
        return
    await anyio.Path(scratch).mkdir(parents=True, exist_ok=True)
    path = anyio.Path(scratch / f"clip-{secrets.token_hex(16)}")
    try:
        async with await anyio.open_file(path, "wb") as file:
            while chunk := await part.read(1024 * 1024):
                await file.write(chunk)
        yield Path(path)
    finally:
        await path.unlink(missing_ok=True)


def _moderate(backstage: Backstage, artist: Caller, artist_id: str, data: dict[str, str]) -> None:
    fan_id = data.get("fan_id", "")
    if data.get("action") == "unblock":
        backstage.unblock(artist_id, fan_id, caller=artist)
    else:
        backstage.block(artist_id, fan_id, caller=artist)
