"""The SQLite quota counter and token denylist: the shared contracts, across processes, fail closed."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from musicconnect.adapters.inprocess import LocalAccessReads
from musicconnect.adapters.memory import InMemoryCache
from musicconnect.adapters.memory.services import FrozenClock, SystemClock
from musicconnect.adapters.sqlite import SqliteOneTimeTokens, SqliteQuotaCounter, SqliteTokenDenylist
from musicconnect.domain.errors import ServiceUnavailable
from musicconnect.ports.services import AccessReads, Cache, OneTimeTokens, QuotaCounter, TokenDenylist
from tests.contract.services_contract import (
    AccessReadsContract,
    OneTimeTokensContract,
    QuotaCounterContract,
    TokenDenylistContract,
)

pytestmark = pytest.mark.integration

_SPAWN = multiprocessing.get_context("spawn")
_PROCESSES = 4
_ATTEMPTS_EACH = 25
_ROUNDS = 5
_LIMIT = 5


class CountersFile:
    tmp_path: Path

    @pytest.fixture(autouse=True)
    def _counters_tmp_path(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path


class TestSqliteQuotaCounter(CountersFile, QuotaCounterContract):
    def make_quota_counter(self, clock: FrozenClock) -> QuotaCounter:
        return SqliteQuotaCounter(self.tmp_path / "counters.sqlite3", clock)


class TestSqliteOneTimeTokens(CountersFile, OneTimeTokensContract):
    def make_one_time_tokens(self, clock: FrozenClock) -> OneTimeTokens:
        return SqliteOneTimeTokens(self.tmp_path / "counters.sqlite3", clock)


def test_the_counters_file_is_readable_by_the_owner_only(tmp_path: Path) -> None:
    """Revocations and reset tokens are nobody else's business: the file is created 0600."""
    SqliteOneTimeTokens(tmp_path / "counters.sqlite3", SystemClock()).take("x")
    assert (tmp_path / "counters.sqlite3").stat().st_mode & 0o777 == 0o600


class TestSqliteTokenDenylist(CountersFile, TokenDenylistContract):
    def make_denylist(self, clock: FrozenClock) -> TokenDenylist:
        return SqliteTokenDenylist(self.tmp_path / "counters.sqlite3", clock)


class TestLocalAccessReadsOnSqlite(CountersFile, AccessReadsContract):
    """The embedded defaults: revocations in the counters file, asked in place."""

    def make_access_reads(self, clock: FrozenClock) -> tuple[AccessReads, TokenDenylist, Cache]:
        denylist, cache = SqliteTokenDenylist(self.tmp_path / "counters.sqlite3", clock), InMemoryCache(clock)
        return LocalAccessReads(denylist, cache), denylist, cache


# --- across processes ------------------------------------------------------------------------------
# Spawned children import this module afresh, so what they run must live at its top level.


def _acquire_in_rounds(path: str, keys: list[str], start: Barrier, results: Queue[Any]) -> None:
    try:
        quota = SqliteQuotaCounter(Path(path), SystemClock())
        resets_at = SystemClock().now() + timedelta(days=30)

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


def _check_revoked(path: str, token_ids: list[str], results: Queue[Any]) -> None:
    try:
        denylist = SqliteTokenDenylist(Path(path), SystemClock())
        results.put([denylist.is_revoked(t) for t in token_ids])
    except Exception as error:  # noqa: BLE001 -- reported to the parent, which fails the test
        results.put(repr(error))


def _run_children(target: Any, args_for: list[tuple[Any, ...]], results: Queue[Any]) -> list[Any]:
    children = [_SPAWN.Process(target=target, args=(*args, results)) for args in args_for]
    for child in children:
        child.start()
    try:
        return [results.get(timeout=60) for _ in children]
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()


def test_four_processes_racing_for_one_key_get_exactly_the_limit(tmp_path: Path) -> None:
    """4 processes x 25 threads acquiring at once at limit 5 get exactly 5, in each of 5 rounds."""
    path = tmp_path / "counters.sqlite3"
    keys = [f"dm:artist-1:fan-{n}" for n in range(_ROUNDS)]
    start = _SPAWN.Barrier(_PROCESSES)
    results: Queue[Any] = _SPAWN.Queue()

    reports = _run_children(_acquire_in_rounds, [(str(path), keys, start)] * _PROCESSES, results)

    assert all(isinstance(r, list) for r in reports), reports
    granted_per_round = [sum(r[n] for r in reports) for n in range(_ROUNDS)]
    assert granted_per_round == [_LIMIT] * _ROUNDS
    quota = SqliteQuotaCounter(path, SystemClock())
    assert [quota.used(key) for key in keys] == [_LIMIT] * _ROUNDS


def test_a_token_revoked_in_one_process_is_revoked_in_another(tmp_path: Path) -> None:
    """Another process sees this process's revocation, and only that one."""
    path = tmp_path / "counters.sqlite3"
    later = SystemClock().now() + timedelta(minutes=15)
    SqliteTokenDenylist(path, SystemClock()).revoke("jti-out", until=later)
    results: Queue[Any] = _SPAWN.Queue()

    [report] = _run_children(_check_revoked, [(str(path), ["jti-out", "jti-other"])], results)

    assert report == [True, False]


def test_two_instances_on_one_file_share_their_counts(tmp_path: Path) -> None:
    """What one instance takes, another on the same file sees and cannot take again."""
    clock = FrozenClock()
    first = SqliteQuotaCounter(tmp_path / "counters.sqlite3", clock)
    second = SqliteQuotaCounter(tmp_path / "counters.sqlite3", clock)
    resets_at = clock.now() + timedelta(days=30)

    taken = [first.acquire("k", limit=2, resets_at=resets_at) for _ in range(2)]

    assert taken == [True, True]
    assert second.used("k") == 2
    assert second.acquire("k", limit=2, resets_at=resets_at) is False


# --- failing closed --------------------------------------------------------------------------------


def test_acquire_refuses_with_service_unavailable_while_the_file_stays_locked(tmp_path: Path) -> None:
    """A write lock held past the busy timeout is ServiceUnavailable; once released, acquire works."""
    path = tmp_path / "counters.sqlite3"
    clock = FrozenClock()
    quota = SqliteQuotaCounter(path, clock, busy_timeout_ms=50)
    resets_at = clock.now() + timedelta(days=30)
    quota.used("k")  # creates the file and its table
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(ServiceUnavailable):
            quota.acquire("k", limit=5, resets_at=resets_at)
        holder.execute("ROLLBACK")
    finally:
        holder.close()

    assert quota.acquire("k", limit=5, resets_at=resets_at) is True
    assert quota.used("k") == 1


def test_an_unreadable_file_is_service_unavailable_never_an_answer(tmp_path: Path) -> None:
    """On a file that is not a database, every operation raises rather than admits."""
    path = tmp_path / "counters.sqlite3"
    path.write_bytes(b"this is not an SQLite database, " * 64)
    clock = FrozenClock()
    quota = SqliteQuotaCounter(path, clock)
    denylist = SqliteTokenDenylist(path, clock)
    later = clock.now() + timedelta(days=1)
    operations: dict[str, Callable[[], object]] = {
        "acquire": lambda: quota.acquire("k", limit=5, resets_at=later),
        "release": lambda: quota.release("k"),
        "used": lambda: quota.used("k"),
        "revoke": lambda: denylist.revoke("jti", until=later),
        "is_revoked": lambda: denylist.is_revoked("jti"),
    }

    outcomes = {}
    for name, operation in operations.items():
        try:
            operation()
        except ServiceUnavailable:
            outcomes[name] = "unavailable"
        else:
            outcomes[name] = "answered"

    assert outcomes == dict.fromkeys(operations, "unavailable")


# --- keeping the file small ------------------------------------------------------------------------


def _rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as connection:
        [(count,)] = connection.execute(f"SELECT count(*) FROM {table}").fetchall()  # noqa: S608 -- fixed names
    return int(count)


def test_lapsed_revocations_are_purged_by_later_writes(tmp_path: Path) -> None:
    """Revocations past their ``until`` are deleted when another token is revoked."""
    path = tmp_path / "counters.sqlite3"
    clock = FrozenClock()
    denylist = SqliteTokenDenylist(path, clock)
    for n in range(10):
        denylist.revoke(f"old-{n}", until=clock.now() + timedelta(minutes=1))

    clock.advance(minutes=2)
    denylist.revoke("new", until=clock.now() + timedelta(minutes=15))

    assert _rows(path, "revoked_tokens") == 1
    assert denylist.is_revoked("new") is True


def test_spent_refresh_tokens_are_purged_by_later_spends(tmp_path: Path) -> None:
    """Each refresh spends a token: once expired, those rows go as later ones are spent."""
    path = tmp_path / "counters.sqlite3"
    clock = FrozenClock()
    denylist = SqliteTokenDenylist(path, clock)
    for n in range(10):
        assert denylist.spend(f"refresh-{n}", until=clock.now() + timedelta(minutes=1))

    clock.advance(minutes=2)
    assert denylist.spend("refresh-new", until=clock.now() + timedelta(days=30))

    assert _rows(path, "revoked_tokens") == 1


def test_ended_quota_windows_are_purged_by_later_acquires(tmp_path: Path) -> None:
    """Windows past their ``resets_at`` are deleted when any key is next acquired."""
    path = tmp_path / "counters.sqlite3"
    clock = FrozenClock()
    quota = SqliteQuotaCounter(path, clock)
    for n in range(10):
        quota.acquire(f"dm:a:fan-{n}", limit=5, resets_at=clock.now() + timedelta(days=1))

    clock.advance(days=2)
    quota.acquire("dm:a:fan-new", limit=5, resets_at=clock.now() + timedelta(days=30))

    assert _rows(path, "quota_windows") == 1
