"""Job queues for tests that need one that cannot be reached."""

from __future__ import annotations

from musicconnect.domain.errors import ServiceUnavailable
from musicconnect.ports.services import Job


class QueueDown:
    """A job queue whose server is gone: every enqueue is ServiceUnavailable, as Redis's would be."""

    def enqueue(self, job: Job) -> None:
        raise ServiceUnavailable(f"job queue is unavailable (enqueue {job.key})")


class DeadWorker:
    """A job queue that takes jobs and never runs them: the worker was killed (or the process
    died before its thread pool got to them). Records what was queued."""

    def __init__(self) -> None:
        self.queued: list[Job] = []

    def enqueue(self, job: Job) -> None:
        self.queued.append(job)
