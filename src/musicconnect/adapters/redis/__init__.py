"""Redis adapters (redis-py): quotas, token revocation, cache, the stream path's reads, unique
listeners, and jobs on saq."""

from musicconnect.adapters.redis.access import RedisAccessReads
from musicconnect.adapters.redis.cache import RedisCache
from musicconnect.adapters.redis.connection import AsyncRedisConnection, RedisConnection
from musicconnect.adapters.redis.counters import (
    RedisOneTimeTokens,
    RedisQuotaCounter,
    RedisTokenDenylist,
    RedisUniqueListeners,
)
from musicconnect.adapters.redis.jobs import DEFAULT_QUEUE, SaqJobQueue, run_worker

__all__ = [
    "DEFAULT_QUEUE",
    "AsyncRedisConnection",
    "RedisAccessReads",
    "RedisCache",
    "RedisConnection",
    "RedisOneTimeTokens",
    "RedisQuotaCounter",
    "RedisTokenDenylist",
    "RedisUniqueListeners",
    "SaqJobQueue",
    "run_worker",
]
