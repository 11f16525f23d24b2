"""FfmpegMediaProbe against real ffmpeg: good audio passes, everything else is refused unread."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from musicconnect.adapters.ffmpeg import FfmpegMediaProbe
from musicconnect.domain.errors import MediaRejected, MediaTooLarge
from musicconnect.domain.media import UploadPolicy
from tests.support.audio import (
    concat_protocol_text,
    corrupted,
    encoded,
    ffconcat_with_file_reference,
    hls_playlist_as_mp3,
    require_ffmpeg,
    require_ffprobe,
    text_as_mp3,
    tone_wav,
    truncated,
)

pytestmark = pytest.mark.integration

POLICY = UploadPolicy()


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """10 s of generated music as WAV, MP3 and FLAC, made once for the module."""
    folder = tmp_path_factory.mktemp("sources")
    wav = tone_wav(folder / "music.wav", 10.0)
    return {
        "wav": wav,
        "mp3": encoded(wav, folder / "music.mp3"),
        "flac": encoded(wav, folder / "music.flac"),
    }


@pytest.fixture
def probe() -> FfmpegMediaProbe:
    require_ffmpeg()
    require_ffprobe()
    return FfmpegMediaProbe()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("kind", "codec"), [("wav", "pcm_s16le"), ("mp3", "mp3"), ("flac", "flac")])
def test_accepts_common_audio(
    probe: FfmpegMediaProbe,
    sources: dict[str, Path],
    kind: str,
    codec: str,
) -> None:
    """WAV, MP3 and FLAC uploads pass and report their format, codec and length."""
    info = probe.probe(sources[kind], POLICY)
    assert kind in info.format_name.split(",")
    assert info.codec == codec
    assert info.duration_s == pytest.approx(10.0, abs=0.1)
    assert (info.sample_rate, info.channels) == (44100, 2)


@pytest.mark.parametrize("ffprobe", [True, False], ids=["ffprobe", "ffmpeg banner"])
@pytest.mark.parametrize("kind", ["wav", "mp3"])
def test_a_file_cut_short_is_accepted_with_the_length_that_decodes(
    sources: dict[str, Path], tmp_path: Path, kind: str, *, ffprobe: bool
) -> None:
    """An interrupted export (the first 40 %, cut mid-frame) decodes up to the cut: it is
    published, 4 s long, not refused as damaged (an MP3 cut so logs "invalid new backstep")."""
    probe = FfmpegMediaProbe(ffmpeg=require_ffmpeg(), ffprobe=require_ffprobe() if ffprobe else None)
    info = probe.probe(truncated(sources[kind], tmp_path / f"cut.{kind}"), POLICY)
    assert info.duration_s == pytest.approx(4.0, abs=0.3)


def test_the_reported_320k_mp3_cut_at_300_kb_is_accepted(sources: dict[str, Path], tmp_path: Path) -> None:
    """The first 300 KB of a 320k MP3 (7.5 s of 10), as the user uploaded it."""
    encoded_320k = tmp_path / "full.mp3"
    subprocess.run(
        [require_ffmpeg(), "-v", "error", "-y", "-i", str(sources["wav"]), "-b:a", "320k", str(encoded_320k)],
        check=True,
        timeout=60,
    )
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(encoded_320k.read_bytes()[:300_000])
    info = FfmpegMediaProbe().probe(cut, POLICY)
    assert info.duration_s == pytest.approx(7.5, abs=0.2)


def test_damage_before_the_cut_end_is_still_refused(sources: dict[str, Path], tmp_path: Path) -> None:
    """Garbage in the middle, then a cut: the tolerance is for the last frame only."""
    damaged = corrupted(sources["mp3"], tmp_path / "bad.mp3")
    with pytest.raises(MediaRejected, match="damaged"):
        FfmpegMediaProbe().probe(truncated(damaged, tmp_path / "bad-cut.mp3", keep=0.8), POLICY)


def test_accepts_without_ffprobe(sources: dict[str, Path]) -> None:
    """With no ffprobe (imageio-ffmpeg's case) the probe reads ffmpeg's banner instead."""
    probe = FfmpegMediaProbe(ffmpeg=require_ffmpeg(), ffprobe=None)
    info = probe.probe(sources["mp3"], POLICY)
    assert (info.format_name, info.codec, info.sample_rate, info.channels) == ("mp3", "mp3", 44100, 2)
    assert info.duration_s == pytest.approx(10.0, abs=0.1)


def test_refuses_damage_without_ffprobe(sources: dict[str, Path], tmp_path: Path) -> None:
    """Without ffprobe a damaged file is still refused."""
    probe = FfmpegMediaProbe(ffmpeg=require_ffmpeg(), ffprobe=None)
    with pytest.raises(MediaRejected, match="damaged"):
        probe.probe(corrupted(sources["mp3"], tmp_path / "bad.mp3"), POLICY)


def test_a_name_like_a_protocol_is_just_a_file_name(
    probe: FfmpegMediaProbe,
    sources: dict[str, Path],
    tmp_path: Path,
) -> None:
    """A real WAV named ``concat:x.wav`` is read as that file, not as the concat protocol."""
    odd = tmp_path / "concat:x.wav"
    shutil.copyfile(sources["wav"], odd)
    assert probe.probe(odd, POLICY).codec == "pcm_s16le"


HOSTILE: dict[str, Callable[[dict[str, Path], Path], Path]] = {
    "text renamed .mp3": lambda _, d: text_as_mp3(d / "song.mp3"),
    "corrupted mp3": lambda s, d: corrupted(s["mp3"], d / "bad.mp3"),
    "corrupted flac": lambda s, d: corrupted(s["flac"], d / "bad.flac"),
    "hls playlist as .mp3": lambda _, d: hls_playlist_as_mp3(d / "song.mp3"),
    "ffconcat reading /etc/passwd": lambda _, d: ffconcat_with_file_reference(d / "song.wav"),
    "concat: protocol text": lambda _, d: concat_protocol_text(d / "song.wav"),
}


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_refuses_hostile_input_and_writes_nothing(
    probe: FfmpegMediaProbe,
    sources: dict[str, Path],
    tmp_path: Path,
    make: Callable[[dict[str, Path], Path], Path],
) -> None:
    """Disguised, damaged and reference-carrying files are refused, and nothing is written."""
    upload = make(sources, tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(MediaRejected) as refused:
        probe.probe(upload, POLICY)
    assert not isinstance(refused.value, MediaTooLarge)
    assert refused.value.detail
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("ffprobe", [True, False], ids=["ffprobe", "ffmpeg banner"])
@pytest.mark.parametrize(
    "make",
    [hls_playlist_as_mp3, ffconcat_with_file_reference],
    ids=["hls", "ffconcat"],
)
def test_demuxer_allow_list_holds_even_past_the_first_bytes_check(
    tmp_path: Path,
    make: Callable[[Path], Path],
    *,
    ffprobe: bool,
) -> None:
    """Were sniffing to miss a playlist, the tools still refuse its demuxer."""
    probe = FfmpegMediaProbe(ffmpeg=require_ffmpeg(), ffprobe=require_ffprobe() if ffprobe else None)
    with pytest.raises(MediaRejected, match="not an accepted audio format"):
        probe._describe(make(tmp_path / "song.mp3"))


def test_refuses_a_codec_outside_the_allow_list(
    probe: FfmpegMediaProbe,
    sources: dict[str, Path],
    tmp_path: Path,
) -> None:
    """A WAV carrying A-law audio is an accepted container with a refused codec."""
    alaw = tmp_path / "alaw.wav"
    subprocess.run(
        [
            require_ffmpeg(),
            "-v",
            "error",
            "-nostdin",
            "-i",
            str(sources["wav"]),
            "-c:a",
            "pcm_alaw",
            str(alaw),
        ],
        check=True,
        timeout=60,
    )
    with pytest.raises(MediaRejected, match="codec 'pcm_alaw'"):
        probe.probe(alaw, POLICY)


def test_refuses_an_oversize_file_as_too_large(
    probe: FfmpegMediaProbe,
    sources: dict[str, Path],
) -> None:
    """A file over the byte limit raises MediaTooLarge before anything reads it."""
    with pytest.raises(MediaTooLarge, match="limit"):
        probe.probe(sources["wav"], UploadPolicy(max_bytes=100_000))


def test_refuses_an_over_long_file(probe: FfmpegMediaProbe, sources: dict[str, Path]) -> None:
    """A 10 s file under a 5 s limit is refused, and not as too large."""
    with pytest.raises(MediaRejected, match="limit is 5 s") as refused:
        probe.probe(sources["flac"], UploadPolicy(max_duration_s=5.0))
    assert not isinstance(refused.value, MediaTooLarge)


def test_refuses_a_too_short_file(probe: FfmpegMediaProbe, sources: dict[str, Path]) -> None:
    """A 10 s file under a 20 s minimum is refused."""
    with pytest.raises(MediaRejected, match="minimum is 20 s"):
        probe.probe(sources["wav"], UploadPolicy(min_duration_s=20.0))


def test_refuses_an_empty_file(probe: FfmpegMediaProbe, tmp_path: Path) -> None:
    """An empty upload is refused."""
    empty = tmp_path / "empty.wav"
    empty.touch()
    with pytest.raises(MediaRejected, match="empty"):
        probe.probe(empty, POLICY)
