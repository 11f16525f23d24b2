"""Live sessions: scheduled by an artist, pushed over RTMP with a per-session key, heard by superfans.

A session is ``scheduled`` until its first accepted push makes it ``live``; it ends when the artist
ends it, or when the push has been gone for a grace period (the recording so far is kept), and it
fails when media stops arriving while a push is still connected (the transcoder died for good).
Whether a session is still live is derived from what is stored and the clock, so a session whose
ingest vanished without a word is never live forever, even before a sweep writes it down.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from musicconnect.domain.errors import Conflict, Forbidden, InvalidInput

MAX_TITLE: Final = 200
#: How long a dropped push may take to come back before the session ends.
DEFAULT_GRACE: Final = timedelta(seconds=30)
#: How long a connected push may go without a published segment before the session fails.
DEFAULT_STALL: Final = timedelta(seconds=60)
#: Random bytes in the secret part of a stream key.
#: How far in the past a new session may start: the artist's clock and ours may disagree a little.
START_SKEW: Final = timedelta(minutes=5)
#: How far ahead a session may be scheduled: fans are told now, so a date beyond a year is a typo.
START_HORIZON: Final = timedelta(days=366)
_SECRET_BYTES: Final = 24
_KEY_SEPARATOR: Final = "."


def check_starts_at(starts_at: datetime, *, now: datetime) -> datetime:
    """When a new session starts: with a timezone, not in the past (beyond ``START_SKEW``) and
    within ``START_HORIZON``; InvalidInput otherwise."""
    if starts_at.tzinfo is None or starts_at.utcoffset() is None:
        raise InvalidInput("starts_at must include a timezone")
    if starts_at < now - START_SKEW:
        raise InvalidInput("starts_at is in the past")
    if starts_at > now + START_HORIZON:
        raise InvalidInput(f"starts_at is more than {START_HORIZON.days} days ahead")
    return starts_at


class LiveStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    FAILED = "failed"


#: A push is accepted only for sessions in these states.
PUSHABLE: Final = frozenset({LiveStatus.SCHEDULED, LiveStatus.LIVE})


def stream_key(session_id: str, secret: str) -> str:
    """What the artist pastes into OBS: the session it is for and the secret that proves it."""
    return f"{session_id}{_KEY_SEPARATOR}{secret}"


def new_secret() -> str:
    return secrets.token_urlsafe(_SECRET_BYTES)


def hash_secret(secret: str) -> str:
    # The secret is random and long: one SHA-256 suffices, no password hash is needed.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def split_key(key: str) -> tuple[str, str]:
    """(session id, secret) of a stream key; InvalidInput when it is not shaped like one."""
    session_id, separator, secret = key.strip().partition(_KEY_SEPARATOR)
    if not (separator and session_id and secret):
        raise InvalidInput("not a stream key")
    return session_id, secret


@attrs.frozen
class LiveSession:
    id: str
    artist_id: str
    title: str
    starts_at: datetime
    created_at: datetime
    key_hash: str
    status: LiveStatus = LiveStatus.SCHEDULED
    started_at: datetime | None = None
    ended_at: datetime | None = None
    #: Whether a push is connected right now (between an accepted publish and its end).
    publishing: bool = False
    #: When the push last went away; the session ends ``grace`` after, unless it comes back.
    dropped_at: datetime | None = None
    #: When the transcoder last published media (its heartbeat).
    media_at: datetime | None = None
    #: The track the recording became, once the session is over and it was ingested.
    recording_track_id: str | None = None
    failure_reason: str | None = None
    #: Bumped by every change: a save of a stale copy is refused (two pushes racing, one wins).
    version: int = 0

    @property
    def media_prefix(self) -> str:
        return f"artists/{self.artist_id}/live/{self.id}"

    @property
    def hls_prefix(self) -> str:
        return f"{self.media_prefix}/hls"

    @property
    def recording_prefix(self) -> str:
        return f"{self.media_prefix}/recording"

    @property
    def is_over(self) -> bool:
        return self.status in {LiveStatus.ENDED, LiveStatus.FAILED}

    def key_matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.key_hash, hash_secret(secret))

    def _changed(self, **changes: Any) -> LiveSession:
        return attrs.evolve(self, version=self.version + 1, **changes)

    def with_key(self, key_hash: str) -> LiveSession:
        """A rotated key: the old one stops working at once, even for a push that reconnects."""
        if self.is_over:
            raise Conflict(f"live session {self.id} is {self.status}")
        return self._changed(key_hash=key_hash)

    def published(self, now: datetime) -> LiveSession:
        """A push was accepted: the first makes the session live, a later one resumes it."""
        if self.status not in PUSHABLE:
            raise Forbidden(f"live session {self.id} is {self.status}; it takes no more pushes")
        if self.publishing:
            raise Conflict(f"live session {self.id} is already being pushed")
        return self._changed(
            status=LiveStatus.LIVE,
            started_at=self.started_at or now,
            publishing=True,
            dropped_at=None,
            # A new push starts a new stall clock.
            media_at=now,
        )

    def push_ended(self, now: datetime) -> LiveSession:
        """The push went away; the grace period starts. Idempotent."""
        if not (self.status is LiveStatus.LIVE and self.publishing):
            return self
        return self._changed(publishing=False, dropped_at=now)

    def media_published(self, now: datetime) -> LiveSession:
        if self.status is not LiveStatus.LIVE:
            return self
        return self._changed(media_at=now)

    def ended(self, now: datetime) -> LiveSession:
        """Ended by the artist (a scheduled one is called off). Idempotent once over."""
        if self.is_over:
            return self
        return self._changed(status=LiveStatus.ENDED, ended_at=now, publishing=False)

    def failed(self, reason: str, now: datetime) -> LiveSession:
        if self.is_over:
            return self
        return self._changed(status=LiveStatus.FAILED, ended_at=now, publishing=False, failure_reason=reason)

    def with_recording(self, track_id: str) -> LiveSession:
        return self._changed(recording_track_id=track_id)

    def settled(self, now: datetime, *, grace: timedelta, stall: timedelta) -> LiveSession:
        """The session as the clock has it: ended once a dropped push outstayed ``grace``, failed
        once a connected push published nothing for ``stall``; otherwise unchanged."""
        if self.status is not LiveStatus.LIVE:
            return self
        if not self.publishing and self.dropped_at is not None and now >= self.dropped_at + grace:
            return self._changed(status=LiveStatus.ENDED, ended_at=self.dropped_at)
        last_sign = self.media_at or self.started_at
        if self.publishing and last_sign is not None and now >= last_sign + stall:
            return self.failed(f"no media arrived for {stall}", last_sign)
        return self
