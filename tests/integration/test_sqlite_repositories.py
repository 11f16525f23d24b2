"""The SQLite repositories: the shared contracts, plus what only a real database file can show."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest

from musicconnect.adapters.sqlite import (
    SCHEMA_VERSION,
    SchemaVersionError,
    SqliteDatabase,
    SqliteUnitOfWork,
)
from musicconnect.adapters.sqlite._codec import instant
from musicconnect.adapters.sqlite.schema import migrate, schema_version
from musicconnect.domain.accounts import Account, Artist, Role
from musicconnect.domain.analytics import PlayEvent
from musicconnect.domain.errors import Conflict, InvalidInput, ServiceUnavailable
from musicconnect.domain.money import Money
from musicconnect.domain.subscriptions import end_now
from musicconnect.domain.tiers import Tier, default_plans, revise_plan
from musicconnect.domain.tracks import Track
from musicconnect.ports.repositories import UnitOfWork
from tests.contract.backstage_contract import (
    ArtistPictureContract,
    BackstageBlockRepositoryContract,
    BackstageCommentRepositoryContract,
    BackstagePostRepositoryContract,
)
from tests.contract.live_contract import LiveSessionRepositoryContract
from tests.contract.repositories_contract import (
    AccountRepositoryContract,
    ArtistRepositoryContract,
    FanRepositoryContract,
    LedgerRepositoryContract,
    ListeningHistoryContract,
    MessageRepositoryContract,
    NotificationRepositoryContract,
    PaymentIntentRepositoryContract,
    PayoutRepositoryContract,
    PlayEventStoreContract,
    ProcessedEventStoreContract,
    ProcessorLinkRepositoryContract,
    QaSessionRepositoryContract,
    QuestionRepositoryContract,
    SubscriptionRepositoryContract,
    TrackRepositoryContract,
    UnitOfWorkContract,
    a_charge,
    a_subscription,
    an_account,
)

pytestmark = pytest.mark.integration

NOW = datetime(2024, 5, 17, 12, 30, tzinfo=UTC)


# --- the shared contracts ------------------------------------------------------------------------


class SqliteFile:
    """Every unit of work of one test on one fresh database file under the test's tmp_path."""

    tmp_path: Path
    _db: SqliteDatabase | None = None

    def make_uow(self) -> UnitOfWork:
        if self._db is None:
            self._db = SqliteDatabase(self.tmp_path / "contract.sqlite3")
        return SqliteUnitOfWork(self._db)


class TestSqliteAccountRepository(SqliteFile, AccountRepositoryContract):
    pass


class TestSqliteArtistRepository(SqliteFile, ArtistRepositoryContract):
    pass


class TestSqliteFanRepository(SqliteFile, FanRepositoryContract):
    pass


class TestSqliteTrackRepository(SqliteFile, TrackRepositoryContract):
    pass


class TestSqliteSubscriptionRepository(SqliteFile, SubscriptionRepositoryContract):
    pass


class TestSqliteLedgerRepository(SqliteFile, LedgerRepositoryContract):
    pass


class TestSqlitePayoutRepository(SqliteFile, PayoutRepositoryContract):
    pass


class TestSqlitePlayEventStore(SqliteFile, PlayEventStoreContract):
    pass


class TestSqliteMessageRepository(SqliteFile, MessageRepositoryContract):
    pass


class TestSqliteQaSessionRepository(SqliteFile, QaSessionRepositoryContract):
    pass


class TestSqliteQuestionRepository(SqliteFile, QuestionRepositoryContract):
    pass


class TestSqliteNotificationRepository(SqliteFile, NotificationRepositoryContract):
    pass


class TestSqliteListeningHistory(SqliteFile, ListeningHistoryContract):
    pass


class TestSqlitePaymentIntentRepository(SqliteFile, PaymentIntentRepositoryContract):
    pass


class TestSqliteProcessorLinkRepository(SqliteFile, ProcessorLinkRepositoryContract):
    pass


class TestSqliteProcessedEventStore(SqliteFile, ProcessedEventStoreContract):
    pass


class TestSqliteUnitOfWork(SqliteFile, UnitOfWorkContract):
    pass


# --- fixtures for the SQLite-specific tests ------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> SqliteDatabase:
    return SqliteDatabase(tmp_path / "musicconnect.sqlite3")


@pytest.fixture
def uow(db: SqliteDatabase) -> SqliteUnitOfWork:
    return SqliteUnitOfWork(db)


def raw(db: SqliteDatabase) -> Iterator[sqlite3.Connection]:
    connection = db.connect()
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def reader(db: SqliteDatabase) -> Iterator[sqlite3.Connection]:
    """A plain connection outside any unit of work, reading what is committed."""
    yield from raw(db)


# --- the file: pragmas, schema versions, upgrades -----------------------------------------------


def test_nothing_touches_the_disk_until_a_connection_is_needed(tmp_path: Path) -> None:
    """Building the database and its unit of work creates no file."""
    path = tmp_path / "data" / "db.sqlite3"
    SqliteUnitOfWork(SqliteDatabase(path))
    assert not path.exists()


def test_connections_use_wal_and_enforce_foreign_keys(reader: sqlite3.Connection) -> None:
    """Every connection runs in WAL mode with foreign keys, NORMAL sync and a busy timeout."""
    assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert reader.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert reader.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert reader.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_a_new_file_gets_the_latest_schema(db: SqliteDatabase) -> None:
    """A fresh file is created at the current schema version."""
    assert db.migrate() == 0
    assert db.schema_version == SCHEMA_VERSION


def test_an_old_file_is_upgraded_and_keeps_its_data(tmp_path: Path) -> None:
    """A file with only the first migration is brought up to date on open, its rows intact."""
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    migrate(old, target=1)
    account = an_account()
    # Written as the first release wrote it: the columns of step 1 only.
    old.execute(
        "INSERT INTO accounts (id, email, email_normalised, password_hash, role, display_name, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            account.id,
            account.email,
            account.email.lower(),
            account.password_hash,
            account.role.value,
            account.display_name,
            instant(account.created_at),
        ),
    )
    assert schema_version(old) == 1
    assert "ledger_transactions" not in _tables(old)
    old.close()

    uow = SqliteUnitOfWork(SqliteDatabase(path))
    with uow:
        # Accounts from before email verification existed have not verified yet.
        assert uow.accounts.get("acc-1") == attrs.evolve(an_account(), email_verified=False)
        # Tables from the later steps exist and work.
        assert uow.ledger.record(a_charge("key-1"))
        assert uow.processed_events.mark("evt-1", NOW)
        uow.plays.record(PlayEvent("artist-1", "track-1", "fan-1", NOW))
        uow.commit()
    assert SqliteDatabase(path).schema_version == SCHEMA_VERSION


def test_upgrading_twice_changes_nothing(db: SqliteDatabase) -> None:
    """Migrating an up-to-date file is a no-op that reports the current version."""
    db.migrate()
    assert db.migrate() == SCHEMA_VERSION
    assert db.schema_version == SCHEMA_VERSION


def test_a_file_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    """A schema version above ours raises a clear error and leaves the file as it was."""
    path = tmp_path / "newer.sqlite3"
    newer = sqlite3.connect(path, isolation_level=None)
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer.close()

    uow = SqliteUnitOfWork(SqliteDatabase(path))
    with pytest.raises(SchemaVersionError, match=r"schema version \d+.*upgrade musicconnect"), uow:
        pass
    check = sqlite3.connect(path)
    assert schema_version(check) == SCHEMA_VERSION + 1
    assert _tables(check) == set()
    check.close()


def test_a_failed_migration_leaves_the_file_unchanged(tmp_path: Path) -> None:
    """A step that fails rolls back the whole upgrade: version and tables stay as they were."""
    path = tmp_path / "broken.sqlite3"
    connection = sqlite3.connect(path, isolation_level=None)
    migrate(connection, target=1)
    # Block step 2: a table of the same name already exists.
    connection.execute("CREATE TABLE ledger_entries (x)")
    tables = _tables(connection)
    with pytest.raises(sqlite3.OperationalError, match="already exists"):
        migrate(connection)
    assert schema_version(connection) == 1
    assert _tables(connection) == tables
    connection.close()


def test_data_survives_closing_and_reopening(tmp_path: Path) -> None:
    """What was committed is there when a new process opens the same file."""
    path = tmp_path / "durable.sqlite3"
    account = an_account(email="Someone@Example.com")
    subscription = a_subscription("sub-1", plan=default_plans()[1])
    first = SqliteUnitOfWork(SqliteDatabase(path))
    with first:
        first.accounts.add(account)
        first.artists.add(Artist("artist-1", "The Band", default_plans()))
        first.subscriptions.add(subscription)
        first.ledger.record(a_charge("key-1"))
        first.commit()

    second = SqliteUnitOfWork(SqliteDatabase(path))
    with second:
        assert second.accounts.by_email("someone@example.com") == account
        assert second.artists.get("artist-1") == Artist("artist-1", "The Band", default_plans())
        assert second.subscriptions.get("sub-1") == subscription
        assert second.ledger.by_key("key-1") == a_charge("key-1")


# --- transactions --------------------------------------------------------------------------------


def test_leaving_without_commit_rolls_back(uow: SqliteUnitOfWork) -> None:
    """Writes not committed before the block ends are gone."""
    with uow:
        uow.accounts.add(an_account())
    with uow:
        assert uow.accounts.get("acc-1") is None


def test_an_exception_rolls_back_everything_written(uow: SqliteUnitOfWork) -> None:
    """A failure part-way through leaves none of the unit of work's writes behind."""

    def write_then_fail() -> None:
        with uow:
            uow.accounts.add(an_account())
            uow.ledger.record(a_charge("key-1"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail()
    with uow:
        assert uow.accounts.get("acc-1") is None
        assert uow.ledger.by_key("key-1") is None


def test_uncommitted_writes_are_invisible_to_other_connections(
    uow: SqliteUnitOfWork, reader: sqlite3.Connection
) -> None:
    """Nothing half-written is visible: other readers see the rows only after commit."""
    with uow:
        uow.accounts.add(an_account())
        uow.ledger.record(a_charge("key-1"))
        assert reader.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0
        assert reader.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0
        uow.commit()
        assert reader.execute("SELECT count(*) FROM accounts").fetchone()[0] == 1
        assert reader.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 3


def test_writes_after_a_commit_need_their_own_commit(uow: SqliteUnitOfWork) -> None:
    """After commit the unit of work starts a new transaction; leaving rolls only that back."""
    with uow:
        uow.accounts.add(an_account("acc-1", "one@example.com"))
        uow.commit()
        uow.accounts.add(an_account("acc-2", "two@example.com"))
    with uow:
        assert uow.accounts.get("acc-1") is not None
        assert uow.accounts.get("acc-2") is None


def test_rollback_discards_and_work_can_continue(uow: SqliteUnitOfWork) -> None:
    """rollback() drops what was written so far; later writes can still be committed."""
    with uow:
        uow.accounts.add(an_account("acc-1", "one@example.com"))
        uow.rollback()
        uow.accounts.add(an_account("acc-2", "two@example.com"))
        uow.commit()
    with uow:
        assert uow.accounts.get("acc-1") is None
        assert uow.accounts.get("acc-2") is not None


def test_repositories_refuse_to_work_outside_a_unit_of_work(uow: SqliteUnitOfWork) -> None:
    """Using a repository outside `with` is a programming error, said plainly."""
    with pytest.raises(RuntimeError, match="inside a `with` block"):
        uow.accounts.get("acc-1")


def test_units_of_work_do_not_nest(uow: SqliteUnitOfWork) -> None:
    """Entering the same unit of work twice in one thread is refused."""
    with uow, pytest.raises(RuntimeError, match="do not nest"), uow:
        pass


def test_a_failed_repository_call_writes_none_of_its_rows(uow: SqliteUnitOfWork) -> None:
    """An artist save refused part-way leaves the profile as it was, even if the caller commits."""
    artist = Artist("artist-1", "The Band", default_plans())
    with uow:
        uow.artists.add(artist)
        uow.commit()
    supporter = default_plans()[1]
    rewritten = revise_plan(supporter, price=Money(700, "USD"), features=["x"], now=NOW)
    # The same version number with other terms would rewrite what subscribers were sold.
    tampered = Artist("artist-1", "Renamed", (default_plans()[0], attrs.evolve(rewritten, version=1)))
    with uow:
        with pytest.raises(Conflict, match="version 1 of the supporter tier"):
            uow.artists.save(tampered)
        uow.commit()
    with uow:
        assert uow.artists.get("artist-1") == artist


# --- concurrency ---------------------------------------------------------------------------------


def _in_threads(count: int, work: Callable[[int], str]) -> Counter[str]:
    barrier = threading.Barrier(count)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcome = work(index)
        except Conflict:
            outcome = "conflict"
        except Exception as error:  # noqa: BLE001 - every other failure is reported by name
            outcome = f"error: {error!r}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return Counter(outcomes)


def test_eight_threads_subscribing_the_same_pair_leave_one_subscription(db: SqliteDatabase) -> None:
    """Eight concurrent writers of the same (fan, artist): exactly one wins, seven get Conflict."""
    db.migrate()

    def subscribe(index: int) -> str:
        uow = SqliteUnitOfWork(db)
        with uow:
            uow.subscriptions.add(a_subscription(f"sub-{index}"))
            uow.commit()
        return "ok"

    assert _in_threads(8, subscribe) == Counter({"ok": 1, "conflict": 7})
    with SqliteUnitOfWork(db) as uow:
        assert len(uow.subscriptions.of_fan("fan-1")) == 1


def test_read_then_write_from_many_threads_serialises(db: SqliteDatabase) -> None:
    """Threads sharing one unit of work that check, then insert, never fail on a lock."""
    db.migrate()
    shared = SqliteUnitOfWork(db)
    # Every thread that has read waits here for the others before writing. Units of work that
    # hold the write lock from the start never all get here, so they go on after the timeout;
    # ones that read first and upgrade later would all read "none yet" and then collide.
    checked = threading.Barrier(8)

    def subscribe_once(index: int) -> str:
        with shared:
            existing = shared.subscriptions.live_for("fan-1", "artist-1")
            with contextlib.suppress(threading.BrokenBarrierError):
                checked.wait(timeout=0.5)
            if existing is not None:
                return "already"
            shared.subscriptions.add(a_subscription(f"sub-{index}"))
            shared.commit()
        return "ok"

    assert _in_threads(8, subscribe_once) == Counter({"ok": 1, "already": 7})


def test_a_lock_held_too_long_is_a_clear_service_unavailable(tmp_path: Path) -> None:
    """When the write lock stays taken past the busy timeout, entering says so and writes nothing."""
    db = SqliteDatabase(tmp_path / "busy.sqlite3", busy_timeout_ms=50)
    holder = db.connect()
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ServiceUnavailable, match="busy"), SqliteUnitOfWork(db):
            pass
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with SqliteUnitOfWork(db) as uow:
        assert uow.accounts.get("acc-1") is None


def test_a_unit_of_work_opened_under_this_threads_own_lock_reads_committed_data(
    db: SqliteDatabase,
) -> None:
    """A second unit of work in a thread already writing reads a snapshot at once and may not write."""
    with SqliteUnitOfWork(db) as setup:
        setup.accounts.add(an_account("acc-0", "zero@example.com"))
        setup.commit()
    with SqliteUnitOfWork(db) as writer:
        writer.accounts.add(an_account())
        with SqliteUnitOfWork(db) as inner:
            assert inner.accounts.get("acc-0") is not None
            assert inner.accounts.get("acc-1") is None
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                inner.accounts.add(an_account("acc-2", "two@example.com"))
        writer.commit()
    with SqliteUnitOfWork(db) as after:
        assert after.accounts.get("acc-1") is not None
        assert after.accounts.get("acc-2") is None


def test_a_unit_of_work_can_be_built_from_a_path(tmp_path: Path) -> None:
    """Given a path instead of a database, the unit of work opens that file."""
    with SqliteUnitOfWork(tmp_path / "by-path.sqlite3") as uow:
        uow.accounts.add(an_account())
        uow.commit()
    with SqliteUnitOfWork(SqliteDatabase(tmp_path / "by-path.sqlite3")) as uow:
        assert uow.accounts.get("acc-1") == an_account()


# --- storage rules -------------------------------------------------------------------------------


def test_instants_are_stored_as_utc_text_and_read_back_aware(
    uow: SqliteUnitOfWork, reader: sqlite3.Connection
) -> None:
    """A datetime in any zone is stored as ISO-8601 UTC and comes back as the same UTC instant."""
    paris = timezone(timedelta(hours=2))
    local = datetime(2024, 5, 17, 14, 30, tzinfo=paris)
    with uow:
        uow.accounts.add(Account("acc-1", "a@example.com", "h", Role.FAN, "A", local))
        uow.commit()
    assert reader.execute("SELECT created_at FROM accounts").fetchone()[0] == (
        "2024-05-17T12:30:00.000000+00:00"
    )
    with uow:
        stored = uow.accounts.get("acc-1")
    assert stored is not None
    assert stored.created_at == local
    assert stored.created_at.tzinfo is UTC


def test_naive_datetimes_are_refused(uow: SqliteUnitOfWork) -> None:
    """A naive datetime is ambiguous and never reaches the file."""
    with uow, pytest.raises(InvalidInput, match="timezone-aware"):
        uow.processed_events.mark("evt-1", datetime(2024, 5, 17))  # noqa: DTZ001 - on purpose


def test_money_is_stored_as_integers(uow: SqliteUnitOfWork, reader: sqlite3.Connection) -> None:
    """Amounts are INTEGER minor units with their currency, never REAL."""
    with uow:
        uow.ledger.record(a_charge("key-1"))
        uow.subscriptions.add(a_subscription("sub-1"))
        uow.commit()
    types = {row[0] for row in reader.execute("SELECT typeof(amount_minor) FROM ledger_entries")}
    assert types == {"integer"}
    assert tuple(reader.execute("SELECT typeof(price_minor), currency FROM subscriptions").fetchone()) == (
        "integer",
        "USD",
    )


def test_emails_are_unique_whatever_their_case(uow: SqliteUnitOfWork) -> None:
    """A second account whose email differs only in case or spaces is a Conflict."""
    with uow:
        uow.accounts.add(an_account("acc-1", "Someone@Example.com"))
        with pytest.raises(Conflict):
            uow.accounts.add(an_account("acc-2", " someone@example.COM "))
        assert uow.accounts.by_email("SOMEONE@example.com") == an_account("acc-1", "Someone@Example.com")


def test_a_canceled_subscription_makes_room_for_a_new_one(uow: SqliteUnitOfWork) -> None:
    """The one-live-subscription rule ignores canceled ones, and saving cannot revive a second."""
    first = a_subscription("sub-1")
    with uow:
        uow.subscriptions.add(first)
        with pytest.raises(Conflict):
            uow.subscriptions.add(a_subscription("sub-2"))
        uow.subscriptions.save(end_now(first, NOW))
        uow.subscriptions.add(a_subscription("sub-2"))
        with pytest.raises(Conflict):
            uow.subscriptions.save(first)
        assert [s.id for s in uow.subscriptions.of_fan("fan-1")] == ["sub-1", "sub-2"]
        live = uow.subscriptions.live_for("fan-1", "artist-1")
        assert live is not None
        assert live.id == "sub-2"


def test_every_price_version_survives(uow: SqliteUnitOfWork, reader: sqlite3.Connection) -> None:
    """A price change adds a tier_plans row; the artist points at the new one, the old stays."""
    artist = Artist("artist-1", "The Band", default_plans())
    revised = revise_plan(artist.plan(Tier.SUPPORTER), price=Money(700, "USD"), features=["a"], now=NOW)
    with uow:
        uow.artists.add(artist)
        uow.artists.save(artist.with_plan(revised))
        uow.commit()
    with uow:
        stored = uow.artists.get("artist-1")
        assert stored is not None
        assert stored.plan(Tier.SUPPORTER) == revised
        assert uow.artists.plan_version("artist-1", Tier.SUPPORTER, 1) == artist.plan(Tier.SUPPORTER)
        assert uow.artists.plan_version("artist-1", Tier.SUPPORTER, 2) == revised
        assert uow.artists.plan_version("artist-1", Tier.SUPPORTER, 3) is None
    assert reader.execute("SELECT count(*) FROM tier_plans").fetchone()[0] == 4


def test_a_duplicate_ledger_key_writes_nothing(uow: SqliteUnitOfWork, reader: sqlite3.Connection) -> None:
    """Recording the same idempotency key again returns False and adds no row."""
    with uow:
        assert uow.ledger.record(a_charge("key-1", transaction_id="t-1"))
        assert not uow.ledger.record(a_charge("key-1", transaction_id="t-2"))
        uow.commit()
    assert reader.execute("SELECT count(*) FROM ledger_transactions").fetchone()[0] == 1
    assert reader.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 3


def test_a_real_amount_cannot_be_stored(reader: sqlite3.Connection) -> None:
    """The schema itself refuses a REAL in a money column, whoever writes it."""
    reader.execute(
        "INSERT INTO ledger_transactions (id, idempotency_key, kind, occurred_at, memo)"
        " VALUES ('t', 'k', 'charge', '2024-01-01T00:00:00.000000+00:00', '')"
    )
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint"):
        reader.execute(
            "INSERT INTO ledger_entries (transaction_id, position, account, direction, amount_minor,"
            " currency) VALUES ('t', 0, 'cash', 'debit', 4.5, 'USD')"
        )


def test_balances_are_summed_over_the_account_index(reader: sqlite3.Connection) -> None:
    """A balance reads the covering (account, currency) index, not the whole entries table."""
    plan = _plan(
        reader,
        "SELECT SUM(amount_minor) FROM ledger_entries WHERE account = ? AND currency = ?",
        ("cash", "USD"),
    )
    assert "USING COVERING INDEX ledger_entries_by_account" in plan


def test_ten_thousand_plays_over_thirty_days_are_thirty_bucket_rows(
    uow: SqliteUnitOfWork, reader: sqlite3.Connection
) -> None:
    """Plays are counters: 10,000 plays over 30 days leave at most 30 rows to read."""
    first = date(2024, 5, 1)
    with uow:
        for index in range(10_000):
            at = datetime.combine(first, datetime.min.time(), UTC) + timedelta(days=index % 30, seconds=index)
            uow.plays.record(PlayEvent("artist-1", f"track-{index % 7}", f"fan-{index % 50}", at))
        uow.commit()
    assert reader.execute("SELECT count(*) FROM play_buckets").fetchone()[0] == 30
    assert reader.execute("SELECT count(*) FROM fan_plays").fetchone()[0] == 50
    with uow:
        counts = uow.plays.daily_counts("artist-1", first, first + timedelta(days=29))
        top = uow.plays.top_fans("artist-1", 3)
    assert len(counts) == 30
    assert sum(counts.values()) == 10_000
    assert top == [("fan-0", 200), ("fan-1", 200), ("fan-10", 200)]


def test_a_30_day_query_searches_the_bucket_key(reader: sqlite3.Connection) -> None:
    """The daily-counts query is a range search on (artist_id, day), never a scan."""
    plan = _plan(
        reader,
        "SELECT day, count FROM play_buckets WHERE artist_id = ? AND day BETWEEN ? AND ?",
        ("artist-1", "2024-05-01", "2024-05-30"),
    )
    assert "SEARCH play_buckets USING PRIMARY KEY (artist_id=? AND day>? AND day<?)" in plan
    assert "SCAN" not in plan


def test_tracks_waiting_for_a_transcode_are_listed_oldest_first(uow: SqliteUnitOfWork) -> None:
    """processing() lists only tracks still processing, oldest first, across artists."""
    old = Track("t-old", "artist-2", "Old", NOW - timedelta(days=1))
    new = Track("t-new", "artist-1", "New", NOW)
    done = Track("t-done", "artist-1", "Done", NOW - timedelta(days=2)).published(
        duration_s=3.0, rungs_kbps=(128,)
    )
    with uow:
        for track in (new, done, old):
            uow.tracks.add(track)
        assert list(uow.tracks.processing()) == [old, new]


def test_follows_likes_and_visits_count_each_person_once(uow: SqliteUnitOfWork) -> None:
    """Repeated follows, likes and visits are idempotent; visitors are counted distinctly."""
    with uow:
        for _ in range(3):
            uow.fans.follow("fan-1", "artist-1", NOW)
            uow.fans.like("fan-1", "track-1", NOW)
            uow.fans.record_visit("fan-1", "artist-1", NOW)
        uow.fans.record_visit("fan-2", "artist-1", NOW)
        uow.commit()
    with uow:
        assert uow.fans.follower_count("artist-1") == 1
        assert uow.fans.likes_of("track-1") == 1
        assert uow.fans.visitor_count("artist-1") == 2


# --- helpers -------------------------------------------------------------------------------------


def _tables(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(row[0]) for row in rows}


def _plan(connection: sqlite3.Connection, sql: str, parameters: tuple[str, ...]) -> str:
    rows = connection.execute(f"EXPLAIN QUERY PLAN {sql}", parameters).fetchall()
    return "\n".join(str(row[3]) for row in rows)


class TestSqliteLiveSessionRepository(SqliteFile, LiveSessionRepositoryContract):
    pass


class TestSqliteBackstagePostRepository(SqliteFile, BackstagePostRepositoryContract):
    pass


class TestSqliteBackstageCommentRepository(SqliteFile, BackstageCommentRepositoryContract):
    pass


class TestSqliteBackstageBlockRepository(SqliteFile, BackstageBlockRepositoryContract):
    pass


class TestSqliteArtistPicture(SqliteFile, ArtistPictureContract):
    pass
