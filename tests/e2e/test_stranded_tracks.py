"""`musicconnect worker` on Redis finds a track whose transcode job was lost, and publishes it.

The upload is made while the queue cannot be reached (as when Redis fails between the upload's
commit and its enqueue): the track is kept, processing, with no job anywhere. A worker started
later sweeps for such tracks as it starts, queues the transcode again, and runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from musicconnect.adapters.ffmpeg import generate_demo_audio
from musicconnect.adapters.memory import FrozenClock
from musicconnect.bootstrap import Services, bootstrap
from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.stranded import REQUEUE_AFTER
from musicconnect.domain.tracks import TrackStatus
from musicconnect.settings import Settings
from musicconnect.usecases.accounts import Register, register
from musicconnect.usecases.tracks import IngestTrack, ingest_track
from tests.support.audio import require_ffmpeg
from tests.support.queues import QueueDown
from tests.support.redis_server import redis_server, redis_url
from tests.support.servers import stop

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_a_worker_queues_and_publishes_a_track_whose_job_was_lost(tmp_path: Path) -> None:
    require_ffmpeg()
    redis = redis_server(tmp_path / "redis")
    try:
        env = {"MUSICCONNECT_REDIS_URL": redis_url(redis), "MUSICCONNECT_SECRET_KEY": "s" * 40}
        settings = Settings(data_dir=tmp_path / "data", redis_url=redis_url(redis), secret_key="s" * 40)
        # Uploaded longer ago than REQUEUE_AFTER, while the queue was down.
        uploaded_at = FrozenClock(datetime.now(UTC) - REQUEUE_AFTER * 2)
        services = bootstrap(settings, clock=uploaded_at, jobs=QueueDown())
        try:
            artist = register(
                Register(
                    email="artist@example.com",
                    password="correct horse battery",
                    role=Role.ARTIST,
                    display_name="The Artist",
                ),
                uow=services.uow(),
                hasher=services.hasher,
                ids=services.ids,
                clock=services.clock,
                mail=services.mail,
            )
            audio = tmp_path / "short.wav"
            generate_demo_audio(audio, 4.0)
            track = ingest_track(
                IngestTrack(artist_id=artist.id, title="Lost job", upload=audio),
                caller=Caller(artist.id, Role.ARTIST),
                uow=services.uow(),
                probe=services.probe,
                storage=services.storage,
                jobs=services.jobs,
                ids=services.ids,
                clock=services.clock,
                policy=services.policy,
            )
            assert _status(services, track.id) is TrackStatus.PROCESSING

            log = tmp_path / "worker.log"
            with log.open("wb") as out:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "musicconnect", "worker", "--data-dir", str(settings.data_dir)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **env},
                    start_new_session=True,
                )
            try:
                deadline = time.monotonic() + 120
                while _status(services, track.id) is TrackStatus.PROCESSING:
                    assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
                    assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
                    time.sleep(0.3)
            finally:
                stop(worker)
            assert _status(services, track.id) is TrackStatus.READY
            assert f"stranded track {track.id}" in log.read_text(errors="replace")
        finally:
            services.close()
    finally:
        redis.stop()


def _status(services: Services, track_id: str) -> TrackStatus:
    with services.uow() as uow:
        found = uow.tracks.get(track_id)
    assert found is not None
    return found.status
