"""The MongoDB repositories over pymongo and a real socket: the shared contracts, plus what only a
server shows: indexes, bucketed plays, races, conditional saves, and the server dying mid-run.

The suite starts nx-27017 (a MongoDB wire-protocol server) on a free loopback port, or uses the
real MongoDB named by ``MUSICCONNECT_TEST_MONGODB_URI``. The tests that kill the server always
start an nx-27017 of their own, since a shared or external server cannot be killed.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from pymongo.errors import DuplicateKeyError, PyMongoError
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from musicconnect.adapters.mongo import INDEXES, MongoDatabase, MongoUnitOfWork
from musicconnect.domain.analytics import PlayEvent
from musicconnect.domain.errors import Conflict, ServiceUnavailable
from musicconnect.domain.money import Money
from musicconnect.domain.tracks import TrackStatus
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
    a_track,
    an_account,
)
from tests.support.mongo_server import external_mongodb_uri, mongo_uri, nx_27017_server
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.integration

NOW = datetime(2024, 5, 17, 12, 30, 0, 654321, tzinfo=UTC)
#: The gross of the charges whose stored amount or balance a test checks.
GROSS = Money(1000, "USD")
#: Short, so that tests against a dead server fail in a second rather than five.
DEAD_SERVER_TIMEOUT_MS = 500


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MongoDB when MUSICCONNECT_TEST_MONGODB_URI is set, else nx-27017 for the session."""
    external = external_mongodb_uri()
    if external is not None:
        yield external
        return
    server = nx_27017_server(tmp_path_factory.mktemp("nx-27017"))
    try:
        yield mongo_uri(server)
    finally:
        server.stop()


def _fresh_name() -> str:
    return f"mc_test_{uuid.uuid4().hex[:20]}"


def _drop(database: MongoDatabase) -> None:
    with contextlib.suppress(PyMongoError):
        database.client.drop_database(database.name)
    database.close()


@pytest.fixture
def db(mongodb_uri: str) -> Iterator[MongoDatabase]:
    database = MongoDatabase(mongodb_uri, database=_fresh_name())
    yield database
    _drop(database)


@pytest.fixture(params=["detected", "forced"])
def any_commit_db(request: pytest.FixtureRequest, mongodb_uri: str) -> Iterator[MongoDatabase]:
    """Both ways to commit. nx-27017 runs transactions (all it lacks is isolation, which buffered
    writes do not need), so forcing them exercises the transactional commit; a real server is
    left to decide for itself."""
    forced = request.param == "forced" and external_mongodb_uri() is None
    database = MongoDatabase(mongodb_uri, database=_fresh_name(), transactions=True if forced else None)
    yield database
    _drop(database)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """An nx-27017 for one test alone, free to be killed and restarted."""
    server = nx_27017_server(tmp_path / "nx-27017")
    yield server
    server.stop()


# --- the shared contracts ------------------------------------------------------------------------


class OnMongo:
    """Every unit of work of one test on one fresh database, dropped afterwards."""

    _db: MongoDatabase

    @pytest.fixture(autouse=True)
    def _fresh_database(self, db: MongoDatabase) -> None:
        self._db = db

    def make_uow(self) -> UnitOfWork:
        return MongoUnitOfWork(self._db)


class TestMongoAccountRepository(OnMongo, AccountRepositoryContract):
    pass


class TestMongoArtistRepository(OnMongo, ArtistRepositoryContract):
    pass


class TestMongoFanRepository(OnMongo, FanRepositoryContract):
    pass


class TestMongoTrackRepository(OnMongo, TrackRepositoryContract):
    pass


class TestMongoSubscriptionRepository(OnMongo, SubscriptionRepositoryContract):
    pass


class TestMongoLedgerRepository(OnMongo, LedgerRepositoryContract):
    pass


class TestMongoPayoutRepository(OnMongo, PayoutRepositoryContract):
    pass


class TestMongoPlayEventStore(OnMongo, PlayEventStoreContract):
    pass


class TestMongoMessageRepository(OnMongo, MessageRepositoryContract):
    pass


class TestMongoQaSessionRepository(OnMongo, QaSessionRepositoryContract):
    pass


class TestMongoQuestionRepository(OnMongo, QuestionRepositoryContract):
    pass


class TestMongoNotificationRepository(OnMongo, NotificationRepositoryContract):
    pass


class TestMongoListeningHistory(OnMongo, ListeningHistoryContract):
    pass


class TestMongoPaymentIntentRepository(OnMongo, PaymentIntentRepositoryContract):
    pass


class TestMongoProcessorLinkRepository(OnMongo, ProcessorLinkRepositoryContract):
    pass


class TestMongoProcessedEventStore(OnMongo, ProcessedEventStoreContract):
    pass


class TestMongoUnitOfWork(OnMongo, UnitOfWorkContract):
    pass


# --- helpers -------------------------------------------------------------------------------------


def committed(db: MongoDatabase, write: Callable[[MongoUnitOfWork], object]) -> None:
    with MongoUnitOfWork(db) as uow:
        write(uow)
        uow.commit()


def nothing_of_the_refused_unit_was_written(db: MongoDatabase) -> None:
    with MongoUnitOfWork(db) as uow:
        assert uow.accounts.get("acc-1") is None
        assert uow.subscriptions.get("sub-1") is None
        assert uow.fans.follower_count("artist-1") == 0
        assert uow.plays.daily_counts("artist-1", NOW.date(), NOW.date()) == {}
        assert uow.processed_events.seen("evt-1") is False


def write_a_bit_of_everything(uow: MongoUnitOfWork) -> None:
    uow.accounts.add(an_account())
    uow.subscriptions.add(a_subscription("sub-1"))
    uow.fans.follow("fan-1", "artist-1", NOW)
    uow.plays.record(PlayEvent(artist_id="artist-1", track_id="track-1", fan_id="fan-1", at=NOW))
    uow.processed_events.mark("evt-1", NOW)


class CommandCounter(CommandListener):
    """Counts the documents each collection's find commands returned."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._collections: dict[int, str] = {}
        self.returned: Counter[str] = Counter()

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name == "find":
            with self._lock:
                self._collections[event.request_id] = str(event.command["find"])

    def succeeded(self, event: CommandSucceededEvent) -> None:
        with self._lock:
            collection = self._collections.pop(event.request_id, None)
            if collection is not None:
                cursor: dict[str, Any] = event.reply.get("cursor", {})
                self.returned[collection] += len(cursor.get("firstBatch", []))

    def failed(self, event: CommandFailedEvent) -> None:
        with self._lock:
            self._collections.pop(event.request_id, None)


@attrs.define
class KillOnFirstWrite(CommandListener):
    """Once armed, kills the server as soon as one write of a commit has succeeded."""

    server: ServerProcess
    armed: bool = False
    killed: bool = False

    def started(self, event: CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: CommandSucceededEvent) -> None:
        if self.armed and event.command_name in {"insert", "update"}:
            self.armed = False
            self.server.stop(kill=True)
            self.killed = True

    def failed(self, event: CommandFailedEvent) -> None:
        pass


# --- MongoDB-specific behaviour ------------------------------------------------------------------


def test_nothing_connects_before_the_first_operation() -> None:
    """Building the database and a unit of work opens no connection; the first read fails clearly."""
    db = MongoDatabase("mongodb://127.0.0.1:1/?directConnection=true", timeout_ms=DEAD_SERVER_TIMEOUT_MS)
    uow = MongoUnitOfWork(db)

    with uow:
        assert db._client is None
        with pytest.raises(ServiceUnavailable):
            uow.accounts.get("acc-1")
    db.close()


def test_indexes_are_created_idempotently(db: MongoDatabase) -> None:
    """ensure_indexes twice leaves the same indexes, with the unique ones the rules rely on."""

    def indexes() -> dict[tuple[str, tuple[str, ...]], bool]:
        return {
            (name, tuple(field for field, _ in info["key"])): bool(info.get("unique"))
            for name in INDEXES
            for info in db.collection(name).index_information().values()
        }

    db.ensure_indexes()
    first = indexes()
    db.ensure_indexes()

    assert indexes() == first
    wanted = {(name, tuple(model.document["key"])) for name, models in INDEXES.items() for model in models}
    assert wanted <= set(first)
    assert first["accounts", ("email_key",)] is True
    assert first["subscriptions", ("live_key",)] is True
    assert first["ledger_transactions", ("idempotency_key",)] is True


def test_the_unique_email_index_holds_lower_cased_emails(db: MongoDatabase) -> None:
    """The stored key is the lower-cased email, and the index refuses a second one raw."""
    committed(db, lambda uow: uow.accounts.add(an_account(email="  Ada@Example.COM")))

    stored = db.collection("accounts").find_one({"_id": "acc-1"})

    assert stored is not None
    assert stored["email_key"] == "ada@example.com"
    with pytest.raises(DuplicateKeyError):
        db.collection("accounts").insert_one({"_id": "acc-2", "email_key": "ada@example.com"})


def test_instants_keep_microseconds_and_money_stays_integer(db: MongoDatabase) -> None:
    """Each instant is a BSON date plus exact microseconds; amounts are integers, never doubles."""
    committed(db, lambda uow: uow.ledger.record(a_charge("k", amount=GROSS, at=NOW)))

    stored = db.collection("ledger_transactions").find_one({"idempotency_key": "k"})

    assert stored is not None
    assert stored["occurred_at"] == NOW.replace(microsecond=654000)
    assert stored["occurred_at_us"] % 1_000_000 == 654321
    assert [type(e["amount_minor"]) for e in stored["entries"]] == [int, int, int]
    assert stored["gross"] == {"amount_minor": 1000, "currency": "USD"}


def test_a_thirty_day_query_reads_at_most_thirty_bucket_documents(mongodb_uri: str) -> None:
    """10,000 plays over 60 days are 60 buckets; the 30-day query reads 30 of them, no events."""
    counter = CommandCounter()
    db = MongoDatabase(mongodb_uri, database=_fresh_name(), client_options={"event_listeners": [counter]})
    start = datetime(2024, 3, 1, tzinfo=UTC)
    plays = [
        PlayEvent(
            artist_id="artist-1",
            track_id="track-1",
            fan_id=f"fan-{n % 50}",
            at=start + timedelta(days=n % 60, seconds=n),
        )
        for n in range(10_000)
    ]
    try:
        for batch in range(0, len(plays), 2_000):
            with MongoUnitOfWork(db) as uow:
                for play in plays[batch : batch + 2_000]:
                    uow.plays.record(play)
                uow.commit()
        first, last = (start + timedelta(days=30)).date(), (start + timedelta(days=59)).date()
        counter.returned.clear()

        with MongoUnitOfWork(db) as uow:
            counts = uow.plays.daily_counts("artist-1", first, last)

        assert counter.returned["play_buckets"] <= 30
        assert len(counts) == 30
        assert sum(counts.values()) == sum(first <= p.at.date() <= last for p in plays)
        assert db.collection("play_buckets").count_documents({}) == 60
        assert db.collection("fan_plays").count_documents({}) == 50
        assert max(db.collection(name).count_documents({}) for name in INDEXES) < 10_000
    finally:
        _drop(db)


def test_many_concurrent_subscribes_leave_exactly_one_live_subscription(db: MongoDatabase) -> None:
    """Twelve units of work subscribing one pair at once: one commits, the rest are Conflicts."""
    threads = 12
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []

    def subscribe(index: int) -> None:
        try:
            with MongoUnitOfWork(db) as uow:
                uow.subscriptions.add(a_subscription(f"sub-{index}"))
                barrier.wait(timeout=10)
                uow.commit()
            outcomes.append("committed")
        except Conflict:
            outcomes.append("conflict")

    workers = [threading.Thread(target=subscribe, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert Counter(outcomes) == {"committed": 1, "conflict": threads - 1}
    live = {"fan_id": "fan-1", "artist_id": "artist-1", "live": True}
    assert db.collection("subscriptions").count_documents(live) == 1
    assert db.collection("subscriptions").count_documents({}) == 1


def test_a_save_over_a_concurrent_change_is_refused_whole(any_commit_db: MongoDatabase) -> None:
    """A unit of work saving a track changed since it read it commits none of its writes."""
    db = any_commit_db
    committed(db, lambda uow: uow.tracks.add(a_track()))

    with MongoUnitOfWork(db) as stale:
        read = stale.tracks.get("track-1")
        assert read is not None
        committed(db, lambda uow: uow.tracks.save(read.failed("changed elsewhere")))
        write_a_bit_of_everything(stale)
        stale.ledger.record(a_charge("k"))
        stale.tracks.save(read.published(duration_s=3.0, rungs_kbps=(128,)))
        with pytest.raises(Conflict):
            stale.commit()

    nothing_of_the_refused_unit_was_written(db)
    with MongoUnitOfWork(db) as uow:
        kept = uow.tracks.get("track-1")
        assert uow.ledger.by_key("k") is None
        assert uow.ledger.trial_balance() == {}
    assert kept is not None
    assert (kept.status, kept.failure_reason) == (TrackStatus.FAILED, "changed elsewhere")


def test_a_duplicate_ledger_key_stops_a_commit_before_its_side_effects(any_commit_db: MongoDatabase) -> None:
    """When another unit of work committed the same idempotency key first, nothing else lands."""
    db = any_commit_db

    with MongoUnitOfWork(db) as late:
        assert late.ledger.record(a_charge("charge:1", amount=GROSS, transaction_id="tx-late")) is True
        write_a_bit_of_everything(late)
        committed(
            db, lambda uow: uow.ledger.record(a_charge("charge:1", amount=GROSS, transaction_id="tx-early"))
        )
        with pytest.raises(Conflict):
            late.commit()

    nothing_of_the_refused_unit_was_written(db)
    with MongoUnitOfWork(db) as uow:
        recorded = uow.ledger.by_key("charge:1")
        assert uow.ledger.balance("cash", "USD") == 1000
    assert recorded is not None
    assert recorded.id == "tx-early"


def test_a_killed_server_fails_clearly_writes_nothing_and_comes_back(own_server: ServerProcess) -> None:
    """Server killed before commit: reads and commit raise ServiceUnavailable, nothing lands,
    and after a restart the same database object works again."""
    db = MongoDatabase(mongo_uri(own_server), database="killed", timeout_ms=DEAD_SERVER_TIMEOUT_MS)
    try:
        committed(db, lambda uow: uow.tracks.add(a_track()))
        with MongoUnitOfWork(db) as uow:
            write_a_bit_of_everything(uow)
            uow.ledger.record(a_charge("k"))
            own_server.stop(kill=True)
            with pytest.raises(ServiceUnavailable):
                uow.tracks.get("track-1")
            with pytest.raises(ServiceUnavailable):
                uow.commit()

        own_server.restart()

        nothing_of_the_refused_unit_was_written(db)
        with MongoUnitOfWork(db) as uow:
            assert uow.tracks.get("track-1") == a_track()
            assert uow.ledger.by_key("k") is None
        committed(db, write_a_bit_of_everything)
        with MongoUnitOfWork(db) as uow:
            assert uow.subscriptions.get("sub-1") == a_subscription("sub-1")
    finally:
        db.close()


def test_a_server_killed_mid_transaction_keeps_none_of_it(own_server: ServerProcess) -> None:
    """Killed after the first write of a transactional commit: after restart none of it is there."""
    killer = KillOnFirstWrite(own_server)
    db = MongoDatabase(
        mongo_uri(own_server),
        database="killed",
        timeout_ms=DEAD_SERVER_TIMEOUT_MS,
        transactions=True,
        client_options={"event_listeners": [killer]},
    )
    try:
        db.ensure_indexes()
        with MongoUnitOfWork(db) as uow:
            uow.ledger.record(a_charge("k"))
            write_a_bit_of_everything(uow)
            killer.armed = True
            with pytest.raises(ServiceUnavailable):
                uow.commit()

        assert killer.killed
        own_server.restart()

        nothing_of_the_refused_unit_was_written(db)
        with MongoUnitOfWork(db) as uow:
            assert uow.ledger.by_key("k") is None
            assert uow.ledger.trial_balance() == {}
    finally:
        db.close()


class TestMongoLiveSessionRepository(OnMongo, LiveSessionRepositoryContract):
    pass


class TestMongoBackstagePostRepository(OnMongo, BackstagePostRepositoryContract):
    pass


class TestMongoBackstageCommentRepository(OnMongo, BackstageCommentRepositoryContract):
    pass


class TestMongoBackstageBlockRepository(OnMongo, BackstageBlockRepositoryContract):
    pass


class TestMongoArtistPicture(OnMongo, ArtistPictureContract):
    pass
