"""Music Connect: an artist-to-fan music platform, as a library.

The public surface is what this module exports, plus ``musicconnect.testing`` (the platform in
memory) and the ``musicconnect.ports`` protocols for writing one's own adapters. Every other
module is internal: importable, but free to change between releases.

    >>> import musicconnect
    >>> from musicconnect.testing import in_memory
    >>> with in_memory() as platform:
    ...     account = platform.accounts.register(
    ...         musicconnect.Register("nova@example.com", "correct horse battery", "artist", "Nova")
    ...     )
    ...     platform.artists.view(account.id).display_name
    'Nova'
"""

from importlib.metadata import PackageNotFoundError, version

from musicconnect.domain.accounts import Account, Artist, Caller, Role
from musicconnect.domain.errors import DomainError
from musicconnect.domain.money import Money
from musicconnect.domain.tiers import Tier
from musicconnect.platform import Platform
from musicconnect.settings import Settings
from musicconnect.usecases.accounts import Register
from musicconnect.usecases.profile import ChangeAccount
from musicconnect.usecases.tracks import IngestTrack

try:
    __version__ = version("musicconnect")
except PackageNotFoundError:  # pragma: no cover - a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "Account",
    "Artist",
    "Caller",
    "ChangeAccount",
    "DomainError",
    "IngestTrack",
    "Money",
    "Platform",
    "Register",
    "Role",
    "Settings",
    "Tier",
    "__version__",
]
