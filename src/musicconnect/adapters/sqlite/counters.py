"""Quotas and token revocation that hold across processes, on a small SQLite file of their own.

``serve --workers N`` runs N API processes on the embedded defaults; an in-process counter would
let each of them grant the full quota. These keep their rows in a file apart from the main
database, so their short write transactions never wait behind a unit of work. Every failure to
reach the file is ServiceUnavailable: a quota or a revocation fails closed, never open.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, TypeVar

from musicconnect.adapters.sqlite.database import BUSY_TIMEOUT_MS, create_private
from musicconnect.domain.clocks import require_aware
from musicconnect.domain.errors import ServiceUnavailable
from musicconnect.ports.services import Clock

_T = TypeVar("_T")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)

#: Expired rows removed per write at most, so that a month's worth lapsing at once never turns one
#: request into a long hold on the write lock.
_PURGE_BATCH: Final = 100

_SETUP_RETRY_S: Final = 0.01

_PRAGMAS: Final = ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL")


def _is_busy(error: sqlite3.OperationalError) -> bool:
    primary_code = error.sqlite_errorcode & 0xFF
    return primary_code in {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch: compared as integers, so order is time order."""
    return (require_aware(moment) - _EPOCH) // _MICROSECOND


class _CounterFile:
    """One connection per thread, and per process: a connection inherited through fork is not reused."""

    #: Statements that create the table on first use; each is a no-op once it exists.
    _schema: tuple[str, ...]

    def __init__(self, path: Path, clock: Clock, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = int(busy_timeout_ms)
        self._clock = clock
        self._local = threading.local()
        # This process's threads take turns for the file's write lock (and for opening it) here,
        # in a queue that wakes the next at once, rather than all polling SQLite's busy handler,
        # whose backoff lets a few of a hundred contenders starve past the busy timeout.
        self._turn = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def _now(self) -> int:
        return _micros(self._clock.now())

    def _run(self, work: Callable[[sqlite3.Connection], _T], *, write: bool = False) -> _T:
        """``work`` on this thread's connection; inside ``BEGIN IMMEDIATE`` when ``write``."""
        try:
            connection = self._connection()
            if not write:
                return work(connection)
            with self._taking_turns():
                connection.execute("BEGIN IMMEDIATE")
                try:
                    result = work(connection)
                except BaseException:
                    connection.rollback()
                    raise
                connection.execute("COMMIT")
        except (sqlite3.Error, OSError) as error:
            # The connection may be half-way through anything: the next call starts afresh.
            self._discard()
            raise ServiceUnavailable(f"{self.path.name} is unavailable: {error}") from error
        return result

    def _connection(self) -> sqlite3.Connection:
        held: tuple[int, sqlite3.Connection] | None = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid():
            return held[1]
        with self._taking_turns():
            return self._open_for_this_thread()

    @contextlib.contextmanager
    def _taking_turns(self) -> Iterator[None]:
        """This process's turn at the file, waited for no longer than the busy timeout."""
        if not self._turn.acquire(timeout=self.busy_timeout_ms / 1000):
            raise sqlite3.OperationalError("database is locked: this process's other threads hold it")
        try:
            yield
        finally:
            self._turn.release()

    def _open_for_this_thread(self) -> sqlite3.Connection:
        create_private(self.path)
        # Switching a brand-new file to WAL needs it to itself, and SQLite reports that as "locked"
        # at once, without waiting out the busy timeout, when several processes open it together.
        # So the setup is retried until the busy timeout, as a busy write would have waited.
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        while True:
            try:
                connection = self._open()
            except sqlite3.OperationalError as error:
                if not _is_busy(error) or time.monotonic() >= deadline:
                    raise
                time.sleep(_SETUP_RETRY_S)
            else:
                self._local.held = (os.getpid(), connection)
                return connection

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
        try:
            # The busy timeout first, so that the statements after it wait rather than fail.
            connection.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            for statement in (*_PRAGMAS, *self._schema):
                connection.execute(statement)
        except BaseException:
            connection.close()
            raise
        return connection

    def _discard(self) -> None:
        held: tuple[int, sqlite3.Connection] | None = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None and held[0] == os.getpid():
            held[1].close()


class SqliteQuotaCounter(_CounterFile):
    """A row per key: units used in the window, and the instant the window ends."""

    _schema = (
        (
            "CREATE TABLE IF NOT EXISTS quota_windows ("
            " key TEXT PRIMARY KEY, used INTEGER NOT NULL, resets_at INTEGER NOT NULL"
            ") WITHOUT ROWID"
        ),
        "CREATE INDEX IF NOT EXISTS quota_windows_by_end ON quota_windows (resets_at)",
    )

    def acquire(self, key: str, *, limit: int, resets_at: datetime) -> bool:
        ends = _micros(resets_at)
        if limit <= 0:
            return False

        def take(connection: sqlite3.Connection) -> bool:
            now = self._now()
            connection.execute(
                "DELETE FROM quota_windows WHERE key IN"
                " (SELECT key FROM quota_windows WHERE resets_at <= ? LIMIT ?)",
                (now, _PURGE_BATCH),
            )
            connection.execute("DELETE FROM quota_windows WHERE key = ? AND resets_at <= ?", (key, now))
            # A new window starts at 1; a live one counts up only while below the limit, and
            # keeps the end it started with.
            changed = connection.execute(
                "INSERT INTO quota_windows (key, used, resets_at) VALUES (?, 1, ?)"
                " ON CONFLICT (key) DO UPDATE SET used = used + 1 WHERE used < ?",
                (key, ends, limit),
            ).rowcount
            return changed == 1

        return self._run(take, write=True)

    def release(self, key: str) -> None:
        def give_back(connection: sqlite3.Connection) -> None:
            connection.execute(
                "UPDATE quota_windows SET used = used - 1 WHERE key = ? AND used > 0 AND resets_at > ?",
                (key, self._now()),
            )

        self._run(give_back)

    def used(self, key: str) -> int:
        def read(connection: sqlite3.Connection) -> int:
            row = connection.execute(
                "SELECT used FROM quota_windows WHERE key = ? AND resets_at > ?",
                (key, self._now()),
            ).fetchone()
            return int(row[0]) if row is not None else 0

        return self._run(read)


class SqliteTokenDenylist(_CounterFile):
    """A row per revoked token id, until the instant the token would have expired anyway."""

    _schema = (
        (
            "CREATE TABLE IF NOT EXISTS revoked_tokens ("
            " token_id TEXT PRIMARY KEY, until INTEGER NOT NULL"
            ") WITHOUT ROWID"
        ),
        "CREATE INDEX IF NOT EXISTS revoked_tokens_by_end ON revoked_tokens (until)",
    )

    def _purge_lapsed(self, connection: sqlite3.Connection) -> None:
        """Forget a batch of revocations whose tokens have expired anyway: the table stays small."""
        connection.execute(
            "DELETE FROM revoked_tokens WHERE token_id IN"
            " (SELECT token_id FROM revoked_tokens WHERE until <= ? LIMIT ?)",
            (self._now(), _PURGE_BATCH),
        )

    def revoke(self, token_id: str, *, until: datetime) -> None:
        lapses = _micros(until)

        def record(connection: sqlite3.Connection) -> None:
            self._purge_lapsed(connection)
            connection.execute(
                "INSERT INTO revoked_tokens (token_id, until) VALUES (?, ?)"
                " ON CONFLICT (token_id) DO UPDATE SET until = max(until, excluded.until)",
                (token_id, lapses),
            )

        self._run(record, write=True)

    def spend(self, token_id: str, *, until: datetime) -> bool:
        lapses = _micros(until)

        def take(connection: sqlite3.Connection) -> bool:
            now = self._now()
            if lapses <= now:
                return False
            # Inside BEGIN IMMEDIATE: no other process reads between this look and the write.
            live = connection.execute(
                "SELECT 1 FROM revoked_tokens WHERE token_id = ? AND until > ?", (token_id, now)
            ).fetchone()
            if live is not None:
                return False
            self._purge_lapsed(connection)
            connection.execute(
                "INSERT INTO revoked_tokens (token_id, until) VALUES (?, ?)"
                " ON CONFLICT (token_id) DO UPDATE SET until = excluded.until",
                (token_id, lapses),
            )
            return True

        return self._run(take, write=True)

    def is_revoked(self, *token_ids: str) -> bool:
        if not token_ids:
            return False
        marks = ", ".join("?" * len(token_ids))

        def read(connection: sqlite3.Connection) -> bool:
            row = connection.execute(
                f"SELECT 1 FROM revoked_tokens WHERE token_id IN ({marks}) AND until > ?",  # noqa: S608 - placeholders only
                (*token_ids, self._now()),
            ).fetchone()
            return row is not None

        return self._run(read)


class SqliteOneTimeTokens(_CounterFile):
    """A row per digest: the value and the instant it lapses; taking deletes the row."""

    _schema = (
        (
            "CREATE TABLE IF NOT EXISTS one_time_tokens ("
            " digest TEXT PRIMARY KEY, value TEXT NOT NULL, until INTEGER NOT NULL"
            ") WITHOUT ROWID"
        ),
        "CREATE INDEX IF NOT EXISTS one_time_tokens_by_end ON one_time_tokens (until)",
    )

    def put(self, digest: str, value: str, *, until: datetime) -> None:
        lapses = _micros(until)

        def store(connection: sqlite3.Connection) -> None:
            connection.execute(
                "DELETE FROM one_time_tokens WHERE digest IN"
                " (SELECT digest FROM one_time_tokens WHERE until <= ? LIMIT ?)",
                (self._now(), _PURGE_BATCH),
            )
            connection.execute(
                "INSERT OR REPLACE INTO one_time_tokens (digest, value, until) VALUES (?, ?, ?)",
                (digest, value, lapses),
            )

        self._run(store, write=True)

    def take(self, digest: str) -> str | None:
        def spend(connection: sqlite3.Connection) -> str | None:
            # DELETE ... RETURNING is one statement: of two takers, one deletes and one finds nothing.
            row = connection.execute(
                "DELETE FROM one_time_tokens WHERE digest = ? RETURNING value, until", (digest,)
            ).fetchone()
            if row is None or int(row[1]) <= self._now():
                return None
            return str(row[0])

        return self._run(spend, write=True)
