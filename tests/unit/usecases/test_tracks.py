"""Ingesting an upload, publishing its ladder atomically, and who may see a track when."""

from __future__ import annotations

from datetime import timedelta

import pytest

from musicconnect.domain.accounts import Caller
from musicconnect.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MediaRejected,
    MediaTooLarge,
    NotFound,
)
from musicconnect.domain.media import LADDER_KBPS
from musicconnect.domain.stranded import GIVE_UP_AFTER, REQUEUE_AFTER, SWEEP_EVERY
from musicconnect.domain.subscriptions import SubscriptionStatus
from musicconnect.domain.tiers import Tier
from musicconnect.domain.tracks import Track, TrackStatus
from musicconnect.usecases.subscriptions import Subscriptions
from musicconnect.usecases.tracks import (
    IngestTrack,
    StrandedTracks,
    ingest_track,
    requeue_stranded,
    tracks_of_artist,
    transcode_track,
    view_track,
)
from tests.support.queues import QueueDown
from tests.unit.usecases.conftest import (
    MASTER,
    POLICY,
    VARIANT,
    DecliningPaymentGateway,
    World,
    billing_on,
    fake_audio,
)

#: Every file the fake transcoder publishes for one track, relative to its HLS folder.
LADDER_FILES = {
    f"{kbps}k/{name}"
    for kbps in LADDER_KBPS
    for name in ("init.mp4", "seg_00000.m4s", "seg_00001.m4s", VARIANT)
} | {MASTER}


def _hls_files(world: World, track: Track) -> set[str]:
    prefix = track.hls_prefix + "/"
    return {key.removeprefix(prefix) for key in world.storage.list_keys(track.hls_prefix)}


def _queued_track(world: World, artist: Caller) -> Track:
    """A track ingested but not transcoded yet: its job is queued and waits."""
    world.auto_transcode = False
    track = world.ingest(artist)
    world.storage.puts.clear()
    return track


# --- ingesting ---------------------------------------------------------------------------------


def test_ingest_stores_the_original_and_queues_its_transcode(world: World) -> None:
    """The upload's bytes under the track's original key, one job for the track, status processing."""
    artist = world.artist()
    world.auto_transcode = False
    content = fake_audio(4096)

    track = world.ingest(artist, title="  Night Drive ", content=content)

    assert track.status is TrackStatus.PROCESSING
    assert track.title == "Night Drive"
    assert world.storage.get_bytes(track.original_key) == content
    assert world.storage.puts == [track.original_key]
    assert world.queued == [{"track_id": track.id}]
    assert world.track(track.id) == track


def test_a_queued_transcode_publishes_the_track(world: World) -> None:
    """With a worker running the queue, the track turns ready with the three rungs and its duration."""
    artist = world.artist()

    track = world.ingest(artist)

    ready = world.track(track.id)
    assert ready.status is TrackStatus.READY
    assert ready.rungs_kbps == LADDER_KBPS
    assert ready.duration_s == 12.0
    assert _hls_files(world, track) == LADDER_FILES


@pytest.mark.parametrize(
    ("content", "error"),
    [(b"<html>not audio</html>", MediaRejected), (fake_audio(POLICY.max_bytes + 1), MediaTooLarge)],
)
def test_a_rejected_upload_stores_nothing_and_adds_no_track(
    world: World, content: bytes, error: type[Exception]
) -> None:
    """Refused by the probe: no media, no track, no job."""
    artist = world.artist()

    with pytest.raises(error):
        world.ingest(artist, content=content)

    assert world.probe.calls == 1
    assert world.storage.puts == []
    assert list(world.storage.list_keys("")) == []
    assert world.queued == []
    with world.uow() as uow:
        assert uow.tracks.by_artist(artist.id) == []


def test_a_storage_failure_while_keeping_the_original_leaves_no_track(world: World) -> None:
    """The write fails: the error surfaces, no track row, nothing queued."""
    artist = world.artist()
    world.storage.fail_when = lambda key: key.endswith("/original")

    with pytest.raises(ConnectionError):
        world.ingest(artist)

    assert list(world.storage.list_keys("")) == []
    assert world.queued == []
    with world.uow() as uow:
        assert uow.tracks.by_artist(artist.id) == []


def test_only_the_artist_may_upload_to_their_page(world: World) -> None:
    """A fan or another artist is Forbidden before the file is even probed."""
    artist = world.artist()

    for intruder in (world.fan(), world.artist()):
        with pytest.raises(Forbidden):
            ingest_track(
                IngestTrack(artist_id=artist.id, title="Stolen", upload=world.upload()),
                caller=intruder,
                uow=world.uow(),
                probe=world.probe,
                storage=world.storage,
                jobs=world.jobs,
                ids=world.ids,
                clock=world.clock,
                policy=POLICY,
            )

    assert world.probe.calls == 0
    assert world.storage.puts == []


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
def test_a_title_must_be_1_to_200_characters(world: World, title: str) -> None:
    """InvalidInput, nothing stored."""
    artist = world.artist()

    with pytest.raises(InvalidInput):
        world.ingest(artist, title=title)

    assert world.storage.puts == []


def test_a_release_time_needs_a_timezone(world: World) -> None:
    """A naive release_at is ambiguous and refused."""
    artist = world.artist()

    with pytest.raises(InvalidInput):
        world.ingest(artist, release_at=world.clock.now().replace(tzinfo=None))


# --- transcoding and publishing ----------------------------------------------------------------


def test_publishing_writes_segments_then_variant_playlists_then_the_master(world: World) -> None:
    """Every media file before any variant playlist, every variant before the master, the master last."""
    artist = world.artist()
    track = _queued_track(world, artist)

    world.transcode(track.id)

    names = [key.removeprefix(track.hls_prefix + "/") for key in world.storage.puts]
    assert set(names) == LADDER_FILES
    kinds = ["master" if n == MASTER else "variant" if n.endswith(".m3u8") else "media" for n in names]
    assert kinds == sorted(kinds, key=["media", "variant", "master"].index)
    assert names[-1] == MASTER


def test_the_track_turns_ready_only_after_its_master_is_stored(world: World) -> None:
    """While any file is being written, readers still see the track processing."""
    artist = world.artist()
    track = _queued_track(world, artist)
    seen: list[TrackStatus] = []
    world.storage.before_put = lambda _: seen.append(world.track(track.id).status)

    world.transcode(track.id)

    assert seen == [TrackStatus.PROCESSING] * len(LADDER_FILES)
    assert world.track(track.id).status is TrackStatus.READY


def test_an_undecodable_source_marks_the_track_failed_and_publishes_nothing(world: World) -> None:
    """The transcoder's MediaRejected surfaces, the reason is kept, no HLS file exists."""
    artist = world.artist()
    track = _queued_track(world, artist)
    world.storage.put_bytes(track.original_key, b"garbage", "application/octet-stream")

    with pytest.raises(MediaRejected):
        world.transcode(track.id)

    failed = world.track(track.id)
    assert failed.status is TrackStatus.FAILED
    assert failed.failure_reason == "cannot decode the source"
    assert _hls_files(world, track) == set()


def test_a_crashed_transcode_leaves_no_master_and_a_rerun_publishes_fully(world: World) -> None:
    """ffmpeg dying mid-way publishes nothing and keeps the track processing; the retry completes."""
    artist = world.artist()
    track = _queued_track(world, artist)
    world.transcoder.crash_with = RuntimeError("ffmpeg was killed")

    with pytest.raises(RuntimeError):
        world.transcode(track.id)

    assert not world.storage.exists(f"{track.hls_prefix}/{MASTER}")
    assert _hls_files(world, track) == set()
    assert world.track(track.id).status is TrackStatus.PROCESSING

    world.transcode(track.id)

    assert world.transcoder.calls == 2
    assert world.track(track.id).status is TrackStatus.READY
    assert _hls_files(world, track) == LADDER_FILES


def test_a_crash_while_publishing_leaves_no_master_and_a_rerun_replaces_the_partial_output(
    world: World,
) -> None:
    """Storage fails at the first playlist: no master, still processing; the retry clears and completes."""
    artist = world.artist()
    track = _queued_track(world, artist)
    world.storage.fail_when = lambda key: key.endswith(".m3u8")

    with pytest.raises(ConnectionError):
        world.transcode(track.id)

    partial = _hls_files(world, track)
    assert partial
    assert not any(name.endswith(".m3u8") for name in partial)
    assert world.track(track.id).status is TrackStatus.PROCESSING

    world.storage.fail_when = None
    world.storage.put_bytes(f"{track.hls_prefix}/999k/stray.m4s", b"old", "audio/mp4")
    world.transcode(track.id)

    assert _hls_files(world, track) == LADDER_FILES
    assert world.track(track.id).status is TrackStatus.READY


def test_transcoding_a_ready_track_again_does_nothing(world: World) -> None:
    """A redelivered job neither re-encodes nor rewrites the published files."""
    artist = world.artist()
    track = world.ingest(artist)
    world.storage.puts.clear()

    result = transcode_track(track.id, uow=world.uow(), storage=world.storage, transcoder=world.transcoder)

    assert result is None
    assert world.transcoder.calls == 1
    assert world.storage.puts == []


def test_transcoding_reports_the_published_track(world: World) -> None:
    """The TrackPublished event names the track, its artist and its rungs; progress reaches 1."""
    artist = world.artist()
    track = _queued_track(world, artist)
    progress: list[float] = []

    published = transcode_track(
        track.id,
        uow=world.uow(),
        storage=world.storage,
        transcoder=world.transcoder,
        progress=progress.append,
    )

    assert published is not None
    assert (published.track_id, published.artist_id, published.rungs_kbps) == (
        track.id,
        artist.id,
        LADDER_KBPS,
    )
    assert progress[-1] == 1.0


def test_a_transcodes_progress_is_stored_on_the_track_in_steps_and_cleared_once_published(
    world: World,
) -> None:
    """What the studio shows while a track transcodes: the fraction done, in 5 % steps (a quarter
    is 25 %, a third is stored as 30 %), read back as the transcode goes, gone once it is ready."""
    artist = world.artist()
    track = _queued_track(world, artist)
    seen: list[tuple[float, float | None]] = []

    transcode_track(
        track.id,
        uow=world.uow(),
        storage=world.storage,
        transcoder=world.transcoder,
        progress=lambda fraction: seen.append((fraction, world.track(track.id).progress)),
    )

    assert [stored for fraction, stored in seen if fraction < 1] == [0.25, 0.5, 0.75]
    assert world.track(track.id).status is TrackStatus.READY
    assert world.track(track.id).progress is None


def test_progress_that_cannot_be_stored_never_fails_the_transcode(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy database (or an edit saved meanwhile) loses a progress write, not the track."""
    artist = world.artist()
    track = _queued_track(world, artist)
    refusing = world.uow()
    refused: list[float | None] = []
    original_save = refusing.tracks.save

    def save_but_refuse_progress(changed: Track) -> None:
        if changed.status is TrackStatus.PROCESSING:
            refused.append(changed.progress)
            raise Conflict("the track changed since it was read")
        original_save(changed)

    monkeypatch.setattr(refusing.tracks, "save", save_but_refuse_progress)

    published = transcode_track(track.id, uow=refusing, storage=world.storage, transcoder=world.transcoder)

    assert refused == [0.25, 0.5, 0.75, 1.0]
    assert published is not None
    assert world.track(track.id).status is TrackStatus.READY


# --- visibility --------------------------------------------------------------------------------


def _visible(world: World, track: Track, caller: Caller | None) -> bool:
    try:
        view_track(track.id, caller=caller, uow=world.uow(), clock=world.clock)
    except NotFound:
        return False
    return True


def test_early_access_opens_to_supporters_24_hours_before_release(world: World) -> None:
    """Before T-24h only the artist; from T-24h supporters and superfans; from T everyone."""
    artist = world.artist()
    release_at = world.clock.now() + timedelta(days=3)
    track = world.ingest(artist, release_at=release_at)
    free, supporter, superfan = (world.fan_on(artist, t) for t in Tier)
    listeners: list[Caller | None] = [None, free, supporter, superfan, artist]

    def who_sees() -> list[bool]:
        return [_visible(world, track, c) for c in listeners]

    world.clock.set(release_at - timedelta(hours=24, microseconds=1))
    assert who_sees() == [False, False, False, False, True]
    world.clock.set(release_at - timedelta(hours=24))
    assert who_sees() == [False, False, True, True, True]
    world.clock.set(release_at - timedelta(microseconds=1))
    assert who_sees() == [False, False, True, True, True]
    world.clock.set(release_at)
    assert who_sees() == [True, True, True, True, True]


def test_an_exclusive_track_is_never_visible_below_supporter(world: World) -> None:
    """Free fans and anonymous callers never see it; supporters, superfans, the artist and an admin do."""
    artist = world.artist()
    track = world.ingest(artist, exclusive=True)
    free, supporter, superfan = (world.fan_on(artist, t) for t in Tier)

    world.clock.advance(timedelta(days=20))

    assert not _visible(world, track, None)
    assert not _visible(world, track, free)
    assert all(_visible(world, track, c) for c in (supporter, superfan, artist, world.admin()))


def test_a_supporter_of_another_artist_does_not_see_this_artists_exclusive(world: World) -> None:
    """Tiers belong to one (fan, artist) pair."""
    artist, other = world.artist(), world.artist()
    track = world.ingest(artist, exclusive=True)
    fan = world.fan_on(other, Tier.SUPERFAN)

    assert not _visible(world, track, fan)


def test_a_lapsed_supporter_loses_the_exclusive_after_the_grace_period(
    world: World, declining_gateway: DecliningPaymentGateway
) -> None:
    """Past due keeps access for the artist's grace days, then the fan is free again."""
    artist = world.artist()
    track = world.ingest(artist, exclusive=True)
    fan = world.fan_on(artist, Tier.SUPPORTER)
    subscription = world.live_subscription(fan, artist)
    assert subscription is not None

    world.clock.set(subscription.current_period_end)
    Subscriptions(world.uow, billing_on(declining_gateway), world.ids, world.clock).run_billing()
    lapsed = world.live_subscription(fan, artist)
    assert lapsed is not None
    assert lapsed.status is SubscriptionStatus.PAST_DUE

    world.clock.advance(timedelta(days=7) - timedelta(microseconds=1))
    assert _visible(world, track, fan)
    world.clock.advance(timedelta(microseconds=1))
    assert not _visible(world, track, fan)


def test_listing_an_artists_tracks_shows_only_what_the_caller_may_see(world: World) -> None:
    """A free fan sees the public track; a supporter also the exclusive; the artist also the unreleased."""
    artist = world.artist()
    public = world.ingest(artist, title="Public")
    exclusive = world.ingest(artist, title="Exclusive", exclusive=True)
    later = world.ingest(artist, title="Later", release_at=world.clock.now() + timedelta(days=10))
    free, supporter = world.fan_on(artist, Tier.FREE), world.fan_on(artist, Tier.SUPPORTER)

    def listed(caller: Caller | None) -> list[str]:
        return [t.id for t in tracks_of_artist(artist.id, caller=caller, uow=world.uow(), clock=world.clock)]

    assert listed(None) == [public.id]
    assert listed(free) == [public.id]
    assert listed(supporter) == [public.id, exclusive.id]
    assert listed(artist) == [public.id, exclusive.id, later.id]


def test_an_unknown_track_is_not_found(world: World) -> None:
    """Missing and hidden look the same."""
    with pytest.raises(NotFound):
        view_track("no-such-track", caller=None, uow=world.uow(), clock=world.clock)


# --- tracks whose transcode job was lost ---------------------------------------------------------


def _ingest_while_the_queue_is_down(world: World, artist: Caller) -> Track:
    return ingest_track(
        IngestTrack(artist_id=artist.id, title="Kept", upload=world.upload(None)),
        caller=artist,
        uow=world.uow(),
        probe=world.probe,
        storage=world.storage,
        jobs=QueueDown(),
        ids=world.ids,
        clock=world.clock,
        policy=POLICY,
    )


def test_an_upload_whose_job_cannot_be_queued_is_kept_and_requeued_by_the_sweep(world: World) -> None:
    """The upload is accepted and stored; no sweep touches it before REQUEUE_AFTER; after it, the
    sweep queues its transcode and the track turns ready."""
    artist = world.artist()
    track = _ingest_while_the_queue_is_down(world, artist)
    kept = world.track(track.id)
    original = world.storage.get_bytes(track.original_key)

    world.clock.advance(REQUEUE_AFTER - timedelta(seconds=1))
    early = requeue_stranded(uow=world.uow(), jobs=world.jobs, clock=world.clock)
    world.clock.advance(timedelta(seconds=1))
    swept = requeue_stranded(uow=world.uow(), jobs=world.jobs, clock=world.clock)

    assert kept.status is TrackStatus.PROCESSING
    assert original == fake_audio()
    assert early == StrandedTracks(requeued=(), given_up=())
    assert swept == StrandedTracks(requeued=(track.id,), given_up=())
    assert world.track(track.id).status is TrackStatus.READY
    assert _hls_files(world, track) == LADDER_FILES


def test_a_track_processing_past_the_limit_is_failed_not_retried_forever(world: World) -> None:
    artist = world.artist()
    stuck = _ingest_while_the_queue_is_down(world, artist)
    world.clock.advance(GIVE_UP_AFTER - 2 * REQUEUE_AFTER)
    recent = _ingest_while_the_queue_is_down(world, artist)
    world.auto_transcode = False  # the recent one's job is queued, and waits
    world.clock.advance(2 * REQUEUE_AFTER)

    swept = requeue_stranded(uow=world.uow(), jobs=world.jobs, clock=world.clock)

    assert swept == StrandedTracks(requeued=(recent.id,), given_up=(stuck.id,))
    failed = world.track(stuck.id)
    assert failed.status is TrackStatus.FAILED
    assert failed.failure_reason is not None
    assert "did not finish" in failed.failure_reason
    assert world.track(recent.id).status is TrackStatus.PROCESSING


def test_a_track_whose_transcode_keeps_failing_is_queued_again_at_doubling_waits(world: World) -> None:
    """Swept every SWEEP_EVERY for a day, a track that never gets published is queued again at
    10, 20, 40 ... minutes (one to two sweeps each), not on every sweep, then given up."""
    artist = world.artist()
    track = _ingest_while_the_queue_is_down(world, artist)
    world.auto_transcode = False  # each queued job "fails": the track stays processing
    requeued_at: list[timedelta] = []
    swept_for = timedelta()
    while swept_for <= GIVE_UP_AFTER:
        swept = requeue_stranded(uow=world.uow(), jobs=world.jobs, clock=world.clock)
        if track.id in swept.requeued:
            requeued_at.append(swept_for)
        world.clock.advance(SWEEP_EVERY)
        swept_for += SWEEP_EVERY

    marks = {REQUEUE_AFTER * 2**k for k in range(8)}  # 10 min ... about 21 h

    def near(mark: timedelta, at: timedelta) -> bool:
        return mark <= at < mark + 2 * SWEEP_EVERY

    assert all(any(near(mark, at) for mark in marks) for at in requeued_at), requeued_at
    assert {mark for mark in marks if any(near(mark, at) for at in requeued_at)} == marks
    assert len(requeued_at) <= 2 * len(marks)
    assert world.track(track.id).status is TrackStatus.FAILED


def test_ready_tracks_are_never_swept(world: World) -> None:
    artist = world.artist()
    ready = world.ingest(artist)
    world.clock.advance(GIVE_UP_AFTER * 2)

    swept = requeue_stranded(uow=world.uow(), jobs=world.jobs, clock=world.clock)

    assert swept == StrandedTracks(requeued=(), given_up=())
    assert world.track(ready.id).status is TrackStatus.READY
