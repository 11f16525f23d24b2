"""Backstage clips through the real ffmpeg probe and a one-rung transcode: a voice note and
silence publish (the encoder's budget is not a reason to fail), a file that is not audio is
refused at upload with nothing stored."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from musicconnect.adapters.ffmpeg import FfmpegMediaProbe, FfmpegTranscoder
from musicconnect.adapters.filesystem import HmacUrlSigner
from musicconnect.adapters.inprocess import InlineJobQueue
from musicconnect.adapters.memory import (
    FrozenClock,
    InMemoryMediaStorage,
    InMemoryQuotaCounter,
    InMemoryStore,
    InMemoryUnitOfWork,
    SequentialIdGenerator,
)
from musicconnect.adapters.pillow import PillowImageProcessor
from musicconnect.domain.accounts import Account, Artist, Caller, Role
from musicconnect.domain.backstage import CLIP_KBPS, ClipStatus
from musicconnect.domain.errors import MediaRejected
from musicconnect.domain.hls import referenced_uris
from musicconnect.domain.tiers import default_plans
from musicconnect.testing import DEFAULT_START
from musicconnect.usecases.backstage import Backstage, NewPost
from musicconnect.usecases.backstage_media import CLIP_JOB
from tests.support.audio import text_as_mp3
from tests.support.corpus import CORPUS, generate

pytestmark = pytest.mark.integration

ARTIST = Caller("artist-1", Role.ARTIST)


@pytest.fixture
def backstage() -> Backstage:
    store = InMemoryStore()
    clock = FrozenClock(DEFAULT_START)
    built: list[Backstage] = []

    def clip(payload: Mapping[str, Any]) -> None:
        built[0].run_clip_job(payload)

    built.append(
        Backstage(
            lambda: InMemoryUnitOfWork(store),
            InMemoryMediaStorage(),
            HmacUrlSigner(b"s" * 32),
            PillowImageProcessor(),
            FfmpegMediaProbe(),
            FfmpegTranscoder(),
            InlineJobQueue({CLIP_JOB: clip}, max_attempts=1),
            InMemoryQuotaCounter(clock),
            SequentialIdGenerator(),
            clock,
        )
    )
    with InMemoryUnitOfWork(store) as uow:
        uow.accounts.add(Account(ARTIST.id, "artist@example.com", "x", Role.ARTIST, "Nova", DEFAULT_START))
        uow.artists.add(Artist(ARTIST.id, "Nova", default_plans()))
        uow.commit()
    return built[0]


@pytest.mark.parametrize("filename", ["speech.mp3", "silence.wav"])
def test_voice_notes_and_silence_publish_one_rung(
    backstage: Backstage, tmp_path: Path, filename: str
) -> None:
    upload = generate(next(u for u in CORPUS if u.filename == filename), tmp_path)
    post = backstage.post(NewPost(ARTIST.id, "voice note", clip=upload), caller=ARTIST)
    view = backstage.view(post.id, caller=ARTIST)
    assert view.post.clip is not None
    assert view.post.clip.status is ClipStatus.READY, view.post.clip
    assert view.post.clip.duration_s == pytest.approx(9.0, abs=0.5)
    keys = sorted(backstage.storage.list_keys(post.clip_hls_prefix + "/"))
    assert keys, "nothing published"
    assert all(k.startswith(f"{post.clip_hls_prefix}/{CLIP_KBPS}k/") for k in keys)
    playlist = backstage.storage.get_bytes(f"{post.clip_hls_prefix}/{CLIP_KBPS}k/index.m3u8").decode()
    for uri in referenced_uris(playlist):
        assert backstage.storage.exists(f"{post.clip_hls_prefix}/{CLIP_KBPS}k/{uri}"), uri


def test_a_file_that_is_not_audio_is_refused_and_nothing_stored(backstage: Backstage, tmp_path: Path) -> None:
    with pytest.raises(MediaRejected):
        backstage.post(
            NewPost(ARTIST.id, "voice note", clip=text_as_mp3(tmp_path / "note.mp3")), caller=ARTIST
        )
    assert list(backstage.storage.list_keys("artists/")) == []
