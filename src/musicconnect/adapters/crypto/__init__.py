"""Password hashing with the standard library's scrypt."""

from musicconnect.adapters.crypto.passwords import ScryptPasswordHasher

__all__ = ["ScryptPasswordHasher"]
