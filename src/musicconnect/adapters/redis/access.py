"""The stream path's revocation check and cached standing, in one async round trip to Redis."""

from __future__ import annotations

from collections.abc import Sequence

from musicconnect.adapters.redis.cache import RedisCache, as_bytes
from musicconnect.adapters.redis.connection import AsyncRedisConnection
from musicconnect.adapters.redis.counters import RedisTokenDenylist


class RedisAccessReads:
    """``EXISTS`` on the revocation keys and ``MGET`` on the cache entries, pipelined and awaited.

    Reads the very keys RedisTokenDenylist and RedisCache write, so a revocation or an
    invalidation made through them is seen here at once. Redis being unreachable is
    ServiceUnavailable, as for the denylist: a revocation check fails closed.
    """

    def __init__(
        self, redis: AsyncRedisConnection, *, denylist: RedisTokenDenylist, cache: RedisCache
    ) -> None:
        self._redis = redis
        self._denylist = denylist
        self._cache = cache

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._redis!r})"

    async def read(
        self, token_ids: Sequence[str], cache_keys: Sequence[str]
    ) -> tuple[bool, tuple[bytes | None, ...]]:
        commands: list[tuple[str, ...]] = []
        if token_ids:
            commands.append(("EXISTS", *(self._denylist.key_of(t) for t in token_ids)))
        if cache_keys:
            commands.append(("MGET", *(self._cache.key_of(k) for k in cache_keys)))
        if not commands:
            return False, ()
        replies = await self._redis.pipeline(*commands, what="access reads")
        revoked = bool(token_ids) and int(replies[0]) > 0
        cached = tuple(as_bytes(value) for value in replies[-1]) if cache_keys else ()
        return revoked, cached
