"""Jobs on saq's Redis queue: API processes enqueue, ``musicconnect worker`` processes run them.

saq gives what a home-made queue would get wrong: one job per key while it waits or runs (its
enqueue is a Lua script over the queue's sorted set), retries, a timeout per job, and a sweep that
puts back the jobs of a worker that died. Three pieces are ours:

- a sync face. saq is asyncio, our callers are plain threads (request handlers, the CLI). A
  ``SaqJobQueue`` runs saq on an event loop of its own, on a daemon thread made on first use, and
  hands it coroutines from any thread (``run_coroutine_threadsafe``), so it is thread-safe.
- a heartbeat. saq only notices a dead worker if its job stops being touched, and touching is left
  to the job. Our handlers are sync and run on a thread; while one runs, the worker touches the
  job every ``heartbeat / 3`` seconds. A worker killed mid-job stops touching it, and within
  ``heartbeat + sweep interval`` (plus saq's five-second abort wait) a live worker's sweep puts the
  job back on the queue, where it runs again, counting as one of its attempts.
- a sweep that looks twice. saq's own sweep takes any job in the active list not marked active
  for abandoned, but a worker moves a job there (BLMOVE) a moment before it marks it active, so a
  sweep landing in between puts a running job back and it runs twice (saq issue #277). A worker
  sweeps as it starts, at the very moment it takes its first job, so this is not rare: it is what
  the first test run of this module hit. Ours believes a suspect only if it is still one half a
  second later.

Handlers must still be idempotent: a job is retried after any failure, and a handler that outlives
its timeout or the worker's shutdown grace keeps running on its thread while the job is retried.
A transcode publishes its ladder atomically, so running it twice is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Collection, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Protocol, TypeVar

import attrs
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from saq import Job as SaqJob
from saq import Worker
from saq.job import Status
from saq.queue.redis import RedisQueue
from saq.types import Context, PartialTimersDict

from musicconnect.adapters.redis.connection import REDIS_FAILURES
from musicconnect.domain.errors import ServiceUnavailable
from musicconnect.ports.services import Job, JobHandler

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_QUEUE: Final = "musicconnect"

#: What one saq call from a sync caller may take before it is ServiceUnavailable.
_CALL_TIMEOUT_S: Final = 10.0
_JOIN_POLL_S: Final = 0.05
_STOP_POLL_S: Final = 0.1
#: How long a sweep waits before it believes a job it found abandoned.
_SWEEP_SETTLE_S: Final = 0.5
#: Saq's upkeep tasks are started without a name; its job-taking tasks are all named this.
_SAQ_PROCESS_TASK: Final = "process"


class StopSignal(Protocol):
    """Anything with ``is_set()``: a ``threading.Event`` or a ``multiprocessing`` one."""

    def is_set(self) -> bool: ...


def _redis_client(url: str, *, socket_timeout_s: float, retries: int) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(
        url,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=min(socket_timeout_s, 2.0),
        retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.5), retries),
    )


class _RedisQueue(RedisQueue):
    """saq's Redis queue with a sweep that does not take a job away from a live worker."""

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        # One sweep per ``lock`` seconds across all workers of the queue, as saq's does.
        if not await self.redis.set(self.namespace("sweep"), 1, ex=lock, nx=True):
            return []
        suspects = await self._suspects()
        if suspects:
            # A live worker marks a job it just took active within milliseconds.
            await asyncio.sleep(_SWEEP_SETTLE_S)
            suspects = [job_id for job_id in await self._suspects() if job_id in suspects]
        for job_id in suspects:
            await self._sweep_one(job_id, abort=abort)
        return suspects

    async def _suspects(self) -> list[str]:
        """Ids in the active list whose job is gone, not marked active, or past its timeout or
        heartbeat."""
        found = []
        for raw_id in await self.redis.lrange(self.namespace("active"), 0, -1):
            job_id = raw_id.decode("utf-8") if isinstance(raw_id, bytes) else raw_id
            job = self.deserialize(await self.redis.get(job_id))
            if job is None or job.status != Status.ACTIVE or job.stuck:
                found.append(job_id)
        return found

    async def _sweep_one(self, job_id: str, *, abort: float) -> None:
        """What saq's sweep does with a job it finds abandoned: abort it, then retry or end it."""
        job = self.deserialize(await self.redis.get(job_id))
        if job is None:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.lrem(self.namespace("active"), 0, job_id)
                pipe.zrem(self.namespace("incomplete"), job_id)
                await pipe.execute()
            _log.info("swept job %s, whose record is gone", job_id)
            return
        _log.warning("sweeping abandoned job %s (attempt %d)", job.key, job.attempts)
        await self.abort(job, error=self.swept_error_message)
        try:
            # A worker that is alive but stuck gets ``abort`` seconds to acknowledge.
            await job.refresh(abort)
        except TimeoutError:
            _log.info("no worker acknowledged the abort of job %s", job.key)
        if job.retryable:
            await self.retry(job, error=self.swept_error_message)
        else:
            await self.finish(job, Status.ABORTED, error=self.swept_error_message)


class _LoopThread:
    """An event loop running on a daemon thread, fed coroutines from other threads."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def call(self, work: Coroutine[Any, Any, _T], *, timeout_s: float) -> _T:
        if threading.current_thread() is self.thread:
            work.close()
            raise RuntimeError("a SaqJobQueue cannot be called from its own event loop")
        future = asyncio.run_coroutine_threadsafe(work, self.loop)
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


@attrs.frozen
class _Connected:
    pid: int
    runner: _LoopThread
    queue: RedisQueue


class SaqJobQueue:
    """``JobQueue`` on saq's Redis queue ``queue_name``; jobs run in ``run_worker`` processes.

    ``enqueue`` maps a ``Job`` to a saq job with the same key, so a job enqueued again while it
    waits or runs is the same job; once it finished, the key is free again. A job is tried at most
    ``max_attempts`` times, each at most ``timeout_s`` (the whole-track transcode is the longest
    job), with exponential back-off from ``retry_delay_s`` up to ``retry_delay_max_s``. What a
    finished job did is kept in Redis for ``keep_finished_s``. ``known_jobs``, when given, refuses
    a job name no worker would know, where it is made rather than in a worker's log.

    Nothing connects until the first call. A call Redis cannot answer raises ServiceUnavailable.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        queue_name: str = DEFAULT_QUEUE,
        max_attempts: int = 3,
        timeout_s: int = 1800,
        heartbeat_s: int = 30,
        retry_delay_s: float = 5.0,
        retry_delay_max_s: float = 300.0,
        keep_finished_s: int = 86_400,
        known_jobs: Collection[str] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if timeout_s < 1 or heartbeat_s < 1:
            raise ValueError("timeout_s and heartbeat_s must be at least 1 second")
        self.redis_url = redis_url
        self.queue_name = queue_name
        self._job_fields: dict[str, Any] = {
            "retries": max_attempts,
            "timeout": timeout_s,
            "heartbeat": heartbeat_s,
            "retry_delay": retry_delay_s,
            "retry_backoff": retry_delay_max_s if retry_delay_s else False,
            "ttl": keep_finished_s,
        }
        self._known_jobs = frozenset(known_jobs) if known_jobs is not None else None
        self._lock = threading.Lock()
        self._connected: _Connected | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(queue_name={self.queue_name!r})"

    def enqueue(self, job: Job) -> None:
        if self._known_jobs is not None and job.name not in self._known_jobs:
            raise ValueError(f"no handler registered for job {job.name!r}")
        queued = SaqJob(
            function=job.name, kwargs={"payload": dict(job.payload)}, key=job.key, **self._job_fields
        )
        connected = self._connection()
        # None when the key is already waiting or running: the same job, nothing to do.
        self._call(connected, connected.queue.enqueue(queued), what="enqueue")

    def pending(self) -> int:
        """Jobs waiting, running, or waiting to be retried."""
        connected = self._connection()
        return self._call(connected, connected.queue.count("incomplete"), what="count")

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no job is waiting or running; False if ``timeout`` seconds passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.pending():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(_JOIN_POLL_S)
        return True

    def close(self) -> None:
        """Disconnect and stop the private event loop; a later call connects again."""
        with self._lock:
            connected, self._connected = self._connected, None
        if connected is None or connected.pid != os.getpid():
            return
        try:
            connected.runner.call(connected.queue.disconnect(), timeout_s=_CALL_TIMEOUT_S)
        except (*REDIS_FAILURES, TimeoutError):
            _log.debug("disconnecting from redis failed", exc_info=True)
        finally:
            connected.runner.stop()

    def _connection(self) -> _Connected:
        with self._lock:
            # A forked child inherits the object but not the loop's thread: it starts its own.
            if self._connected is None or self._connected.pid != os.getpid():
                runner = _LoopThread(f"saq-{self.queue_name}")
                queue = runner.call(self._make_queue(), timeout_s=_CALL_TIMEOUT_S)
                self._connected = _Connected(pid=os.getpid(), runner=runner, queue=queue)
            return self._connected

    async def _make_queue(self) -> RedisQueue:
        # Made on the loop that will use it: its semaphore and pool belong to that loop.
        client = _redis_client(self.redis_url, socket_timeout_s=2.0, retries=1)
        queue = _RedisQueue(client, name=self.queue_name)
        await queue.connect()
        return queue

    @staticmethod
    def _call(connected: _Connected, work: Coroutine[Any, Any, _T], *, what: str) -> _T:
        try:
            return connected.runner.call(work, timeout_s=_CALL_TIMEOUT_S)
        except (*REDIS_FAILURES, TimeoutError) as error:
            raise ServiceUnavailable(f"job queue is unavailable ({what}): {error!r}") from error


def run_worker(
    redis_url: str,
    handlers: Mapping[str, JobHandler],
    *,
    concurrency: int = 1,
    stop_event: StopSignal | None = None,
    queue_name: str = DEFAULT_QUEUE,
    sweep_interval_s: int = 10,
    shutdown_grace_s: int = 60,
    dequeue_timeout_s: float = 1.0,
) -> None:
    """Run the jobs of ``queue_name`` with ``handlers`` until told to stop; blocks until then.

    Up to ``concurrency`` sync handlers run at once, each on a thread of the worker's own pool.
    Every ``sweep_interval_s`` one worker of the queue puts back the jobs whose worker stopped
    touching them. The worker stops on SIGINT or SIGTERM (when run on the main thread) or once
    ``stop_event`` is set: it takes no new job, gives running ones ``shutdown_grace_s`` seconds to
    finish, then cancels them and puts them back on the queue. Python cannot stop a thread, so a
    handler still running then is left to finish on its own; its job may run again elsewhere.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if not handlers:
        raise ValueError("a worker needs at least one handler")
    asyncio.run(
        _work(
            redis_url,
            handlers,
            concurrency=concurrency,
            stop_event=stop_event,
            queue_name=queue_name,
            sweep_interval_s=sweep_interval_s,
            shutdown_grace_s=shutdown_grace_s,
            dequeue_timeout_s=dequeue_timeout_s,
        )
    )


async def _work(
    redis_url: str,
    handlers: Mapping[str, JobHandler],
    *,
    concurrency: int,
    stop_event: StopSignal | None,
    queue_name: str,
    sweep_interval_s: int,
    shutdown_grace_s: int,
    dequeue_timeout_s: float,
) -> None:
    # A blocking dequeue must not outlast the socket timeout, or every idle wait is an error.
    client = _redis_client(redis_url, socket_timeout_s=dequeue_timeout_s + 5.0, retries=3)
    queue = _RedisQueue(client, name=queue_name)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"musicconnect-{queue_name}")
    loop = asyncio.get_running_loop()
    asked = asyncio.Event()
    signals = [signal.SIGINT, signal.SIGTERM] if threading.current_thread() is threading.main_thread() else []
    try:
        await queue.connect()
        worker = Worker(
            queue,
            [(name, _saq_function(handler, pool)) for name, handler in handlers.items()],
            concurrency=concurrency,
            timers=PartialTimersDict(schedule=1, worker_info=10, sweep=sweep_interval_s, abort=1),
            dequeue_timeout=dequeue_timeout_s,
            shutdown_grace_period_s=shutdown_grace_s,
        )
        # Ours, not saq's, so that a signal drains running jobs as stop_event does (saq's own
        # handlers also cannot be installed off the main thread).
        worker.SIGNALS = []
        for signum in signals:
            loop.add_signal_handler(signum, asked.set)
        await _run_until_asked(worker, asked, stop_event)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        pool.shutdown(wait=False, cancel_futures=True)
        await queue.disconnect()


async def _run_until_asked(
    worker: Worker[Context], asked: asyncio.Event, stop_event: StopSignal | None
) -> None:
    running = asyncio.create_task(worker.start(), name="saq-worker")
    asked_wait = asyncio.create_task(asked.wait())
    try:
        while not running.done() and not asked.is_set():
            if stop_event is not None and stop_event.is_set():
                break
            await asyncio.wait(
                {running, asked_wait},
                timeout=_STOP_POLL_S if stop_event is not None else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
        if not running.done():
            _log.info("worker for queue %s stopping: finishing running jobs", worker.queue.name)
            _begin_shutdown(worker)
        await running
    finally:
        asked_wait.cancel()


def _begin_shutdown(worker: Worker[Context]) -> None:
    """Take no new job and end saq's upkeep loops now, so that stopping waits only for jobs.

    Setting the worker's event first matters: an upkeep loop cancelled while its event is unset
    logs the cancellation as a failure and goes round again.
    """
    worker.event.set()
    for task in list(worker.tasks):
        if task.get_name() != _SAQ_PROCESS_TASK:
            task.cancel()


def _saq_function(handler: JobHandler, pool: ThreadPoolExecutor) -> Callable[..., Coroutine[Any, Any, None]]:
    """A saq job function running the sync ``handler`` on ``pool``, touching the job meanwhile."""

    async def run(ctx: Context, *, payload: dict[str, Any]) -> None:
        job = ctx.get("job")
        beat = asyncio.create_task(_heartbeat(job)) if job is not None and job.heartbeat else None
        try:
            await asyncio.get_running_loop().run_in_executor(pool, handler, payload)
        finally:
            if beat is not None:
                beat.cancel()
                await asyncio.wait({beat})

    return run


async def _heartbeat(job: SaqJob) -> None:
    interval = max(job.heartbeat / 3, 0.1)
    while True:
        await asyncio.sleep(interval)
        try:
            await job.update()
        except REDIS_FAILURES as error:
            # A missed beat or two is harmless; the sweep acts only after a whole heartbeat.
            _log.warning("could not touch job %s: %s", job.key, error)
