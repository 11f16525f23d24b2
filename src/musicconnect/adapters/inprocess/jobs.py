"""In-process job queues: deduplicated by key, retried a few times, then logged and dropped."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Final, Self

from musicconnect.ports.services import Job, JobHandler

_log = logging.getLogger(__name__)
DEFAULT_BACKOFF_S: Final = 0.2


def _handler_for(handlers: Mapping[str, JobHandler], job: Job) -> JobHandler:
    try:
        return handlers[job.name]
    except KeyError:
        # A typo in a job name should fail where it is made, not in a worker log.
        raise ValueError(f"no handler registered for job {job.name!r}") from None


def _run_with_retries(job: Job, handler: JobHandler, *, max_attempts: int, backoff_s: float) -> bool:
    """Run ``handler`` until it succeeds or has failed ``max_attempts`` times; True on success."""
    for attempt in range(1, max_attempts + 1):
        try:
            handler(job.payload)
        except Exception:  # noqa: BLE001 - any handler failure is retried, then logged
            if attempt == max_attempts:
                _log.exception("job %s (key %s) failed %d times; dropping it", job.name, job.key, attempt)
                return False
            _log.warning("job %s (key %s) failed on attempt %d; retrying", job.name, job.key, attempt)
            if backoff_s:
                time.sleep(backoff_s * 2 ** (attempt - 1))
        else:
            return True
    return False


def _check_attempts(max_attempts: int) -> None:
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")


class ThreadJobQueue:
    """Handlers run on a few worker threads. A job whose key is already queued or running is
    dropped, so enqueueing the same work twice does it once."""

    def __init__(
        self,
        handlers: Mapping[str, JobHandler],
        workers: int = 2,
        max_attempts: int = 3,
        *,
        retry_backoff_s: float = DEFAULT_BACKOFF_S,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        _check_attempts(max_attempts)
        self._handlers = dict(handlers)
        self._max_attempts = max_attempts
        self._backoff_s = retry_backoff_s
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="musicconnect-job")
        self._state = threading.Condition()
        self._active_keys: set[str] = set()
        self._closed = False

    def enqueue(self, job: Job) -> None:
        handler = _handler_for(self._handlers, job)
        with self._state:
            if self._closed:
                raise RuntimeError("the job queue is closed")
            if job.key in self._active_keys:
                return
            self._active_keys.add(job.key)
        try:
            future = self._executor.submit(self._run, job, handler)
        except BaseException:
            self._finished(job)
            raise
        future.add_done_callback(lambda done: self._finished(job) if done.cancelled() else None)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running; False if ``timeout`` seconds passed first."""
        with self._state:
            return self._state.wait_for(lambda: not self._active_keys, timeout)

    def close(self, *, wait: bool = True) -> None:
        """Refuse new jobs; with ``wait``, finish the queued ones, otherwise drop them."""
        with self._state:
            self._closed = True
        self._executor.shutdown(wait=wait, cancel_futures=not wait)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, job: Job, handler: JobHandler) -> None:
        try:
            _run_with_retries(job, handler, max_attempts=self._max_attempts, backoff_s=self._backoff_s)
        finally:
            self._finished(job)

    def _finished(self, job: Job) -> None:
        with self._state:
            self._active_keys.discard(job.key)
            if not self._active_keys:
                self._state.notify_all()


class InlineJobQueue:
    """Runs each job inside ``enqueue``, with the same retries and deduplication as the thread
    queue: a handler that enqueues its own key again is not run twice."""

    def __init__(self, handlers: Mapping[str, JobHandler], max_attempts: int = 3) -> None:
        _check_attempts(max_attempts)
        self._handlers = dict(handlers)
        self._max_attempts = max_attempts
        self._lock = threading.Lock()
        self._running: set[str] = set()

    def enqueue(self, job: Job) -> None:
        handler = _handler_for(self._handlers, job)
        with self._lock:
            if job.key in self._running:
                return
            self._running.add(job.key)
        try:
            _run_with_retries(job, handler, max_attempts=self._max_attempts, backoff_s=0.0)
        finally:
            with self._lock:
                self._running.discard(job.key)

    def join(self, timeout: float | None = None) -> bool:  # noqa: ARG002 - same shape as ThreadJobQueue
        return True

    def close(self) -> None:
        """Nothing to release; here so callers can treat both queues alike."""
