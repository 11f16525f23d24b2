"""The unit of work: every repository over one connection and one write transaction.

Entering takes SQLite's write lock at once (``BEGIN IMMEDIATE``), so two units of work that
read, decide and write serialise instead of failing when the second one upgrades its lock.
State is per thread, so one instance may serve the threads of a server; it does not nest.

One exception: a unit of work opened by a thread that already holds the file's write lock in
another unit of work cannot wait for that lock (the wait would deadlock), so it reads a snapshot
of what is committed and refuses to write.

A unit of work made with ``read_only=True`` only reads, each statement on its own (no snapshot
across statements): hot read paths (a fan opening a stream) then never queue for the write lock
behind each other or behind a writer.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

from musicconnect.adapters.sqlite.accounts import SqliteAccountRepository, SqliteArtistRepository
from musicconnect.adapters.sqlite.audience import (
    SqliteFanRepository,
    SqliteMessageRepository,
    SqlitePlayEventStore,
)
from musicconnect.adapters.sqlite.backstage import (
    SqliteBackstageBlockRepository,
    SqliteBackstageCommentRepository,
    SqliteBackstagePostRepository,
)
from musicconnect.adapters.sqlite.billing import (
    SqliteLedgerRepository,
    SqlitePayoutRepository,
    SqliteProcessedEventStore,
    SqliteSubscriptionRepository,
)
from musicconnect.adapters.sqlite.catalog import SqliteTrackRepository
from musicconnect.adapters.sqlite.database import SqliteDatabase
from musicconnect.adapters.sqlite.intents import SqlitePaymentIntentRepository, SqliteProcessorLinkRepository
from musicconnect.adapters.sqlite.live import SqliteLiveSessionRepository
from musicconnect.adapters.sqlite.notifications import SqliteNotificationRepository
from musicconnect.adapters.sqlite.qa import SqliteQaSessionRepository, SqliteQuestionRepository
from musicconnect.domain.errors import ServiceUnavailable
from musicconnect.ports.repositories import (
    AccountRepository,
    ArtistRepository,
    BackstageBlockRepository,
    BackstageCommentRepository,
    BackstagePostRepository,
    FanRepository,
    LedgerRepository,
    LiveSessionRepository,
    MessageRepository,
    NotificationRepository,
    PaymentIntentRepository,
    PayoutRepository,
    PlayEventStore,
    ProcessedEventStore,
    ProcessorLinkRepository,
    QaSessionRepository,
    QuestionRepository,
    SubscriptionRepository,
    TrackRepository,
)

#: Per thread and per file, the connections of open units of work that may hold the write lock.
_writers = threading.local()


def _writers_here(db: SqliteDatabase) -> list[sqlite3.Connection]:
    by_file: dict[str, list[sqlite3.Connection]] | None = getattr(_writers, "by_file", None)
    if by_file is None:
        by_file = _writers.by_file = {}
    return by_file.setdefault(db.resolved_path, [])


class SqliteUnitOfWork:
    def __init__(self, db: SqliteDatabase | Path, *, read_only: bool = False) -> None:
        self.db = db if isinstance(db, SqliteDatabase) else SqliteDatabase(db)
        self._always_read_only = read_only
        self._local = threading.local()
        connect = self._connection
        self.accounts: AccountRepository = SqliteAccountRepository(connect)
        self.artists: ArtistRepository = SqliteArtistRepository(connect)
        self.fans: FanRepository = SqliteFanRepository(connect)
        self.tracks: TrackRepository = SqliteTrackRepository(connect)
        self.live_sessions: LiveSessionRepository = SqliteLiveSessionRepository(connect)
        self.subscriptions: SubscriptionRepository = SqliteSubscriptionRepository(connect)
        self.ledger: LedgerRepository = SqliteLedgerRepository(connect)
        self.payouts: PayoutRepository = SqlitePayoutRepository(connect)
        self.plays: PlayEventStore = SqlitePlayEventStore(connect)
        self.messages: MessageRepository = SqliteMessageRepository(connect)
        self.processed_events: ProcessedEventStore = SqliteProcessedEventStore(connect)
        self.intents: PaymentIntentRepository = SqlitePaymentIntentRepository(connect)
        self.processor_links: ProcessorLinkRepository = SqliteProcessorLinkRepository(connect)
        self.qa_sessions: QaSessionRepository = SqliteQaSessionRepository(connect)
        self.questions: QuestionRepository = SqliteQuestionRepository(connect)
        self.notifications: NotificationRepository = SqliteNotificationRepository(connect)
        self.backstage_posts: BackstagePostRepository = SqliteBackstagePostRepository(connect)
        self.backstage_comments: BackstageCommentRepository = SqliteBackstageCommentRepository(connect)
        self.backstage_blocks: BackstageBlockRepository = SqliteBackstageBlockRepository(connect)

    def __enter__(self) -> Self:
        if self._current() is not None:
            raise RuntimeError("this unit of work is already open in this thread; they do not nest")
        writers = _writers_here(self.db)
        read_only = self._always_read_only or any(writer.in_transaction for writer in writers)
        connection = self.db.lend(read_only=read_only)
        try:
            if not self._always_read_only:
                _begin(connection, read_only=read_only)
        except BaseException:
            connection.close()
            raise
        if not read_only:
            writers.append(connection)
        self._local.connection = connection
        self._local.read_only = read_only
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self._current()
        self._local.connection = None
        if connection is None:
            return
        writers = _writers_here(self.db)
        if connection in writers:
            writers.remove(connection)
        try:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        finally:
            self.db.give_back(connection, read_only=self._local.read_only)

    def commit(self) -> None:
        connection = self._open_connection()
        if connection.in_transaction:
            connection.execute("COMMIT")

    def rollback(self) -> None:
        connection = self._open_connection()
        if connection.in_transaction:
            connection.execute("ROLLBACK")

    def _current(self) -> sqlite3.Connection | None:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        return connection

    def _open_connection(self) -> sqlite3.Connection:
        connection = self._current()
        if connection is None:
            raise RuntimeError("use the unit of work inside a `with` block")
        return connection

    def _connection(self) -> sqlite3.Connection:
        """The connection for a repository call, in a transaction (a new one after a commit)."""
        connection = self._open_connection()
        # A reader's statements each see the latest commit on their own: no BEGIN and ROLLBACK
        # around them, as each statement is a hand-over of the GIL that a busy server pays for.
        if not connection.in_transaction and not self._always_read_only:
            _begin(connection, read_only=self._local.read_only)
        return connection


def _begin(connection: sqlite3.Connection, *, read_only: bool) -> None:
    try:
        connection.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        # Still locked after the busy timeout: a clear "try again", never a half-done write.
        raise ServiceUnavailable(f"the database is busy: {error}") from error
