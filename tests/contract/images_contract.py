"""The contract of ``ImageProcessor``: real images re-encoded and bounded, hostile ones refused."""

from __future__ import annotations

import io
import time

import pytest
from PIL import ExifTags, Image

from musicconnect.domain.errors import MediaRejected, MediaTooLarge
from musicconnect.domain.images import ImagePolicy
from musicconnect.ports.media import ImageProcessor
from tests.support import images

POLICY = ImagePolicy()


class ImageProcessorContract:
    def make_processor(self) -> ImageProcessor:
        raise NotImplementedError

    def test_a_large_photo_is_scaled_to_the_output_side_as_jpeg(self) -> None:
        """4000 x 3000 becomes 2048 x 1536, a JPEG that decodes, under the output size."""
        done = self.make_processor().process(images.photo(4000, 3000), POLICY)
        assert (done.width, done.height) == (2048, 1536)
        assert done.content_type == "image/jpeg"
        assert len(done.data) <= POLICY.max_output_bytes
        with Image.open(io.BytesIO(done.data)) as decoded:
            assert decoded.format == "JPEG"
            assert decoded.size == (2048, 1536)

    def test_gps_and_every_other_exif_field_are_gone(self) -> None:
        """The GPS position, camera model and comment of the upload are nowhere in what is kept."""
        upload = images.photo_with_gps()
        with Image.open(io.BytesIO(upload)) as original:
            assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the fixture does carry GPS
        done = self.make_processor().process(upload, POLICY)
        with Image.open(io.BytesIO(done.data)) as decoded:
            assert not decoded.getexif().get_ifd(ExifTags.IFD.GPSInfo)
            assert len(decoded.getexif()) == 0
            assert "comment" not in decoded.info
        assert b"Exif" not in done.data
        assert b"Pixel 9 Pro" not in done.data
        assert b"shot at home" not in done.data

    def test_cmyk_becomes_rgb_and_transparency_is_kept_as_png(self) -> None:
        processor = self.make_processor()
        cmyk = processor.process(images.photo(300, 200, mode="CMYK"), POLICY)
        with Image.open(io.BytesIO(cmyk.data)) as decoded:
            assert decoded.mode == "RGB"
        alpha = processor.process(images.photo(300, 200, image_format="PNG", mode="RGBA"), POLICY)
        assert alpha.content_type == "image/png"
        with Image.open(io.BytesIO(alpha.data)) as decoded:
            assert decoded.mode == "RGBA"

    def test_an_animation_is_kept_as_its_first_frame(self) -> None:
        """A 120-frame GIF: only the first frame is decoded, and a still image is kept."""
        started = time.perf_counter()
        done = self.make_processor().process(images.animated_gif(120), POLICY)
        assert time.perf_counter() - started < 5
        with Image.open(io.BytesIO(done.data)) as decoded:
            assert getattr(decoded, "n_frames", 1) == 1
            assert decoded.size == (96, 96)

    def test_a_decompression_bomb_is_refused_before_decoding(self) -> None:
        """20000 x 20000 pixels of one colour in a small PNG: MediaTooLarge, fast."""
        bomb = images.png_bomb()
        assert len(bomb) < 200_000
        started = time.perf_counter()
        with pytest.raises(MediaTooLarge):
            self.make_processor().process(bomb, POLICY)
        assert time.perf_counter() - started < 2

    def test_huge_dimensions_are_refused(self) -> None:
        with pytest.raises(MediaTooLarge):
            self.make_processor().process(images.huge_dimensions(), POLICY)

    def test_an_upload_over_the_byte_limit_is_refused_unread(self) -> None:
        with pytest.raises(MediaTooLarge):
            self.make_processor().process(images.photo(400, 300), ImagePolicy(max_bytes=1000))

    @pytest.mark.parametrize(
        "upload",
        [images.truncated_jpeg(), images.text_named_png(), b"", b"GIF89a", b"\x89PNG\r\n\x1a\n" + b"\0" * 64],
        ids=["truncated jpeg", "text named png", "empty", "bare gif magic", "png magic then zeros"],
    )
    def test_what_is_not_a_whole_image_is_rejected(self, upload: bytes) -> None:
        with pytest.raises(MediaRejected) as refused:
            self.make_processor().process(upload, POLICY)
        assert not isinstance(refused.value, MediaTooLarge)
