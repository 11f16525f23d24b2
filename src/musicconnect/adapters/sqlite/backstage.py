"""Backstage posts (images as JSON, the clip in columns), comments and blocked fans."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from musicconnect.adapters.sqlite._codec import (
    Connect,
    insert_or_conflict,
    instant,
    instant_or_none,
    read_instant,
    read_instant_or_none,
)
from musicconnect.domain.backstage import BackstagePost, Clip, ClipStatus, Comment, PageCursor, PostImage


def _at(moment: datetime) -> str:
    # One offset for every row, so text order is time order.
    return instant(moment.astimezone(UTC))


class SqliteBackstagePostRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def add(self, post: BackstagePost) -> None:
        status, duration, failure = _clip_columns(post.clip)
        insert_or_conflict(
            self._connect(),
            "INSERT INTO backstage_posts (id, artist_id, body, created_at, edited_at, images,"
            " clip_status, clip_duration_s, clip_failure) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                post.id,
                post.artist_id,
                post.body,
                _at(post.created_at),
                instant_or_none(post.edited_at),
                json.dumps([[i.filename, i.content_type, i.width, i.height] for i in post.images]),
                status,
                duration,
                failure,
            ),
            f"backstage post {post.id!r} exists",
        )

    def get(self, post_id: str) -> BackstagePost | None:
        row = self._connect().execute("SELECT * FROM backstage_posts WHERE id = ?", (post_id,)).fetchone()
        return None if row is None else _post(row)

    def save(self, post: BackstagePost) -> None:
        self._connect().execute(
            "UPDATE backstage_posts SET body = ?, edited_at = ? WHERE id = ?",
            (post.body, instant_or_none(post.edited_at), post.id),
        )

    def save_clip(self, post_id: str, clip: Clip) -> None:
        self._connect().execute(
            "UPDATE backstage_posts SET clip_status = ?, clip_duration_s = ?, clip_failure = ? WHERE id = ?",
            (*_clip_columns(clip), post_id),
        )

    def delete(self, post_id: str) -> None:
        connection = self._connect()
        connection.execute("DELETE FROM backstage_comments WHERE post_id = ?", (post_id,))
        connection.execute("DELETE FROM backstage_posts WHERE id = ?", (post_id,))

    def page(self, artist_id: str, *, after: PageCursor | None, limit: int) -> Sequence[BackstagePost]:
        if after is None:
            rows = self._connect().execute(
                "SELECT * FROM backstage_posts WHERE artist_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
                (artist_id, max(limit, 0)),
            )
        else:
            rows = self._connect().execute(
                "SELECT * FROM backstage_posts WHERE artist_id = ? AND (created_at, id) < (?, ?)"
                " ORDER BY created_at DESC, id DESC LIMIT ?",
                (artist_id, _at(after.created_at), after.post_id, max(limit, 0)),
            )
        return [_post(row) for row in rows]


class SqliteBackstageCommentRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def add(self, comment: Comment) -> None:
        insert_or_conflict(
            self._connect(),
            "INSERT INTO backstage_comments (id, post_id, artist_id, fan_id, body, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                comment.id,
                comment.post_id,
                comment.artist_id,
                comment.fan_id,
                comment.body,
                _at(comment.created_at),
            ),
            f"comment {comment.id!r} exists",
        )

    def get(self, comment_id: str) -> Comment | None:
        row = (
            self._connect().execute("SELECT * FROM backstage_comments WHERE id = ?", (comment_id,)).fetchone()
        )
        return None if row is None else _comment(row)

    def delete(self, comment_id: str) -> None:
        self._connect().execute("DELETE FROM backstage_comments WHERE id = ?", (comment_id,))

    def of_post(self, post_id: str) -> Sequence[Comment]:
        rows = self._connect().execute(
            "SELECT * FROM backstage_comments WHERE post_id = ? ORDER BY created_at, rowid", (post_id,)
        )
        return [_comment(row) for row in rows]

    def by_fan(self, fan_id: str) -> Sequence[Comment]:
        rows = self._connect().execute(
            "SELECT * FROM backstage_comments WHERE fan_id = ? ORDER BY created_at, rowid", (fan_id,)
        )
        return [_comment(row) for row in rows]


class SqliteBackstageBlockRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def block(self, artist_id: str, fan_id: str, at: datetime) -> None:
        self._connect().execute(
            "INSERT INTO backstage_blocks (artist_id, fan_id, blocked_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (artist_id, fan_id, _at(at)),
        )

    def unblock(self, artist_id: str, fan_id: str) -> None:
        self._connect().execute(
            "DELETE FROM backstage_blocks WHERE artist_id = ? AND fan_id = ?", (artist_id, fan_id)
        )

    def is_blocked(self, artist_id: str, fan_id: str) -> bool:
        row = (
            self._connect()
            .execute("SELECT 1 FROM backstage_blocks WHERE artist_id = ? AND fan_id = ?", (artist_id, fan_id))
            .fetchone()
        )
        return row is not None

    def blocked(self, artist_id: str) -> Sequence[str]:
        rows = self._connect().execute(
            "SELECT fan_id FROM backstage_blocks WHERE artist_id = ? ORDER BY blocked_at DESC, fan_id DESC",
            (artist_id,),
        )
        return [str(row["fan_id"]) for row in rows]


def _clip_columns(clip: Clip | None) -> tuple[str | None, float | None, str | None]:
    if clip is None:
        return None, None, None
    return clip.status.value, clip.duration_s, clip.failure_reason


def _post(row: sqlite3.Row) -> BackstagePost:
    clip = None
    if row["clip_status"] is not None:
        clip = Clip(ClipStatus(row["clip_status"]), row["clip_duration_s"], row["clip_failure"])
    return BackstagePost(
        id=row["id"],
        artist_id=row["artist_id"],
        body=row["body"],
        created_at=read_instant(row["created_at"]),
        edited_at=read_instant_or_none(row["edited_at"]),
        images=tuple(PostImage(f, t, int(w), int(h)) for f, t, w, h in json.loads(row["images"])),
        clip=clip,
    )


def _comment(row: sqlite3.Row) -> Comment:
    return Comment(
        id=row["id"],
        post_id=row["post_id"],
        artist_id=row["artist_id"],
        fan_id=row["fan_id"],
        body=row["body"],
        created_at=read_instant(row["created_at"]),
    )
