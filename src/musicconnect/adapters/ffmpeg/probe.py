"""FfmpegMediaProbe: decides whether an upload is acceptable audio before anything is stored."""

from __future__ import annotations

import json
import re
import stat
from typing import TYPE_CHECKING, Any, Final

import attrs

from musicconnect.adapters.ffmpeg._process import (
    check_tool,
    compile_command,
    input_args,
    open_input,
    run_tool,
    stderr_tail,
)
from musicconnect.adapters.ffmpeg.banner import RawInfo, parse_banner
from musicconnect.adapters.ffmpeg.binaries import find_ffmpeg, find_ffprobe
from musicconnect.adapters.ffmpeg.sniff import HEAD_BYTES, refusal
from musicconnect.domain.errors import MediaRejected, MediaTooLarge
from musicconnect.domain.media import ALLOWED_CODECS, ALLOWED_FORMATS, AudioInfo

if TYPE_CHECKING:
    from pathlib import Path

    from musicconnect.domain.media import UploadPolicy

#: A file whose audio decodes to less than this share of its announced length was cut short
#: (an interrupted export or upload): what decodes is the recording, and its length is the track's.
_COMPLETE_SHARE: Final = 0.95
#: ... give or take codec delay and container rounding.
_SLACK_S: Final = 0.5
#: Errors only within this last stretch of a file's audio are its cut end (a partial last
#: frame), not damage: the longest frame we decode (FLAC, 4096 samples at 8 kHz) is shorter.
_CUT_END_S: Final = 0.6
_OUT_TIME = re.compile(rb"^out_time_us=(\d+)$", re.MULTILINE)


@attrs.frozen
class FfmpegMediaProbe:
    """Checks uploads with ffprobe (or ffmpeg's banner when there is no ffprobe) and a decode.

    Layers, cheapest first: size; the first bytes must start a known audio container
    (so text, playlists and reference files are refused unread); ffprobe or ffmpeg restricted
    to local files and allow-listed demuxers; container, codec and duration limits; finally a
    full decode that stops at the first error, which catches damaged files. A file cut short
    decodes up to its cut: errors in its last partial frame are tolerated (the README promises
    that every recording that decodes is published), and its length is what decodes.
    """

    ffmpeg: str = attrs.field(factory=find_ffmpeg)
    ffprobe: str | None = attrs.field(factory=find_ffprobe)
    timeout_s: float = 120.0

    def probe(self, path: Path, policy: UploadPolicy) -> AudioInfo:
        source = _checked_size(path, policy)
        with source.open("rb") as upload:
            reason = refusal(upload.read(HEAD_BYTES))
        if reason is not None:
            raise MediaRejected(reason)
        info = _validated(self._describe(source))
        _check_duration(info.duration_s, policy)
        decoded_s = self._decoded_seconds(source, policy)
        # Headers can lie about length (VBR MP3 without a Xing frame); the decode cannot.
        _check_duration(decoded_s, policy)
        if decoded_s < info.duration_s * _COMPLETE_SHARE - _SLACK_S:
            return attrs.evolve(info, duration_s=decoded_s)  # cut short: see the class docstring
        return info

    def _describe(self, source: Path) -> RawInfo:
        if self.ffprobe is None:
            result = run_tool(
                [self.ffmpeg, "-hide_banner", "-nostdin", *input_args(source)],
                timeout_s=self.timeout_s,
                what="reading the file",
            )
            # Without an output ffmpeg always exits 1; the banner says whether the input opened.
            stderr = result.stderr.decode(errors="replace")
            _refuse_unopened(stderr)
            return parse_banner(stderr)
        result = run_tool(
            [
                self.ffprobe,
                "-hide_banner",
                "-v",
                "error",
                "-show_format",
                "-show_streams",
                "-of",
                "json",
                *input_args(source),
            ],
            timeout_s=self.timeout_s,
            what="reading the file",
        )
        _refuse_unopened(result.stderr.decode(errors="replace"))
        check_tool(result, what="reading the file")
        return _from_ffprobe(json.loads(result.stdout or b"{}"))

    def _decoded_seconds(self, source: Path, policy: UploadPolicy) -> float:
        """Seconds of audio the file decodes to; MediaRejected for damage before its last frame."""
        # -t bounds the work for over-long files.
        whole = self._decode(source, seconds=policy.max_duration_s + 1)
        if whole.clean:
            return whole.seconds
        # A decode that went to the end but logged errors: a cut end (an MP3 cut mid-frame
        # logs a bad backstep) if the audio up to just before that end decodes cleanly.
        before_end = whole.seconds - _CUT_END_S
        if whole.finished and before_end > 0 and self._decode(source, seconds=before_end).clean:
            return whole.seconds
        raise MediaRejected(f"the file is damaged: {stderr_tail(whole.stderr)}")

    def _decode(self, source: Path, *, seconds: float) -> _Decode:
        # -xerror stops at the first corrupt packet. Some damage is only logged (a FLAC frame
        # failing its CRC is skipped), so any error-level message counts as damage too.
        decode = open_input(source, t=f"{seconds:.3f}")["a:0"].output("-", f="null")
        result = run_tool(
            compile_command(
                self.ffmpeg,
                decode,
                *("-hide_banner", "-nostdin", "-nostats", "-v", "error", "-xerror", "-progress", "pipe:1"),
            ),
            timeout_s=self.timeout_s,
            what="decoding the file",
        )
        times = _OUT_TIME.findall(result.stdout)
        return _Decode(
            finished=result.returncode == 0,
            stderr=result.stderr,
            seconds=int(times[-1]) / 1e6 if times else 0.0,
        )


@attrs.frozen
class _Decode:
    """One decode of an upload: whether ffmpeg finished, what it logged, how much it decoded
    (only meaningful once finished: an aborted run may not report its last progress)."""

    finished: bool
    stderr: bytes
    seconds: float

    @property
    def clean(self) -> bool:
        return self.finished and not self.stderr.strip()


def _checked_size(path: Path, policy: UploadPolicy) -> Path:
    try:
        source = path.resolve(strict=True)
        info = source.stat()
    except OSError as exc:
        raise MediaRejected(f"the file cannot be read: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise MediaRejected("the upload is not a regular file")
    if info.st_size > policy.max_bytes:
        raise MediaTooLarge(
            f"the file is {info.st_size} bytes; the limit is {policy.max_bytes} bytes",
        )
    if info.st_size == 0:
        raise MediaRejected("the file is empty")
    return source


def _refuse_unopened(stderr: str) -> None:
    if "not on whitelist" in stderr:
        raise MediaRejected("the file's container is not an accepted audio format")
    if "Input #0" not in stderr and "Invalid data found" in stderr:
        raise MediaRejected("the file is not readable audio")


def _from_ffprobe(report: dict[str, Any]) -> RawInfo:
    fmt: dict[str, Any] = report.get("format", {})
    streams: list[dict[str, Any]] = report.get("streams", [])
    audio = next((s for s in streams if s.get("codec_type") == "audio"), {})
    duration = fmt.get("duration") or audio.get("duration")
    return RawInfo(
        format_name=fmt.get("format_name"),
        codec=audio.get("codec_name"),
        duration_s=float(duration) if duration not in {None, "N/A"} else None,
        sample_rate=int(audio["sample_rate"]) if audio.get("sample_rate") else None,
        channels=audio.get("channels"),
        bit_rate=int(fmt["bit_rate"]) if str(fmt.get("bit_rate", "")).isdigit() else None,
    )


def _validated(raw: RawInfo) -> AudioInfo:
    if raw.format_name is None:
        raise MediaRejected("the file is not readable audio")
    if not set(raw.format_name.split(",")) & ALLOWED_FORMATS:
        raise MediaRejected(f"the container {raw.format_name!r} is not accepted")
    if raw.codec is None or raw.sample_rate is None:
        raise MediaRejected("the file has no audio stream")
    if raw.codec not in ALLOWED_CODECS:
        raise MediaRejected(f"the audio codec {raw.codec!r} is not accepted")
    if raw.duration_s is None or raw.duration_s <= 0:
        raise MediaRejected("the file is damaged: its duration is unknown")
    return AudioInfo(
        format_name=raw.format_name,
        codec=raw.codec,
        duration_s=raw.duration_s,
        sample_rate=raw.sample_rate,
        channels=raw.channels or 0,
        bit_rate=raw.bit_rate,
    )


def _check_duration(duration_s: float, policy: UploadPolicy) -> None:
    if duration_s > policy.max_duration_s:
        raise MediaRejected(
            f"the audio lasts {duration_s:.1f} s; the limit is {policy.max_duration_s:g} s",
        )
    if duration_s < policy.min_duration_s:
        raise MediaRejected(
            f"the audio lasts {duration_s:.1f} s; the minimum is {policy.min_duration_s:g} s",
        )
