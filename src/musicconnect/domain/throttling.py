"""How often people may try things that attackers repeat: logins, registrations, resets, plays.

Each limit counts attempts in fixed windows aligned on the epoch (every process computes the same
window, and so the same counter key, from the clock alone) and is kept twice: per account, so a
botnet cannot guess one password from many addresses, and per client address, so one address
cannot spray guesses across many accounts.

Why not the ``limits`` package: a fixed window is one atomic "increment unless at the limit" on a
key that expires, which is exactly the ``QuotaCounter`` port that already keeps the monthly DM and
Q&A quotas exact on Redis (a Lua script) and on the embedded SQLite file. ``limits`` stores in
Redis, memory, MongoDB and memcached but not SQLite, so on the embedded default it would count in
one process only; taking it would mean two ways of counting, one of them not shared.
"""

from __future__ import annotations

import enum
import math
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from musicconnect.domain.clocks import require_aware

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: A play of the same track by the same fan counts once per this.
PLAY_REPEAT: Final = timedelta(seconds=30)


class Action(enum.StrEnum):
    LOGIN = "login"
    REGISTER = "register"
    RESET = "reset"
    PLAY = "play"


class Scope(enum.StrEnum):
    ACCOUNT = "account"
    ADDRESS = "address"


@attrs.frozen
class Limit:
    limit: int
    window: timedelta

    def __attrs_post_init__(self) -> None:
        if self.limit < 1 or self.window <= timedelta(0):
            raise ValueError("a limit needs at least one attempt in a positive window")

    def window_end(self, now: datetime) -> datetime:
        """The end of the window ``now`` falls in."""
        elapsed = require_aware(now) - _EPOCH
        return _EPOCH + (elapsed // self.window + 1) * self.window

    def key(self, action: Action, scope: Scope, who: str, now: datetime) -> str:
        end = int(self.window_end(now).timestamp())
        return f"throttle:{action}:{scope}:{who}:{end}"

    def retry_after_s(self, now: datetime) -> int:
        """Whole seconds until the window ``now`` falls in ends (at least 1)."""
        return max(1, math.ceil((self.window_end(now) - now).total_seconds()))


_MINUTE: Final = timedelta(minutes=1)
_QUARTER: Final = timedelta(minutes=15)
_HOUR: Final = timedelta(hours=1)


@attrs.frozen
class ThrottlePolicy:
    """The limits, by action and scope. ``scaled`` raises them all, for load tests."""

    limits: dict[tuple[Action, Scope], Limit] = attrs.field(
        factory=lambda: {
            (Action.LOGIN, Scope.ACCOUNT): Limit(10, _QUARTER),
            (Action.LOGIN, Scope.ADDRESS): Limit(100, _QUARTER),
            (Action.REGISTER, Scope.ACCOUNT): Limit(3, _HOUR),
            (Action.REGISTER, Scope.ADDRESS): Limit(50, _HOUR),
            (Action.RESET, Scope.ACCOUNT): Limit(3, _HOUR),
            (Action.RESET, Scope.ADDRESS): Limit(20, _HOUR),
            (Action.PLAY, Scope.ACCOUNT): Limit(120, _MINUTE),
            (Action.PLAY, Scope.ADDRESS): Limit(600, _MINUTE),
        }
    )

    def limit(self, action: Action, scope: Scope) -> Limit:
        return self.limits[action, scope]

    def scaled(self, factor: float) -> ThrottlePolicy:
        if factor <= 0:
            raise ValueError("the scale must be positive")
        return ThrottlePolicy(
            {
                where: attrs.evolve(limit, limit=max(1, round(limit.limit * factor)))
                for where, limit in self.limits.items()
            }
        )
