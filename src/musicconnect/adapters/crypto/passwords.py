"""Passwords hashed with argon2id (argon2-cffi); scrypt hashes of earlier releases still verify
and are upgraded at the next login."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Final

import argon2

_SCHEME: Final = "scrypt"
_FIELDS: Final = 6
_SALT_BYTES: Final = 16
_HASH_BYTES: Final = 32
_MAX_HASH_BYTES: Final = 64
#: Refuse stored parameters beyond these, so a tampered hash cannot make verify eat the machine.
_MAX_N: Final = 2**20
_MAX_R: Final = 32
_MAX_P: Final = 16


def _memory_needed(n: int, r: int, p: int) -> int:
    # scrypt uses 128*r*n bytes for V plus 128*r*p for B; leave headroom for OpenSSL's bookkeeping.
    return 128 * r * (n + p + 2) + 1024 * 1024


def _check_parameters(n: int, r: int, p: int) -> None:
    if not (1 < n <= _MAX_N and n & (n - 1) == 0):
        raise ValueError(f"scrypt n must be a power of two in (1, {_MAX_N}]")
    if not (1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
        raise ValueError(f"scrypt r must be in [1, {_MAX_R}] and p in [1, {_MAX_P}]")


def _derive(password: str, salt: bytes, *, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        _utf8(password),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=_memory_needed(n, r, p),
        dklen=length,
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


class ScryptPasswordHasher:
    """Encodes as ``scrypt$n$r$p$salt_b64$hash_b64``, so each hash carries its own parameters."""

    def __init__(self, *, n: int = 2**14, r: int = 8, p: int = 1) -> None:
        _check_parameters(n, r, p)
        self._n, self._r, self._p = n, r, p

    def hash(self, password: str) -> str:
        salt = secrets.token_bytes(_SALT_BYTES)
        digest = _derive(password, salt, n=self._n, r=self._r, p=self._p, length=_HASH_BYTES)
        return f"{_SCHEME}${self._n}${self._r}${self._p}${_b64(salt)}${_b64(digest)}"

    def needs_rehash(self, hashed: str) -> bool:
        return not hashed.startswith(f"{_SCHEME}${self._n}${self._r}${self._p}$")

    def verify(self, password: str, hashed: str) -> bool:
        """False for a wrong password and for anything that is not one of our hashes."""
        fields = hashed.split("$")
        if len(fields) != _FIELDS or fields[0] != _SCHEME:
            return False
        try:
            n, r, p = (int(field) for field in fields[1:4])
            _check_parameters(n, r, p)
            salt = base64.b64decode(fields[4], validate=True)
            expected = base64.b64decode(fields[5], validate=True)
        except (ValueError, binascii.Error):
            return False
        if not salt or not 0 < len(expected) <= _MAX_HASH_BYTES:
            return False
        actual = _derive(password, salt, n=n, r=r, p=p, length=len(expected))
        return hmac.compare_digest(actual, expected)


class Argon2PasswordHasher:
    """argon2id with argon2-cffi's RFC 9106 low-memory profile; reads the legacy scrypt format."""

    def __init__(self, *, time_cost: int = 3, memory_cost_kib: int = 64 * 1024, parallelism: int = 4) -> None:
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._legacy = ScryptPasswordHasher()

    def hash(self, password: str) -> str:
        return self._argon2.hash(_utf8(password))

    def verify(self, password: str, hashed: str) -> bool:
        if hashed.startswith(f"{_SCHEME}$"):
            return self._legacy.verify(password, hashed)
        try:
            return self._argon2.verify(hashed, _utf8(password))
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def needs_rehash(self, hashed: str) -> bool:
        if not hashed.startswith("$argon2id$"):
            return True
        try:
            return self._argon2.check_needs_rehash(hashed)
        except argon2.exceptions.InvalidHashError:
            return True


def _utf8(password: str) -> bytes:
    # surrogatepass: JSON can carry lone surrogates, and hashing them must not crash.
    return password.encode("utf-8", "surrogatepass")
