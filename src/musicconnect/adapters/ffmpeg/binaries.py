"""Where the ffmpeg tools are: the system's first, imageio-ffmpeg's bundled binary as a fallback."""

from __future__ import annotations

import shutil

import imageio_ffmpeg

INSTALL_HINT = "install ffmpeg: apt-get install ffmpeg"


class FfmpegNotFoundError(RuntimeError):
    """Neither a system ffmpeg nor imageio-ffmpeg's bundled binary can be run."""


def find_ffmpeg() -> str:
    """The ffmpeg executable to run; raise FfmpegNotFoundError with an install hint if none."""
    # The system binary is the one the OS keeps patched, so it wins over the bundled copy.
    system = shutil.which("ffmpeg")
    if system is not None:
        return system
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as exc:
        raise FfmpegNotFoundError(INSTALL_HINT) from exc


def find_ffprobe() -> str | None:
    """The ffprobe executable, or None: imageio-ffmpeg ships none, so the probe must cope."""
    return shutil.which("ffprobe")
