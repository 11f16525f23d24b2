"""What every JobQueue adapter must do: run jobs, once per key at a time, retrying failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from musicconnect.ports.services import Job, JobHandler, JobQueue


class Recorder:
    """Handlers for the contract's jobs, recording what they were called with."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failures_left: dict[str, int] = {}

    def count(self, name: str) -> int:
        with self._lock:
            return sum(1 for called, _ in self.calls if called == name)

    def handler(self, name: str) -> JobHandler:
        def handle(payload: Mapping[str, Any]) -> None:
            with self._lock:
                self.calls.append((name, dict(payload)))
                left = self.failures_left.get(name, 0)
                if left:
                    self.failures_left[name] = left - 1
            if left:
                raise RuntimeError(f"{name} fails on purpose ({left} failures left)")

        return handle


class JobQueueContract:
    """Subclass as ``Test<Adapter>``; ``max_attempts`` must match what ``make_queue`` configures."""

    max_attempts = 3

    def make_queue(self, handlers: Mapping[str, JobHandler]) -> JobQueue:
        raise NotImplementedError

    def drain(self, queue: JobQueue) -> None:
        """Return once every enqueued job has finished (succeeded or been given up)."""
        raise NotImplementedError

    def dispose(self, queue: JobQueue) -> None:
        """Release the queue's workers after a test."""

    @pytest.fixture
    def recorder(self) -> Recorder:
        return Recorder()

    @pytest.fixture
    def queue(self, recorder: Recorder) -> Iterator[JobQueue]:
        handlers: dict[str, JobHandler] = {
            name: recorder.handler(name) for name in ("ingest", "notify", "broken")
        }

        def reenqueue(payload: Mapping[str, Any]) -> None:
            recorder.handler("reentrant")(payload)
            # The same key again while this job runs: one job, so no second run.
            made.enqueue(Job(name="reentrant", payload=payload, key="reentrant:1"))

        handlers["reentrant"] = reenqueue
        made = self.make_queue(handlers)
        yield made
        self.dispose(made)

    def test_an_enqueued_job_runs_with_its_payload(self, queue: JobQueue, recorder: Recorder) -> None:
        """The registered handler receives the job's payload."""
        queue.enqueue(Job(name="ingest", payload={"track_id": "t1", "n": 3}, key="ingest:t1"))
        self.drain(queue)
        assert recorder.calls == [("ingest", {"track_id": "t1", "n": 3})]

    def test_jobs_with_different_keys_all_run(self, queue: JobQueue, recorder: Recorder) -> None:
        """Distinct keys are distinct jobs, even with the same name and payload."""
        for number in range(5):
            queue.enqueue(Job(name="notify", payload={}, key=f"notify:{number}"))
        self.drain(queue)
        assert recorder.count("notify") == 5

    def test_the_same_key_while_running_is_one_job(self, queue: JobQueue, recorder: Recorder) -> None:
        """A job enqueued again under its key while it runs does not run twice; once it is done
        the key is free again."""
        queue.enqueue(Job(name="reentrant", payload={"round": 1}, key="reentrant:1"))
        self.drain(queue)
        assert recorder.count("reentrant") == 1
        queue.enqueue(Job(name="reentrant", payload={"round": 2}, key="reentrant:1"))
        self.drain(queue)
        assert recorder.count("reentrant") == 2

    def test_a_failing_job_is_retried_until_it_succeeds(self, queue: JobQueue, recorder: Recorder) -> None:
        """A handler that fails once runs again with the same payload and succeeds."""
        recorder.failures_left["ingest"] = 1
        queue.enqueue(Job(name="ingest", payload={"track_id": "t1"}, key="ingest:t1"))
        self.drain(queue)
        assert recorder.calls == [("ingest", {"track_id": "t1"}), ("ingest", {"track_id": "t1"})]

    def test_a_job_that_keeps_failing_is_dropped_after_max_attempts(
        self, queue: JobQueue, recorder: Recorder
    ) -> None:
        """A handler that always fails runs max_attempts times; the queue keeps working after."""
        recorder.failures_left["broken"] = 1_000
        queue.enqueue(Job(name="broken", payload={}, key="broken:1"))
        self.drain(queue)
        assert recorder.count("broken") == self.max_attempts
        queue.enqueue(Job(name="notify", payload={}, key="notify:after"))
        self.drain(queue)
        assert recorder.count("notify") == 1
