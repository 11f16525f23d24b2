"""Redis adapters (redis-py): quotas, token revocation, cache, unique listeners, and jobs on saq."""

from musicconnect.adapters.redis.cache import RedisCache
from musicconnect.adapters.redis.connection import RedisConnection
from musicconnect.adapters.redis.counters import (
    RedisOneTimeTokens,
    RedisQuotaCounter,
    RedisTokenDenylist,
    RedisUniqueListeners,
)
from musicconnect.adapters.redis.jobs import DEFAULT_QUEUE, SaqJobQueue, run_worker

__all__ = [
    "DEFAULT_QUEUE",
    "RedisCache",
    "RedisConnection",
    "RedisOneTimeTokens",
    "RedisQuotaCounter",
    "RedisTokenDenylist",
    "RedisUniqueListeners",
    "SaqJobQueue",
    "run_worker",
]
