"""The in-memory adapters against the port contracts, and what only they promise."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta

import pytest

from musicconnect.adapters.inprocess import LocalAccessReads
from musicconnect.adapters.memory import (
    FrozenClock,
    InMemoryCache,
    InMemoryOneTimeTokens,
    InMemoryPlayEventStore,
    InMemoryQuotaCounter,
    InMemoryStore,
    InMemorySubscriptionRepository,
    InMemoryTokenDenylist,
    InMemoryUnitOfWork,
    SequentialIdGenerator,
    SystemClock,
    UuidIdGenerator,
)
from musicconnect.domain.errors import Conflict, InvalidInput
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import (
    AccessReads,
    Cache,
    Clock,
    IdGenerator,
    OneTimeTokens,
    QuotaCounter,
    TokenDenylist,
)
from tests.contract.backstage_contract import (
    ArtistPictureContract,
    BackstageBlockRepositoryContract,
    BackstageCommentRepositoryContract,
    BackstagePostRepositoryContract,
)
from tests.contract.live_contract import LiveSessionRepositoryContract
from tests.contract.repositories_contract import (
    T0,
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
    a_play,
    a_subscription,
    an_account,
)
from tests.contract.services_contract import (
    AccessReadsContract,
    CacheContract,
    ClockContract,
    IdGeneratorContract,
    OneTimeTokensContract,
    QuotaCounterContract,
    TokenDenylistContract,
)


class InMemoryUnitsOfWork:
    @functools.cached_property
    def store(self) -> InMemoryStore:
        return InMemoryStore()

    def make_uow(self) -> UnitOfWork:
        return InMemoryUnitOfWork(self.store)


class TestInMemoryAccountRepository(InMemoryUnitsOfWork, AccountRepositoryContract):
    pass


class TestInMemoryArtistRepository(InMemoryUnitsOfWork, ArtistRepositoryContract):
    pass


class TestInMemoryFanRepository(InMemoryUnitsOfWork, FanRepositoryContract):
    pass


class TestInMemoryTrackRepository(InMemoryUnitsOfWork, TrackRepositoryContract):
    pass


class TestInMemorySubscriptionRepository(InMemoryUnitsOfWork, SubscriptionRepositoryContract):
    pass


class TestInMemoryLedgerRepository(InMemoryUnitsOfWork, LedgerRepositoryContract):
    pass


class TestInMemoryPayoutRepository(InMemoryUnitsOfWork, PayoutRepositoryContract):
    pass


class TestInMemoryPlayEventStore(InMemoryUnitsOfWork, PlayEventStoreContract):
    pass


class TestInMemoryMessageRepository(InMemoryUnitsOfWork, MessageRepositoryContract):
    pass


class TestInMemoryQaSessionRepository(InMemoryUnitsOfWork, QaSessionRepositoryContract):
    pass


class TestInMemoryQuestionRepository(InMemoryUnitsOfWork, QuestionRepositoryContract):
    pass


class TestInMemoryNotificationRepository(InMemoryUnitsOfWork, NotificationRepositoryContract):
    pass


class TestInMemoryListeningHistory(InMemoryUnitsOfWork, ListeningHistoryContract):
    pass


class TestInMemoryPaymentIntentRepository(InMemoryUnitsOfWork, PaymentIntentRepositoryContract):
    pass


class TestInMemoryProcessorLinkRepository(InMemoryUnitsOfWork, ProcessorLinkRepositoryContract):
    pass


class TestInMemoryProcessedEventStore(InMemoryUnitsOfWork, ProcessedEventStoreContract):
    pass


class TestInMemoryUnitOfWork(InMemoryUnitsOfWork, UnitOfWorkContract):
    def test_a_rule_broken_at_commit_publishes_nothing(self) -> None:
        """Two interleaved units of work subscribe one pair: the later commit fails whole."""
        first, second = self.make_uow(), self.make_uow()
        with first, second:
            first.subscriptions.add(a_subscription("sub-1"))
            second.accounts.add(an_account())
            second.subscriptions.add(a_subscription("sub-2"))
            first.commit()
            with pytest.raises(Conflict):
                second.commit()

        assert self.read(lambda uow: uow.subscriptions.get("sub-2")) is None
        assert self.read(lambda uow: uow.accounts.get("acc-1")) is None
        live = self.read(lambda uow: uow.subscriptions.live_for("fan-1", "artist-1"))
        assert live is not None
        assert live.id == "sub-1"

    def test_writes_replay_on_top_of_concurrent_commits(self) -> None:
        """A unit of work that committed after another keeps both sets of writes."""
        first, second = self.make_uow(), self.make_uow()
        with first, second:
            first.ledger.record(a_charge("one"))
            first.plays.record(a_play())
            second.ledger.record(a_charge("two"))
            second.plays.record(a_play(fan_id="fan-2"))
            first.commit()
            second.commit()

        assert self.read(lambda uow: uow.ledger.balance("cash", "USD")) == 1000
        assert self.read(lambda uow: list(uow.plays.top_fans("artist-1", 5))) == [("fan-1", 1), ("fan-2", 1)]

    def test_a_ledger_key_recorded_meanwhile_fails_the_later_commit(self) -> None:
        """The same idempotency key from two interleaved units of work is counted once."""
        first, second = self.make_uow(), self.make_uow()
        with first, second:
            recorded = (first.ledger.record(a_charge("k")), second.ledger.record(a_charge("k")))
            first.commit()
            with pytest.raises(Conflict):
                second.commit()

        assert recorded == (True, True)
        assert self.read(lambda uow: uow.ledger.balance("cash", "USD")) == 500

    def test_a_unit_of_work_reads_a_snapshot(self) -> None:
        """Commits made after a unit of work was entered do not change what it reads."""
        with self.make_uow() as reader:
            self.committed(lambda uow: uow.accounts.add(an_account()))
            during = reader.accounts.get("acc-1")

        assert during is None
        assert self.read(lambda uow: uow.accounts.get("acc-1")) == an_account()

    def test_plays_are_stored_as_daily_buckets(self) -> None:
        """A thousand plays over two days keep two day rows and one row per fan, not events."""
        plays = [a_play(fan_id=f"fan-{n % 3}", at=T0 + timedelta(hours=n % 2 * 24)) for n in range(1000)]
        self.all_committed(plays, lambda uow, p: uow.plays.record(p))

        published = self.store.published
        assert len(published.plays_by_day) == 2
        assert len(published.plays_by_fan) == 3


class TestStandaloneRepositories:
    def test_a_repository_over_the_store_commits_each_write(self) -> None:
        """Given the store instead of a unit of work, a repository's writes are visible at once."""
        store = InMemoryStore()
        plays = InMemoryPlayEventStore(store)

        plays.record(a_play())

        with InMemoryUnitOfWork(store) as uow:
            assert uow.plays.daily_counts("artist-1", T0.date(), T0.date()) == {T0.date(): 1}

    def test_a_standalone_write_still_checks_its_rules(self) -> None:
        """Uniqueness holds for standalone repositories too."""
        subscriptions = InMemorySubscriptionRepository(InMemoryStore())
        subscriptions.add(a_subscription("sub-1"))

        with pytest.raises(Conflict):
            subscriptions.add(a_subscription("sub-2"))


class TestSystemClock(ClockContract):
    def make_clock(self) -> Clock:
        return SystemClock()

    def test_now_is_the_real_time(self) -> None:
        """now() is within a second of the machine's UTC time."""
        assert abs(SystemClock().now() - datetime.now(UTC)) < timedelta(seconds=1)


class TestFrozenClock(ClockContract):
    def make_clock(self) -> Clock:
        return FrozenClock(T0)

    def test_time_stands_still_until_moved(self) -> None:
        """now() returns the set instant until set or advanced."""
        clock = FrozenClock(T0)

        still = clock.now()
        advanced = clock.advance(hours=2)
        clock.set(T0 + timedelta(days=1))

        assert still == T0
        assert advanced == T0 + timedelta(hours=2)
        assert clock.now() == T0 + timedelta(days=1)
        assert clock.advance(timedelta(seconds=5)) == T0 + timedelta(days=1, seconds=5)

    def test_naive_instants_are_refused(self) -> None:
        """A naive datetime is ambiguous and is rejected."""
        with pytest.raises(InvalidInput):
            FrozenClock(datetime(2024, 1, 1))  # noqa: DTZ001 - the naive value is the point


class TestUuidIdGenerator(IdGeneratorContract):
    def make_id_generator(self) -> IdGenerator:
        return UuidIdGenerator()

    def test_ids_sort_in_creation_order(self) -> None:
        """Ids are 32 hex digits of a version-7 UUID and sort in the order they were made."""
        generator = UuidIdGenerator()

        ids = [generator.new_id() for _ in range(5_000)]

        assert ids == sorted(ids)
        assert all(re.fullmatch(r"[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}", i) for i in ids)


class TestSequentialIdGenerator(IdGeneratorContract):
    def make_id_generator(self) -> IdGenerator:
        return SequentialIdGenerator()

    def test_ids_are_deterministic(self) -> None:
        """Two generators with one prefix produce the same sequence."""
        one, two = SequentialIdGenerator("trk"), SequentialIdGenerator("trk")

        assert [one.new_id() for _ in range(3)] == ["trk-000001", "trk-000002", "trk-000003"]
        assert [two.new_id() for _ in range(3)] == ["trk-000001", "trk-000002", "trk-000003"]


class TestInMemoryQuotaCounter(QuotaCounterContract):
    def make_quota_counter(self, clock: FrozenClock) -> QuotaCounter:
        return InMemoryQuotaCounter(clock)


class TestInMemoryCache(CacheContract):
    def make_cache(self, clock: FrozenClock) -> Cache:
        return InMemoryCache(clock)

    def test_a_ttl_must_be_positive(self) -> None:
        """A zero ttl is a mistake, not an instant expiry."""
        with pytest.raises(ValueError, match="ttl_s"):
            InMemoryCache(FrozenClock(T0)).set("k", b"v", ttl_s=0)


class TestInMemoryOneTimeTokens(OneTimeTokensContract):
    def make_one_time_tokens(self, clock: FrozenClock) -> OneTimeTokens:
        return InMemoryOneTimeTokens(clock)


class TestInMemoryTokenDenylist(TokenDenylistContract):
    def make_denylist(self, clock: FrozenClock) -> TokenDenylist:
        return InMemoryTokenDenylist(clock)


class TestInMemoryLiveSessionRepository(InMemoryUnitsOfWork, LiveSessionRepositoryContract):
    pass


class TestLocalAccessReadsInMemory(AccessReadsContract):
    def make_access_reads(self, clock: FrozenClock) -> tuple[AccessReads, TokenDenylist, Cache]:
        denylist, cache = InMemoryTokenDenylist(clock), InMemoryCache(clock)
        return LocalAccessReads(denylist, cache), denylist, cache


class TestInMemoryBackstagePostRepository(InMemoryUnitsOfWork, BackstagePostRepositoryContract):
    pass


class TestInMemoryBackstageCommentRepository(InMemoryUnitsOfWork, BackstageCommentRepositoryContract):
    pass


class TestInMemoryBackstageBlockRepository(InMemoryUnitsOfWork, BackstageBlockRepositoryContract):
    pass


class TestInMemoryArtistPicture(InMemoryUnitsOfWork, ArtistPictureContract):
    pass
