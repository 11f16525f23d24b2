"""When a sweep queues again the work left processing (a track's transcode, a backstage clip's),
and when it gives up: one backoff rule for every such sweep.

Work still processing ``REQUEUE_AFTER`` after it began has most likely lost its job: the queue
failed between the commit and the enqueue, or the job used up its attempts. It is queued again at
that wait, then at twice, four times, ... that wait, not on every sweep, so work that keeps failing
is tried a handful of times a day; at ``GIVE_UP_AFTER`` it is failed for good.
"""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import Final

#: The first wait at which processing work is queued again (then twice, four times, ... it).
REQUEUE_AFTER: Final = timedelta(minutes=10)
#: How often processes that run jobs sweep for such work.
SWEEP_EVERY: Final = timedelta(minutes=1)
#: Work still processing this long is failed for good rather than retried forever.
GIVE_UP_AFTER: Final = timedelta(hours=24)


def at_a_mark(waited: timedelta, *, first: timedelta, window: timedelta) -> bool:
    """Whether ``waited`` is within ``window`` after ``first``, ``2 * first``, ``4 * first``, ...

    A sweep counts a wait as at a mark for two of its intervals (``window``), so a late sweep
    does not miss one."""
    mark = first
    while mark <= waited:
        if waited < mark + window:
            return True
        mark *= 2
    return False


class Verdict(enum.Enum):
    """What a sweep does with one piece of work still processing."""

    WAIT = "wait"
    REQUEUE = "requeue"
    GIVE_UP = "give_up"


def verdict(
    waited: timedelta,
    *,
    every: timedelta = SWEEP_EVERY,
    requeue_after: timedelta = REQUEUE_AFTER,
    give_up_after: timedelta = GIVE_UP_AFTER,
) -> Verdict:
    """Give up at ``give_up_after``; before it, queue again at each mark of ``requeue_after``
    (counted for two sweep intervals); otherwise wait."""
    if waited >= give_up_after:
        return Verdict.GIVE_UP
    if at_a_mark(waited, first=requeue_after, window=2 * every):
        return Verdict.REQUEUE
    return Verdict.WAIT
