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
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self

import attrs

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
#: A change mark outlives every remembered copy by far (``ReadyTracks.lifetime_s``): a copy read
#: before an edit can never outlive the mark that tells it apart.
TRACK_MARK_TTL_S: Final = 7 * 24 * 3600
#: Bumped whenever an entry's format changes, so processes of two releases never misread each other.
_FORMAT: Final = "v1"


def standing_key(fan_id: str, artist_id: str) -> str:
    return f"standing:{_FORMAT}:{fan_id}:{artist_id}"


def playlist_key(track_id: str, kbps: int) -> str:
    return f"playlist:{_FORMAT}:{track_id}:{kbps}"


def track_mark_key(track_id: str) -> str:
    """Where a track's change mark lives: a fresh random value after every save of the track."""
    return f"track-mark:{_FORMAT}:{track_id}"


def new_mark() -> bytes:
    return secrets.token_bytes(12)


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


@attrs.frozen
class RememberedTrack:
    track: Track
    #: The track's change mark in the cache when it was read (None: it had none).
    mark: bytes | None
    #: When it stops being trusted (``time.monotonic``).
    until: float


class ReadyTracks:
    """Published tracks, remembered per process for the streaming path.

    A published track changes only when its artist edits or deletes it, and every such save
    moves the track's change mark in the shared cache (``InvalidatingUnitOfWork``). A remembered
    track is used only while the cache holds the very mark it was read with: the fast path reads
    the mark in the same round trip as the token and standing checks, so an edit is heard at once
    by every process sharing the cache. Saves made in this process forget the track at once.

    Two things the mark cannot cover are bounded by ``lifetime_s``: a mark that could not be
    written (the cache was unreachable) and processes that share no cache (the embedded default
    keeps none), which hear of another process's edit within that time. Bounded in size: the
    least recently streamed are forgotten first.
    """

    def __init__(
        self,
        capacity: int = 10_000,
        *,
        lifetime_s: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = capacity
        self._lifetime_s = lifetime_s
        self._monotonic = monotonic
        self._tracks: OrderedDict[str, RememberedTrack] = OrderedDict()
        self._lock = threading.Lock()

    def remembered(self, track_id: str) -> RememberedTrack | None:
        """The track if this process remembers it published and its time is not up: no database
        read. Use it only if ``track_mark_key`` still holds its ``mark``."""
        with self._lock:
            entry = self._tracks.get(track_id)
            if entry is None:
                return None
            if entry.until <= self._monotonic():
                del self._tracks[track_id]
                return None
            self._tracks.move_to_end(track_id)
            return entry

    def forget(self, *track_ids: str) -> None:
        with self._lock:
            for track_id in track_ids:
                self._tracks.pop(track_id, None)

    def get(self, track_id: str, *, uow: UnitOfWork, cache: Cache) -> Track:
        """The track (NotFound if there is none or it was deleted); ``uow`` must not be open, it
        is used on a miss. Asks the cache for the track's mark: one read, none on the embedded default."""
        mark = cache.get(track_mark_key(track_id))
        entry = self.remembered(track_id)
        if entry is not None and entry.mark == mark:
            return entry.track
        # The mark is read before the row: an edit in between moves it again, so the copy kept
        # here is at worst read once more, never trusted stale.
        with uow:
            track = require_track(uow, track_id)
        if track.status is TrackStatus.READY:
            self._remember(track, mark)
        else:
            self.forget(track_id)
        return track

    def _remember(self, track: Track, mark: bytes | None) -> None:
        with self._lock:
            self._tracks[track.id] = RememberedTrack(track, mark, self._monotonic() + self._lifetime_s)
            self._tracks.move_to_end(track.id)
            while len(self._tracks) > self._capacity:
                self._tracks.popitem(last=False)


class InvalidatingUnitOfWork:
    """A unit of work that, after each successful commit, forgets the cached reads its writes changed.

    One per request or job, like the unit of work it wraps.
    """

    def __init__(self, inner: UnitOfWork, cache: Cache, ready_tracks: ReadyTracks | None = None) -> None:
        self._inner = inner
        self._cache = cache
        self._ready_tracks = ready_tracks
        self._stale: set[str] = set()
        self._changed_tracks: set[str] = set()
        self.accounts = inner.accounts
        self.artists = inner.artists
        self.fans = inner.fans
        self.tracks: TrackRepository = _WatchedTracks(
            inner.tracks, self._stale.update, self._changed_tracks.add
        )
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
        self._forget_pending()  # whatever was not committed is rolled back: nothing went stale
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        self._inner.commit()
        # After the commit, never before: a reader between a delete and the commit would put the
        # old value straight back.
        stale, changed = sorted(self._stale), sorted(self._changed_tracks)
        self._forget_pending()
        if self._ready_tracks is not None:
            self._ready_tracks.forget(*changed)
        for track_id in changed:
            self._cache.set(track_mark_key(track_id), new_mark(), ttl_s=TRACK_MARK_TTL_S)
        self._cache.delete(*stale)

    def rollback(self) -> None:
        self._forget_pending()
        self._inner.rollback()

    def _forget_pending(self) -> None:
        self._stale.clear()
        self._changed_tracks.clear()


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
    """Tracks that note what each save makes stale (a publish, a failure, an edit, a delete):
    the cached playlists, and the copies processes remember (through the track's change mark)."""

    def __init__(self, inner: TrackRepository, note: _Note, changed: Callable[[str], None]) -> None:
        self._inner = inner
        self._note = note
        self._changed = changed

    def add(self, track: Track) -> None:
        self._inner.add(track)

    def save(self, track: Track) -> None:
        self._inner.save(track)
        self._note([playlist_key(track.id, kbps) for kbps in LADDER_KBPS])
        self._changed(track.id)

    def get(self, track_id: str) -> Track | None:
        return self._inner.get(track_id)

    def by_artist(self, artist_id: str) -> Sequence[Track]:
        return self._inner.by_artist(artist_id)

    def processing(self) -> Sequence[Track]:
        return self._inner.processing()

    def releasing_between(self, after: datetime, until: datetime) -> Sequence[Track]:
        return self._inner.releasing_between(after, until)
