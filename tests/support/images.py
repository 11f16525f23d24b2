"""Images people really upload, and hostile ones, generated with Pillow and the standard library."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image

#: Where the GPS-tagged photo claims it was taken (degrees, minutes, seconds): the Eiffel Tower.
GPS_LATITUDE = (48.0, 51.0, 29.0)


def photo(width: int = 1200, height: int = 900, *, image_format: str = "JPEG", mode: str = "RGB") -> bytes:
    """A gradient photo-like image in ``mode`` (RGB, CMYK, RGBA, ...), encoded as ``image_format``."""
    gradient = Image.linear_gradient("L").resize((width, height))
    picture = Image.merge(
        "RGB", (gradient, gradient.rotate(90), gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    )
    out = io.BytesIO()
    picture.convert(mode).save(out, format=image_format)
    return out.getvalue()


def photo_with_gps() -> bytes:
    """A JPEG whose EXIF holds a GPS position, a camera model and a comment."""
    picture = Image.open(io.BytesIO(photo(800, 600)))
    exif = picture.getexif()
    exif[ExifTags.Base.Model] = "Pixel 9 Pro"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = GPS_LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.0)
    out = io.BytesIO()
    picture.save(out, format="JPEG", exif=exif, comment=b"shot at home")
    return out.getvalue()


def truncated_jpeg() -> bytes:
    """The first 60 % of a JPEG, as an upload cut off mid-way."""
    whole = photo(1600, 1200)
    return whole[: len(whole) * 6 // 10]


def png_bomb(side: int = 20000) -> bytes:
    """A valid 1-bit PNG of ``side`` x ``side`` pixels of one colour: tens of kilobytes on disk,
    hundreds of megabytes once decoded."""
    row = b"\x00" + bytes((side + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def text_named_png() -> bytes:
    """A text file someone renamed to ``.png``."""
    return b"These are my lyrics, not a picture.\n" * 20


def animated_gif(frames: int = 120) -> bytes:
    """A GIF of ``frames`` frames, each a different colour."""
    pictures = [Image.new("P", (96, 96), color=n % 256) for n in range(frames)]
    out = io.BytesIO()
    pictures[0].save(out, format="GIF", save_all=True, append_images=pictures[1:], duration=40, loop=0)
    return out.getvalue()


def huge_dimensions(width: int = 30000, height: int = 8) -> bytes:
    """A PNG far wider than any screen (few pixels in all, so the pixel budget alone misses it)."""
    out = io.BytesIO()
    Image.new("L", (width, height), 128).save(out, format="PNG")
    return out.getvalue()
