"""Audio, the HLS ladder and the upload policy: value objects shared by probe, transcoder and storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import attrs

from musicconnect.domain.errors import InvalidInput

#: The HLS ladder every track is encoded into, in kbps, lowest first.
LADDER_KBPS: Final[tuple[int, ...]] = (128, 256, 320)
#: A rung must carry this much more than the published rung below it to be worth a switch:
#: on band-limited material the encoder cannot spend the upper budgets and a "320k" rung comes
#: out at the 256k rung's rate (e.g. 234 against 235 kbps), which would sell the same sound twice.
MIN_RUNG_STEP: Final = 1.05
#: A variant playlist's name inside its rung folder.
VARIANT_PLAYLIST: Final = "index.m3u8"

#: Containers ffprobe may report for an upload (its ``format_name`` is comma-separated aliases).
ALLOWED_FORMATS: Final[frozenset[str]] = frozenset(
    {
        "wav",
        "mp3",
        "flac",
        "ogg",
        "aiff",
        "mov",
        "mp4",
        "m4a",
        "3gp",
        "3g2",
        "mj2",
        "matroska",
        "webm",
    },
)

#: Audio codecs we accept inside those containers.
ALLOWED_CODECS: Final[frozenset[str]] = frozenset(
    {
        "pcm_s16le",
        "pcm_s24le",
        "pcm_s32le",
        "pcm_f32le",
        "pcm_s16be",
        "pcm_s24be",
        "pcm_u8",
        "mp3",
        "flac",
        "vorbis",
        "opus",
        "aac",
        "alac",
    },
)


@attrs.frozen
class UploadPolicy:
    """Limits an upload must respect before anything is stored."""

    max_bytes: int = 200 * 1024 * 1024
    max_duration_s: float = 20 * 60.0
    min_duration_s: float = 1.0


@attrs.frozen
class AudioInfo:
    """What a probe learned about an upload."""

    format_name: str
    codec: str
    duration_s: float
    sample_rate: int
    channels: int
    bit_rate: int | None = None


@attrs.frozen
class RungRate:
    """A published rung's bitrate as measured on its segments, next to its nominal rate.

    ``peak_kbps`` is the highest rate of any segment (a short tail counted with the segment
    before it); a master playlist declares it as ``BANDWIDTH`` so players' ABR is right.
    """

    kbps: int
    average_kbps: float
    peak_kbps: float


@attrs.frozen
class RungResult:
    """One encoded rung: its nominal and measured bitrate, and its variant playlist's name."""

    kbps: int
    measured_kbps: float
    playlist: str
    peak_kbps: float | None = None

    @property
    def rate(self) -> RungRate:
        return RungRate(
            kbps=self.kbps,
            average_kbps=self.measured_kbps,
            peak_kbps=self.measured_kbps if self.peak_kbps is None else self.peak_kbps,
        )


@attrs.frozen
class Ladder:
    """The output of one transcode: every file written, relative to the output folder.

    ``files`` lists segments and init files first, then variant playlists, then the master,
    the order they must be published in so no reader sees a playlist before its segments.
    """

    duration_s: float
    rungs: tuple[RungResult, ...]
    files: tuple[str, ...]
    master: str
    peaks: tuple[float, ...] = ()

    @property
    def rungs_kbps(self) -> tuple[int, ...]:
        return tuple(r.kbps for r in self.rungs)

    @property
    def rates(self) -> tuple[RungRate, ...]:
        return tuple(r.rate for r in self.rungs)


def rising_rungs(rates: Sequence[RungRate]) -> tuple[RungRate, ...]:
    """The rungs worth publishing: the lowest, then each that beats the last one kept.

    A rung that does not rise by ``MIN_RUNG_STEP`` over the rung below it is dropped, never the
    track: a fan whose cap is above it gets the best rung at or below their cap instead.
    """
    kept: list[RungRate] = []
    for rate in sorted(rates, key=lambda r: r.kbps):
        if not kept or rate.average_kbps >= kept[-1].average_kbps * MIN_RUNG_STEP:
            kept.append(rate)
    return tuple(kept)


def rung_folder(kbps: int) -> str:
    """The folder a rung's playlist and segments live in, e.g. ``128k``."""
    return f"{kbps}k"


def content_type_for(filename: str) -> str:
    """The MIME type a media file is served with."""
    if filename.endswith(".m3u8"):
        return "application/vnd.apple.mpegurl"
    if filename.endswith((".m4s", ".mp4")):
        return "audio/mp4"
    if filename.endswith(".json"):
        return "application/json"
    return "application/octet-stream"


#: S3's limit on a key, so a key accepted by one storage adapter is accepted by all of them.
MAX_MEDIA_KEY_BYTES: Final = 1024
#: Half-written files of the filesystem storage carry this prefix; no key may use it anywhere.
RESERVED_KEY_PREFIX: Final = ".mc-partial-"


def check_media_key(key: str, *, what: str = "key") -> str:
    """Return ``key`` if every storage adapter can hold it safely; raise InvalidInput otherwise.

    A key is a relative, slash-separated path: no empty, ``.`` or ``..`` segment, no leading
    slash, backslash or NUL, at most 1024 bytes of UTF-8, and no reserved segment.
    """
    if "\\" in key or "\x00" in key:
        raise InvalidInput(f"{what} may not contain backslashes or NUL: {key!r}")
    if key.startswith("/"):
        raise InvalidInput(f"{what} must be relative: {key!r}")
    if len(key.encode()) > MAX_MEDIA_KEY_BYTES:
        raise InvalidInput(f"{what} is longer than {MAX_MEDIA_KEY_BYTES} bytes")
    for part in key.split("/"):
        if part in {"", ".", ".."} or part.startswith(RESERVED_KEY_PREFIX):
            raise InvalidInput(f"{what} has an empty, relative or reserved segment: {key!r}")
    return key
