"""``ImageProcessor`` on Pillow: decode within limits, keep the first frame, encode again.

Only the header is read before the limits are checked, so a decompression bomb (a tiny PNG that
declares 20000 x 20000 pixels) is refused before a byte of pixels is allocated. Pillow's own
``MAX_IMAGE_PIXELS`` guard is process-wide; ours is the policy's and checked explicitly, with
Pillow's error as a second line. Re-encoding from decoded pixels is what strips the metadata:
nothing of the upload's EXIF (GPS position, camera serial), XMP or comments is written back.
"""

from __future__ import annotations

import io
import warnings
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

from musicconnect.domain.errors import MediaRejected, MediaTooLarge
from musicconnect.domain.images import ImagePolicy, ProcessedImage

#: What we decode: common photo and graphics formats, nothing exotic a decoder bug may hide in.
ACCEPTED_FORMATS: Final = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
_JPEG_QUALITY: Final = 85


class PillowImageProcessor:
    """Images in JPEG, PNG, WebP or GIF in; JPEG (opaque) or PNG/WebP (with transparency) out."""

    def process(self, data: bytes, policy: ImagePolicy) -> ProcessedImage:
        if len(data) > policy.max_bytes:
            raise MediaTooLarge(f"the image is larger than {policy.max_bytes} bytes")
        with warnings.catch_warnings():
            # Pillow warns (and past twice its limit raises) on huge images; ours is the policy's.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                with Image.open(io.BytesIO(data), formats=sorted(ACCEPTED_FORMATS)) as opened:
                    _check_size(opened.size, policy)
                    picture = _first_frame(opened)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise MediaTooLarge("the image decodes to too many pixels") from None
            except UnidentifiedImageError:
                raise MediaRejected("not an image in JPEG, PNG, WebP or GIF") from None
            except (OSError, SyntaxError, ValueError, EOFError) as error:
                # Truncated or corrupt data: Pillow reports it while decoding the pixels.
                raise MediaRejected(f"the image is damaged: {error}") from None
        return _encode(picture, policy)


def _check_size(size: tuple[int, int], policy: ImagePolicy) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise MediaRejected("the image has no pixels")
    if max(width, height) > policy.max_side or width * height > policy.max_pixels:
        raise MediaTooLarge(
            f"the image is {width} x {height}; at most {policy.max_side} pixels a side and "
            f"{policy.max_pixels} in all"
        )


def _first_frame(opened: Image.Image) -> Image.Image:
    """The first frame of an animation (a still is what a post shows), upright, decoded now."""
    opened.seek(0)
    opened.load()
    # A phone photo's orientation lives in its EXIF, which is about to go: apply it to the pixels.
    upright = ImageOps.exif_transpose(opened)
    if upright.mode in {"RGBA", "LA", "PA"} or (upright.mode == "P" and "transparency" in upright.info):
        return upright.convert("RGBA")
    # CMYK, 16-bit, palette and greyscale images all become plain 8-bit RGB.
    return upright.convert("RGB")


def _encode(picture: Image.Image, policy: ImagePolicy) -> ProcessedImage:
    # Pillow's savers fall back on ``info`` (a JPEG comment, an ICC profile, EXIF bytes) when no
    # option says otherwise, and ``convert`` copies it from the upload: drop every bit of it.
    picture.info.clear()
    picture.thumbnail((policy.output_side, policy.output_side), Image.Resampling.LANCZOS)
    if picture.mode == "RGBA":
        encoded, content_type = _save(picture, "PNG", optimize=True), "image/png"
        if len(encoded) > policy.max_output_bytes:  # noisy transparent art: lossy, alpha kept
            encoded, content_type = _save(picture, "WEBP", quality=_JPEG_QUALITY), "image/webp"
    else:
        encoded, content_type = _save(picture, "JPEG", quality=_JPEG_QUALITY, optimize=True), "image/jpeg"
    if len(encoded) > policy.max_output_bytes:
        raise MediaTooLarge("the image stays too large after re-encoding")
    return ProcessedImage(encoded, content_type, picture.width, picture.height)


def _save(picture: Image.Image, image_format: str, **options: object) -> bytes:
    out = io.BytesIO()
    # No exif=, icc_profile=, comment= or pnginfo=, and ``info`` is empty: no metadata is written.
    picture.save(out, format=image_format, **options)
    return out.getvalue()
