"""Contracts for MediaProbe and Transcoder: the ffmpeg adapters and the in-memory fakes alike."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest

from musicconnect.domain.errors import MediaRejected, MediaTooLarge
from musicconnect.domain.hls import listed_rungs, referenced_uris
from musicconnect.domain.media import LADDER_KBPS, UploadPolicy
from musicconnect.ports.media import MediaProbe, Transcoder


def write_wav(path: Path, seconds: float, rate: int = 44100) -> Path:
    """A stereo 16-bit WAV of a chord with a little noise, written with the standard library."""
    frames = int(seconds * rate)
    seed = 12345
    samples = bytearray()
    for n in range(frames):
        seed = (1103515245 * seed + 12345) & 0x7FFFFFFF
        noise = (seed / 0x7FFFFFFF - 0.5) * 0.2
        value = (
            0.25 * (math.sin(2 * math.pi * 220 * n / rate) + math.sin(2 * math.pi * 277 * n / rate)) + noise
        )
        sample = int(max(-1.0, min(1.0, value)) * 32000)
        samples += struct.pack("<hh", sample, sample)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(samples))
    return path


class MediaProbeContract:
    def make_probe(self) -> MediaProbe:
        raise NotImplementedError

    def test_a_wav_file_is_described(self, tmp_path: Path) -> None:
        """A valid WAV comes back with its duration, rate and channel count."""
        info = self.make_probe().probe(write_wav(tmp_path / "ok.wav", 2.0), UploadPolicy())
        assert info.duration_s == pytest.approx(2.0, abs=0.05)
        assert info.sample_rate == 44100
        assert info.channels == 2

    def test_text_is_not_audio(self, tmp_path: Path) -> None:
        """A text file under an audio name is refused."""
        path = tmp_path / "lyrics.wav"
        path.write_text("la la la\n" * 100, encoding="utf-8")
        with pytest.raises(MediaRejected):
            self.make_probe().probe(path, UploadPolicy())

    def test_a_file_cut_short_is_accepted_with_the_length_it_holds(self, tmp_path: Path) -> None:
        """A WAV cut short of what its header promises (an interrupted export) is what decodes
        of it: half of 3 s, not refused and not claiming 3 s."""
        whole = write_wav(tmp_path / "whole.wav", 3.0).read_bytes()
        cut = tmp_path / "cut.wav"
        cut.write_bytes(whole[: len(whole) // 2 | 1])
        assert self.make_probe().probe(cut, UploadPolicy()).duration_s == pytest.approx(1.5, abs=0.05)

    def test_larger_than_the_policy_is_too_large(self, tmp_path: Path) -> None:
        """Size is checked against the policy before anything else."""
        path = write_wav(tmp_path / "big.wav", 2.0)
        with pytest.raises(MediaTooLarge):
            self.make_probe().probe(path, UploadPolicy(max_bytes=path.stat().st_size - 1))

    def test_longer_than_the_policy_is_refused(self, tmp_path: Path) -> None:
        """Audio over the maximum duration is refused, and under the minimum too."""
        path = write_wav(tmp_path / "long.wav", 3.0)
        with pytest.raises(MediaRejected):
            self.make_probe().probe(path, UploadPolicy(max_duration_s=2.0))
        with pytest.raises(MediaRejected):
            self.make_probe().probe(path, UploadPolicy(min_duration_s=5.0))


class TranscoderContract:
    def make_transcoder(self) -> Transcoder:
        raise NotImplementedError

    def test_the_ladder_rises_from_the_lowest_rung_and_the_master_is_published_last(
        self, tmp_path: Path
    ) -> None:
        """Rungs ascend from the lowest (a rung the encoder could not fill is left out), every
        file exists, and the master lists the rungs, after all variants and segments."""
        out = tmp_path / "hls"
        seen: list[float] = []
        ladder = self.make_transcoder().transcode(
            write_wav(tmp_path / "in.wav", 8.0),
            out,
            LADDER_KBPS,
            progress=seen.append,
        )
        assert ladder.rungs_kbps[0] == LADDER_KBPS[0]
        assert [k for k in LADDER_KBPS if k in ladder.rungs_kbps] == list(ladder.rungs_kbps)
        assert ladder.duration_s == pytest.approx(8.0, abs=0.2)
        assert all((out / name).is_file() for name in ladder.files)
        assert ladder.files[-1] == ladder.master
        playlists = [r.playlist for r in ladder.rungs]
        for playlist in playlists:
            folder = Path(playlist).parent
            for uri in referenced_uris((out / playlist).read_text(encoding="utf-8")):
                assert ladder.files.index(str(folder / uri)) < ladder.files.index(playlist)
        assert listed_rungs((out / ladder.master).read_text(encoding="utf-8")) == list(ladder.rungs_kbps)
        assert seen
        assert seen[-1] == 1.0
        assert seen == sorted(seen)

    def test_every_rung_reports_a_measured_bitrate(self, tmp_path: Path) -> None:
        """Each rung carries the bitrate actually measured on its segments, a positive number.

        How close it comes to nominal depends on the music (simple material needs fewer bits);
        the ffmpeg tests check it on rich generated music.
        """
        ladder = self.make_transcoder().transcode(
            write_wav(tmp_path / "in.wav", 8.0), tmp_path / "hls", LADDER_KBPS
        )
        assert all(0 < rung.measured_kbps <= 1.2 * rung.kbps for rung in ladder.rungs)

    def test_an_undecodable_source_publishes_no_master(self, tmp_path: Path) -> None:
        """Garbage in: MediaRejected, and no master playlist in the output folder."""
        source = tmp_path / "noise.wav"
        source.write_bytes(b"RIFF" + bytes(range(256)) * 40)
        out = tmp_path / "hls"
        with pytest.raises(MediaRejected):
            self.make_transcoder().transcode(source, out, LADDER_KBPS)
        assert not list(out.rglob("master.m3u8"))
