"""Images checked and re-encoded with Pillow."""

from musicconnect.adapters.pillow.images import PillowImageProcessor

__all__ = ["PillowImageProcessor"]
