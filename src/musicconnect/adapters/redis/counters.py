"""Quotas, token revocation and unique-listener counts on Redis, shared by every API process.

Quotas and revocation fail closed: whenever Redis cannot answer, they raise ServiceUnavailable
rather than admit a message or accept a token they cannot check. Expiry is left to Redis (keys
carry their end as PEXPIREAT / PXAT), so nothing here needs a sweeper, and windows are measured on
the server's clock, in milliseconds.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Final

import redis

from musicconnect.adapters.redis.connection import LuaScript, RedisConnection, as_connection
from musicconnect.domain.clocks import require_aware
from musicconnect.domain.errors import InvalidInput

DEFAULT_PREFIX: Final = "musicconnect:"

#: Take one unit if fewer than ARGV[1] are taken. The window's end (ARGV[2], epoch ms) is set when
#: the key is made, so later calls with another ``resets_at`` never move it. GET then INCR is safe
#: because a script runs alone on the server: nothing else touches the key in between.
_ACQUIRE: Final = LuaScript(
    """
local current = redis.call('GET', KEYS[1])
if tonumber(current or '0') >= tonumber(ARGV[1]) then
    return 0
end
redis.call('INCR', KEYS[1])
if not current then
    redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 1
"""
)

#: Give one unit back, never below zero; DECR keeps the key's expiry.
_RELEASE: Final = LuaScript(
    """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
    return redis.call('DECR', KEYS[1])
end
return 0
"""
)


def _epoch_ms(moment: datetime) -> int:
    return int(require_aware(moment).timestamp() * 1000)


class RedisQuotaCounter:
    """A counter key per quota key (``{prefix}quota:{key}``) that expires at its window's end."""

    def __init__(self, redis_or_url: RedisConnection | str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = as_connection(redis_or_url)
        self._prefix = f"{prefix}quota:"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._redis!r}, prefix={self._prefix!r})"

    def acquire(self, key: str, *, limit: int, resets_at: datetime) -> bool:
        ends_ms = _epoch_ms(resets_at)
        if limit <= 0:
            return False
        # Sent again after a lost reply: run twice, it takes one unit too many (refuses, never admits).
        granted = self._redis.script(_ACQUIRE, [self._prefix + key], [limit, ends_ms], what="quota acquire")
        return int(granted) == 1

    def release(self, key: str) -> None:
        # Never sent twice: run twice, it would give back two units and admit one message too many.
        self._redis.script(_RELEASE, [self._prefix + key], [], what="quota release", resend=False)

    def used(self, key: str) -> int:
        value = self._redis.command("GET", self._prefix + key, what="quota read")
        return int(value) if value is not None else 0


class RedisTokenDenylist:
    """A key per revoked token id (``{prefix}revoked:{token_id}``) living until the token would
    have expired anyway, so the denylist never outgrows the tokens still in circulation.

    Run this Redis with persistence (AOF, or a managed Redis that keeps data across restarts): a
    Redis that restarts empty forgets revocations, and tokens revoked before it come back to life
    for what is left of their lifetime.
    """

    def __init__(self, redis_or_url: RedisConnection | str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = as_connection(redis_or_url)
        self._prefix = f"{prefix}revoked:"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._redis!r}, prefix={self._prefix!r})"

    def revoke(self, token_id: str, *, until: datetime) -> None:
        until_ms = _epoch_ms(until)
        key = self._prefix + token_id

        def record(client: redis.Redis) -> None:
            # Revoking twice keeps the later end: NX makes the key, GT (Redis 7) only lengthens it.
            with client.pipeline(transaction=True) as pipe:
                pipe.set(key, b"1", nx=True, pxat=until_ms)
                pipe.pexpireat(key, until_ms, gt=True)
                pipe.execute()

        self._redis.run(record, what="token revoke")

    def spend(self, token_id: str, *, until: datetime) -> bool:
        until_ms = _epoch_ms(until)
        if until_ms <= _epoch_ms(datetime.now(UTC)):
            return False
        # SET NX GET answers nil to the one call that made the key and the value to every other.
        # The value is this call's own, so a resend after a lost reply still knows it won.
        mine = secrets.token_hex(16)
        found = self._redis.command(
            "SET", self._prefix + token_id, mine, "NX", "GET", "PXAT", until_ms, what="token spend"
        )
        return found is None or found == mine.encode("ascii")

    def key_of(self, token_id: str) -> str:
        """The Redis key marking ``token_id`` revoked (read by RedisAccessReads too)."""
        return self._prefix + token_id

    def is_revoked(self, *token_ids: str) -> bool:
        if not token_ids:
            return False
        keys = [self.key_of(token_id) for token_id in token_ids]
        found = self._redis.command("EXISTS", *keys, what="token check")
        return int(found) > 0


class RedisOneTimeTokens:
    """A key per digest (``{prefix}once:{digest}``) expiring with the token; GETDEL takes it."""

    def __init__(self, redis_or_url: RedisConnection | str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = as_connection(redis_or_url)
        self._prefix = f"{prefix}once:"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._redis!r}, prefix={self._prefix!r})"

    def put(self, digest: str, value: str, *, until: datetime) -> None:
        until_ms = _epoch_ms(until)
        if until_ms <= _epoch_ms(datetime.now(UTC)):
            return
        self._redis.command("SET", self._prefix + digest, value, "PXAT", until_ms, what="one-time token put")

    def take(self, digest: str) -> str | None:
        # Never resent: a resend after a lost reply would find the key gone and lose the value.
        found = self._redis.command("GETDEL", self._prefix + digest, what="one-time token take", resend=False)
        return None if found is None else bytes(found).decode("utf-8")


class RedisUniqueListeners:
    """Distinct listeners per artist and UTC day in HyperLogLogs (``{prefix}listeners:{artist}:{day}``).

    Each day costs at most 12 KB per artist however many listen, and a count over a window is the
    size of the union of its days (PFCOUNT over several keys), within about 1 % (Redis's standard
    error is 0.81 %). Day keys expire ``retention_days`` after their day. Failures raise
    ServiceUnavailable; a caller on the play path may choose to log and carry on.
    """

    def __init__(
        self,
        redis_or_url: RedisConnection | str,
        *,
        prefix: str = DEFAULT_PREFIX,
        retention_days: int = 400,
    ) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        self._redis = as_connection(redis_or_url)
        self._prefix = f"{prefix}listeners:"
        self._retention = timedelta(days=retention_days)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._redis!r}, prefix={self._prefix!r})"

    def _key(self, artist_id: str, day: date) -> str:
        return f"{self._prefix}{artist_id}:{day.isoformat()}"

    def add(self, artist_id: str, listener_id: str, *, day: date) -> None:
        """Count ``listener_id`` as having listened to ``artist_id`` on ``day`` (UTC)."""
        key = self._key(artist_id, day)
        lapses = datetime(day.year, day.month, day.day, tzinfo=UTC) + self._retention

        def record(client: redis.Redis) -> None:
            with client.pipeline(transaction=False) as pipe:
                pipe.pfadd(key, listener_id)
                pipe.expireat(key, lapses)
                pipe.execute()

        self._redis.run(record, what="unique listeners add")

    def count(self, artist_id: str, *, first_day: date, last_day: date) -> int:
        """Distinct listeners of ``artist_id`` over ``first_day``..``last_day``, both included."""
        if last_day < first_day:
            raise InvalidInput("last_day is before first_day")
        days = (last_day - first_day).days + 1
        keys = [self._key(artist_id, first_day + timedelta(days=n)) for n in range(days)]
        found = self._redis.run(lambda client: client.pfcount(*keys), what="unique listeners count")
        return int(found)
