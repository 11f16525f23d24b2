"""Media on the local disk, delivered through HMAC-signed URLs served by the API itself."""

from musicconnect.adapters.filesystem.signing import HmacUrlSigner
from musicconnect.adapters.filesystem.storage import FilesystemMediaStorage

__all__ = ["FilesystemMediaStorage", "HmacUrlSigner"]
