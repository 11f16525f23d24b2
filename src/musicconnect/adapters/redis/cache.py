"""A cache on Redis that degrades to a miss, never to an error.

A cache only saves work: whatever it holds can be rebuilt from the database. So while Redis is
unreachable, ``get`` answers None (the caller reads the database), and ``set`` and ``delete`` log
and return. The price of a failed ``delete`` is an entry that outlives an invalidation, for at most
its time to live: keep the TTLs of entries derived from tiers and subscriptions short.

Only the first failure of an outage is logged as a warning, and the recovery once, so a dead Redis
under load does not bury the log; the failures in between go to debug.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final, TypeVar

import redis

from musicconnect.adapters.redis.connection import REDIS_FAILURES, RedisConnection, as_connection
from musicconnect.domain.errors import ServiceUnavailable

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_PREFIX: Final = "musicconnect:cache:"


class RedisCache:
    """Bytes by key (``{prefix}{key}``) with a time to live kept by Redis."""

    def __init__(self, redis_or_url: RedisConnection | str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = as_connection(redis_or_url)
        self._prefix = prefix
        self._lock = threading.Lock()
        self._failing = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._redis!r}, prefix={self._prefix!r})"

    def key_of(self, key: str) -> str:
        """The Redis key holding the entry ``key`` (read by RedisAccessReads too)."""
        return self._prefix + key

    def get(self, key: str) -> bytes | None:
        # Sent the lean way (see RedisConnection.command): a fan's standing is read on every
        # stream request, and redis-py's per-command wrapping was most of that read's cost.
        try:
            value = self._redis.command("GET", self.key_of(key), what="cache get")
        except ServiceUnavailable as error:
            self._failed("get", error)
            return None
        self._answered()
        return as_bytes(value)

    def set(self, key: str, value: bytes, *, ttl_s: int) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        full = self._prefix + key
        self._try(lambda client: client.set(full, bytes(value), ex=ttl_s), fallback=None, what="set")

    def delete(self, *keys: str) -> None:
        if not keys:
            return
        full = [self._prefix + key for key in keys]
        self._try(lambda client: client.delete(*full), fallback=None, what="delete")

    def _try(self, command: Callable[[redis.Redis], _T], *, fallback: _T, what: str) -> _T:
        try:
            result = command(self._redis.client())
        except REDIS_FAILURES as error:
            self._failed(what, error)
            return fallback
        self._answered()
        return result

    def _failed(self, what: str, error: Exception) -> None:
        with self._lock:
            first, self._failing = not self._failing, True
        _log.log(
            logging.WARNING if first else logging.DEBUG,
            "cache %s skipped, redis is unavailable (%s): reading through to the database",
            what,
            error,
        )

    def _answered(self) -> None:
        if self._failing:
            with self._lock:
                recovered, self._failing = self._failing, False
            if recovered:
                _log.info("cache is back: redis answers again")


def as_bytes(value: bytes | str | None) -> bytes | None:
    """A raw GET reply as bytes: replies are bytes; a str would only come from a decoding client."""
    return value.encode("utf-8") if isinstance(value, str) else value
