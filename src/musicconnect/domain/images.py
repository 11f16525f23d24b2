"""Images people upload (backstage posts, profile pictures): the limits they must respect and
what the platform keeps of them, re-encoded."""

from __future__ import annotations

from typing import Final

import attrs

#: What the platform stores, by content type: the file name's extension.
EXTENSIONS: Final[dict[str, str]] = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


@attrs.frozen
class ImagePolicy:
    """Limits an image must respect before anything is decoded or stored."""

    #: The upload's size.
    max_bytes: int = 15 * 1024 * 1024
    #: Pixels the decoder may allocate: what stops a tiny file that decodes to gigabytes.
    max_pixels: int = 40_000_000
    #: The longest side an upload may have at all.
    max_side: int = 12_000
    #: The longest side of what is kept: larger images are scaled down.
    output_side: int = 2048
    #: What the kept file may weigh.
    max_output_bytes: int = 4 * 1024 * 1024


@attrs.frozen
class ProcessedImage:
    """An image decoded, stripped of its metadata and encoded again."""

    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")
    content_type: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]
