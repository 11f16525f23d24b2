"""The jobs of the Platform's groups run on the queue bootstrap builds: the queue comes before the
Platform, so a group's handler (ending a live session) is found when its job runs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from musicconnect.adapters.crypto import ScryptPasswordHasher
from musicconnect.adapters.inprocess import ThreadJobQueue
from musicconnect.adapters.memory import InMemoryEmailSender, InMemoryStore, InMemoryUnitOfWork
from musicconnect.bootstrap import bootstrap, job_handlers
from musicconnect.platform import Platform
from musicconnect.settings import Settings
from musicconnect.usecases.accounts import Register
from musicconnect.usecases.backstage_media import CLIP_JOB
from musicconnect.usecases.live import FINISH_JOB
from musicconnect.usecases.notifications import NOTIFY_JOB
from musicconnect.usecases.tracks import TRANSCODE_JOB

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
        assert set(job_handlers(services)) == {TRANSCODE_JOB, FINISH_JOB, NOTIFY_JOB, CLIP_JOB}
        platform.accounts.register(Register("nova@example.com", PASSWORD, "artist", "Nova"))
        artist = platform.accounts.sign_in("nova@example.com", PASSWORD)
        starts = datetime(2030, 1, 1, tzinfo=UTC)
        issued = platform.live.schedule(artist.id, title="Called off", starts_at=starts, caller=artist)
        platform.live.storage.put_bytes(f"{issued.session.hls_prefix}/128k/index.m3u8", b"#EXTM3U\n", "x")
        with caplog.at_level(logging.WARNING):
            platform.live.end(issued.session.id, caller=artist)  # queues its finish
            assert services.jobs.join(timeout=30)
        # The finish ran: nothing was recorded, so no track, and the live ladder is gone.
        assert not platform.live.storage.exists(f"{issued.session.hls_prefix}/128k/index.m3u8")
        assert platform.live.view(issued.session.id).recording_track_id is None
    assert not [r for r in caplog.records if r.name.startswith("musicconnect.adapters.inprocess")]
