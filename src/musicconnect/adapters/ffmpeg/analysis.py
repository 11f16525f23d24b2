"""The analysis pass: loudness, sample peak, exact length and waveform peaks from one cheap read.

It decodes the source once and runs EBU R128 metering (``ebur128``, which resamples to the
48 kHz it needs on its own) next to a 4 kHz 16-bit PCM pipe, plenty for drawing a waveform,
that yields the waveform peaks and the decoded length. No encoder runs here, so it costs a
fraction of the encoding pass. ebur128's true-peak mode is not used: it upsamples everything to
192 kHz, which nearly doubles the pass, and the encoding pass limits true peaks itself whenever
the sample peak says it may be needed.
"""

from __future__ import annotations

import re
import sys
from array import array
from typing import TYPE_CHECKING, Any, Final

import attrs
import ffmpeg

from musicconnect.adapters.ffmpeg._process import compile_command, open_input, stream_tool
from musicconnect.domain.errors import MediaRejected

if TYPE_CHECKING:
    from pathlib import Path

_ENCODE_HZ: Final = 44100
#: How many waveform peaks a track gets (fewer for tracks shorter than that many blocks).
PEAK_COUNT: Final = 1000

_PEAK_RATE: Final = 4000
_CHANNELS: Final = 2
_BLOCK_SAMPLES: Final = 32 * _CHANNELS  # 8 ms of interleaved stereo
_BLOCK_BYTES: Final = _BLOCK_SAMPLES * 2
_NUMBER = r"(-?inf|-?\d+(?:\.\d+)?)"
_INTEGRATED = re.compile(rf"Integrated loudness:\s+I:\s+{_NUMBER} LUFS")
_SAMPLE_PEAK = re.compile(rf"Sample peak:\s+Peak:\s+{_NUMBER} dBFS")
#: ebur128 reports -70 LUFS (its absolute gate) for silence.
_SILENCE_LUFS: Final = -70.0


@attrs.frozen
class Analysis:
    """What the analysis pass learned; loudness and peak are None for silence."""

    integrated_lufs: float | None
    sample_peak_dbfs: float | None
    duration_s: float
    peaks: tuple[float, ...]


def conditioned(source: ffmpeg.nodes.FilterableStream) -> Any:
    """What both passes do to the source first, so the loudness measured is that of what is encoded:
    AAC rungs are stereo 44.1 kHz whatever the upload (a mono AAC stream cannot reach 320 kbps).
    """
    return source["a:0"].filter("aresample", _ENCODE_HZ).filter("aformat", channel_layouts="stereo")


def analyse(binary: str, source: Path, *, timeout_s: float) -> Analysis:
    """Measure ``source``; raise MediaRejected if it cannot be decoded to the end."""
    collector = _PeakCollector()
    split = conditioned(open_input(source)).filter_multi_output("asplit", 2)
    loud, wave = split[0], split[1]
    # framelog=verbose keeps its ten lines a second out of the info-level log we parse.
    metered = loud.filter("ebur128", peak="sample", framelog="verbose").output("-", f="null")
    peaks = (
        wave.filter("aresample", _PEAK_RATE)
        .filter("aformat", sample_fmts="s16", channel_layouts="stereo")
        .output("pipe:1", f="s16le")
    )
    stderr = stream_tool(
        compile_command(
            binary,
            ffmpeg.merge_outputs(peaks, metered),
            *("-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", "-xerror"),
        ),
        timeout_s=timeout_s,
        what="loudness analysis",
        on_stdout=collector.feed,
    )
    frames, peaks = collector.finish()
    # The filter graph may be built more than once; only the last summary covers the whole file.
    integrated = _last_number(_INTEGRATED, stderr)
    sample_peak = _last_number(_SAMPLE_PEAK, stderr)
    if integrated is None or frames == 0:
        raise MediaRejected("the file has no decodable audio")
    silent = integrated <= _SILENCE_LUFS
    return Analysis(
        integrated_lufs=None if silent else integrated,
        sample_peak_dbfs=None if silent else sample_peak,
        duration_s=frames / _PEAK_RATE,
        peaks=peaks,
    )


def _last_number(pattern: re.Pattern[str], text: str) -> float | None:
    found = pattern.findall(text)
    return float(found[-1]) if found else None


class _PeakCollector:
    """Reduces the PCM stream to one peak per block as it arrives, so memory stays small."""

    def __init__(self) -> None:
        self._pending = b""
        self._blocks: list[int] = []
        self._samples = 0

    def feed(self, chunk: bytes) -> None:
        data = self._pending + chunk
        usable = len(data) - len(data) % _BLOCK_BYTES
        self._pending = data[usable:]
        self._reduce(data[:usable])

    def finish(self) -> tuple[int, tuple[float, ...]]:
        """The number of stereo frames seen and the normalised peaks."""
        tail = self._pending[: len(self._pending) - len(self._pending) % (2 * _CHANNELS)]
        self._pending = b""
        self._reduce(tail)
        return self._samples // _CHANNELS, _bucketed(self._blocks)

    def _reduce(self, data: bytes) -> None:
        samples = array("h")
        samples.frombytes(data)
        if sys.byteorder == "big":
            samples.byteswap()
        self._samples += len(samples)
        for start in range(0, len(samples), _BLOCK_SAMPLES):
            block = samples[start : start + _BLOCK_SAMPLES]
            loudest, quietest = max(block), min(block)
            self._blocks.append(max(loudest, -quietest))


def _bucketed(blocks: list[int]) -> tuple[float, ...]:
    count = min(PEAK_COUNT, len(blocks))
    buckets = [max(blocks[i * len(blocks) // count : (i + 1) * len(blocks) // count]) for i in range(count)]
    loudest = max(buckets, default=0)
    if loudest == 0:
        return tuple(0.0 for _ in buckets)
    return tuple(round(b / loudest, 4) for b in buckets)
