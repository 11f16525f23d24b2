"""Tracks."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from musicconnect.adapters.sqlite._codec import (
    Connect,
    insert_or_conflict,
    instant,
    instant_or_none,
    ints,
    read_instant,
    read_instant_or_none,
    read_ints,
)
from musicconnect.domain.media import RungRate
from musicconnect.domain.tiers import Tier
from musicconnect.domain.tracks import Track, TrackStatus

_INSERT: Final = (
    "INSERT INTO tracks (id, artist_id, title, created_at, status, release_at, exclusive,"
    " duration_s, rungs_kbps, failure_reason, rates, audience, description, progress) VALUES (:id,"
    " :artist_id, :title, :created_at, :status, :release_at, :exclusive, :duration_s, :rungs_kbps,"
    " :failure_reason, :rates, :audience, :description, :progress)"
)


class SqliteTrackRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def add(self, track: Track) -> None:
        insert_or_conflict(self._connect(), _INSERT, _columns(track), f"track {track.id!r} exists")

    def get(self, track_id: str) -> Track | None:
        row = self._connect().execute("SELECT * FROM tracks WHERE id = ?", (track_id,)).fetchone()
        return None if row is None else _track(row)

    def save(self, track: Track) -> None:
        self._connect().execute(
            _INSERT + " ON CONFLICT (id) DO UPDATE SET artist_id = excluded.artist_id,"
            " title = excluded.title, created_at = excluded.created_at, status = excluded.status,"
            " release_at = excluded.release_at, exclusive = excluded.exclusive,"
            " duration_s = excluded.duration_s, rungs_kbps = excluded.rungs_kbps,"
            " failure_reason = excluded.failure_reason, rates = excluded.rates,"
            " audience = excluded.audience, description = excluded.description,"
            " progress = excluded.progress",
            _columns(track),
        )

    def by_artist(self, artist_id: str) -> Sequence[Track]:
        rows = self._connect().execute(
            "SELECT * FROM tracks WHERE artist_id = ? ORDER BY created_at, rowid",
            (artist_id,),
        )
        return [_track(row) for row in rows]

    def processing(self) -> Sequence[Track]:
        rows = self._connect().execute(
            "SELECT * FROM tracks WHERE status = ? ORDER BY created_at, rowid",
            (TrackStatus.PROCESSING.value,),
        )
        return [_track(row) for row in rows]

    def releasing_between(self, after: datetime, until: datetime) -> Sequence[Track]:
        rows = self._connect().execute(
            "SELECT * FROM tracks WHERE release_at > ? AND release_at <= ? ORDER BY release_at, id",
            (instant(after), instant(until)),
        )
        return [_track(row) for row in rows]


def _columns(track: Track) -> dict[str, Any]:
    return {
        "id": track.id,
        "artist_id": track.artist_id,
        "title": track.title,
        "created_at": instant(track.created_at),
        "status": track.status.value,
        "release_at": instant_or_none(track.release_at),
        "exclusive": int(track.exclusive),
        "duration_s": track.duration_s,
        "rungs_kbps": ints(track.rungs_kbps),
        "failure_reason": track.failure_reason,
        "rates": json.dumps([attrs.astuple(r) for r in track.rates]),
        "audience": track.audience.value,
        "description": track.description,
        "progress": track.progress,
    }


def _track(row: sqlite3.Row) -> Track:
    return Track(
        id=row["id"],
        artist_id=row["artist_id"],
        title=row["title"],
        created_at=read_instant(row["created_at"]),
        status=TrackStatus(row["status"]),
        release_at=read_instant_or_none(row["release_at"]),
        exclusive=bool(row["exclusive"]),
        duration_s=row["duration_s"],
        rungs_kbps=read_ints(row["rungs_kbps"]),
        failure_reason=row["failure_reason"],
        rates=tuple(RungRate(int(k), float(a), float(p)) for k, a, p in json.loads(row["rates"])),
        audience=Tier(row["audience"]),
        description=row["description"],
        progress=row["progress"],
    )
