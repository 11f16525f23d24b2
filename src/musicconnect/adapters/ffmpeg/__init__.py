"""ffmpeg adapters: the upload probe, the HLS ladder transcoder, and demo audio."""

from __future__ import annotations

from musicconnect.adapters.ffmpeg.binaries import FfmpegNotFoundError, find_ffmpeg, find_ffprobe
from musicconnect.adapters.ffmpeg.generate import generate_demo_audio
from musicconnect.adapters.ffmpeg.live import FfmpegLiveTranscoder, FfmpegRecordingPacker
from musicconnect.adapters.ffmpeg.probe import FfmpegMediaProbe
from musicconnect.adapters.ffmpeg.transcoder import FfmpegTranscoder

__all__ = [
    "FfmpegLiveTranscoder",
    "FfmpegMediaProbe",
    "FfmpegNotFoundError",
    "FfmpegRecordingPacker",
    "FfmpegTranscoder",
    "find_ffmpeg",
    "find_ffprobe",
    "generate_demo_audio",
]
