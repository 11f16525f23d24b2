"""FfmpegTranscoder against real ffmpeg: a normalised, measured, publishable HLS ladder."""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import attrs
import m3u8
import pytest

from musicconnect.adapters.ffmpeg import FfmpegTranscoder
from musicconnect.domain.errors import MediaRejected
from musicconnect.domain.media import LADDER_KBPS, Ladder
from tests.support.audio import (
    corrupted,
    encoded,
    require_ffmpeg,
    require_ffprobe,
    text_as_mp3,
    tone_wav,
)

pytestmark = pytest.mark.integration

SECONDS = 30.0


@attrs.frozen
class Run:
    ladder: Ladder
    out_dir: Path
    progress: list[float]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One transcode of 30 s of generated music, shared by the module's assertions."""
    folder = tmp_path_factory.mktemp("ladder")
    source = tone_wav(folder / "music.wav", SECONDS)
    progress: list[float] = []
    out_dir = folder / "out"
    ladder = FfmpegTranscoder(ffmpeg=require_ffmpeg()).transcode(
        source,
        out_dir,
        LADDER_KBPS,
        progress=progress.append,
    )
    return Run(ladder=ladder, out_dir=out_dir, progress=progress)


def playlist_references(playlist: Path) -> list[str]:
    text = playlist.read_text(encoding="utf-8")
    maps = re.findall(r'#EXT-X-MAP:URI="([^"]+)"', text)
    return maps + [line for line in text.splitlines() if line and not line.startswith("#")]


def integrated_loudness(playlist: Path) -> float:
    stderr = subprocess.run(
        [
            require_ffmpeg(),
            "-hide_banner",
            "-nostats",
            "-nostdin",
            "-i",
            str(playlist),
            "-af",
            "ebur128=framelog=verbose",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stderr
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", stderr)[-1])


def test_rungs_rise_strictly_and_meet_their_nominal_rates(run: Run) -> None:
    """Three rungs, measured bitrates rising strictly, each within 10 % of nominal."""
    rungs = run.ladder.rungs
    assert run.ladder.rungs_kbps == LADDER_KBPS
    measured = [r.measured_kbps for r in rungs]
    assert measured == sorted(set(measured))
    for rung in rungs:
        assert rung.measured_kbps == pytest.approx(rung.kbps, rel=0.10), rung


def test_master_declares_each_variants_measured_peak_and_average(run: Run) -> None:
    """The master names each rung's playlist once, lowest first, with its measured rates."""
    master = m3u8.loads((run.out_dir / run.ladder.master).read_text(encoding="utf-8"))
    declared = [(p.uri, p.stream_info.bandwidth, p.stream_info.average_bandwidth) for p in master.playlists]
    assert declared == [
        (r.playlist, math.ceil(r.rate.peak_kbps * 1000), math.ceil(r.measured_kbps * 1000))
        for r in run.ladder.rungs
    ]
    assert all(r.rate.peak_kbps >= r.measured_kbps for r in run.ladder.rungs)


def test_every_playlist_reference_exists(run: Run) -> None:
    """Each variant's init file and segments are on disk next to its playlist."""
    for rung in run.ladder.rungs:
        playlist = run.out_dir / rung.playlist
        references = playlist_references(playlist)
        assert len(references) >= SECONDS / 6
        for name in references:
            assert (playlist.parent / name).is_file(), name


def test_ffprobe_reads_the_master(run: Run) -> None:
    """ffprobe opens the master playlist and finds the whole track."""
    out = subprocess.run(
        [
            require_ffprobe(),
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "json",
            str(run.out_dir / run.ladder.master),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert float(json.loads(out)["format"]["duration"]) == pytest.approx(SECONDS, abs=0.5)


def test_files_are_listed_in_publishing_order(run: Run) -> None:
    """Segments and init files, then variant playlists, then peaks, the master last; no others."""
    files = run.ladder.files
    kinds = [
        0
        if name.endswith((".m4s", ".mp4"))
        else 2
        if name == run.ladder.master
        else 1
        if name.endswith(".m3u8")
        else 1.5
        for name in files
    ]
    assert kinds == sorted(kinds)
    assert files[-1] == run.ladder.master
    on_disk = {str(p.relative_to(run.out_dir)) for p in run.out_dir.rglob("*") if p.is_file()}
    assert set(files) == on_disk
    assert len(files) == len(on_disk)


@pytest.mark.parametrize("kbps", LADDER_KBPS)
def test_output_is_normalised_to_minus_14_lufs(run: Run, kbps: int) -> None:
    """Every rung's integrated loudness is within 1.5 LU of -14 LUFS (the source is -19.7)."""
    playlist = run.out_dir / f"{kbps}k" / "index.m3u8"
    assert integrated_loudness(playlist) == pytest.approx(-14.0, abs=1.5)


def test_progress_rises_to_one(run: Run) -> None:
    """Progress is reported while encoding, never goes back, and ends at exactly 1.0."""
    assert any(0.1 < p < 1.0 for p in run.progress), run.progress
    assert run.progress == sorted(run.progress)
    assert run.progress[-1] == 1.0
    assert all(0.0 <= p <= 1.0 for p in run.progress)


def test_peaks_describe_the_waveform(run: Run) -> None:
    """About 1000 peaks in 0..1, the loudest at 1, also written to peaks.json."""
    peaks = run.ladder.peaks
    assert 900 <= len(peaks) <= 1000
    assert all(0.0 <= p <= 1.0 for p in peaks)
    assert max(peaks) == 1.0
    written = json.loads((run.out_dir / "peaks.json").read_text(encoding="utf-8"))
    assert tuple(written["peaks"]) == peaks
    assert written["duration_s"] == pytest.approx(SECONDS, abs=0.1)


def test_duration_is_the_decoded_length(run: Run) -> None:
    """The ladder's duration is the source's."""
    assert run.ladder.duration_s == pytest.approx(SECONDS, abs=0.05)


@pytest.fixture(scope="module")
def short_mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("short")
    return encoded(tone_wav(folder / "short.wav", 8.0), folder / "short.mp3")


@pytest.fixture(scope="module")
def mono_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Mono music: encoded as identical channels, it needs fewer bits than the upper rungs offer."""
    folder = tmp_path_factory.mktemp("mono")
    stereo = tone_wav(folder / "stereo.wav", 8.0)
    mono = folder / "mono.wav"
    subprocess.run(
        [require_ffmpeg(), "-v", "error", "-nostdin", "-i", str(stereo), "-ac", "1", str(mono)],
        check=True,
        timeout=60,
    )
    return mono


def test_simple_material_publishes_the_rungs_that_rise(mono_wav: Path, tmp_path: Path) -> None:
    """Mono music falls short of the upper budgets: published anyway, each rung above the last."""
    out_dir = tmp_path / "out"
    ladder = FfmpegTranscoder(ffmpeg=require_ffmpeg()).transcode(mono_wav, out_dir, LADDER_KBPS)
    measured = [r.measured_kbps for r in ladder.rungs]
    assert ladder.rungs_kbps[0] == LADDER_KBPS[0]
    assert measured == sorted(set(measured))
    assert (out_dir / ladder.master).is_file()
    published = {p.relative_to(out_dir).parts[0] for p in out_dir.glob("*k/*")}
    assert published == {f"{kbps}k" for kbps in ladder.rungs_kbps}


def test_damaged_source_raises_and_leaves_no_master(short_mp3: Path, tmp_path: Path) -> None:
    """A corrupt source raises MediaRejected; no master (not even a stale one) and no rungs remain."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "master.m3u8").write_text("#EXTM3U\n", encoding="utf-8")
    with pytest.raises(MediaRejected, match="failed"):
        FfmpegTranscoder(ffmpeg=require_ffmpeg()).transcode(
            corrupted(short_mp3, tmp_path / "bad.mp3"),
            out_dir,
            LADDER_KBPS,
        )
    assert not (out_dir / "master.m3u8").exists()
    assert list(out_dir.iterdir()) == []


def test_text_source_raises(tmp_path: Path) -> None:
    """A source that is not audio at all raises MediaRejected with ffmpeg's reason."""
    out_dir = tmp_path / "out"
    with pytest.raises(MediaRejected, match="failed"):
        FfmpegTranscoder(ffmpeg=require_ffmpeg()).transcode(
            text_as_mp3(tmp_path / "lyrics.mp3"),
            out_dir,
            LADDER_KBPS,
        )
    assert not (out_dir / "master.m3u8").exists()


def test_timeout_raises_and_leaves_no_master(short_mp3: Path, tmp_path: Path) -> None:
    """A transcode that overruns its deadline is killed, raises, and publishes nothing."""
    out_dir = tmp_path / "out"
    with pytest.raises(MediaRejected, match="longer than"):
        FfmpegTranscoder(ffmpeg=require_ffmpeg(), timeout_s=0.05).transcode(
            short_mp3,
            out_dir,
            LADDER_KBPS,
        )
    assert list(out_dir.iterdir()) == []


def test_a_ladder_must_rise(tmp_path: Path) -> None:
    """Rungs out of order are a programming error, refused before any work."""
    with pytest.raises(ValueError, match="strictly rising"):
        FfmpegTranscoder(ffmpeg=require_ffmpeg()).transcode(
            tmp_path / "any.wav", tmp_path / "out", (256, 128)
        )
    assert not (tmp_path / "out").exists()
