"""Backstage posts (images and clip embedded), comments and blocked fans.

Like follows and likes, nothing is deleted: a deleted post or comment keeps a tombstone (its
text dropped) and an unblocked fan a document marked inactive, so every write is an insert or a
save that the unit of work can commit and undo.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final

from musicconnect.adapters.mongo._codec import (
    Doc,
    key,
    micros,
    put_instant,
    read_instant,
    read_instant_or_none,
)
from musicconnect.adapters.mongo._work import CurrentWork
from musicconnect.adapters.mongo.database import BACKSTAGE_BLOCKS, BACKSTAGE_COMMENTS, BACKSTAGE_POSTS
from musicconnect.domain.backstage import BackstagePost, Clip, ClipStatus, Comment, PageCursor, PostImage

_NEWEST_FIRST: Final = (("created_at_us", -1), ("_id", -1))
_OLDEST_FIRST: Final = (("created_at_us", 1), ("seq", 1))
_OLDEST_POST_FIRST: Final = (("created_at_us", 1), ("_id", 1))
_LIVE: Final[Doc] = {"deleted": False}


class MongoBackstagePostRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def add(self, post: BackstagePost) -> None:
        self._work().insert_new(
            BACKSTAGE_POSTS, _post_doc(post), conflict=f"backstage post {post.id!r} exists", versioned=True
        )

    def get(self, post_id: str) -> BackstagePost | None:
        doc = self._work().find_one(BACKSTAGE_POSTS, {"_id": post_id, **_LIVE})
        return None if doc is None else _post(doc)

    def save(self, post: BackstagePost) -> None:
        self._change(post.id, lambda doc: _with_text(doc, post))

    def save_clip(self, post_id: str, clip: Clip) -> None:
        self._change(post_id, lambda doc: {**doc, "clip": _clip_doc(clip)})

    def delete(self, post_id: str) -> None:
        work = self._work()
        self._change(post_id, lambda doc: {**doc, "deleted": True, "body": ""})
        for comment in work.find(BACKSTAGE_COMMENTS, {"post_id": post_id, **_LIVE}):
            work.save(BACKSTAGE_COMMENTS, _tombstone(comment), conflict="comment changed meanwhile")

    def page(self, artist_id: str, *, after: PageCursor | None, limit: int) -> Sequence[BackstagePost]:
        if limit <= 0:
            return []
        query: Doc = {"artist_id": artist_id, **_LIVE}
        if after is not None:
            at = micros(after.created_at)
            query["$or"] = [
                {"created_at_us": {"$lt": at}},
                {"created_at_us": at, "_id": {"$lt": after.post_id}},
            ]
        docs = self._work().find(BACKSTAGE_POSTS, query, sort=_NEWEST_FIRST, limit=limit)
        return [_post(doc) for doc in docs]

    def clips_processing(self) -> Sequence[BackstagePost]:
        query: Doc = {"clip.status": ClipStatus.PROCESSING.value, **_LIVE}
        docs = self._work().find(BACKSTAGE_POSTS, query, sort=_OLDEST_POST_FIRST)
        return [_post(doc) for doc in docs]

    def _change(self, post_id: str, change: Callable[[Doc], Doc]) -> None:
        work = self._work()
        doc = work.find_one(BACKSTAGE_POSTS, {"_id": post_id, **_LIVE})
        if doc is not None:
            work.save(BACKSTAGE_POSTS, change(doc), conflict=f"backstage post {post_id!r} changed meanwhile")


class MongoBackstageCommentRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def add(self, comment: Comment) -> None:
        doc: Doc = {
            "_id": comment.id,
            "post_id": comment.post_id,
            "artist_id": comment.artist_id,
            "fan_id": comment.fan_id,
            "body": comment.body,
            "deleted": False,
        }
        put_instant(doc, "created_at", comment.created_at)
        self._work().insert_new(
            BACKSTAGE_COMMENTS, doc, conflict=f"comment {comment.id!r} exists", versioned=True
        )

    def get(self, comment_id: str) -> Comment | None:
        doc = self._work().find_one(BACKSTAGE_COMMENTS, {"_id": comment_id, **_LIVE})
        return None if doc is None else _comment(doc)

    def delete(self, comment_id: str) -> None:
        work = self._work()
        doc = work.find_one(BACKSTAGE_COMMENTS, {"_id": comment_id, **_LIVE})
        if doc is not None:
            work.save(
                BACKSTAGE_COMMENTS, _tombstone(doc), conflict=f"comment {comment_id!r} changed meanwhile"
            )

    def of_post(self, post_id: str) -> Sequence[Comment]:
        docs = self._work().find(BACKSTAGE_COMMENTS, {"post_id": post_id, **_LIVE}, sort=_OLDEST_FIRST)
        return [_comment(doc) for doc in docs]

    def by_fan(self, fan_id: str) -> Sequence[Comment]:
        docs = self._work().find(BACKSTAGE_COMMENTS, {"fan_id": fan_id, **_LIVE}, sort=_OLDEST_FIRST)
        return [_comment(doc) for doc in docs]


class MongoBackstageBlockRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def block(self, artist_id: str, fan_id: str, at: datetime) -> None:
        work = self._work()
        doc_id = key(artist_id, fan_id)
        found = work.find_one(BACKSTAGE_BLOCKS, {"_id": doc_id})
        if found is not None and found.get("active", False):
            return
        doc: Doc = {"_id": doc_id, "artist_id": artist_id, "fan_id": fan_id, "active": True}
        put_instant(doc, "blocked_at", at)
        work.upsert(BACKSTAGE_BLOCKS, doc, {"$set": {k: v for k, v in doc.items() if k != "_id"}})

    def unblock(self, artist_id: str, fan_id: str) -> None:
        work = self._work()
        doc_id = key(artist_id, fan_id)
        found = work.find_one(BACKSTAGE_BLOCKS, {"_id": doc_id})
        if found is not None and found.get("active", False):
            work.upsert(BACKSTAGE_BLOCKS, {**found, "active": False}, {"$set": {"active": False}})

    def is_blocked(self, artist_id: str, fan_id: str) -> bool:
        found = self._work().find_one(BACKSTAGE_BLOCKS, {"_id": key(artist_id, fan_id)})
        return found is not None and bool(found.get("active", False))

    def blocked(self, artist_id: str) -> Sequence[str]:
        docs = self._work().find(
            BACKSTAGE_BLOCKS,
            {"artist_id": artist_id, "active": True},
            sort=(("blocked_at_us", -1), ("fan_id", -1)),
        )
        return [str(doc["fan_id"]) for doc in docs]


def _clip_doc(clip: Clip | None) -> Doc | None:
    if clip is None:
        return None
    return {"status": clip.status.value, "duration_s": clip.duration_s, "failure_reason": clip.failure_reason}


def _post_doc(post: BackstagePost) -> Doc:
    doc: Doc = {
        "_id": post.id,
        "artist_id": post.artist_id,
        "body": post.body,
        "images": [
            {"filename": i.filename, "content_type": i.content_type, "width": i.width, "height": i.height}
            for i in post.images
        ],
        "clip": _clip_doc(post.clip),
        "deleted": False,
    }
    put_instant(doc, "created_at", post.created_at)
    put_instant(doc, "edited_at", post.edited_at)
    return doc


def _with_text(doc: Doc, post: BackstagePost) -> Doc:
    changed = {**doc, "body": post.body}
    put_instant(changed, "edited_at", post.edited_at)
    return changed


def _tombstone(doc: Doc) -> Doc:
    return {**doc, "deleted": True, "body": ""}


def _post(doc: Doc) -> BackstagePost:
    clip_doc = doc.get("clip")
    clip = None
    if clip_doc is not None:
        clip = Clip(
            ClipStatus(clip_doc["status"]), clip_doc.get("duration_s"), clip_doc.get("failure_reason")
        )
    return BackstagePost(
        id=doc["_id"],
        artist_id=doc["artist_id"],
        body=doc["body"],
        created_at=read_instant(doc, "created_at"),
        edited_at=read_instant_or_none(doc, "edited_at"),
        images=tuple(
            PostImage(i["filename"], i["content_type"], int(i["width"]), int(i["height"]))
            for i in doc["images"]
        ),
        clip=clip,
    )


def _comment(doc: Doc) -> Comment:
    return Comment(
        id=doc["_id"],
        post_id=doc["post_id"],
        artist_id=doc["artist_id"],
        fan_id=doc["fan_id"],
        body=doc["body"],
        created_at=read_instant(doc, "created_at"),
    )
