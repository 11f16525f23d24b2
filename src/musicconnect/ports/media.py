"""Ports for media: probing uploads, transcoding the ladder, storing bytes, signing delivery URLs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from musicconnect.domain.images import ImagePolicy, ProcessedImage
from musicconnect.domain.media import AudioInfo, Ladder, UploadPolicy


class MediaProbe(Protocol):
    def probe(self, path: Path, policy: UploadPolicy) -> AudioInfo:
        """Inspect an upload; raise MediaRejected (or MediaTooLarge) if it breaks the policy."""
        ...


class ImageProcessor(Protocol):
    def process(self, data: bytes, policy: ImagePolicy) -> ProcessedImage:
        """Decode an uploaded image and encode it again, scaled down to the policy's output size
        and without its metadata (EXIF, GPS, comments). MediaTooLarge for an upload over the
        policy's bytes, pixels or sides; MediaRejected for anything that is not a whole image."""
        ...


#: Receives the fraction done, 0.0 to 1.0.
ProgressCallback = Callable[[float], None]


class Transcoder(Protocol):
    def transcode(
        self,
        source: Path,
        out_dir: Path,
        ladder_kbps: Sequence[int],
        *,
        progress: ProgressCallback | None = None,
    ) -> Ladder:
        """Loudness-normalise and encode ``source`` into an HLS ladder written under ``out_dir``.

        Raises MediaRejected if the source cannot be decoded.
        """
        ...


class RecordingPacker(Protocol):
    def pack(self, parts: Sequence[Path], target: Path) -> None:
        """Join a live session's recorded parts (ADTS AAC, in order) into one M4A at ``target``."""
        ...


class LiveEncoding(Protocol):
    """One running live transcode."""

    def exit_code(self) -> int | None:
        """None while it runs."""
        ...

    def stop(self, timeout_s: float) -> int:
        """Ask it to finish what it wrote and stop; kill it after ``timeout_s``. Its exit code."""
        ...


class LiveTranscoder(Protocol):
    def start(self, source_url: str, out_dir: Path, ladder_kbps: Sequence[int], *, run: str) -> LiveEncoding:
        """Encode the push at ``source_url`` into a live HLS ladder under ``out_dir``: a folder per
        rung (``128k/index.m3u8`` and its files) and recording parts listed in ``recording.csv``."""
        ...


class MediaStorage(Protocol):
    """Bytes by key. A key is visible to readers only once completely written."""

    def put_file(self, key: str, source: Path, content_type: str) -> None: ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    def get_bytes(self, key: str) -> bytes:
        """Raise NotFound when the key does not exist."""
        ...

    def download(self, key: str, target: Path) -> None:
        """Copy the object to a local file; raise NotFound when the key does not exist."""
        ...

    def exists(self, key: str) -> bool: ...

    def list_keys(self, prefix: str) -> Iterator[str]: ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under ``prefix``; return how many were deleted."""
        ...


class UrlSigner(Protocol):
    """Turns a media path into a URL that grants one caller access until it expires."""

    def sign(self, path: str, *, subject: str, expires_at: datetime) -> str:
        """Return a URL (absolute or site-relative) for ``path`` granting access to ``subject``."""
        ...

    def verify(self, path: str, query: dict[str, str], *, now: datetime) -> str:
        """Check a signed request for ``path``; return its subject or raise SignatureInvalid."""
        ...
