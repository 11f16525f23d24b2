"""Reading an input's description from ffmpeg's banner, for machines with ffmpeg but no ffprobe.

imageio-ffmpeg bundles ffmpeg without ffprobe; ``ffmpeg -i file`` (no output) still prints
the container, duration and streams, in a format stable across ffmpeg releases.
"""

from __future__ import annotations

import re
from typing import Final

import attrs

_INPUT = re.compile(r"^Input #0, (?P<format>.+?), from '", re.MULTILINE)
_DURATION = re.compile(r"Duration: (?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)")
_BITRATE = re.compile(r"Duration: [^\n]*bitrate: (?P<kbps>\d+) kb/s")
_AUDIO = re.compile(
    r"^\s*Stream #0:\d+\S*: Audio: (?P<codec>\w+)[^\n]*?, (?P<rate>\d+) Hz, (?P<layout>[^,\n]+)",
    re.MULTILINE,
)
_N_CHANNELS = re.compile(r"(?P<n>\d+) channels")
_LAYOUT_CHANNELS: Final = {
    "mono": 1,
    "stereo": 2,
    "2.1": 3,
    "3.0": 3,
    "3.0(back)": 3,
    "quad": 4,
    "quad(side)": 4,
    "4.0": 4,
    "4.1": 5,
    "5.0": 5,
    "5.0(side)": 5,
    "5.1": 6,
    "5.1(side)": 6,
    "6.0": 6,
    "6.1": 7,
    "7.0": 7,
    "7.1": 8,
    "7.1(wide)": 8,
}


@attrs.frozen
class RawInfo:
    """What a tool said about an input before any checks; what it did not say is None."""

    format_name: str | None
    codec: str | None
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    bit_rate: int | None


def parse_banner(stderr: str) -> RawInfo:
    fmt = _INPUT.search(stderr)
    duration = _DURATION.search(stderr)
    bitrate = _BITRATE.search(stderr)
    audio = _AUDIO.search(stderr)
    return RawInfo(
        format_name=fmt["format"] if fmt else None,
        codec=audio["codec"] if audio else None,
        duration_s=(
            int(duration["h"]) * 3600 + int(duration["m"]) * 60 + float(duration["s"]) if duration else None
        ),
        sample_rate=int(audio["rate"]) if audio else None,
        channels=_channels(audio["layout"]) if audio else None,
        bit_rate=int(bitrate["kbps"]) * 1000 if bitrate else None,
    )


def _channels(layout: str) -> int | None:
    layout = layout.strip()
    if layout in _LAYOUT_CHANNELS:
        return _LAYOUT_CHANNELS[layout]
    counted = _N_CHANNELS.match(layout)
    return int(counted["n"]) if counted else None
