"""Tracks and who may see them: early access for supporters, exclusives never below supporter."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from musicconnect.domain.entitlements import Entitlements
from musicconnect.domain.errors import InvalidInput
from musicconnect.domain.media import RungRate
from musicconnect.domain.text import clean_text
from musicconnect.domain.tiers import Feature, Tier

EARLY_ACCESS: Final = timedelta(hours=24)
MAX_TITLE: Final = 200
MAX_DESCRIPTION: Final = 2000
#: Release dates are compared after moving them by a day (early access) and into UTC; years past
#: these leave room for both, where 9999-12-31 with a negative offset overflows datetime.
_FIRST_RELEASE_YEAR: Final = 1970
_LAST_RELEASE_YEAR: Final = 9000


def check_release_at(release_at: datetime | None) -> datetime | None:
    """A release instant that every comparison can use: timezone-aware and well inside datetime."""
    if release_at is None:
        return None
    if release_at.tzinfo is None or release_at.utcoffset() is None:
        raise InvalidInput("release_at must include a timezone")
    try:
        in_utc = release_at.astimezone(UTC)
    except OverflowError:
        raise InvalidInput("release_at is out of range") from None
    if not _FIRST_RELEASE_YEAR <= in_utc.year <= _LAST_RELEASE_YEAR:
        raise InvalidInput("release_at is out of range")
    return release_at


class TrackStatus(enum.StrEnum):
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"
    #: The artist deleted it: nobody sees it (its owner neither), its media is removed. The row
    #: stays as a tombstone, so a transcode still running finds it gone rather than publishing it.
    DELETED = "deleted"


@attrs.frozen
class Track:
    id: str
    artist_id: str
    title: str
    created_at: datetime
    status: TrackStatus = TrackStatus.PROCESSING
    release_at: datetime | None = None
    exclusive: bool = False
    duration_s: float | None = None
    rungs_kbps: tuple[int, ...] = ()
    failure_reason: str | None = None
    #: The measured rate of each published rung, lowest first; empty for tracks published
    #: before rates were kept (their playlists then declare the nominal rates).
    rates: tuple[RungRate, ...] = ()
    #: The lowest tier that may ever see the track (a live session's recording: superfans).
    audience: Tier = Tier.FREE
    description: str = ""
    #: How far its transcode is, 0.0 to 1.0, while it is processing (None: not started, or done).
    progress: float | None = None

    @property
    def required_tier(self) -> Tier:
        """The lowest tier that may listen: the audience, and supporter at least when exclusive."""
        if self.exclusive and not self.audience.includes(Tier.SUPPORTER):
            return Tier.SUPPORTER
        return self.audience

    @property
    def is_deleted(self) -> bool:
        return self.status is TrackStatus.DELETED

    def rate_of(self, kbps: int) -> RungRate | None:
        return next((r for r in self.rates if r.kbps == kbps), None)

    @property
    def media_prefix(self) -> str:
        """Where this track's files live in media storage."""
        return f"artists/{self.artist_id}/tracks/{self.id}"

    @property
    def original_key(self) -> str:
        return f"{self.media_prefix}/original"

    @property
    def hls_prefix(self) -> str:
        return f"{self.media_prefix}/hls"

    def published(
        self,
        *,
        duration_s: float,
        rungs_kbps: tuple[int, ...],
        rates: tuple[RungRate, ...] = (),
    ) -> Track:
        if rates and tuple(r.kbps for r in rates) != rungs_kbps:
            raise ValueError(f"measured rates {rates} do not match the rungs {rungs_kbps}")
        return attrs.evolve(
            self,
            status=TrackStatus.READY,
            duration_s=duration_s,
            rungs_kbps=rungs_kbps,
            rates=rates,
            failure_reason=None,
            progress=None,
        )

    def failed(self, reason: str) -> Track:
        return attrs.evolve(self, status=TrackStatus.FAILED, failure_reason=reason, progress=None)

    def transcoding(self, fraction: float) -> Track:
        """The track with its transcode ``fraction`` done (clamped to 0..1)."""
        return attrs.evolve(self, progress=min(1.0, max(0.0, fraction)))

    def edited(self, edit: TrackEdit) -> Track:
        """The track with the artist's changes; what ``edit`` leaves unset stays as it is."""
        if self.is_deleted:
            raise InvalidInput("a deleted track cannot be edited")
        changed = self
        if edit.title is not None:
            changed = attrs.evolve(changed, title=clean_text(edit.title, field="title", max_chars=MAX_TITLE))
        if edit.description is not None:
            text = edit.description.strip() and clean_text(
                edit.description, field="description", max_chars=MAX_DESCRIPTION, multiline=True
            )
            changed = attrs.evolve(changed, description=text)
        if edit.required_tier is not None:
            # One rule in place of two: exclusive means "supporter at least", the audience says which.
            tier = edit.required_tier
            changed = attrs.evolve(changed, audience=tier, exclusive=tier is not Tier.FREE)
        if edit.clear_release:
            changed = attrs.evolve(changed, release_at=None)
        elif edit.release_at is not None:
            changed = attrs.evolve(changed, release_at=check_release_at(edit.release_at))
        return changed

    def deleted(self) -> Track:
        return attrs.evolve(self, status=TrackStatus.DELETED)


@attrs.frozen
class TrackEdit:
    """What an artist changes on a track; None leaves a field as it is."""

    title: str | None = None
    description: str | None = None
    required_tier: Tier | None = None
    release_at: datetime | None = None
    #: Release at once (no date): ``release_at`` is then ignored.
    clear_release: bool = False


def visible_from(track: Track, rights: Entitlements) -> datetime | None:
    """When a listener with ``rights`` first sees the track (None: never)."""
    if track.is_deleted:
        return None
    if track.exclusive and not rights.has(Feature.EXCLUSIVE_TRACKS):
        return None
    if not rights.tier.includes(track.audience):
        return None
    if track.release_at is None:
        return track.created_at
    if rights.has(Feature.EARLY_ACCESS):
        return track.release_at - EARLY_ACCESS
    return track.release_at


def openings(track: Track) -> tuple[datetime, ...]:
    """The instants a scheduled release opens to a wider audience: early access (supporters+),
    then everyone. Empty for a track without ``release_at``: it opens when it is published."""
    if track.release_at is None:
        return ()
    return (track.release_at - EARLY_ACCESS, track.release_at)


def releases_opening_between(after: datetime, until: datetime) -> tuple[tuple[datetime, datetime], ...]:
    """The ranges of ``release_at`` (each exclusive of its start) of the tracks with an opening
    in (``after``, ``until``]: public releases there, and early accesses a day later."""
    return ((after, until), (after + EARLY_ACCESS, until + EARLY_ACCESS))


def can_see(track: Track, *, rights: Entitlements, now: datetime, is_owner: bool = False) -> bool:
    """Whether a caller with ``rights`` may see the track's metadata and stream it now."""
    if is_owner:
        return not track.is_deleted
    start = visible_from(track, rights)
    return start is not None and now >= start
