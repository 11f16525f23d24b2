"""Live-session use cases over in-memory adapters: keys, pushes, listening, the end and the recording."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pytest

from musicconnect.adapters.memory import InMemoryEventPublisher
from musicconnect.domain.accounts import Caller
from musicconnect.domain.errors import Conflict, Forbidden, NotFound, SignatureInvalid
from musicconnect.domain.events import LiveSessionEnded, LiveSessionScheduled, LiveSessionStarted
from musicconnect.domain.hls import listed_rungs, referenced_uris
from musicconnect.domain.live import LiveStatus
from musicconnect.domain.tiers import Tier
from musicconnect.domain.tracks import TrackStatus
from musicconnect.ports.services import Job
from musicconnect.usecases.live import FINISH_JOB, IssuedKey, LiveSessions
from musicconnect.usecases.live_relay import LiveOutput
from musicconnect.usecases.tracks import Tracks
from tests.unit.usecases.conftest import AUDIO_MAGIC, POLICY, World

STARTS: Final = datetime(2025, 6, 1, 20, 0, tzinfo=UTC)  # within a year of T0
GRACE: Final = timedelta(seconds=30)
STALL: Final = timedelta(seconds=60)
PLAYLIST: Final = '#EXTM3U\n#EXT-X-MAP:URI="init_1.mp4"\n#EXTINF:2.0,\nseg_1.m4s\n'


class QueuedJobs:
    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def enqueue(self, job: Job) -> None:
        self.jobs.append(job)


class JoiningPacker:
    """Joins parts after a WAV-like header the fake probe accepts."""

    def pack(self, parts: Sequence[Path], target: Path) -> None:
        target.write_bytes(AUDIO_MAGIC + b"".join(p.read_bytes() for p in parts))


@pytest.fixture
def events() -> InMemoryEventPublisher:
    return InMemoryEventPublisher()


@pytest.fixture
def queued() -> QueuedJobs:
    return QueuedJobs()


@pytest.fixture
def live(world: World, events: InMemoryEventPublisher, queued: QueuedJobs) -> LiveSessions:
    return LiveSessions(
        world.uow,
        world.storage,
        world.signer,
        world.cache,
        events,
        queued,
        world.ids,
        world.clock,
        Tracks(
            world.uow, world.probe, world.storage, world.transcoder, queued, world.ids, world.clock, POLICY
        ),
        JoiningPacker(),
        ingest_url="rtmp://127.0.0.1:1935/live",
        ingest_token="ingest-token",
        grace=GRACE,
        stall=STALL,
    )


def _on_air(live: LiveSessions, world: World, artist: Caller) -> IssuedKey:
    """A session pushed to, with the first rung's playlist stored."""
    issued = live.schedule(artist.id, title="Sunday set", starts_at=STARTS, caller=artist)
    live.accept_push(issued.stream_key)
    for kbps in (128, 256, 320):
        world.storage.put_bytes(f"{issued.session.hls_prefix}/{kbps}k/index.m3u8", PLAYLIST.encode(), "x")
        world.storage.put_bytes(f"{issued.session.hls_prefix}/{kbps}k/seg_1.m4s", b"segment", "audio/mp4")
    return issued


def test_scheduling_gives_a_key_that_is_stored_only_hashed(
    live: LiveSessions, world: World, events: InMemoryEventPublisher
) -> None:
    """The artist gets the server and key once; followers' notifications get the scheduled event."""
    artist = world.artist()
    issued = live.schedule(artist.id, title="Sunday set", starts_at=STARTS, caller=artist)

    assert issued.stream_key.startswith(f"{issued.session.id}.")
    assert issued.ingest_url == "rtmp://127.0.0.1:1935/live"
    assert issued.stream_key.split(".", 1)[1] not in repr(live.view(issued.session.id))
    assert events.published() == [LiveSessionScheduled(issued.session.id, artist.id, "Sunday set", STARTS)]


def test_only_the_artist_schedules_their_sessions(live: LiveSessions, world: World) -> None:
    artist, fan = world.artist(), world.fan()
    with pytest.raises(Forbidden):
        live.schedule(artist.id, title="Not mine", starts_at=STARTS, caller=fan)


def test_a_push_is_accepted_only_with_the_sessions_own_current_key(
    live: LiveSessions, world: World, events: InMemoryEventPublisher
) -> None:
    """Wrong secret, another session's secret, a rotated-out key: refused; a second push conflicts."""
    artist, rival = world.artist(), world.artist()
    mine = live.schedule(artist.id, title="Mine", starts_at=STARTS, caller=artist)
    theirs = live.schedule(rival.id, title="Theirs", starts_at=STARTS, caller=rival)
    session_id = mine.session.id

    for key in (f"{session_id}.wrong", f"{session_id}.{theirs.stream_key.split('.', 1)[1]}", "garbage", ""):
        with pytest.raises(Forbidden):
            live.accept_push(key)
    rotated = live.rotate_key(session_id, caller=artist)
    with pytest.raises(Forbidden):
        live.accept_push(mine.stream_key)

    started = live.accept_push(rotated.stream_key)
    assert started.status is LiveStatus.LIVE
    assert isinstance(events.published()[-1], LiveSessionStarted)
    with pytest.raises(Conflict):
        live.accept_push(rotated.stream_key)
    assert live.view(theirs.session.id).status is LiveStatus.SCHEDULED


def test_a_dropped_push_may_come_back_within_the_grace_period(live: LiveSessions, world: World) -> None:
    artist = world.artist()
    issued = live.schedule(artist.id, title="Set", starts_at=STARTS, caller=artist)
    live.accept_push(issued.stream_key)
    live.push_ended(issued.stream_key)
    world.clock.advance(GRACE - timedelta(seconds=1))

    assert live.accept_push(issued.stream_key).status is LiveStatus.LIVE
    assert live.sweep() == []


def test_a_push_gone_for_the_grace_period_ends_the_session_and_queues_its_recording(
    live: LiveSessions, world: World, events: InMemoryEventPublisher, queued: QueuedJobs
) -> None:
    """...and the key is useless from then on (a stolen key after the end)."""
    artist = world.artist()
    issued = live.schedule(artist.id, title="Set", starts_at=STARTS, caller=artist)
    live.accept_push(issued.stream_key)
    live.push_ended(issued.stream_key)
    world.clock.advance(GRACE)

    (ended,) = live.sweep()

    assert ended.status is LiveStatus.ENDED
    assert isinstance(events.published()[-1], LiveSessionEnded)
    assert [j.name for j in queued.jobs] == [FINISH_JOB]
    with pytest.raises(Forbidden):
        live.accept_push(issued.stream_key)
    assert live.sweep() == []


def test_a_push_whose_media_stops_fails_the_session(live: LiveSessions, world: World) -> None:
    """A transcoder dead for good: the session is failed, never live forever."""
    artist = world.artist()
    issued = live.schedule(artist.id, title="Set", starts_at=STARTS, caller=artist)
    live.accept_push(issued.stream_key)
    live.media_published(issued.session.id)
    world.clock.advance(STALL)

    (failed,) = live.sweep()

    assert failed.status is LiveStatus.FAILED
    with pytest.raises(Forbidden):
        live.relaying(issued.stream_key)


def test_superfans_and_the_artist_get_the_live_ladder_others_403(live: LiveSessions, world: World) -> None:
    artist = world.artist()
    issued = _on_air(live, world, artist)
    session_id = issued.session.id

    superfan = world.fan_on(artist, Tier.SUPERFAN)
    assert listed_rungs(live.authorise_stream(session_id, caller=superfan)) == [128, 256, 320]
    assert listed_rungs(live.authorise_stream(session_id, caller=artist)) == [128, 256, 320]
    for tier in (Tier.SUPPORTER, Tier.FREE):
        with pytest.raises(Forbidden):
            live.authorise_stream(session_id, caller=world.fan_on(artist, tier))


def test_a_session_not_on_air_has_no_stream(live: LiveSessions, world: World) -> None:
    artist = world.artist()
    issued = live.schedule(artist.id, title="Set", starts_at=STARTS, caller=artist)
    with pytest.raises(Conflict):
        live.authorise_stream(issued.session.id, caller=artist)
    live.accept_push(issued.stream_key)
    with pytest.raises(Conflict):  # pushed, but no playlist published yet
        live.authorise_stream(issued.session.id, caller=artist)


def test_signed_live_media_serves_its_holder_and_refuses_guesses(live: LiveSessions, world: World) -> None:
    """The variant comes back with its segment URIs signed; an unsigned, re-addressed or
    supporter-held URL is refused."""
    artist = world.artist()
    issued = _on_air(live, world, artist)
    superfan, supporter = world.fan_on(artist, Tier.SUPERFAN), world.fan_on(artist, Tier.SUPPORTER)
    master = live.authorise_stream(issued.session.id, caller=superfan)
    path, _, query = referenced_uris(master)[-1].partition("?")
    params = dict(part.split("=", 1) for part in query.split("&"))
    session = issued.session

    served = live.serve_media(artist.id, session.id, "320k", "index.m3u8", params)
    assert all("sig=" in uri for uri in referenced_uris(served.body.decode()))
    with pytest.raises(SignatureInvalid):
        live.serve_media(artist.id, session.id, "320k", "index.m3u8", {})
    with pytest.raises(SignatureInvalid):
        live.serve_media(artist.id, session.id, "320k", "index.m3u8", {**params, "sub": supporter.id})
    held = world.signer.sign(path, subject=supporter.id, expires_at=STARTS + timedelta(days=3650))
    with pytest.raises(Forbidden):
        live.serve_media(
            artist.id,
            session.id,
            "320k",
            "index.m3u8",
            dict(part.split("=", 1) for part in held.partition("?")[2].split("&")),
        )
    with pytest.raises(SignatureInvalid):  # the path is signed: another artist's is another URL
        live.serve_media(world.artist().id, session.id, "320k", "index.m3u8", params)
    with pytest.raises(NotFound):
        live.serve_media(artist.id, session.id, "320", "index.m3u8", params)


def test_the_recording_becomes_a_track_for_superfans_linked_from_the_session(
    live: LiveSessions, world: World, queued: QueuedJobs
) -> None:
    artist = world.artist()
    issued = _on_air(live, world, artist)
    session = issued.session
    for n in range(3):
        world.storage.put_bytes(f"{session.recording_prefix}/rec-1-{n:05d}.aac", b"part", "audio/aac")
    live.end(session.id, caller=artist)

    track = live.finish(session.id)

    assert track is not None
    assert track.audience is Tier.SUPERFAN
    assert live.view(session.id).recording_track_id == track.id
    assert list(world.storage.list_keys(session.media_prefix + "/")) == []
    world.transcode(track.id)
    assert world.track(track.id).status is TrackStatus.READY
    assert live.finish(session.id) is None  # a job run twice keeps one track


def test_a_session_with_nothing_recorded_ends_without_a_track(live: LiveSessions, world: World) -> None:
    artist = world.artist()
    issued = live.schedule(artist.id, title="Called off", starts_at=STARTS, caller=artist)
    assert live.end(issued.session.id, caller=artist).status is LiveStatus.ENDED
    assert live.finish(issued.session.id) is None
    with pytest.raises(Forbidden):
        live.accept_push(issued.stream_key)


def test_the_relay_publishes_segments_before_the_playlist_that_lists_them(
    live: LiveSessions, world: World, tmp_path: Path
) -> None:
    artist = world.artist()
    session = live.schedule(artist.id, title="Set", starts_at=STARTS, caller=artist).session
    out = tmp_path / "out"
    (out / "128k").mkdir(parents=True)
    (out / "128k" / "init_1.mp4").write_bytes(b"init")
    (out / "128k" / "seg_1.m4s").write_bytes(b"one")
    (out / "128k" / "index.m3u8").write_text(PLAYLIST)
    (out / "rec-1-00000.aac").write_bytes(b"part")
    (out / "recording.csv").write_text("rec-1-00000.aac,0.0,10.0\n")
    output = LiveOutput(out, session, world.storage, ladder_kbps=(128,))

    assert output.publish_new() == 3
    assert output.publish_new() == 0
    prefix = f"{session.hls_prefix}/128k"
    assert world.storage.puts == [
        f"{prefix}/init_1.mp4",
        f"{prefix}/seg_1.m4s",
        f"{prefix}/index.m3u8",
        f"{session.recording_prefix}/rec-1-00000.aac",
    ]
