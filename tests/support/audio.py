"""Audio inputs for the tests: generated music, encodings of it, and hostile files."""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

from musicconnect.adapters.ffmpeg import FfmpegNotFoundError, find_ffmpeg, generate_demo_audio

if TYPE_CHECKING:
    from pathlib import Path

INSTALL_FFMPEG = "install ffmpeg: apt-get install ffmpeg"


def require_ffmpeg() -> str:
    """The ffmpeg to run; a missing ffmpeg fails the test (CI installs it, nothing is skipped)."""
    try:
        return find_ffmpeg()
    except FfmpegNotFoundError:
        pytest.fail(INSTALL_FFMPEG)


def require_ffprobe() -> str:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        pytest.fail(INSTALL_FFMPEG)
    return ffprobe


def tone_wav(path: Path, seconds: float = 10.0) -> Path:
    """Music-like stereo 44.1 kHz WAV (see generate_demo_audio)."""
    require_ffmpeg()
    generate_demo_audio(path, seconds)
    return path


def encoded(source: Path, path: Path) -> Path:
    """``source`` re-encoded into the format ``path``'s suffix names (.mp3, .flac, .m4a ...)."""
    subprocess.run(
        [require_ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(source), str(path)],
        check=True,
        timeout=60,
    )
    return path


def truncated(source: Path, path: Path, keep: float = 0.4) -> Path:
    """The first ``keep`` share of ``source``, cut at an odd byte so no frame ends cleanly."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) | 1])
    return path


def corrupted(source: Path, path: Path) -> Path:
    """``source`` with 20 kB of garbage over its middle: the header is fine, the audio is not."""
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 20_000] = bytes((i * 37) % 256 for i in range(20_000))
    path.write_bytes(bytes(data))
    return path


def text_as_mp3(path: Path) -> Path:
    path.write_text("These are the lyrics, not the song.\n" * 50, encoding="utf-8")
    return path


def hls_playlist_as_mp3(path: Path) -> Path:
    """An HLS playlist under an audio name, whose segment is a local secret."""
    path.write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:/etc/passwd\n#EXT-X-ENDLIST\n",
        encoding="utf-8",
    )
    return path


def ffconcat_with_file_reference(path: Path) -> Path:
    """An ffconcat script that would read /etc/passwd if the concat demuxer ran it."""
    path.write_text("ffconcat version 1.0\nfile 'file:/etc/passwd'\n", encoding="utf-8")
    return path


def concat_protocol_text(path: Path) -> Path:
    """A file whose whole content is a concat: protocol URL."""
    path.write_text("concat:a.wav|b.wav", encoding="utf-8")
    return path
