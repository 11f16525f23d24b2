"""The read-through caches of the streaming path and the unit of work that invalidates them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from musicconnect.adapters.memory import (
    FrozenClock,
    InMemoryCache,
    InMemoryStore,
    InMemoryUnitOfWork,
    NoCache,
)
from musicconnect.domain.errors import NotFound
from musicconnect.domain.subscriptions import (
    NO_STANDING,
    Standing,
    SubscriptionStatus,
    end_now,
    mark_past_due,
    standing_of,
)
from musicconnect.domain.tiers import Tier
from musicconnect.domain.tracks import Track, TrackStatus
from musicconnect.usecases.caching import (
    STANDING_TTL_S,
    InvalidatingUnitOfWork,
    ReadyTracks,
    decode_standing,
    encode_standing,
    playlist_key,
    standing_key,
    standing_with,
    track_mark_key,
    variant_playlist,
)
from tests.unit.usecases.conftest import VARIANT, World

instants = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds; timezones= adds UTC
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
standings = st.builds(
    Standing,
    tier=st.sampled_from(Tier),
    status=st.sampled_from(SubscriptionStatus),
    current_period_end=instants,
    pending_tier=st.none() | st.sampled_from(Tier),
    past_due_since=st.none() | instants,
    grace_days=st.integers(min_value=0, max_value=60),
)


@given(standing=standings, now=instants)
def test_a_standing_survives_the_cache_and_grants_the_same_tier(standing: Standing, now: datetime) -> None:
    decoded = decode_standing(encode_standing(standing))

    assert decoded == standing
    assert decoded is not None
    assert decoded.tier_at(now) is standing.tier_at(now)


def _entry(**changes: object) -> bytes:
    """A well-formed entry with ``changes`` made to its fields."""
    fields: dict[str, object] = {
        "tier": "superfan",
        "status": "active",
        "period_end": "2030-01-01T00:00:00+00:00",
        "pending": None,
        "past_due_since": None,
        "grace_days": 7,
    }
    return json.dumps(fields | changes).encode()


def test_a_well_formed_entry_reads() -> None:
    assert decode_standing(_entry()) == Standing(
        tier=Tier.SUPERFAN,
        status=SubscriptionStatus.ACTIVE,
        current_period_end=datetime(2030, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "entry",
    [
        b"",
        b"not json",
        b"[]",
        b'{"tier": "superfan"}',
        _entry(tier="platinum"),
        _entry(period_end="2030-01-01T00:00:00"),
        _entry(past_due_since="2030-01-01T00:00:00"),
        _entry(grace_days="a week"),
    ],
    ids=[
        "empty",
        "not-json",
        "a-list",
        "fields-missing",
        "unknown-tier",
        "naive-instant",
        "naive-past-due",
        "bad-grace",
    ],
)
def test_an_entry_that_cannot_be_read_is_a_miss(entry: bytes) -> None:
    assert decode_standing(entry) is None


def test_an_unreadable_entry_is_replaced_by_what_the_database_says(world: World) -> None:
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    world.cache.set(standing_key(fan.id, artist.id), b"garbage from another release", ttl_s=60)

    standing = standing_with(fan.id, artist.id, uow=world.uow(), cache=world.cache)

    assert standing.tier_at(world.clock.now()) is Tier.SUPERFAN
    assert world.cache.get(standing_key(fan.id, artist.id)) == encode_standing(standing)


def test_a_fan_without_a_subscription_is_cached_as_free(world: World) -> None:
    """Most listeners are free: their "no subscription" is worth caching too."""
    artist = world.artist()
    fan = world.fan()

    standing = standing_with(fan.id, artist.id, uow=world.uow(), cache=world.cache)

    assert standing == NO_STANDING
    assert decode_standing(world.cache.get(standing_key(fan.id, artist.id)) or b"") == NO_STANDING


def test_a_cached_standing_is_served_until_it_expires(world: World) -> None:
    """A write behind the unit of work's back (no invalidation) shows only after the TTL."""
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPPORTER)
    standing_with(fan.id, artist.id, uow=world.uow(), cache=world.cache)
    with InMemoryUnitOfWork(world.store) as raw:  # not invalidating
        live = raw.subscriptions.live_for(fan.id, artist.id)
        assert live is not None
        raw.subscriptions.save(end_now(live, world.clock.now()))
        raw.commit()

    cached = standing_with(fan.id, artist.id, uow=world.uow(), cache=world.cache)
    world.clock.advance(timedelta(seconds=STANDING_TTL_S))
    expired = standing_with(fan.id, artist.id, uow=world.uow(), cache=world.cache)

    assert cached.tier is Tier.SUPPORTER
    assert expired == NO_STANDING


class TestInvalidatingUnitOfWork:
    @pytest.fixture
    def cache(self, clock: FrozenClock) -> InMemoryCache:
        return InMemoryCache(clock)

    def test_a_saved_subscription_drops_its_entry_only_once_committed(self, world: World) -> None:
        artist = world.artist()
        fan = world.fan_on(artist, Tier.SUPPORTER)
        key = standing_key(fan.id, artist.id)
        world.cache.set(key, b"cached", ttl_s=60)

        with world.uow() as uow:
            live = uow.subscriptions.live_for(fan.id, artist.id)
            assert live is not None
            uow.subscriptions.save(mark_past_due(live, world.clock.now()))
            before_commit = world.cache.get(key)
            uow.commit()
            after_commit = world.cache.get(key)

        assert (before_commit, after_commit) == (b"cached", None)

    def test_a_rolled_back_write_drops_nothing(self, world: World) -> None:
        artist = world.artist()
        fan = world.fan_on(artist, Tier.SUPPORTER)
        key = standing_key(fan.id, artist.id)
        world.cache.set(key, b"cached", ttl_s=60)

        def fail_before_commit() -> None:
            with world.uow() as uow:
                live = uow.subscriptions.live_for(fan.id, artist.id)
                assert live is not None
                uow.subscriptions.save(mark_past_due(live, world.clock.now()))
                raise RuntimeError("the use case failed before its commit")

        with pytest.raises(RuntimeError):
            fail_before_commit()
        with world.uow() as uow:
            live = uow.subscriptions.live_for(fan.id, artist.id)
            assert live is not None
            uow.subscriptions.save(live)
            uow.rollback()
            uow.commit()  # nothing left to commit, nothing to drop

        assert world.cache.get(key) == b"cached"

    def test_only_the_entries_of_what_was_written_are_dropped(self, world: World) -> None:
        artist = world.artist()
        other_artist = world.artist()
        fan = world.fan_on(artist, Tier.SUPPORTER)
        untouched = [standing_key(fan.id, other_artist.id), playlist_key("some-track", 128)]
        for key in untouched:
            world.cache.set(key, b"cached", ttl_s=60)

        world.subscribe(fan, other_artist, Tier.SUPERFAN)  # a new subscription drops its pair's entry
        touched = world.cache.get(standing_key(fan.id, other_artist.id))

        assert touched is None
        assert world.cache.get(untouched[1]) == b"cached"

    def test_a_published_track_drops_its_playlists(self, world: World) -> None:
        artist = world.artist()
        world.auto_transcode = False
        track = world.ingest(artist)
        keys = [playlist_key(track.id, kbps) for kbps in (128, 256, 320)]
        for key in keys:
            world.cache.set(key, b"stale", ttl_s=60)

        world.transcode(track.id)

        assert [world.cache.get(key) for key in keys] == [None, None, None]

    def test_it_reads_and_writes_like_the_unit_of_work_it_wraps(self, cache: InMemoryCache) -> None:
        store = InMemoryStore()
        with InvalidatingUnitOfWork(InMemoryUnitOfWork(store), cache) as uow:
            assert uow.accounts.get("nobody") is None
            assert uow.subscriptions.of_fan("nobody") == []
            assert uow.tracks.processing() == []


def test_a_variant_playlist_is_read_from_storage_once(world: World) -> None:
    artist = world.artist()
    track = world.ingest(artist)
    with world.uow() as uow:
        ready = uow.tracks.get(track.id)
    assert ready is not None
    stored_key = f"{ready.hls_prefix}/128k/{VARIANT}"
    stored = world.storage.get_bytes(stored_key)

    first = variant_playlist(ready, 128, storage=world.storage, cache=world.cache)
    world.storage.put_bytes(
        stored_key, b"#EXTM3U\n# changed behind the cache\n", "application/vnd.apple.mpegurl"
    )
    second = variant_playlist(ready, 128, storage=world.storage, cache=world.cache)

    assert first == second == stored


def test_no_cache_keeps_nothing() -> None:
    cache = NoCache()
    cache.set("k", b"v", ttl_s=60)
    cache.delete("k")

    assert cache.get("k") is None
    with pytest.raises(ValueError, match="ttl_s"):
        cache.set("k", b"v", ttl_s=0)


def test_standing_of_nothing_is_free_forever() -> None:
    assert standing_of(None) is NO_STANDING
    assert NO_STANDING.tier_at(datetime(2999, 1, 1, tzinfo=UTC)) is Tier.FREE


def test_ready_tracks_remembers_a_published_track_and_rereads_one_still_processing() -> None:
    """A ready track is read once; a processing one is read each time, so its publication shows."""
    store = InMemoryStore()
    processing = Track("t-1", "artist-1", "Song", datetime(2026, 1, 1, tzinfo=UTC))
    with InMemoryUnitOfWork(store) as uow:
        uow.tracks.add(processing)
        uow.commit()
    tracks, cache = ReadyTracks(), NoCache()
    assert tracks.get("t-1", uow=InMemoryUnitOfWork(store), cache=cache).status is TrackStatus.PROCESSING
    with InMemoryUnitOfWork(store) as uow:
        uow.tracks.save(processing.published(duration_s=3.0, rungs_kbps=(128,)))
        uow.commit()
    assert tracks.get("t-1", uow=InMemoryUnitOfWork(store), cache=cache).status is TrackStatus.READY
    with InMemoryUnitOfWork(store) as uow:
        uow.tracks.save(processing)  # a save behind the invalidating unit of work's back: unheard
        uow.commit()
    assert tracks.get("t-1", uow=InMemoryUnitOfWork(store), cache=cache).status is TrackStatus.READY
    with pytest.raises(NotFound):
        tracks.get("missing", uow=InMemoryUnitOfWork(store), cache=cache)


class _Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _published_track(store: InMemoryStore) -> Track:
    track = Track("t-1", "artist-1", "Song", datetime(2026, 1, 1, tzinfo=UTC)).published(
        duration_s=3.0, rungs_kbps=(128, 256)
    )
    with InMemoryUnitOfWork(store) as uow:
        uow.tracks.add(track)
        uow.commit()
    return track


def test_an_edit_is_heard_at_once_by_another_process_sharing_the_cache() -> None:
    """Two processes' memories, one shared cache: the edit moves the track's mark, so the other
    process reads the track again on its next request; a deletion reads as missing."""
    store, clock = InMemoryStore(), FrozenClock(datetime(2026, 1, 2, tzinfo=UTC))
    cache = InMemoryCache(clock)
    track = _published_track(store)
    here, there = ReadyTracks(), ReadyTracks()
    assert there.get(track.id, uow=InMemoryUnitOfWork(store), cache=cache).audience is Tier.FREE

    with InvalidatingUnitOfWork(InMemoryUnitOfWork(store), cache, here) as uow:
        uow.tracks.save(attrs.evolve(track, audience=Tier.SUPERFAN))
        uow.commit()
    after_edit = there.get(track.id, uow=InMemoryUnitOfWork(store), cache=cache)
    with InvalidatingUnitOfWork(InMemoryUnitOfWork(store), cache, here) as uow:
        uow.tracks.save(after_edit.deleted())
        uow.commit()

    assert after_edit.audience is Tier.SUPERFAN
    with pytest.raises(NotFound):
        there.get(track.id, uow=InMemoryUnitOfWork(store), cache=cache)


def test_a_save_in_this_process_forgets_the_track_even_without_a_shared_cache() -> None:
    store = InMemoryStore()
    track = _published_track(store)
    tracks = ReadyTracks()
    tracks.get(track.id, uow=InMemoryUnitOfWork(store), cache=NoCache())

    with InvalidatingUnitOfWork(InMemoryUnitOfWork(store), NoCache(), tracks) as uow:
        uow.tracks.save(attrs.evolve(track, title="Renamed"))
        uow.commit()

    assert tracks.remembered(track.id) is None
    assert tracks.get(track.id, uow=InMemoryUnitOfWork(store), cache=NoCache()).title == "Renamed"


def test_a_rolled_back_save_moves_no_mark_and_forgets_nothing() -> None:
    store, clock = InMemoryStore(), FrozenClock(datetime(2026, 1, 2, tzinfo=UTC))
    cache = InMemoryCache(clock)
    track = _published_track(store)
    tracks = ReadyTracks()
    tracks.get(track.id, uow=InMemoryUnitOfWork(store), cache=cache)

    with InvalidatingUnitOfWork(InMemoryUnitOfWork(store), cache, tracks) as uow:
        uow.tracks.save(attrs.evolve(track, title="Never"))

    assert cache.get(track_mark_key(track.id)) is None
    assert tracks.remembered(track.id) is not None


def test_without_a_shared_cache_another_process_hears_of_an_edit_within_the_lifetime() -> None:
    """The embedded default shares no cache: a remembered copy is trusted for ``lifetime_s`` only."""
    store = InMemoryStore()
    track = _published_track(store)
    monotonic = _Monotonic()
    there = ReadyTracks(lifetime_s=2.0, monotonic=monotonic)
    there.get(track.id, uow=InMemoryUnitOfWork(store), cache=NoCache())
    with InvalidatingUnitOfWork(InMemoryUnitOfWork(store), NoCache(), ReadyTracks()) as uow:
        uow.tracks.save(attrs.evolve(track, title="Renamed"))
        uow.commit()

    monotonic.now += 1.9
    within = there.get(track.id, uow=InMemoryUnitOfWork(store), cache=NoCache()).title
    monotonic.now += 0.2
    after = there.get(track.id, uow=InMemoryUnitOfWork(store), cache=NoCache()).title

    assert (within, after) == ("Song", "Renamed")
