"""The Pillow image processor against the ImageProcessor contract (it is pure: no server, no fake)."""

from __future__ import annotations

from musicconnect.adapters.pillow import PillowImageProcessor
from musicconnect.ports.media import ImageProcessor
from tests.contract.images_contract import ImageProcessorContract


class TestPillowImageProcessor(ImageProcessorContract):
    def make_processor(self) -> ImageProcessor:
        return PillowImageProcessor()
