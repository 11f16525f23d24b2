"""Who may see a track, and when: early access for supporters, exclusives never below supporter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicconnect.domain.entitlements import entitlements_for_tier
from musicconnect.domain.tiers import Tier
from musicconnect.domain.tracks import EARLY_ACCESS, Track, TrackStatus, can_see, visible_from

CREATED = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
RELEASE = datetime(2024, 3, 15, 18, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def track(*, release_at: datetime | None = RELEASE, exclusive: bool = False) -> Track:
    return Track(
        id="t1",
        artist_id="a1",
        title="Song",
        created_at=CREATED,
        release_at=release_at,
        exclusive=exclusive,
    )


def test_early_access_is_24_hours() -> None:
    """The design's early-access window."""
    assert timedelta(hours=24) == EARLY_ACCESS


def test_free_listeners_see_a_release_at_release_time() -> None:
    """Not a microsecond before."""
    song = track()

    assert not can_see(song, rights=entitlements_for_tier(Tier.FREE), now=RELEASE - TICK)
    assert can_see(song, rights=entitlements_for_tier(Tier.FREE), now=RELEASE)
    assert visible_from(song, entitlements_for_tier(Tier.FREE)) == RELEASE


@pytest.mark.parametrize("tier", [Tier.SUPPORTER, Tier.SUPERFAN])
def test_supporters_and_up_see_a_release_24_hours_early(tier: Tier) -> None:
    """Supporter and superfan get the track a day before everyone else."""
    song = track()

    assert not can_see(song, rights=entitlements_for_tier(tier), now=RELEASE - timedelta(hours=24) - TICK)
    assert can_see(song, rights=entitlements_for_tier(tier), now=RELEASE - timedelta(hours=24))
    assert visible_from(song, entitlements_for_tier(tier)) == RELEASE - timedelta(hours=24)


@pytest.mark.parametrize("tier", list(Tier))
def test_a_track_without_release_date_is_visible_from_its_upload(tier: Tier) -> None:
    """No release date means public once uploaded."""
    assert visible_from(track(release_at=None), entitlements_for_tier(tier)) == CREATED


def test_exclusive_tracks_are_never_visible_to_free_listeners() -> None:
    """Not at release, not years later, not without a release date."""
    for song in (track(exclusive=True), track(release_at=None, exclusive=True)):
        assert visible_from(song, entitlements_for_tier(Tier.FREE)) is None
        assert not can_see(song, rights=entitlements_for_tier(Tier.FREE), now=RELEASE + timedelta(days=3650))


@pytest.mark.parametrize("tier", [Tier.SUPPORTER, Tier.SUPERFAN])
def test_exclusive_tracks_are_visible_to_supporters_with_early_access(tier: Tier) -> None:
    """Exclusive is a floor on the tier, not a second delay."""
    song = track(exclusive=True)

    assert can_see(song, rights=entitlements_for_tier(tier), now=RELEASE - timedelta(hours=24))


@pytest.mark.parametrize("tier", list(Tier))
def test_the_owner_always_sees_their_track(tier: Tier) -> None:
    """An artist sees an unreleased exclusive whatever tier the caller would have."""
    assert can_see(track(exclusive=True), rights=entitlements_for_tier(tier), now=CREATED, is_owner=True)


@settings(max_examples=150)
@given(
    release_offset=st.none() | st.timedeltas(timedelta(days=-30), timedelta(days=30)),
    exclusive=st.booleans(),
    now_offset=st.timedeltas(timedelta(days=-60), timedelta(days=60)),
    pair=st.lists(st.sampled_from(list(Tier)), min_size=2, max_size=2),
)
def test_a_higher_tier_sees_everything_a_lower_tier_sees(
    *,
    release_offset: timedelta | None,
    exclusive: bool,
    now_offset: timedelta,
    pair: list[Tier],
) -> None:
    """Visibility is monotonic in the tier at every instant."""
    low, high = sorted(pair, key=lambda t: t.rank)
    song = track(release_at=None if release_offset is None else CREATED + release_offset, exclusive=exclusive)
    now = CREATED + now_offset

    if can_see(song, rights=entitlements_for_tier(low), now=now):
        assert can_see(song, rights=entitlements_for_tier(high), now=now)


def test_publishing_records_duration_and_rungs() -> None:
    """A published track is ready, with its ladder, and forgets an earlier failure."""
    published = track().failed("ffmpeg crashed").published(duration_s=241.5, rungs_kbps=(128, 256, 320))

    assert published.status is TrackStatus.READY
    assert published.duration_s == 241.5
    assert published.rungs_kbps == (128, 256, 320)
    assert published.failure_reason is None


def test_a_failed_track_keeps_its_reason() -> None:
    """The reason is shown to the artist."""
    failed = track().failed("not audio")

    assert failed.status is TrackStatus.FAILED
    assert failed.failure_reason == "not audio"


def test_a_new_track_is_processing() -> None:
    """Uploads start in processing."""
    assert track().status is TrackStatus.PROCESSING


def test_media_keys_live_under_the_artist_and_track() -> None:
    """Original and HLS files share one prefix per track."""
    song = track()

    assert song.media_prefix == "artists/a1/tracks/t1"
    assert song.original_key == "artists/a1/tracks/t1/original"
    assert song.hls_prefix == "artists/a1/tracks/t1/hls"
