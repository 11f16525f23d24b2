"""Tracks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from musicconnect.adapters.mongo._codec import Doc, micros, put_instant, read_instant, read_instant_or_none
from musicconnect.adapters.mongo._work import CurrentWork
from musicconnect.adapters.mongo.database import TRACKS
from musicconnect.domain.errors import Conflict
from musicconnect.domain.media import RungRate
from musicconnect.domain.tiers import Tier
from musicconnect.domain.tracks import Track, TrackStatus

_OLDEST_FIRST: Final = (("created_at_us", 1), ("seq", 1))
_SOONEST_RELEASE: Final = (("release_at_us", 1), ("_id", 1))


class MongoTrackRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def add(self, track: Track) -> None:
        work = self._work()
        conflict = f"track {track.id!r} exists"
        if work.find_one(TRACKS, {"_id": track.id}) is not None:
            raise Conflict(conflict)
        work.insert(TRACKS, _track_doc(track), conflict=conflict, versioned=True)

    def get(self, track_id: str) -> Track | None:
        doc = self._work().find_one(TRACKS, {"_id": track_id})
        return None if doc is None else _track(doc)

    def save(self, track: Track) -> None:
        self._work().save(TRACKS, _track_doc(track), conflict=f"track {track.id!r} could not be saved")

    def by_artist(self, artist_id: str) -> Sequence[Track]:
        return [_track(d) for d in self._work().find(TRACKS, {"artist_id": artist_id}, sort=_OLDEST_FIRST)]

    def processing(self) -> Sequence[Track]:
        docs = self._work().find(TRACKS, {"status": TrackStatus.PROCESSING.value}, sort=_OLDEST_FIRST)
        return [_track(d) for d in docs]

    def releasing_between(self, after: datetime, until: datetime) -> Sequence[Track]:
        query = {"release_at_us": {"$gt": micros(after), "$lte": micros(until)}}
        return [_track(d) for d in self._work().find(TRACKS, query, sort=_SOONEST_RELEASE)]


def _track_doc(track: Track) -> Doc:
    doc: Doc = {
        "_id": track.id,
        "artist_id": track.artist_id,
        "title": track.title,
        "status": track.status.value,
        "exclusive": track.exclusive,
        "duration_s": track.duration_s,
        "rungs_kbps": list(track.rungs_kbps),
        "rates": [
            {"kbps": r.kbps, "average_kbps": r.average_kbps, "peak_kbps": r.peak_kbps} for r in track.rates
        ],
        "failure_reason": track.failure_reason,
        "audience": track.audience.value,
        "description": track.description,
        "progress": track.progress,
    }
    put_instant(doc, "created_at", track.created_at)
    put_instant(doc, "release_at", track.release_at)
    return doc


def _track(doc: Doc) -> Track:
    duration = doc.get("duration_s")
    return Track(
        id=doc["_id"],
        artist_id=doc["artist_id"],
        title=doc["title"],
        created_at=read_instant(doc, "created_at"),
        status=TrackStatus(doc["status"]),
        release_at=read_instant_or_none(doc, "release_at"),
        exclusive=bool(doc["exclusive"]),
        duration_s=None if duration is None else float(duration),
        rungs_kbps=tuple(int(k) for k in doc["rungs_kbps"]),
        failure_reason=doc.get("failure_reason"),
        rates=tuple(
            RungRate(
                kbps=int(r["kbps"]), average_kbps=float(r["average_kbps"]), peak_kbps=float(r["peak_kbps"])
            )
            for r in doc.get("rates", ())
        ),
        audience=Tier(doc.get("audience", Tier.FREE.value)),
        description=str(doc.get("description", "")),
        progress=None if doc.get("progress") is None else float(doc["progress"]),
    )
