"""Taking one attempt from each limit that guards an action, atomically across processes."""

from __future__ import annotations

import attrs

from musicconnect.domain.errors import QuotaExceeded
from musicconnect.domain.throttling import Action, Scope, ThrottlePolicy
from musicconnect.ports.services import Clock, QuotaCounter


def throttle(
    action: Action,
    *,
    account: str | None,
    address: str | None,
    policy: ThrottlePolicy,
    quota: QuotaCounter,
    clock: Clock,
) -> None:
    """Count one attempt at ``action`` for the account and the client address; QuotaExceeded
    (with the seconds to wait) when either has used up its window.

    An attempt refused by one limit still counts against the others taken before it: a refused
    attempt is still an attempt, and counting it keeps every limit exact under concurrency.
    """
    now = clock.now()
    for scope, who in ((Scope.ADDRESS, address), (Scope.ACCOUNT, account)):
        if not who:
            continue
        limit = policy.limit(action, scope)
        key = limit.key(action, scope, who, now)
        if not quota.acquire(key, limit=limit.limit, resets_at=limit.window_end(now)):
            raise QuotaExceeded(
                f"too many {action} attempts; try again later", retry_after_s=limit.retry_after_s(now)
            )


@attrs.frozen
class Throttling:
    """Rate limits, bound once to the policy and the shared counter."""

    policy: ThrottlePolicy
    quota: QuotaCounter
    clock: Clock

    def count(self, action: Action, *, account: str | None, address: str | None) -> None:
        """Count one attempt at ``action``; QuotaExceeded (429) once a limit is reached."""
        throttle(
            action, account=account, address=address, policy=self.policy, quota=self.quota, clock=self.clock
        )
