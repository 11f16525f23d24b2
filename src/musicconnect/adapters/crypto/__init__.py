"""Password hashing: argon2id (argon2-cffi), and the scrypt format of earlier releases."""

from musicconnect.adapters.crypto.passwords import Argon2PasswordHasher, ScryptPasswordHasher

__all__ = ["Argon2PasswordHasher", "ScryptPasswordHasher"]
