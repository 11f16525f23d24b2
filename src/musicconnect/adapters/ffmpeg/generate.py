"""Demo audio: music-like enough that the AAC encoder spends the full nominal bitrate.

A pure tone encodes far below 320 kbps; decorrelated pink noise (a kick-like pulse), white
noise bursts (hi-hats) and an A-major chord keep every band busy, much as a mastered mix does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from musicconnect.adapters.ffmpeg._process import check_tool, run_tool
from musicconnect.adapters.ffmpeg.binaries import find_ffmpeg

if TYPE_CHECKING:
    from pathlib import Path

_RATE: Final = 44100
_CHORD_HZ: Final = (110.0, 220.0, 277.18, 329.63)


def generate_demo_audio(path: Path, seconds: float) -> None:
    """Write ``seconds`` of stereo 44.1 kHz 16-bit WAV to ``path``."""
    d = f"{seconds:g}"
    noise = f"r={_RATE}:d={d}"
    chord = "".join(f"sine=f={hz}:r={_RATE}:d={d}[s{i}];" for i, hz in enumerate(_CHORD_HZ))
    graph = (
        f"anoisesrc=c=pink:a=0.5:seed=1:{noise}[pl];anoisesrc=c=pink:a=0.5:seed=2:{noise}[pr];"
        # Left and right differ, so the encoder cannot fold the mix into mid/side for free.
        "[pl][pr]join=inputs=2:channel_layout=stereo,"
        "volume='0.25+0.75*exp(-10*mod(t,0.5))':eval=frame[kick];"
        f"anoisesrc=c=white:a=0.3:seed=3:{noise}[wl];anoisesrc=c=white:a=0.3:seed=4:{noise}[wr];"
        "[wl][wr]join=inputs=2:channel_layout=stereo,"
        "volume='0.1+0.9*exp(-30*mod(t,0.25))':eval=frame[hats];"
        f"{chord}{''.join(f'[s{i}]' for i in range(len(_CHORD_HZ)))}"
        f"amix=inputs={len(_CHORD_HZ)},aformat=channel_layouts=stereo[chord];"
        "[kick][hats][chord]amix=inputs=3:weights=1 0.6 1.5:normalize=0,"
        "alimiter=limit=0.9:level=0,aformat=sample_fmts=s16"
    )
    result = run_tool(
        [
            find_ffmpeg(),
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-filter_complex",
            graph,
            "-ar",
            str(_RATE),
            "-ac",
            "2",
            "-f",
            "wav",
            f"file:{path.resolve()}",
        ],
        timeout_s=60 + seconds,
        what="generating demo audio",
    )
    check_tool(result, what="generating demo audio")
