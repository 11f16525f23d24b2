"""FfmpegTranscoder: one loudness analysis, one encoding pass for every rung, then checks."""

from __future__ import annotations

import json
import shutil
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final

import attrs
import ffmpeg

from musicconnect.adapters.ffmpeg._process import compile_command, open_input, stream_tool
from musicconnect.adapters.ffmpeg.analysis import Analysis, analyse, conditioned
from musicconnect.adapters.ffmpeg.binaries import find_ffmpeg
from musicconnect.adapters.ffmpeg.hls import (
    MASTER_PLAYLIST,
    EncodedRung,
    read_rung,
    write_atomically,
)
from musicconnect.domain.hls import Variant, master_playlist
from musicconnect.domain.media import VARIANT_PLAYLIST, Ladder, RungResult, rising_rungs, rung_folder

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from musicconnect.ports.media import ProgressCallback

PEAKS_FILE: Final = "peaks.json"
#: The share of the progress bar the analysis pass stands for (it takes about a tenth).
_ANALYSIS_SHARE: Final = 0.1
#: From this rate up the native encoder's default coder saturates (a 320k request yields about
#: 252 kbps in ffmpeg 5.1) while the fast coder with a 20 kHz cutoff reaches the nominal rate.
#: Every rung from here up uses the same coder: with twoloop at 256k and fast at 320k, the
#: 320k rung of band-limited material came out below the 256k one (203 against 175 kbps).
_FAST_CODER_FROM_KBPS: Final = 256
_FAST_CODER_CUTOFF_HZ: Final = 20000
#: Boost at most this much: beyond it we would mostly be amplifying a quiet recording's noise.
_MAX_BOOST_DB: Final = 24.0
#: Room under the ceiling for what limiting at twice the rate misses.
_LIMITER_MARGIN_DB: Final = 0.5
#: How far above the sample peak a true peak may lie. Beyond 3 dB needs pathological (square,
#: hard-clipped) material; below it the limiter is left out, saving its cost.
_INTERSAMPLE_ALLOWANCE_DB: Final = 3.0
_ENCODE_HZ: Final = 44100
_OVERSAMPLED_HZ: Final = 2 * _ENCODE_HZ


@attrs.frozen
class FfmpegTranscoder:
    """Normalises to ``target_lufs`` (EBU R128) and encodes an fMP4 HLS ladder of AAC-LC rungs.

    Pass 1 (analysis) decodes once to measure loudness and sample peak and to take waveform
    peaks; pass 2 applies the gain, adds a true-peak limiter when the gain could push peaks over
    the ceiling, and encodes every rung at once. The ceiling holds for the PCM fed to the
    encoders; decoded AAC may overshoot it by a fraction of a dB, as lossy codecs do.
    loudnorm is not used: it runs at 192 kHz internally, which on 240 s of audio cost about
    14 s of CPU against 22 s for the whole bare ladder, and a measured linear gain does the job.

    Every rung's average and peak bitrate is measured on its segments, and the master declares
    them. What the encoder did never fails a track: the native encoder does not pad, so simple
    material (speech, an 8 kHz source, silence) cannot spend the upper budgets, and a rung that
    does not beat the one below it is dropped (``rising_rungs``), leaving a shorter ladder.
    Only input that does not decode is rejected.
    """

    ffmpeg: str = attrs.field(factory=find_ffmpeg)
    timeout_s: float = 1800.0
    target_lufs: float = -14.0
    true_peak_ceiling_dbtp: float = -1.0
    segment_s: int = 6

    def transcode(
        self,
        source: Path,
        out_dir: Path,
        ladder_kbps: Sequence[int],
        *,
        progress: ProgressCallback | None = None,
    ) -> Ladder:
        rungs = _checked_ladder(ladder_kbps)
        report = _Progress(progress)
        out_dir.mkdir(parents=True, exist_ok=True)
        # A retried job must never find a master left over from a run that crashed.
        _remove_outputs(out_dir, rungs)
        try:
            report(0.0)
            analysis = analyse(self.ffmpeg, source, timeout_s=self.timeout_s)
            report(_ANALYSIS_SHARE)
            self._encode(source, out_dir, rungs, analysis, report)
            encoded = _published(out_dir, [read_rung(out_dir, kbps) for kbps in rungs])
            write_atomically(
                out_dir / PEAKS_FILE,
                json.dumps({"duration_s": analysis.duration_s, "peaks": analysis.peaks}),
            )
            # Written last, by us: it exists only once every rung is on disk and measured. It is
            # the same text the streaming side builds per tier (measured BANDWIDTH).
            master = master_playlist([Variant(r.kbps, r.playlist, r.rate) for r in encoded])
            write_atomically(out_dir / MASTER_PLAYLIST, master)
        except BaseException:
            _remove_outputs(out_dir, rungs)
            raise
        report(1.0)
        return Ladder(
            duration_s=analysis.duration_s,
            rungs=tuple(
                RungResult(
                    kbps=r.kbps,
                    measured_kbps=r.rate.average_kbps,
                    playlist=r.playlist,
                    peak_kbps=r.rate.peak_kbps,
                )
                for r in encoded
            ),
            files=(
                *(name for r in encoded for name in r.media),
                *(r.playlist for r in encoded),
                PEAKS_FILE,
                MASTER_PLAYLIST,
            ),
            master=MASTER_PLAYLIST,
            peaks=analysis.peaks,
        )

    def _encode(
        self,
        source: Path,
        out_dir: Path,
        rungs: tuple[int, ...],
        analysis: Analysis,
        report: _Progress,
    ) -> None:
        # The encoders take planar float: converting once here, not once per rung after the split
        # (alimiter works in double), saves about 8 % of the encoding pass.
        audio = self._loudness_chain(conditioned(open_input(source)), analysis)
        split = audio.filter("aformat", sample_fmts="fltp").filter_multi_output("asplit", len(rungs))
        encoders = ladder_encoders(rungs)
        for kbps in rungs:
            (out_dir / rung_folder(kbps)).mkdir()
        encode_share = 1.0 - _ANALYSIS_SHARE
        lines = _Lines(
            lambda seconds: report(_ANALYSIS_SHARE + encode_share * seconds / analysis.duration_s),
        )
        output = ffmpeg.output(
            *(split[i] for i in range(len(rungs))),
            # Relative names with ffmpeg run inside out_dir: a '%' or ':' in out_dir's own
            # path can then never be read as a pattern or a protocol.
            f"%v/{VARIANT_PLAYLIST}",
            map_metadata=-1,
            map_chapters=-1,
            f="hls",
            hls_time=self.segment_s,
            hls_playlist_type="vod",
            hls_segment_type="fmp4",
            hls_fmp4_init_filename="init_%v.mp4",
            hls_segment_filename="%v/seg_%05d.m4s",
            var_stream_map=" ".join(f"a:{i},name:{rung_folder(kbps)}" for i, kbps in enumerate(rungs)),
            **encoders,
        )
        stream_tool(
            compile_command(
                self.ffmpeg,
                output,
                *("-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning", "-xerror", "-y"),
                *("-progress", "pipe:1"),
            ),
            timeout_s=self.timeout_s,
            what="encoding",
            on_stdout=lines.feed,
            cwd=out_dir,
        )

    def _loudness_chain(self, audio: Any, analysis: Analysis) -> Any:
        if analysis.integrated_lufs is None:
            return audio  # silence: there is no loudness to correct
        gain = min(self.target_lufs - analysis.integrated_lufs, _MAX_BOOST_DB)
        audio = audio.filter("volume", f"{gain:.2f}dB")
        peak = analysis.sample_peak_dbfs
        ceiling = self.true_peak_ceiling_dbtp
        if peak is not None and peak + gain > ceiling - _INTERSAMPLE_ALLOWANCE_DB:
            limit = 10 ** ((ceiling - _LIMITER_MARGIN_DB) / 20)
            # alimiter only sees sample peaks, and at 44.1 kHz the peaks between samples run
            # up to 2 dB higher on bright material; limiting at twice the rate catches most of
            # them for a fraction of the cost of loudnorm's 192 kHz. level=0: no make-up gain;
            # latency=1: no shift against the source.
            audio = (
                audio.filter("aresample", _OVERSAMPLED_HZ)
                .filter("alimiter", limit=f"{limit:.4f}", level=0, latency=1)
                .filter("aresample", _ENCODE_HZ)
            )
        return audio


def ladder_encoders(rungs: Sequence[int]) -> dict[str, object]:
    """ffmpeg output options encoding the i-th mapped stream at the i-th rung's rate."""
    encoders: dict[str, object] = {"c:a": "aac"}
    for i, kbps in enumerate(rungs):
        encoders[f"b:a:{i}"] = f"{kbps}k"
        if kbps >= _FAST_CODER_FROM_KBPS:
            encoders[f"aac_coder:a:{i}"] = "fast"
            encoders[f"cutoff:a:{i}"] = _FAST_CODER_CUTOFF_HZ
    return encoders


def _published(out_dir: Path, encoded: Sequence[EncodedRung]) -> list[EncodedRung]:
    """The rungs worth publishing; the folders of the others are removed, so nothing lists them."""
    kept = {rate.kbps for rate in rising_rungs([r.rate for r in encoded])}
    for rung in encoded:
        if rung.kbps not in kept:
            shutil.rmtree(out_dir / rung.folder)
    return [r for r in encoded if r.kbps in kept]


def _checked_ladder(ladder_kbps: Sequence[int]) -> tuple[int, ...]:
    rungs = tuple(ladder_kbps)
    if not rungs or rungs[0] <= 0 or any(b <= a for a, b in pairwise(rungs)):
        raise ValueError(f"a ladder is positive bitrates, strictly rising: {rungs}")
    return rungs


def _remove_outputs(out_dir: Path, rungs: tuple[int, ...]) -> None:
    for name in (MASTER_PLAYLIST, PEAKS_FILE):
        (out_dir / name).unlink(missing_ok=True)
    for kbps in rungs:
        shutil.rmtree(out_dir / rung_folder(kbps), ignore_errors=True)


class _Progress:
    """Forwards fractions to the caller's callback, clamped to 0..1 and never going back."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._last = -1.0

    def __call__(self, fraction: float) -> None:
        fraction = min(max(fraction, self._last, 0.0), 1.0)
        if self._callback is not None and fraction > self._last:
            self._last = fraction
            self._callback(fraction)


class _Lines:
    """Turns ``-progress`` output into encoded seconds, however the pipe splits it."""

    def __init__(self, on_seconds: Callable[[float], None]) -> None:
        self._on_seconds = on_seconds
        self._pending = b""

    def feed(self, chunk: bytes) -> None:
        *complete, self._pending = (self._pending + chunk).split(b"\n")
        for line in complete:
            key, _, value = line.strip().partition(b"=")
            if key == b"out_time_us" and value.isdigit():
                self._on_seconds(int(value) / 1e6)
