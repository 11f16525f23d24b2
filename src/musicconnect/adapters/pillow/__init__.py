"""Images checked and re-encoded with Pillow."""

from musicconnect.adapters.pillow.demo import demo_picture
from musicconnect.adapters.pillow.images import PillowImageProcessor

__all__ = ["PillowImageProcessor", "demo_picture"]
