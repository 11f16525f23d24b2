"""One SQLite file: how connections are opened, and the schema brought up to date once."""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Final

from musicconnect.adapters.sqlite.schema import migrate, schema_version

BUSY_TIMEOUT_MS: Final = 5000

#: Set on every connection, after the busy timeout (so that switching a new file to WAL waits
#: rather than fails). WAL lets readers run beside the one writer; NORMAL is durable in WAL mode
#: except for the last transactions before a power cut, and never corrupts.
_PRAGMAS: Final = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
)


class SqliteDatabase:
    """A database file. Nothing touches the disk until the first connection is asked for."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.path = Path(path)
        #: How long a writer waits for the write lock before giving up.
        self.busy_timeout_ms = int(busy_timeout_ms)
        self._ready = False
        self._lock = threading.Lock()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SqliteDatabase({str(self.path)!r})"

    def connect(self) -> sqlite3.Connection:
        """A new connection in autocommit mode, on a schema that is up to date.

        Callers own the connection: begin and end transactions explicitly, and close it.
        """
        connection = self._open()
        try:
            self._ensure_schema(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    @functools.cached_property
    def resolved_path(self) -> str:
        """The file's absolute path, resolved once: two names for one file share its write lock."""
        return str(self.path.resolve())

    def lend(self, *, read_only: bool) -> sqlite3.Connection:
        """A connection for one unit of work: this thread's idle one, or a new one.

        Opening a connection and setting its pragmas cost more than the reads a stream request
        makes, so each thread keeps one idle connection of each kind between units of work.
        Read-only ones have ``query_only`` set for good, so a reader can never write.
        """
        connection = self._idle().pop(read_only, None)
        if connection is not None:
            return connection
        connection = self.connect()
        if read_only:
            connection.execute("PRAGMA query_only = ON")
        return connection

    def give_back(self, connection: sqlite3.Connection, *, read_only: bool) -> None:
        """Keep ``connection`` (outside any transaction) for this thread's next unit of work."""
        idle = self._idle()
        if connection.in_transaction or read_only in idle:
            connection.close()
        else:
            idle[read_only] = connection

    def _idle(self) -> dict[bool, sqlite3.Connection]:
        # Per process too: a connection inherited through fork must not be used by the child.
        if getattr(self._local, "pid", None) != os.getpid():
            self._local.pid = os.getpid()
            self._local.idle = {}
        idle: dict[bool, sqlite3.Connection] = self._local.idle
        return idle

    def migrate(self) -> int:
        """Create or upgrade the schema now; returns the version the file had before."""
        connection = self._open()
        try:
            found = migrate(connection)
        finally:
            connection.close()
        self._ready = True
        return found

    @property
    def schema_version(self) -> int:
        connection = self._open()
        try:
            return schema_version(connection)
        finally:
            connection.close()

    def _open(self) -> sqlite3.Connection:
        create_private(self.path)
        # isolation_level=None: the unit of work issues BEGIN IMMEDIATE / COMMIT itself.
        connection = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout_ms / 1000,
            isolation_level=None,
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            for pragma in _PRAGMAS:
                self._execute_retrying(connection, pragma)
        except BaseException:
            connection.close()
            raise
        connection.row_factory = sqlite3.Row
        return connection

    def _execute_retrying(self, connection: sqlite3.Connection, statement: str) -> None:
        # Switching a brand-new file to WAL needs it to itself, and SQLite answers "locked" at
        # once (without the busy handler) when several connections open it together: retry.
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        while True:
            try:
                connection.execute(statement)
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)
            else:
                return

    def _ensure_schema(self, connection: sqlite3.Connection) -> None:
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                migrate(connection)
                self._ready = True


def create_private(path: Path) -> None:
    """Create the file (and its folder) readable by the owner only, unless it exists.

    SQLite gives its -wal and -shm files the permissions of the database file, so this covers
    them too: password hashes and revocations are nobody else's business on a shared machine.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
