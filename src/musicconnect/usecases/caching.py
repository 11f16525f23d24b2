"""Read-through caches for the streaming path, and the unit of work that keeps them honest.

Two things are read on every play and change rarely:

- a fan's standing with an artist, what their entitlements derive from (cached, not the
  entitlements themselves, because those also depend on the clock: a standing answers for any
  instant, so an entry never outlives a period end or a grace period);
- a published rung's variant playlist, as stored, before its URIs are signed for one listener.

Both are read through the Cache port. A hit saves a database or object-store round trip; a miss,
which is also what an unreachable cache answers, reads the source and fills the entry. Only reads
that authorise go through the cache: use cases that decide a write read the database.

Every unit of work the services hand out is an InvalidatingUnitOfWork. Once a commit that saved a
subscription or a track succeeds, it deletes the entries those writes made stale, so a changed tier
is heard on the very next request, in every process sharing the cache. One race is left, bounded by
the time to live: a reader that read the old row just before a writer's commit can store it just
after the writer's delete. The same bound covers a delete lost while the cache was unreachable.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self

from musicconnect.domain.media import LADDER_KBPS, VARIANT_PLAYLIST, rung_folder
from musicconnect.domain.subscriptions import Standing, Subscription, SubscriptionStatus, standing_of
from musicconnect.domain.tiers import Tier
from musicconnect.domain.tracks import Track, TrackStatus
from musicconnect.ports.media import MediaStorage
from musicconnect.ports.repositories import SubscriptionRepository, TrackRepository, UnitOfWork
from musicconnect.ports.services import Cache
from musicconnect.usecases.access import require_track

#: Invalidation makes changes visible at once; the TTL only bounds the race described above.
STANDING_TTL_S: Final = 30
#: A published playlist never changes; a re-published track invalidates its entries.
PLAYLIST_TTL_S: Final = 24 * 3600
#: Bumped whenever an entry's format changes, so processes of two releases never misread each other.
_FORMAT: Final = "v1"


def standing_key(fan_id: str, artist_id: str) -> str:
    return f"standing:{_FORMAT}:{fan_id}:{artist_id}"


def playlist_key(track_id: str, kbps: int) -> str:
    return f"playlist:{_FORMAT}:{track_id}:{kbps}"


def _instant(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _read_instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def encode_standing(standing: Standing) -> bytes:
    return json.dumps(
        {
            "tier": standing.tier.value,
            "status": standing.status.value,
            "period_end": _instant(standing.current_period_end),
            "pending": None if standing.pending_tier is None else standing.pending_tier.value,
            "past_due_since": _instant(standing.past_due_since),
            "grace_days": standing.grace_days,
        },
        separators=(",", ":"),
    ).encode("utf-8")


def decode_standing(data: bytes) -> Standing | None:
    """The standing an entry holds, or None when the entry cannot be read (then it is a miss)."""
    try:
        fields: dict[str, Any] = json.loads(data)
        period_end = _read_instant(fields["period_end"])
        past_due_since = _read_instant(fields["past_due_since"])
        if period_end is None or any(
            m is not None and m.tzinfo is None for m in (period_end, past_due_since)
        ):
            return None  # compared with aware instants later, a naive one would raise
        return Standing(
            tier=Tier(fields["tier"]),
            status=SubscriptionStatus(fields["status"]),
            current_period_end=period_end,
            pending_tier=None if fields["pending"] is None else Tier(fields["pending"]),
            past_due_since=past_due_since,
            grace_days=int(fields["grace_days"]),
        )
    except (ValueError, TypeError, KeyError):
        return None


def standing_with(fan_id: str, artist_id: str, *, uow: UnitOfWork, cache: Cache) -> Standing:
    """The fan's standing with the artist: from the cache, or from the database.

    ``uow`` must not be open: it is opened only on a miss, and closed before the cache is written,
    so no database transaction (SQLite's write lock) waits on the cache.
    """
    key = standing_key(fan_id, artist_id)
    cached = cache.get(key)
    if cached is not None:
        standing = decode_standing(cached)
        if standing is not None:
            return standing
    with uow:
        standing = standing_of(uow.subscriptions.live_for(fan_id, artist_id))
    cache.set(key, encode_standing(standing), ttl_s=STANDING_TTL_S)
    return standing


def variant_playlist(track: Track, kbps: int, *, storage: MediaStorage, cache: Cache) -> bytes:
    """A published rung's playlist as stored: from the cache, or from storage."""
    key = playlist_key(track.id, kbps)
    cached = cache.get(key)
    if cached is not None:
        return cached
    body = storage.get_bytes(f"{track.hls_prefix}/{rung_folder(kbps)}/{VARIANT_PLAYLIST}")
    cache.set(key, body, ttl_s=PLAYLIST_TTL_S)
    return body


class ReadyTracks:
    """Published tracks, remembered per process for the streaming path.

    A ready track never changes: only a processing track is saved again (published or failed),
    and a transcode of a ready track does nothing. So a remembered ready track is exact, in
    every process, without invalidation; tracks not yet ready are read from the database each
    time. Bounded: the least recently streamed are forgotten first.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._tracks: OrderedDict[str, Track] = OrderedDict()
        self._lock = threading.Lock()

    def remembered(self, track_id: str) -> Track | None:
        """The track if this process remembers it published, else None: no database read."""
        with self._lock:
            track = self._tracks.get(track_id)
            if track is not None:
                self._tracks.move_to_end(track_id)
            return track

    def get(self, track_id: str, *, uow: UnitOfWork) -> Track:
        """The track (NotFound if there is none); ``uow`` must not be open, it is used on a miss."""
        track = self.remembered(track_id)
        if track is not None:
            return track
        with uow:
            track = require_track(uow, track_id)
        if track.status is TrackStatus.READY:
            with self._lock:
                self._tracks[track_id] = track
                while len(self._tracks) > self._capacity:
                    self._tracks.popitem(last=False)
        return track


class InvalidatingUnitOfWork:
    """A unit of work that, after each successful commit, forgets the cached reads its writes changed.

    One per request or job, like the unit of work it wraps.
    """

    def __init__(self, inner: UnitOfWork, cache: Cache) -> None:
        self._inner = inner
        self._cache = cache
        self._stale: set[str] = set()
        self.accounts = inner.accounts
        self.artists = inner.artists
        self.fans = inner.fans
        self.tracks: TrackRepository = _WatchedTracks(inner.tracks, self._stale.update)
        self.subscriptions: SubscriptionRepository = _WatchedSubscriptions(
            inner.subscriptions, self._stale.update
        )
        self.live_sessions = inner.live_sessions
        self.ledger = inner.ledger
        self.payouts = inner.payouts
        self.plays = inner.plays
        self.messages = inner.messages
        self.processed_events = inner.processed_events
        self.intents = inner.intents
        self.processor_links = inner.processor_links
        self.qa_sessions = inner.qa_sessions
        self.questions = inner.questions
        self.notifications = inner.notifications
        self.backstage_posts = inner.backstage_posts
        self.backstage_comments = inner.backstage_comments
        self.backstage_blocks = inner.backstage_blocks

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._inner!r})"

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stale.clear()  # whatever was not committed is rolled back: nothing went stale
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        self._inner.commit()
        # After the commit, never before: a reader between a delete and the commit would put the
        # old value straight back.
        stale = sorted(self._stale)
        self._stale.clear()
        self._cache.delete(*stale)

    def rollback(self) -> None:
        self._stale.clear()
        self._inner.rollback()


_Note = Callable[[Sequence[str]], None]


class _WatchedSubscriptions:
    """Subscriptions that note the standing entries each write makes stale."""

    def __init__(self, inner: SubscriptionRepository, note: _Note) -> None:
        self._inner = inner
        self._note = note

    def add(self, subscription: Subscription) -> None:
        self._inner.add(subscription)
        self._note([standing_key(subscription.fan_id, subscription.artist_id)])

    def save(self, subscription: Subscription) -> None:
        self._inner.save(subscription)
        self._note([standing_key(subscription.fan_id, subscription.artist_id)])

    def get(self, subscription_id: str) -> Subscription | None:
        return self._inner.get(subscription_id)

    def live_for(self, fan_id: str, artist_id: str) -> Subscription | None:
        return self._inner.live_for(fan_id, artist_id)

    def by_external_ref(self, external_ref: str) -> Subscription | None:
        return self._inner.by_external_ref(external_ref)

    def of_fan(self, fan_id: str) -> Sequence[Subscription]:
        return self._inner.of_fan(fan_id)

    def live_of_artist(self, artist_id: str) -> Sequence[Subscription]:
        return self._inner.live_of_artist(artist_id)

    def due_for_renewal(self, now: datetime) -> Sequence[Subscription]:
        return self._inner.due_for_renewal(now)


class _WatchedTracks:
    """Tracks that note the playlist entries each save makes stale (a publish, a failure)."""

    def __init__(self, inner: TrackRepository, note: _Note) -> None:
        self._inner = inner
        self._note = note

    def add(self, track: Track) -> None:
        self._inner.add(track)

    def save(self, track: Track) -> None:
        self._inner.save(track)
        self._note([playlist_key(track.id, kbps) for kbps in LADDER_KBPS])

    def get(self, track_id: str) -> Track | None:
        return self._inner.get(track_id)

    def by_artist(self, artist_id: str) -> Sequence[Track]:
        return self._inner.by_artist(artist_id)

    def processing(self) -> Sequence[Track]:
        return self._inner.processing()

    def releasing_between(self, after: datetime, until: datetime) -> Sequence[Track]:
        return self._inner.releasing_between(after, until)
