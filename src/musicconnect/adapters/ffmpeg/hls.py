"""What the encoder wrote, read back, checked and measured."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import attrs
import m3u8

from musicconnect.domain.errors import MediaRejected
from musicconnect.domain.media import VARIANT_PLAYLIST, RungRate, rung_folder

if TYPE_CHECKING:
    from pathlib import Path

MASTER_PLAYLIST: Final = "master.m3u8"
#: A segment shorter than this (the tail) carries mostly container overhead; it is measured
#: together with the segment before it, as RFC 8216's peak segment bitrate measures short runs.
_PEAK_MIN_SEGMENT_S: Final = 1.0


@attrs.frozen
class EncodedRung:
    """One rung as written: its files relative to the output folder, and its measured bitrate."""

    kbps: int
    playlist: str
    media: tuple[str, ...]
    average_bps: float
    peak_bps: float

    @property
    def folder(self) -> str:
        return rung_folder(self.kbps)

    @property
    def rate(self) -> RungRate:
        return RungRate(
            kbps=self.kbps,
            average_kbps=round(self.average_bps / 1000, 1),
            # Rounded up so the declared peak is never below a segment's rate.
            peak_kbps=math.ceil(self.peak_bps / 100) / 10,
        )


def read_rung(out_dir: Path, kbps: int) -> EncodedRung:
    """Parse a rung's playlist, check every file it names exists, and measure its bitrate."""
    folder = rung_folder(kbps)
    playlist = f"{folder}/{VARIANT_PLAYLIST}"
    try:
        parsed = m3u8.loads((out_dir / playlist).read_text(encoding="utf-8"))
    except OSError as exc:
        raise MediaRejected(f"the encoder wrote no playlist for the {kbps}k rung") from exc
    init = [_local(section.uri) for section in parsed.segment_map or ()]
    segments = [(_local(segment.uri), float(segment.duration or 0.0)) for segment in parsed.segments]
    sizes = {name: _size(out_dir / folder / name, kbps) for name in [*init, *(s for s, _ in segments)]}
    total_s = sum(d for _, d in segments)
    if not segments or total_s <= 0:
        raise MediaRejected(f"the encoder wrote no segments for the {kbps}k rung")
    average = sum(sizes[s] for s, _ in segments) * 8 / total_s
    return EncodedRung(
        kbps=kbps,
        playlist=playlist,
        media=tuple(f"{folder}/{name}" for name in sizes),
        average_bps=average,
        peak_bps=max(_peak_bps([(sizes[s], d) for s, d in segments]), average),
    )


def _peak_bps(segments: list[tuple[int, float]]) -> float:
    """The highest rate of a segment, a short one counted with the segment before it."""
    runs: list[list[float]] = []
    for size, duration in segments:
        if runs and duration < _PEAK_MIN_SEGMENT_S:
            runs[-1][0] += size
            runs[-1][1] += duration
        else:
            runs.append([float(size), duration])
    return max(size * 8 / duration for size, duration in runs if duration > 0)


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the whole new one, never half of it."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def _local(uri: str | None) -> str:
    # The encoder names files inside the rung folder; anything else is not ours to publish.
    if not uri or "/" in uri or "\\" in uri or uri in {".", ".."}:
        raise MediaRejected(f"the encoder's playlist names an unexpected file {uri!r}")
    return uri


def _size(path: Path, kbps: int) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise MediaRejected(f"the {kbps}k playlist names a missing file {path.name}") from exc
