"""The jobs of the Platform's groups run on the queue bootstrap builds: the queue comes before the
Platform, so a group's handler (ending a live session) is found when its job runs."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from litestar.testing import TestClient

from musicconnect.adapters.crypto import ScryptPasswordHasher
from musicconnect.adapters.inprocess import ThreadJobQueue
from musicconnect.adapters.memory import FrozenClock, InMemoryEmailSender, InMemoryStore, InMemoryUnitOfWork
from musicconnect.bootstrap import bootstrap, job_handlers
from musicconnect.domain.backstage import BackstagePost, Clip, ClipStatus
from musicconnect.domain.stranded import REQUEUE_AFTER
from musicconnect.entrypoints.asgi import create
from musicconnect.platform import Platform
from musicconnect.settings import Settings
from musicconnect.testing import DEFAULT_START
from musicconnect.usecases.accounts import Register
from musicconnect.usecases.backstage_media import CLIP_JOB
from musicconnect.usecases.live import FINISH_JOB
from musicconnect.usecases.notifications import NOTIFY_JOB, SWEEP_RELEASES_JOB
from musicconnect.usecases.tracks import TRANSCODE_JOB
from tests.unit.usecases.conftest import FakeTranscoder, fake_audio

PASSWORD = "correct horse battery"


def test_the_default_queue_runs_the_end_of_a_live_session_bound_by_the_platform(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = InMemoryStore()
    services = bootstrap(
        Settings(data_dir=tmp_path, secret_key="x" * 32, redis_url=None, mongodb_uri=None),
        uow=lambda: InMemoryUnitOfWork(store),
        hasher=ScryptPasswordHasher(n=2, r=1, p=1),
        email=InMemoryEmailSender(),
    )
    assert isinstance(services.jobs, ThreadJobQueue)
    assert set(job_handlers(services)) == {TRANSCODE_JOB}
    with Platform.of(services) as platform:
        assert set(job_handlers(services)) == {
            TRANSCODE_JOB,
            FINISH_JOB,
            NOTIFY_JOB,
            SWEEP_RELEASES_JOB,
            CLIP_JOB,
        }
        platform.accounts.register(Register("nova@example.com", PASSWORD, "artist", "Nova"))
        artist = platform.accounts.sign_in("nova@example.com", PASSWORD)
        starts = platform.live.clock.now() + timedelta(days=1)
        issued = platform.live.schedule(artist.id, title="Called off", starts_at=starts, caller=artist)
        platform.live.storage.put_bytes(f"{issued.session.hls_prefix}/128k/index.m3u8", b"#EXTM3U\n", "x")
        with caplog.at_level(logging.WARNING):
            platform.live.end(issued.session.id, caller=artist)  # queues its finish
            assert services.jobs.join(timeout=30)
        # The finish ran: nothing was recorded, so no track, and the live ladder is gone.
        assert not platform.live.storage.exists(f"{issued.session.hls_prefix}/128k/index.m3u8")
        assert platform.live.view(issued.session.id).recording_track_id is None
    assert not [r for r in caplog.records if r.name.startswith("musicconnect.adapters.inprocess")]


def test_the_schedule_queues_the_release_sweep_on_the_default_queue(tmp_path: Path) -> None:
    """On the embedded default the platform's schedule queues the sweep on the thread queue,
    which runs it: the sweep's watermark moves on while it runs, and stops once stopped."""
    store = InMemoryStore()
    services = bootstrap(
        Settings(
            data_dir=tmp_path, secret_key="x" * 32, redis_url=None, mongodb_uri=None, release_sweep_s=0.05
        ),
        uow=lambda: InMemoryUnitOfWork(store),
        hasher=ScryptPasswordHasher(n=2, r=1, p=1),
        email=InMemoryEmailSender(),
    )
    with Platform.of(services) as platform:

        def swept_until() -> datetime | None:
            with services.uow() as uow:
                return uow.notifications.releases_swept_until()

        schedule = platform.schedule()
        schedule.start()
        try:
            marks: list[datetime] = []
            deadline = time.monotonic() + 30
            while len(marks) < 3 and time.monotonic() < deadline:
                mark = swept_until()
                if mark is not None and mark not in marks:
                    marks.append(mark)
                time.sleep(0.01)
        finally:
            schedule.stop()
        assert isinstance(services.jobs, ThreadJobQueue)
        assert services.jobs.join(timeout=30)
        stopped_at = swept_until()
        time.sleep(0.2)
        assert len(marks) == 3, marks
        assert marks == sorted(marks)
        assert swept_until() == stopped_at


def test_the_served_app_keeps_the_schedule_from_startup_to_shutdown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve`` on the embedded default: the app's lifespan starts the schedule (the sweep runs
    on the app's own queue, writing its watermark to the data folder) and stops it at shutdown."""
    for name in ("MONGODB_URI", "REDIS_URL", "S3_BUCKET", "SMTP_HOST", "STRIPE_API_KEY"):
        monkeypatch.delenv(f"MUSICCONNECT_{name}", raising=False)
    monkeypatch.setenv("MUSICCONNECT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MUSICCONNECT_SECRET_KEY", "x" * 32)
    monkeypatch.setenv("MUSICCONNECT_RELEASE_SWEEP_S", "0.05")
    with Platform.from_settings(Settings()) as reader:

        def swept_until() -> datetime | None:
            with reader.services.uow() as uow:
                return uow.notifications.releases_swept_until()

        with TestClient(create()) as client:
            assert client.get("/health").status_code == 200
            deadline = time.monotonic() + 30
            while swept_until() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            running = swept_until()
        time.sleep(0.3)  # stopped: no sweep moves the watermark any more
        stopped = swept_until()
        time.sleep(0.3)
        assert running is not None
        assert swept_until() == stopped


def test_the_schedule_publishes_a_backstage_clip_a_dead_process_left_processing(tmp_path: Path) -> None:
    """On the embedded default (``serve``, or ``worker`` without Redis) the platform's schedule
    sweeps stranded clips: a post committed with its clip, whose job died with its process, is
    queued again on the thread queue once REQUEUE_AFTER has passed, and published."""
    store = InMemoryStore()
    clock = FrozenClock(DEFAULT_START)
    services = bootstrap(
        Settings(data_dir=tmp_path, secret_key="x" * 32, redis_url=None, mongodb_uri=None),
        uow=lambda: InMemoryUnitOfWork(store),
        hasher=ScryptPasswordHasher(n=2, r=1, p=1),
        email=InMemoryEmailSender(),
        clock=clock,
        transcoder=FakeTranscoder(),
    )
    post = BackstagePost("post-1", "artist-1", "voice note", DEFAULT_START, clip=Clip())
    services.storage.put_bytes(post.clip_original_key, fake_audio(), "application/octet-stream")
    with services.uow() as uow:
        uow.backstage_posts.add(post)  # as committed by a process that died before its job ran
        uow.commit()
    clock.advance(REQUEUE_AFTER)

    def clip_status() -> ClipStatus | None:
        with services.uow() as uow:
            stored = uow.backstage_posts.get(post.id)
        return None if stored is None or stored.clip is None else stored.clip.status

    with Platform.of(services) as platform:
        schedule = platform.schedule()
        schedule.start()
        try:
            deadline = time.monotonic() + 30
            while clip_status() is ClipStatus.PROCESSING and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            schedule.stop()
        assert clip_status() is ClipStatus.READY
        assert services.storage.exists(f"{post.clip_hls_prefix}/128k/index.m3u8")
