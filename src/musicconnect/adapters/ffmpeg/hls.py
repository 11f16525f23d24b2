"""What the encoder wrote, read back, checked and measured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import attrs

from musicconnect.domain.errors import MediaRejected
from musicconnect.domain.media import VARIANT_PLAYLIST, rung_folder

if TYPE_CHECKING:
    from pathlib import Path

MASTER_PLAYLIST: Final = "master.m3u8"
#: Segments shorter than this (the tail) carry mostly container overhead; they would inflate
#: the peak bitrate without telling a player anything.
_PEAK_MIN_SEGMENT_S: Final = 1.0
_MAP_PREFIX: Final = '#EXT-X-MAP:URI="'
_EXTINF: Final = "#EXTINF:"


@attrs.frozen
class EncodedRung:
    """One rung as written: its files relative to the output folder, and its measured bitrate."""

    kbps: int
    playlist: str
    media: tuple[str, ...]
    average_bps: float
    peak_bps: float


def read_rung(out_dir: Path, kbps: int) -> EncodedRung:
    """Parse a rung's playlist, check every file it names exists, and measure its bitrate."""
    folder = rung_folder(kbps)
    playlist = f"{folder}/{VARIANT_PLAYLIST}"
    try:
        lines = (out_dir / playlist).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise MediaRejected(f"the encoder wrote no playlist for the {kbps}k rung") from exc
    init: list[str] = []
    segments: list[tuple[str, float]] = []
    duration: float | None = None
    for raw in lines:
        line = raw.strip()
        if line.startswith(_MAP_PREFIX):
            init.append(_local(line.removeprefix(_MAP_PREFIX).split('"', 1)[0]))
        elif line.startswith(_EXTINF):
            duration = float(line.removeprefix(_EXTINF).split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((_local(line), duration))
            duration = None
    sizes = {name: _size(out_dir / folder / name, kbps) for name in [*init, *(s for s, _ in segments)]}
    total_s = sum(d for _, d in segments)
    if not segments or total_s <= 0:
        raise MediaRejected(f"the encoder wrote no segments for the {kbps}k rung")
    average = sum(sizes[s] for s, _ in segments) * 8 / total_s
    peak = max(
        (sizes[s] * 8 / d for s, d in segments if d >= _PEAK_MIN_SEGMENT_S),
        default=average,
    )
    return EncodedRung(
        kbps=kbps,
        playlist=playlist,
        media=tuple(f"{folder}/{name}" for name in sizes),
        average_bps=average,
        peak_bps=max(peak, average),
    )


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the whole new one, never half of it."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def _local(uri: str) -> str:
    # The encoder names files inside the rung folder; anything else is not ours to publish.
    if not uri or "/" in uri or "\\" in uri or uri in {".", ".."}:
        raise MediaRejected(f"the encoder's playlist names an unexpected file {uri!r}")
    return uri


def _size(path: Path, kbps: int) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise MediaRejected(f"the {kbps}k playlist names a missing file {path.name}") from exc
