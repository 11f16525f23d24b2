"""Request and response bodies of the virtual-backstage routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from musicconnect.domain.backstage import MAX_COMMENT, MAX_POST, Comment
from musicconnect.entrypoints.http.schemas import _In, _Out
from musicconnect.usecases.backstage import FeedPage, PostView


class BackstageImageOut(_Out):
    url: str = Field(description="Signed for the reader, valid for minutes")
    content_type: str
    width: int
    height: int


class BackstageClipOut(_Out):
    status: str = Field(description="processing, ready or failed")
    duration_s: float | None
    url: str | None = Field(description="The clip's HLS playlist, signed for the reader, once ready")


class BackstagePostOut(_Out):
    id: str
    artist_id: str
    body: str
    created_at: datetime
    edited_at: datetime | None
    images: list[BackstageImageOut]
    clip: BackstageClipOut | None

    @classmethod
    def of(cls, view: PostView) -> BackstagePostOut:
        post = view.post
        clip = None
        if post.clip is not None:
            clip = BackstageClipOut(
                status=post.clip.status.value, duration_s=post.clip.duration_s, url=view.clip_url
            )
        return cls(
            id=post.id,
            artist_id=post.artist_id,
            body=post.body,
            created_at=post.created_at,
            edited_at=post.edited_at,
            images=[
                BackstageImageOut(url=url, content_type=i.content_type, width=i.width, height=i.height)
                for i, url in zip(post.images, view.image_urls, strict=True)
            ],
            clip=clip,
        )


class BackstageFeedOut(_Out):
    posts: list[BackstagePostOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next, older page; null on the last")

    @classmethod
    def of(cls, page: FeedPage) -> BackstageFeedOut:
        return cls(posts=[BackstagePostOut.of(v) for v in page.posts], next_cursor=page.next_cursor)


class BackstageEditIn(_In):
    body: Annotated[str, Field(max_length=MAX_POST * 2)]


class BackstageCommentIn(_In):
    body: Annotated[str, Field(max_length=MAX_COMMENT * 2)]


class BackstageCommentOut(_Out):
    id: str
    post_id: str
    fan_id: str
    body: str
    created_at: datetime

    @classmethod
    def of(cls, comment: Comment) -> BackstageCommentOut:
        return cls(
            id=comment.id,
            post_id=comment.post_id,
            fan_id=comment.fan_id,
            body=comment.body,
            created_at=comment.created_at,
        )
