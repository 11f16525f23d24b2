"""The Redis adapters against a redis-server of our own: the shared contracts, across processes,
with Redis stopped and restarted, and saq jobs surviving a killed worker."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
from saq.job import Job as SaqJob
from saq.job import Status
from saq.queue.redis import RedisQueue

from musicconnect.adapters.memory.services import FrozenClock
from musicconnect.adapters.redis import (
    AsyncRedisConnection,
    RedisAccessReads,
    RedisCache,
    RedisConnection,
    RedisOneTimeTokens,
    RedisQuotaCounter,
    RedisTokenDenylist,
    RedisUniqueListeners,
    SaqJobQueue,
    run_worker,
)
from musicconnect.domain.errors import ServiceUnavailable
from musicconnect.ports.services import (
    AccessReads,
    Cache,
    Job,
    JobHandler,
    JobQueue,
    OneTimeTokens,
    QuotaCounter,
    TokenDenylist,
)
from tests.contract.jobs_contract import JobQueueContract
from tests.contract.services_contract import (
    AccessReadsContract,
    CacheContract,
    OneTimeTokensContract,
    QuotaCounterContract,
    TokenDenylistContract,
)
from tests.support.processes import ServerProcess
from tests.support.redis_server import redis_server, redis_url
from tests.support.servers import free_port

pytestmark = pytest.mark.integration

_SPAWN = multiprocessing.get_context("spawn")
_PROCESSES = 4
_ATTEMPTS_EACH = 25
_ROUNDS = 20
_LIMIT = 5


@pytest.fixture(scope="session")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = redis_server(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shared_url(shared_redis: ServerProcess) -> str:
    return redis_url(shared_redis)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[ServerProcess]:
    """A redis-server for one test alone, free to be stopped and restarted."""
    server = redis_server(tmp_path / "redis")
    yield server
    server.stop()


def _fresh_prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


class OnSharedRedis:
    """Contract glue: a fresh key prefix per test, and time that passes on the server too."""

    url: str
    prefix: str

    @pytest.fixture(autouse=True)
    def _on_shared_redis(self, shared_url: str) -> None:
        self.url = shared_url
        self.prefix = _fresh_prefix()

    def pass_time(self, clock: FrozenClock, delta: timedelta) -> None:
        """Redis expires keys by its own clock: let ``delta`` really go by."""
        clock.advance(delta)
        time.sleep(delta.total_seconds())


class TestRedisQuotaCounter(OnSharedRedis, QuotaCounterContract):
    def make_quota_counter(self, clock: FrozenClock) -> QuotaCounter:
        return RedisQuotaCounter(self.url, prefix=self.prefix)

    def test_the_window_ends_where_the_first_acquire_put_it(self) -> None:
        """The key expires at the first acquire's resets_at; later calls never move it."""
        quota = RedisQuotaCounter(self.url, prefix=self.prefix)
        first_end = datetime.now(UTC) + timedelta(days=3)
        quota.acquire("k", limit=5, resets_at=first_end)
        quota.acquire("k", limit=5, resets_at=first_end + timedelta(days=30))
        quota.release("k")

        expires_ms = redis.Redis.from_url(self.url).pexpiretime(f"{self.prefix}quota:k")

        assert abs(expires_ms - int(first_end.timestamp() * 1000)) <= 1

    def test_a_zero_limit_admits_nobody(self) -> None:
        """limit 0 refuses at once and stores nothing."""
        quota = RedisQuotaCounter(self.url, prefix=self.prefix)

        granted = quota.acquire("k", limit=0, resets_at=datetime.now(UTC) + timedelta(days=1))

        assert granted is False
        assert quota.used("k") == 0


class TestRedisCache(OnSharedRedis, CacheContract):
    def make_cache(self, clock: FrozenClock) -> Cache:
        return RedisCache(self.url, prefix=self.prefix)

    def test_a_non_positive_ttl_is_refused(self) -> None:
        """ttl_s of zero is a programming error, raised before Redis is asked."""
        cache = RedisCache(self.url, prefix=self.prefix)

        with pytest.raises(ValueError, match="ttl_s"):
            cache.set("k", b"v", ttl_s=0)


class TestRedisOneTimeTokens(OnSharedRedis, OneTimeTokensContract):
    def make_one_time_tokens(self, clock: FrozenClock) -> OneTimeTokens:
        return RedisOneTimeTokens(self.url, prefix=self.prefix)


class TestRedisTokenDenylist(OnSharedRedis, TokenDenylistContract):
    def make_denylist(self, clock: FrozenClock) -> TokenDenylist:
        return RedisTokenDenylist(self.url, prefix=self.prefix)

    def test_the_key_lives_as_long_as_the_token_and_only_grows(self) -> None:
        """The key's TTL is the token's remaining life; revoking again keeps the later end."""
        denylist = RedisTokenDenylist(self.url, prefix=self.prefix)
        client = redis.Redis.from_url(self.url)
        key = f"{self.prefix}revoked:jti-1"
        now = datetime.now(UTC)

        denylist.revoke("jti-1", until=now + timedelta(minutes=15))
        first = client.pttl(key)
        denylist.revoke("jti-1", until=now + timedelta(minutes=1))
        after_shorter = client.pttl(key)
        denylist.revoke("jti-1", until=now + timedelta(hours=1))
        after_longer = client.pttl(key)

        assert 14 * 60_000 < first <= 15 * 60_000
        assert 14 * 60_000 < after_shorter <= 15 * 60_000
        assert 59 * 60_000 < after_longer <= 60 * 60_000

    def test_revoking_an_expired_token_stores_nothing(self) -> None:
        """A token already past its end needs no entry."""
        denylist = RedisTokenDenylist(self.url, prefix=self.prefix)

        denylist.revoke("old", until=datetime.now(UTC) - timedelta(seconds=5))

        assert denylist.is_revoked("old") is False
        assert redis.Redis.from_url(self.url).exists(f"{self.prefix}revoked:old") == 0


class TestRedisAccessReads(OnSharedRedis, AccessReadsContract):
    def make_access_reads(self, clock: FrozenClock) -> tuple[AccessReads, TokenDenylist, Cache]:
        connection = RedisConnection(self.url)
        denylist = RedisTokenDenylist(connection, prefix=self.prefix)
        cache = RedisCache(connection, prefix=self.prefix + "cache:")
        return (
            RedisAccessReads(AsyncRedisConnection(connection), denylist=denylist, cache=cache),
            denylist,
            cache,
        )

    def test_many_reads_at_once_each_get_their_own_replies(self) -> None:
        """200 concurrent reads of different keys on one event loop: every answer is its own."""
        connection = RedisConnection(self.url)
        denylist = RedisTokenDenylist(connection, prefix=self.prefix)
        cache = RedisCache(connection, prefix=self.prefix + "cache:")
        reads = RedisAccessReads(AsyncRedisConnection(connection), denylist=denylist, cache=cache)
        later = datetime.now(UTC) + timedelta(minutes=5)
        for n in range(0, 200, 3):
            denylist.revoke(f"jti-{n}", until=later)
        for n in range(200):
            cache.set(f"k-{n}", f"value-{n}".encode(), ttl_s=60)

        async def all_at_once() -> list[tuple[bool, tuple[bytes | None, ...]]]:
            return list(await asyncio.gather(*(reads.read([f"jti-{n}"], [f"k-{n}"]) for n in range(200))))

        answers = asyncio.run(all_at_once())

        assert answers == [(n % 3 == 0, (f"value-{n}".encode(),)) for n in range(200)]

    def test_a_cancelled_read_never_hands_its_reply_to_the_next(self) -> None:
        """A read cancelled while its reply is on the way leaves no stray reply behind."""
        connection = RedisConnection(self.url)
        denylist = RedisTokenDenylist(connection, prefix=self.prefix)
        cache = RedisCache(connection, prefix=self.prefix + "cache:")
        async_connection = AsyncRedisConnection(connection)
        reads = RedisAccessReads(async_connection, denylist=denylist, cache=cache)
        cache.set("slow", b"the first reply", ttl_s=60)
        cache.set("next", b"the second reply", ttl_s=60)

        async def cancel_then_read() -> tuple[bool, tuple[bytes | None, ...]]:
            await reads.read(["warm"], [])  # one connection, idle, so the next read reuses it
            # Sent, then cancelled before its reply is read.
            blocked = asyncio.ensure_future(
                async_connection.pipeline(("BLPOP", self.prefix + "never-pushed", "0.3"), what="slow")
            )
            await asyncio.sleep(0.05)
            blocked.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await blocked
            return await reads.read(["x"], ["next"])

        assert asyncio.run(cancel_then_read()) == (False, (b"the second reply",))


def test_access_reads_fail_closed_while_redis_is_down_and_recover(own_redis: ServerProcess) -> None:
    """Redis stopped: the revocation check raises ServiceUnavailable quickly; restarted, it answers."""
    url = redis_url(own_redis)
    denylist = RedisTokenDenylist(url)
    reads = RedisAccessReads(AsyncRedisConnection(url), denylist=denylist, cache=RedisCache(url))
    denylist.revoke("jti", until=datetime.now(UTC) + timedelta(minutes=5))

    async def read_through_an_outage() -> tuple[
        tuple[bool, tuple[bytes | None, ...]], bool, float, tuple[bool, tuple[bytes | None, ...]]
    ]:
        before = await reads.read(["jti"], ["k"])
        own_redis.stop()
        started = time.monotonic()
        try:
            await reads.read(["jti"], ["k"])
        except ServiceUnavailable:
            refused = True
        else:
            refused = False
        elapsed = time.monotonic() - started
        own_redis.restart()  # empty: this test's server keeps nothing across a restart
        denylist.revoke("jti", until=datetime.now(UTC) + timedelta(minutes=5))
        return before, refused, elapsed, await reads.read(["jti"], ["k"])

    before, refused, elapsed, after = asyncio.run(read_through_an_outage())

    assert before == (True, (None,))
    assert refused is True
    assert elapsed < 5, f"failing closed took {elapsed:.1f} s"
    assert after == (True, (None,))


def test_unique_listeners_count_distinct_people_over_a_window(shared_url: str) -> None:
    """HyperLogLog counts over several days are the union's size within 2 %, outside days excluded."""
    listeners = RedisUniqueListeners(shared_url, prefix=_fresh_prefix())
    first = datetime.now(UTC).date() - timedelta(days=12)
    for n in range(1_000):
        # Listeners 0..999 on day 1, 400..1399 on day 2, 800..1799 on day 3: 1800 in all.
        for offset in range(3):
            listeners.add("artist-1", f"fan-{n + 400 * offset}", day=first + timedelta(days=offset))
    listeners.add("artist-1", "fan-late", day=first + timedelta(days=10))
    listeners.add("artist-2", "fan-other", day=first)

    whole = listeners.count("artist-1", first_day=first, last_day=first + timedelta(days=2))
    one_day = listeners.count("artist-1", first_day=first, last_day=first)

    assert abs(whole - 1_800) <= 36
    assert abs(one_day - 1_000) <= 20
    assert listeners.count("artist-2", first_day=first, last_day=first) == 1


def test_unique_listener_days_expire_after_the_retention(shared_url: str) -> None:
    """A day's key expires retention_days after that day; a day already past it is not kept."""
    prefix = _fresh_prefix()
    listeners = RedisUniqueListeners(shared_url, prefix=prefix, retention_days=30)
    today = datetime.now(UTC).date()
    listeners.add("a", "fan", day=today)
    listeners.add("a", "fan", day=today - timedelta(days=31))
    client = redis.Redis.from_url(shared_url)

    expires_s = client.expiretime(f"{prefix}listeners:a:{today.isoformat()}")

    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    assert expires_s == int(midnight.timestamp()) + 30 * 86_400
    assert listeners.count("a", first_day=today - timedelta(days=31), last_day=today) == 1


# --- across processes ------------------------------------------------------------------------------
# Spawned children import this module afresh, so what they run must live at its top level.


def _acquire_in_rounds(url: str, prefix: str, keys: list[str], start: Barrier, results: Queue[Any]) -> None:
    try:
        quota = RedisQuotaCounter(url, prefix=prefix)
        resets_at = datetime.now(UTC) + timedelta(days=30)

        # The last of this process's threads to arrive waits for the other processes, so every
        # attempt of every process is let go at the same moment.
        def across_processes() -> None:
            start.wait(timeout=30)

        together = threading.Barrier(_ATTEMPTS_EACH, action=across_processes)

        def attempt(key: str) -> bool:
            together.wait(timeout=60)
            return quota.acquire(key, limit=_LIMIT, resets_at=resets_at)

        with ThreadPoolExecutor(max_workers=_ATTEMPTS_EACH) as pool:
            granted = [list(pool.map(attempt, [key] * _ATTEMPTS_EACH)).count(True) for key in keys]
        results.put(granted)
    except Exception as error:  # noqa: BLE001 -- reported to the parent, which fails the test
        results.put(repr(error))


def test_four_processes_racing_for_one_key_get_exactly_the_limit(shared_url: str) -> None:
    """4 processes x 25 threads acquiring at once at limit 5 get exactly 5, in each of 20 rounds."""
    prefix = _fresh_prefix()
    keys = [f"dm:artist-1:fan-{n}" for n in range(_ROUNDS)]
    start = _SPAWN.Barrier(_PROCESSES)
    results: Queue[Any] = _SPAWN.Queue()
    children = [
        _SPAWN.Process(target=_acquire_in_rounds, args=(shared_url, prefix, keys, start, results))
        for _ in range(_PROCESSES)
    ]
    for child in children:
        child.start()
    try:
        reports = [results.get(timeout=90) for _ in children]
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()

    assert all(isinstance(r, list) for r in reports), reports
    granted_per_round = [sum(r[n] for r in reports) for n in range(_ROUNDS)]
    assert granted_per_round == [_LIMIT] * _ROUNDS
    quota = RedisQuotaCounter(shared_url, prefix=prefix)
    assert [quota.used(key) for key in keys] == [_LIMIT] * _ROUNDS


# --- Redis down ------------------------------------------------------------------------------------


def _raises_unavailable(call: Callable[[], object]) -> bool:
    try:
        call()
    except ServiceUnavailable:
        return True
    return False


def test_nothing_connects_until_first_use() -> None:
    """Adapters over a port nobody listens on build fine; their first call is ServiceUnavailable."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    quota = RedisQuotaCounter(url)
    denylist = RedisTokenDenylist(url)
    queue = SaqJobQueue(url, queue_name="never")
    soon = datetime.now(UTC) + timedelta(days=1)

    try:
        assert _raises_unavailable(lambda: quota.acquire("k", limit=5, resets_at=soon))
        assert _raises_unavailable(lambda: denylist.is_revoked("jti"))
        assert _raises_unavailable(lambda: queue.enqueue(Job(name="n", payload={}, key="k")))
    finally:
        queue.close()


def test_quota_and_revocation_fail_closed_while_redis_is_down(own_redis: ServerProcess) -> None:
    """With redis-server stopped, every quota and denylist call raises ServiceUnavailable quickly,
    and none admits; after a restart both work again."""
    connection = RedisConnection(redis_url(own_redis))
    quota = RedisQuotaCounter(connection)
    denylist = RedisTokenDenylist(connection)
    soon = datetime.now(UTC) + timedelta(days=1)
    assert quota.acquire("dm", limit=1, resets_at=soon) is True
    denylist.revoke("jti", until=soon)

    own_redis.stop()
    started = time.monotonic()
    calls: list[Callable[[], object]] = [
        lambda: quota.acquire("dm", limit=5, resets_at=soon),
        lambda: quota.acquire("fresh", limit=5, resets_at=soon),
        lambda: quota.release("dm"),
        lambda: quota.used("dm"),
        lambda: denylist.is_revoked("jti"),
        lambda: denylist.is_revoked("never-revoked"),
        lambda: denylist.revoke("other", until=soon),
    ]
    outcomes = [_raises_unavailable(call) for call in calls]
    elapsed = time.monotonic() - started

    own_redis.restart()
    back = quota.acquire("fresh", limit=5, resets_at=soon)
    denylist.revoke("after", until=soon)

    assert outcomes == [True] * len(calls)
    assert elapsed < 5, f"failing closed took {elapsed:.1f} s"
    assert back is True
    assert denylist.is_revoked("after") is True


def test_the_quota_script_is_sent_again_when_the_server_has_forgotten_it(shared_url: str) -> None:
    """A restarted (or flushed) Redis has no scripts: the next acquire sends the source and counts."""
    quota = RedisQuotaCounter(shared_url, prefix=_fresh_prefix())
    soon = datetime.now(UTC) + timedelta(days=1)
    assert quota.acquire("dm", limit=2, resets_at=soon) is True
    with redis.Redis.from_url(shared_url) as client:
        client.script_flush()

    assert quota.acquire("dm", limit=2, resets_at=soon) is True
    assert quota.acquire("dm", limit=2, resets_at=soon) is False
    assert quota.used("dm") == 2


def test_an_error_reply_is_unavailable_and_leaves_the_connection_usable(shared_url: str) -> None:
    """A counter Redis cannot run the script on (WRONGTYPE) refuses with ServiceUnavailable; the
    same thread's next calls, on the same connection, are answered normally."""
    prefix = _fresh_prefix()
    connection = RedisConnection(shared_url)
    quota = RedisQuotaCounter(connection, prefix=prefix)
    denylist = RedisTokenDenylist(connection, prefix=prefix)
    soon = datetime.now(UTC) + timedelta(days=1)
    with redis.Redis.from_url(shared_url) as client:
        client.rpush(f"{prefix}quota:dm", "not a counter")

    refused = _raises_unavailable(lambda: quota.acquire("dm", limit=5, resets_at=soon))
    unreadable = _raises_unavailable(lambda: quota.used("dm"))

    assert (refused, unreadable) == (True, True)
    assert quota.acquire("other", limit=5, resets_at=soon) is True
    assert denylist.is_revoked("jti") is False


def test_the_cache_misses_while_redis_is_down_and_recovers(own_redis: ServerProcess) -> None:
    """With redis-server stopped, get answers None and set/delete return quietly; after a restart
    the cache stores and serves again."""
    cache = RedisCache(redis_url(own_redis))
    cache.set("k", b"cached", ttl_s=60)
    assert cache.get("k") == b"cached"

    own_redis.stop()
    during = cache.get("k")
    cache.set("k", b"new", ttl_s=60)
    cache.delete("k")

    own_redis.restart()
    cache.set("k", b"again", ttl_s=60)

    assert during is None
    assert cache.get("k") == b"again"


def test_enqueue_is_service_unavailable_while_redis_is_down(own_redis: ServerProcess) -> None:
    """The API's enqueue answers ServiceUnavailable rather than losing the job silently."""
    queue = SaqJobQueue(redis_url(own_redis), queue_name=f"q-{uuid.uuid4().hex}")
    try:
        queue.enqueue(Job(name="n", payload={}, key="before"))
        own_redis.stop()
        during = _raises_unavailable(lambda: queue.enqueue(Job(name="n", payload={}, key="during")))
        own_redis.restart()
        queue.enqueue(Job(name="n", payload={}, key="after"))
        assert during is True
        assert queue.pending() == 1  # "after": the restarted server kept nothing from before
    finally:
        queue.close()


# --- jobs ------------------------------------------------------------------------------------------

#: Short enough for tests: a job untouched for 2 s is stuck; workers sweep every second.
_TEST_HEARTBEAT_S = 2
_TEST_SWEEP_S = 1


class WorkerThread:
    """``run_worker`` on a background thread until ``close()``."""

    def __init__(self, url: str, handlers: Mapping[str, JobHandler], queue_name: str, **options: Any) -> None:
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

        def work() -> None:
            try:
                run_worker(url, handlers, stop_event=self.stop, queue_name=queue_name, **options)
            except BaseException as error:  # noqa: BLE001 -- reported by close()
                self.errors.append(error)

        self.thread = threading.Thread(target=work, name=f"worker-{queue_name}", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the worker did not stop within 30 s"
        assert not self.errors, self.errors


def _test_queue(url: str, queue_name: str, **options: Any) -> SaqJobQueue:
    return SaqJobQueue(url, queue_name=queue_name, retry_delay_s=0, heartbeat_s=_TEST_HEARTBEAT_S, **options)


def _saq_job(url: str, queue_name: str, key: str) -> SaqJob | None:
    async def fetch() -> SaqJob | None:
        queue = RedisQueue(redis.asyncio.Redis.from_url(url), name=queue_name)
        try:
            return await queue.job(key)
        finally:
            await queue.disconnect()

    return asyncio.run(fetch())


class TestSaqJobQueue(JobQueueContract):
    url: str
    worker: WorkerThread

    @pytest.fixture(autouse=True)
    def _on_shared_redis(self, shared_url: str) -> None:
        self.url = shared_url

    def make_queue(self, handlers: Mapping[str, JobHandler]) -> JobQueue:
        # A queue name per test keeps the tests' job keys apart.
        queue_name = f"contract-{uuid.uuid4().hex}"
        self.worker = WorkerThread(self.url, handlers, queue_name, concurrency=2, dequeue_timeout_s=0.2)
        return _test_queue(self.url, queue_name, max_attempts=self.max_attempts)

    def drain(self, queue: JobQueue) -> None:
        assert isinstance(queue, SaqJobQueue)
        assert queue.join(timeout=30), "jobs still pending after 30 s"

    def dispose(self, queue: JobQueue) -> None:
        assert isinstance(queue, SaqJobQueue)
        try:
            self.worker.close()
        finally:
            queue.close()


def test_a_job_enqueued_twice_with_the_same_key_runs_once(shared_url: str) -> None:
    """The same key enqueued twice before any worker runs, and ten times at once from threads,
    is one job each time; the first payload wins."""
    queue_name = f"dedupe-{uuid.uuid4().hex}"
    queue = _test_queue(shared_url, queue_name)
    runs: list[dict[str, Any]] = []
    lock = threading.Lock()

    def record(payload: Mapping[str, Any]) -> None:
        with lock:
            runs.append(dict(payload))

    try:
        queue.enqueue(Job(name="transcode", payload={"n": 1}, key="transcode:t1"))
        queue.enqueue(Job(name="transcode", payload={"n": 2}, key="transcode:t1"))
        with ThreadPoolExecutor(max_workers=10) as pool:
            list(
                pool.map(
                    lambda n: queue.enqueue(Job(name="transcode", payload={"n": n}, key="transcode:t2")),
                    range(10),
                )
            )
        pending = queue.pending()
        worker = WorkerThread(shared_url, {"transcode": record}, queue_name, dequeue_timeout_s=0.2)
        try:
            assert queue.join(timeout=30)
        finally:
            worker.close()
    finally:
        queue.close()

    assert pending == 2
    assert len(runs) == 2
    assert runs[0] == {"n": 1}


def test_jobs_waiting_when_a_worker_starts_each_run_once(shared_url: str) -> None:
    """A worker sweeps as it takes its first jobs; jobs it has just taken are not swept as
    abandoned (saq issue #277) and run again: each of 12 waiting jobs runs once, at attempt 1."""
    queue_name = f"startup-{uuid.uuid4().hex}"
    queue = _test_queue(shared_url, queue_name)
    runs: list[int] = []
    lock = threading.Lock()

    def record(payload: Mapping[str, Any]) -> None:
        with lock:
            runs.append(int(payload["n"]))

    keys = [f"job:{n}" for n in range(12)]
    try:
        for n, key in enumerate(keys):
            queue.enqueue(Job(name="record", payload={"n": n}, key=key))
        worker = WorkerThread(
            shared_url,
            {"record": record},
            queue_name,
            concurrency=4,
            sweep_interval_s=_TEST_SWEEP_S,
            dequeue_timeout_s=0.2,
        )
        try:
            assert queue.join(timeout=30)
            time.sleep(2 * _TEST_SWEEP_S)  # a late retry of a swept job would show up by now
        finally:
            worker.close()
    finally:
        queue.close()

    records = [_saq_job(shared_url, queue_name, key) for key in keys]
    assert sorted(runs) == list(range(12))
    assert [r.attempts if r is not None else None for r in records] == [1] * 12


def test_unknown_job_names_are_refused_at_enqueue(shared_url: str) -> None:
    """With known_jobs given, a name no worker handles fails where it is enqueued."""
    queue = SaqJobQueue(shared_url, queue_name=f"known-{uuid.uuid4().hex}", known_jobs={"transcode_track"})
    try:
        with pytest.raises(ValueError, match="typo"):
            queue.enqueue(Job(name="typo", payload={}, key="k"))
    finally:
        queue.close()


def _worker_that_hangs(url: str, queue_name: str, started: str) -> None:
    """A worker whose handler announces itself, then works 'forever' (until it is killed)."""

    def hang(payload: Mapping[str, Any]) -> None:
        Path(started).write_text(f"{os.getpid()} {payload['track_id']}", encoding="utf-8")
        time.sleep(600)

    run_worker(url, {"transcode_track": hang}, queue_name=queue_name, sweep_interval_s=_TEST_SWEEP_S)


def test_a_job_of_a_killed_worker_runs_again_on_another(shared_url: str, tmp_path: Path) -> None:
    """A worker process SIGKILLed mid-job stops its heartbeat; another worker's sweep puts the job
    back and runs it to completion, as its second attempt."""
    queue_name = f"kill-{uuid.uuid4().hex}"
    started = tmp_path / "started"
    queue = _test_queue(shared_url, queue_name)
    doomed = _SPAWN.Process(target=_worker_that_hangs, args=(shared_url, queue_name, str(started)))
    doomed.start()
    finished = threading.Event()
    runs: list[dict[str, Any]] = []

    def transcode(payload: Mapping[str, Any]) -> None:
        runs.append(dict(payload))
        finished.set()

    try:
        queue.enqueue(Job(name="transcode_track", payload={"track_id": "t1"}, key="transcode:t1"))
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline and doomed.is_alive():
            time.sleep(0.05)
        assert started.exists(), "the first worker never started the job"
        doomed.kill()
        doomed.join(timeout=10)
        assert doomed.exitcode == -9

        survivor = WorkerThread(
            shared_url, {"transcode_track": transcode}, queue_name, sweep_interval_s=_TEST_SWEEP_S
        )
        try:
            assert finished.wait(timeout=60), "the job was not run again after its worker died"
            assert queue.join(timeout=30)
        finally:
            survivor.close()
    finally:
        if doomed.is_alive():
            doomed.kill()
        queue.close()

    record = _saq_job(shared_url, queue_name, "transcode:t1")
    assert runs == [{"track_id": "t1"}]
    assert started.read_text(encoding="utf-8").endswith(" t1")
    assert record is not None
    assert (record.status, record.attempts) == (Status.COMPLETE, 2)


def test_a_long_job_on_a_live_worker_is_never_swept_and_a_stop_lets_it_finish(shared_url: str) -> None:
    """A job running past its heartbeat, on a worker that sweeps every second, runs once: the worker
    keeps touching it. Setting stop_event mid-job lets it complete before the worker returns."""
    queue_name = f"drain-{uuid.uuid4().hex}"
    queue = _test_queue(shared_url, queue_name)
    running = threading.Event()
    done: list[str] = []

    # Long enough for two whole heartbeats and several sweeps while it runs, and still running
    # when the worker is told to stop.
    swept_if_untouched_by = 2 * _TEST_HEARTBEAT_S + _TEST_SWEEP_S

    def slow(payload: Mapping[str, Any]) -> None:
        running.set()
        time.sleep(swept_if_untouched_by + 1.0)
        done.append(str(payload["n"]))

    try:
        queue.enqueue(Job(name="slow", payload={"n": 1}, key="slow:1"))
        worker = WorkerThread(
            shared_url, {"slow": slow}, queue_name, sweep_interval_s=_TEST_SWEEP_S, dequeue_timeout_s=0.2
        )
        assert running.wait(timeout=30)
        time.sleep(swept_if_untouched_by)
        worker.close()
        record = _saq_job(shared_url, queue_name, "slow:1")
    finally:
        queue.close()

    assert done == ["1"]
    assert record is not None
    assert (record.status, record.attempts, record.error) == (Status.COMPLETE, 1, None)


def _worker_with_a_slow_job(url: str, queue_name: str, folder: str) -> None:
    def slow(payload: Mapping[str, Any]) -> None:
        (Path(folder) / "started").touch()
        time.sleep(1.0)
        (Path(folder) / "done").write_text(str(payload["n"]), encoding="utf-8")

    run_worker(url, {"slow": slow}, queue_name=queue_name, dequeue_timeout_s=0.2)


def test_sigterm_lets_the_running_job_finish_then_the_worker_exits(shared_url: str, tmp_path: Path) -> None:
    """A worker process (as ``musicconnect worker`` runs it) that gets SIGTERM mid-job finishes the
    job and exits with status 0."""
    queue_name = f"sigterm-{uuid.uuid4().hex}"
    queue = _test_queue(shared_url, queue_name)
    worker = _SPAWN.Process(target=_worker_with_a_slow_job, args=(shared_url, queue_name, str(tmp_path)))
    worker.start()
    try:
        queue.enqueue(Job(name="slow", payload={"n": 7}, key="slow:7"))
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists() and time.monotonic() < deadline and worker.is_alive():
            time.sleep(0.02)
        assert (tmp_path / "started").exists(), "the worker never started the job"
        worker.terminate()
        worker.join(timeout=30)
        pending = queue.pending()
    finally:
        if worker.is_alive():
            worker.kill()
        queue.close()

    assert worker.exitcode == 0
    assert (tmp_path / "done").read_text(encoding="utf-8") == "7"
    assert pending == 0
