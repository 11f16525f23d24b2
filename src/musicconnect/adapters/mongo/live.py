"""Live sessions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from musicconnect.adapters.mongo._codec import Doc, put_instant, read_instant, read_instant_or_none
from musicconnect.adapters.mongo._work import CurrentWork
from musicconnect.adapters.mongo.database import LIVE_SESSIONS
from musicconnect.domain.errors import Conflict
from musicconnect.domain.live import LiveSession, LiveStatus

_SOONEST_FIRST: Final = (("starts_at_us", 1), ("seq", 1))
_INSTANTS: Final = ("starts_at", "created_at", "started_at", "ended_at", "dropped_at", "media_at")


class MongoLiveSessionRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def add(self, session: LiveSession) -> None:
        self._work().insert_new(
            LIVE_SESSIONS, _doc(session), conflict=f"live session {session.id!r} exists", versioned=True
        )

    def get(self, session_id: str) -> LiveSession | None:
        doc = self._work().find_one(LIVE_SESSIONS, {"_id": session_id})
        return None if doc is None else _session(doc)

    def save(self, session: LiveSession) -> None:
        work = self._work()
        conflict = f"live session {session.id!r} changed meanwhile"
        # The read makes the save conditional on the stored revision (see ``_work``).
        stored = work.find_one(LIVE_SESSIONS, {"_id": session.id})
        if stored is None or int(stored["version"]) != session.version - 1:
            raise Conflict(conflict)
        work.save(LIVE_SESSIONS, _doc(session), conflict=conflict)

    def of_artist(self, artist_id: str) -> Sequence[LiveSession]:
        docs = self._work().find(LIVE_SESSIONS, {"artist_id": artist_id}, sort=_SOONEST_FIRST)
        return [_session(d) for d in docs]

    def live(self) -> Sequence[LiveSession]:
        docs = self._work().find(LIVE_SESSIONS, {"status": LiveStatus.LIVE.value}, sort=_SOONEST_FIRST)
        return [_session(d) for d in docs]


def _doc(session: LiveSession) -> Doc:
    doc: Doc = {
        "_id": session.id,
        "artist_id": session.artist_id,
        "title": session.title,
        "key_hash": session.key_hash,
        "status": session.status.value,
        "publishing": session.publishing,
        "recording_track_id": session.recording_track_id,
        "failure_reason": session.failure_reason,
        "version": session.version,
    }
    for name in _INSTANTS:
        put_instant(doc, name, getattr(session, name))
    return doc


def _session(doc: Doc) -> LiveSession:
    return LiveSession(
        id=doc["_id"],
        artist_id=doc["artist_id"],
        title=doc["title"],
        starts_at=read_instant(doc, "starts_at"),
        created_at=read_instant(doc, "created_at"),
        key_hash=doc["key_hash"],
        status=LiveStatus(doc["status"]),
        started_at=read_instant_or_none(doc, "started_at"),
        ended_at=read_instant_or_none(doc, "ended_at"),
        publishing=bool(doc["publishing"]),
        dropped_at=read_instant_or_none(doc, "dropped_at"),
        media_at=read_instant_or_none(doc, "media_at"),
        recording_track_id=doc.get("recording_track_id"),
        failure_reason=doc.get("failure_reason"),
        version=int(doc["version"]),
    )
