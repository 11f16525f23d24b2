"""Live sessions."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from musicconnect.adapters.sqlite._codec import (
    Connect,
    insert_or_conflict,
    instant,
    instant_or_none,
    read_instant,
    read_instant_or_none,
)
from musicconnect.domain.errors import Conflict
from musicconnect.domain.live import LiveSession, LiveStatus

_COLUMNS: Final = (
    "id",
    "artist_id",
    "title",
    "starts_at",
    "created_at",
    "key_hash",
    "status",
    "started_at",
    "ended_at",
    "publishing",
    "dropped_at",
    "media_at",
    "recording_track_id",
    "failure_reason",
    "version",
)
# Built from this module's own column names, never from input.
_INSERT: Final = (
    f"INSERT INTO live_sessions ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + c for c in _COLUMNS)})"  # noqa: S608
)
_UPDATE: Final = (
    "UPDATE live_sessions SET "  # noqa: S608
    + ", ".join(f"{c} = :{c}" for c in _COLUMNS if c != "id")
    + " WHERE id = :id AND version = :version - 1"
)


class SqliteLiveSessionRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def add(self, session: LiveSession) -> None:
        insert_or_conflict(self._connect(), _INSERT, _row(session), f"live session {session.id!r} exists")

    def get(self, session_id: str) -> LiveSession | None:
        row = self._connect().execute("SELECT * FROM live_sessions WHERE id = ?", (session_id,)).fetchone()
        return None if row is None else _session(row)

    def save(self, session: LiveSession) -> None:
        if self._connect().execute(_UPDATE, _row(session)).rowcount != 1:
            raise Conflict(f"live session {session.id!r} changed meanwhile")

    def of_artist(self, artist_id: str) -> Sequence[LiveSession]:
        rows = self._connect().execute(
            "SELECT * FROM live_sessions WHERE artist_id = ? ORDER BY starts_at, rowid", (artist_id,)
        )
        return [_session(row) for row in rows]

    def live(self) -> Sequence[LiveSession]:
        rows = self._connect().execute(
            "SELECT * FROM live_sessions WHERE status = ? ORDER BY starts_at, rowid",
            (LiveStatus.LIVE.value,),
        )
        return [_session(row) for row in rows]


def _row(session: LiveSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "artist_id": session.artist_id,
        "title": session.title,
        "starts_at": instant(session.starts_at),
        "created_at": instant(session.created_at),
        "key_hash": session.key_hash,
        "status": session.status.value,
        "started_at": instant_or_none(session.started_at),
        "ended_at": instant_or_none(session.ended_at),
        "publishing": int(session.publishing),
        "dropped_at": instant_or_none(session.dropped_at),
        "media_at": instant_or_none(session.media_at),
        "recording_track_id": session.recording_track_id,
        "failure_reason": session.failure_reason,
        "version": session.version,
    }


def _session(row: sqlite3.Row) -> LiveSession:
    return LiveSession(
        id=row["id"],
        artist_id=row["artist_id"],
        title=row["title"],
        starts_at=read_instant(row["starts_at"]),
        created_at=read_instant(row["created_at"]),
        key_hash=row["key_hash"],
        status=LiveStatus(row["status"]),
        started_at=read_instant_or_none(row["started_at"]),
        ended_at=read_instant_or_none(row["ended_at"]),
        publishing=bool(row["publishing"]),
        dropped_at=read_instant_or_none(row["dropped_at"]),
        media_at=read_instant_or_none(row["media_at"]),
        recording_track_id=row["recording_track_id"],
        failure_reason=row["failure_reason"],
        version=int(row["version"]),
    )
