"""Job queues for tests that need one that cannot be reached."""

from __future__ import annotations

from musicconnect.domain.errors import ServiceUnavailable
from musicconnect.ports.services import Job


class QueueDown:
    """A job queue whose server is gone: every enqueue is ServiceUnavailable, as Redis's would be."""

    def enqueue(self, job: Job) -> None:
        raise ServiceUnavailable(f"job queue is unavailable (enqueue {job.key})")
