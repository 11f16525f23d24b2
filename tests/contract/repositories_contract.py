"""What every repository adapter must do, checked through its unit of work.

Subclass a contract and override ``make_uow``; every call within one test must return a new unit
of work over the *same* storage, and each test must start from empty storage (pytest makes a new
instance of the class per test, and ``self.tmp_path`` is a fresh folder for file-based stores)::

    class TestSqliteAccountRepository(AccountRepositoryContract):
        def make_uow(self) -> UnitOfWork:
            return SqliteUnitOfWork(self.tmp_path / "db.sqlite")
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Final, TypeVar

import attrs
import pytest

from musicconnect.domain.accounts import ERASED_NAME, Account, Artist, Role
from musicconnect.domain.analytics import Listened, PlayEvent
from musicconnect.domain.errors import Conflict
from musicconnect.domain.ledger import (
    CASH,
    PLATFORM_FEES,
    Direction,
    Entry,
    Transaction,
    TransactionKind,
    artist_account,
    charge_transaction,
)
from musicconnect.domain.media import RungRate
from musicconnect.domain.messages import Conversation, DirectMessage
from musicconnect.domain.money import Money
from musicconnect.domain.notifications import Notification, NotificationKind
from musicconnect.domain.payments import (
    IntentKind,
    LinkKind,
    PaymentIntent,
    Payout,
    PayoutStatus,
    ProcessorLink,
)
from musicconnect.domain.qa import QaSession, Question
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus
from musicconnect.domain.tiers import Tier, TierPlan, default_plans, revise_plan
from musicconnect.domain.tracks import Track, TrackEdit, TrackStatus
from musicconnect.ports.repositories import UnitOfWork

R = TypeVar("R")
T = TypeVar("T")

#: An instant with microseconds: adapters must keep them, not round to milliseconds.
T0: Final = datetime(2024, 3, 15, 12, 30, 45, 123456, tzinfo=UTC)
#: How long racing threads wait for each other before committing; a store whose writers block
#: each other serialises them instead, and the outcome must be the same.
RACE_WAIT_S: Final = 1.0


def an_account(
    account_id: str = "acc-1",
    email: str = "fan@example.com",
    role: Role = Role.FAN,
) -> Account:
    return Account(
        id=account_id,
        email=email,
        password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        role=role,
        display_name="Ada Listener",
        created_at=T0,
    )


def an_artist(artist_id: str = "artist-1", currency: str = "USD") -> Artist:
    return Artist(id=artist_id, display_name="The Cables", plans=default_plans(currency), grace_days=3)


def a_plan(tier: Tier = Tier.SUPPORTER, price_minor: int = 500, currency: str = "USD") -> TierPlan:
    return TierPlan(tier=tier, price=Money(price_minor, currency), features=("early_access",))


def a_subscription(
    subscription_id: str = "sub-1",
    *,
    fan_id: str = "fan-1",
    artist_id: str = "artist-1",
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
    created_at: datetime = T0,
    period_end: datetime | None = None,
    external_ref: str | None = None,
    plan: TierPlan | None = None,
) -> Subscription:
    return Subscription(
        id=subscription_id,
        fan_id=fan_id,
        artist_id=artist_id,
        plan=plan or a_plan(),
        status=status,
        current_period_start=created_at,
        current_period_end=period_end or created_at + timedelta(days=30),
        created_at=created_at,
        external_ref=external_ref,
    )


def a_charge(
    key: str,
    *,
    artist_id: str = "artist-1",
    fan_id: str = "fan-1",
    amount: Money | None = None,
    at: datetime = T0,
    transaction_id: str | None = None,
) -> Transaction:
    return charge_transaction(
        transaction_id=transaction_id or f"tx-{key}",
        idempotency_key=key,
        artist_id=artist_id,
        fan_id=fan_id,
        gross=amount or Money(500, "USD"),
        occurred_at=at,
        memo=f"charge {key}",
    )


def a_track(track_id: str = "track-1", *, artist_id: str = "artist-1", created_at: datetime = T0) -> Track:
    return Track(id=track_id, artist_id=artist_id, title="Night Drive", created_at=created_at)


def a_payout(payout_id: str, *, artist_id: str = "artist-1", paid_at: datetime = T0) -> Payout:
    return Payout(
        id=payout_id,
        artist_id=artist_id,
        period="2024-02",
        amount=Money(4500, "USD"),
        gross=Money(5000, "USD"),
        platform_fee=Money(500, "USD"),
        paid_at=paid_at,
    )


def a_play(*, fan_id: str = "fan-1", artist_id: str = "artist-1", at: datetime = T0) -> PlayEvent:
    return PlayEvent(artist_id=artist_id, track_id="track-1", fan_id=fan_id, at=at)


def a_message(
    message_id: str,
    *,
    fan_id: str = "fan-1",
    artist_id: str = "artist-1",
    sent_at: datetime = T0,
    from_artist: bool = False,
    body: str = "Loved it!",
) -> DirectMessage:
    return DirectMessage(
        id=message_id, fan_id=fan_id, artist_id=artist_id, body=body, sent_at=sent_at, from_artist=from_artist
    )


class UnitOfWorkFactory:
    """The one hook every repository contract needs, and helpers built on it."""

    tmp_path: Path

    @pytest.fixture(autouse=True)
    def _contract_tmp_path(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    def make_uow(self) -> UnitOfWork:
        """A new unit of work over this test's storage (shared by every call in one test)."""
        raise NotImplementedError

    def committed(self, write: Callable[[UnitOfWork], R]) -> R:
        """Run ``write`` in a unit of work and commit it."""
        with self.make_uow() as uow:
            result = write(uow)
            uow.commit()
            return result

    def each_committed(self, items: Iterable[T], write: Callable[[UnitOfWork, T], object]) -> None:
        """Write each item in a unit of work of its own."""
        for item in items:
            with self.make_uow() as uow:
                write(uow, item)
                uow.commit()

    def all_committed(self, items: Iterable[T], write: Callable[[UnitOfWork, T], object]) -> None:
        """Write every item in one unit of work."""
        with self.make_uow() as uow:
            for item in items:
                write(uow, item)
            uow.commit()

    def read(self, query: Callable[[UnitOfWork], R]) -> R:
        """Run ``query`` in a fresh unit of work, so it sees only what was committed."""
        with self.make_uow() as uow:
            return query(uow)

    def race(self, count: int, write: Callable[[UnitOfWork, int], R]) -> list[R | Conflict]:
        """``count`` threads each write in their own unit of work, then commit together.

        Returns each thread's result, or the Conflict it met while writing or committing.
        """
        barrier = threading.Barrier(count)
        outcomes: dict[int, R | Conflict] = {}
        failures: list[BaseException] = []

        def run(index: int) -> None:
            try:
                with self.make_uow() as uow:
                    result = write(uow, index)
                    with contextlib.suppress(threading.BrokenBarrierError):
                        barrier.wait(timeout=RACE_WAIT_S)
                    uow.commit()
                outcomes[index] = result
            except Conflict as conflict:
                outcomes[index] = conflict
            except BaseException as error:  # noqa: BLE001 - re-raised in the main thread below
                failures.append(error)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        if failures:
            raise failures[0]
        assert len(outcomes) == count, "a racing thread did not finish"
        return [outcomes[i] for i in range(count)]


class AccountRepositoryContract(UnitOfWorkFactory):
    def test_account_round_trips_every_field(self) -> None:
        """An added account reads back equal, role and aware creation time included."""
        account = attrs.evolve(
            an_account(role=Role.ADMIN), created_at=T0.astimezone(timezone(timedelta(hours=2)))
        )
        self.committed(lambda uow: uow.accounts.add(account))

        loaded = self.read(lambda uow: uow.accounts.get("acc-1"))

        assert loaded == account
        assert loaded is not None
        assert loaded.role is Role.ADMIN
        assert loaded.created_at.utcoffset() is not None
        assert loaded.created_at == T0

    def test_account_is_found_by_email(self) -> None:
        """by_email returns the account registered with that email."""
        self.committed(lambda uow: uow.accounts.add(an_account()))
        self.committed(lambda uow: uow.accounts.add(an_account("acc-2", "other@example.com")))

        found = self.read(lambda uow: uow.accounts.by_email("other@example.com"))

        assert found is not None
        assert found.id == "acc-2"

    def test_emails_match_whatever_their_case(self) -> None:
        """by_email ignores case and surrounding spaces; the stored email is kept as given."""
        self.committed(lambda uow: uow.accounts.add(an_account(email="Ada@Example.com")))

        found = self.read(lambda uow: uow.accounts.by_email("  ada@EXAMPLE.com "))

        assert found is not None
        assert found.email == "Ada@Example.com"

    def test_an_email_differing_only_in_case_is_a_conflict(self) -> None:
        """Uniqueness of emails ignores case."""
        self.committed(lambda uow: uow.accounts.add(an_account(email="ada@example.com")))

        with pytest.raises(Conflict):
            self.committed(lambda uow: uow.accounts.add(an_account("acc-2", "ADA@example.com")))

    def test_unknown_account_and_email_are_none(self) -> None:
        """Lookups of what was never added return None."""
        self.committed(lambda uow: uow.accounts.add(an_account()))

        assert self.read(lambda uow: uow.accounts.get("nobody")) is None
        assert self.read(lambda uow: uow.accounts.by_email("nobody@example.com")) is None

    def test_a_taken_email_is_a_conflict(self) -> None:
        """A second account with the same email is refused and the first is kept."""
        self.committed(lambda uow: uow.accounts.add(an_account()))

        with pytest.raises(Conflict):
            self.committed(lambda uow: uow.accounts.add(an_account("acc-2")))

        found = self.read(lambda uow: uow.accounts.by_email("fan@example.com"))
        assert found is not None
        assert found.id == "acc-1"
        assert self.read(lambda uow: uow.accounts.get("acc-2")) is None

    def test_concurrent_registrations_with_one_email_make_one_account(self) -> None:
        """Of several units of work adding the same email at once, exactly one commits."""
        outcomes = self.race(4, lambda uow, i: uow.accounts.add(an_account(f"acc-{i}")))

        assert sum(not isinstance(o, Conflict) for o in outcomes) == 1
        found = self.read(lambda uow: uow.accounts.by_email("fan@example.com"))
        assert found is not None
        winner = [f"acc-{i}" for i, o in enumerate(outcomes) if not isinstance(o, Conflict)]
        assert [found.id] == winner

    def test_a_saved_account_reads_back_changed(self) -> None:
        """save stores a new email, hash, role, name, verification and session start; the old
        email is free again."""
        self.committed(lambda uow: uow.accounts.add(an_account()))
        changed = attrs.evolve(
            an_account(),
            email="New@Example.com",
            password_hash="$argon2id$other",
            role=Role.ADMIN,
            display_name="Ada Renamed",
            email_verified=True,
            sessions_valid_from=T0 + timedelta(days=1),
        )

        self.committed(lambda uow: uow.accounts.save(changed))

        assert self.read(lambda uow: uow.accounts.get("acc-1")) == changed
        assert self.read(lambda uow: uow.accounts.by_email("new@example.com")) == changed
        assert self.read(lambda uow: uow.accounts.by_email("fan@example.com")) is None
        self.committed(lambda uow: uow.accounts.add(an_account("acc-2")))

    def test_saving_another_accounts_email_is_a_conflict(self) -> None:
        """Two accounts never share an email, whatever its case; the refused save changes nothing."""
        self.committed(lambda uow: uow.accounts.add(an_account()))
        self.committed(lambda uow: uow.accounts.add(an_account("acc-2", "other@example.com")))

        with pytest.raises(Conflict):
            self.committed(
                lambda uow: uow.accounts.save(attrs.evolve(an_account("acc-2"), email="FAN@example.com"))
            )

        found = self.read(lambda uow: uow.accounts.get("acc-2"))
        assert found is not None
        assert found.email == "other@example.com"

    def test_an_account_is_unverified_until_saved_verified(self) -> None:
        """email_verified round-trips both ways."""
        self.committed(lambda uow: uow.accounts.add(an_account()))
        loaded = self.read(lambda uow: uow.accounts.get("acc-1"))
        assert loaded is not None
        assert not loaded.email_verified


class ArtistRepositoryContract(UnitOfWorkFactory):
    def test_artist_round_trips_with_plans(self) -> None:
        """Profile, grace period and every plan field (price, currency, feature order, version) read back."""
        supporter = TierPlan(
            tier=Tier.SUPPORTER,
            price=Money(700, "JPY"),
            features=("zines", "early_access", "Q&A"),
            version=3,
            effective_from=T0,
        )
        artist = an_artist(currency="JPY").with_plan(supporter)
        self.committed(lambda uow: uow.artists.add(artist))

        loaded = self.read(lambda uow: uow.artists.get("artist-1"))

        assert loaded == artist
        assert loaded is not None
        assert loaded.grace_days == 3
        assert [p.tier for p in loaded.plans] == [Tier.FREE, Tier.SUPPORTER, Tier.SUPERFAN]
        assert loaded.plan(Tier.SUPPORTER).features == ("zines", "early_access", "Q&A")
        assert loaded.plan(Tier.SUPPORTER).price == Money(700, "JPY")
        assert loaded.plan(Tier.SUPPORTER).effective_from == T0

    def test_unknown_artist_is_none(self) -> None:
        """get of an id never added returns None."""
        assert self.read(lambda uow: uow.artists.get("nobody")) is None

    def test_save_replaces_profile_and_current_plans(self) -> None:
        """After save, get returns the new profile and the new current plan."""
        artist = an_artist()
        self.committed(lambda uow: uow.artists.add(artist))
        revised = revise_plan(
            artist.plan(Tier.SUPERFAN), price=Money(1500, "USD"), features=["live_sessions"], now=T0
        )
        changed = attrs.evolve(artist.with_plan(revised), display_name="The New Cables", grace_days=10)

        self.committed(lambda uow: uow.artists.save(changed))

        loaded = self.read(lambda uow: uow.artists.get("artist-1"))
        assert loaded == changed
        assert loaded is not None
        assert loaded.plan(Tier.SUPERFAN).version == 2
        assert loaded.plan(Tier.SUPERFAN).price == Money(1500, "USD")

    def test_plan_version_keeps_old_versions_after_save(self) -> None:
        """Every saved price version stays readable by (artist, tier, version)."""
        artist = an_artist()
        self.committed(lambda uow: uow.artists.add(artist))
        first = artist.plan(Tier.SUPPORTER)
        second = revise_plan(first, price=Money(600, "USD"), features=["a", "b"], now=T0)
        self.committed(lambda uow: uow.artists.save(artist.with_plan(second)))
        third = revise_plan(second, price=Money(800, "USD"), features=["c"], now=T0 + timedelta(days=1))
        self.committed(lambda uow: uow.artists.save(artist.with_plan(third)))

        versions = self.read(
            lambda uow: [uow.artists.plan_version("artist-1", Tier.SUPPORTER, v) for v in (1, 2, 3)]
        )

        assert versions == [first, second, third]
        assert [v.price.amount_minor for v in versions if v] == [500, 600, 800]

    def test_bio_and_links_are_kept(self) -> None:
        """An artist's profile text and links read back as saved, line breaks and order kept."""
        artist = an_artist()
        self.committed(lambda uow: uow.artists.add(artist))
        profiled = artist.with_profile(
            bio="Tapes from Lyon.\nLive on Sundays.", links=("https://b.example", "http://a.example")
        )

        self.committed(lambda uow: uow.artists.save(profiled))

        loaded = self.read(lambda uow: uow.artists.get("artist-1"))
        assert loaded == profiled
        assert loaded is not None
        assert loaded.links == ("https://b.example", "http://a.example")

    def test_search_finds_artists_by_part_of_their_name_in_name_order(self) -> None:
        """Case does not matter, an empty name lists everyone, and the limit holds."""
        artists = [
            attrs.evolve(an_artist(), id=artist_id, display_name=name)
            for artist_id, name in [
                ("a-1", "Nova Lights"),
                ("a-2", "the novas"),
                ("a-3", "Cables"),
                ("a-4", "50%_off"),
            ]
        ]

        def add_all(uow: UnitOfWork) -> None:
            for artist in artists:
                uow.artists.add(artist)

        self.committed(add_all)

        def names(text: str, limit: int = 10) -> list[str]:
            return self.read(lambda uow: [a.display_name for a in uow.artists.search(text, limit=limit)])

        assert names("NOVA") == ["Nova Lights", "the novas"]
        assert names("") == ["50%_off", "Cables", "Nova Lights", "the novas"]
        assert names("", limit=2) == ["50%_off", "Cables"]
        assert names("%") == ["50%_off"]
        assert names("x") == []
        found = self.read(lambda uow: uow.artists.search("cab", limit=5))
        assert [a.plan(Tier.SUPPORTER).price for a in found] == [Money(500, "USD")]

    def test_search_pages_on_after_the_last_artist_of_a_page(self) -> None:
        """Pages in name-then-id order, ties on the name included; an unknown cursor starts over."""
        artists = [
            attrs.evolve(an_artist(), id=artist_id, display_name=name)
            for artist_id, name in [("a-3", "Nova"), ("a-1", "nova"), ("a-2", "Cables"), ("a-4", "Zed")]
        ]
        self.each_committed(artists, lambda uow, a: uow.artists.add(a))

        def ids(text: str, after: str | None) -> list[str]:
            return self.read(lambda uow: [a.id for a in uow.artists.search(text, limit=2, after=after)])

        assert ids("", None) == ["a-2", "a-1"]
        assert ids("", "a-1") == ["a-3", "a-4"]
        assert ids("", "a-4") == []
        assert ids("nov", "a-1") == ["a-3"]
        assert ids("", "nobody") == ["a-2", "a-1"]

    def test_search_never_lists_an_erased_artist(self) -> None:
        """An erased artist is closed: not listed, whatever the search, while they still exist."""
        erased = attrs.evolve(an_artist(), id="a-gone", display_name=ERASED_NAME)
        living = attrs.evolve(an_artist(), id="a-here", display_name="Erased Tapes")

        def add_both(uow: UnitOfWork) -> None:
            uow.artists.add(erased)
            uow.artists.add(living)

        self.committed(add_both)

        def ids(text: str) -> list[str]:
            return self.read(lambda uow: [a.id for a in uow.artists.search(text, limit=10)])

        for text in ("", "erased", "(", "(erased)"):
            assert "a-gone" not in ids(text)
        assert ids("") == ["a-here"]
        assert self.read(lambda uow: uow.artists.get("a-gone")) == erased

    def test_unknown_plan_version_is_none(self) -> None:
        """A version, tier or artist that was never saved has no plan."""
        self.committed(lambda uow: uow.artists.add(an_artist()))

        assert self.read(lambda uow: uow.artists.plan_version("artist-1", Tier.SUPPORTER, 2)) is None
        assert self.read(lambda uow: uow.artists.plan_version("nobody", Tier.SUPPORTER, 1)) is None
        assert self.read(lambda uow: uow.artists.plan_version("artist-1", Tier.FREE, 1)) is not None


class FanRepositoryContract(UnitOfWorkFactory):
    def test_following_twice_is_following_once(self) -> None:
        """follow is idempotent: the follower count goes up once per fan."""
        self.committed(lambda uow: uow.fans.follow("fan-1", "artist-1", T0))
        self.committed(lambda uow: uow.fans.follow("fan-1", "artist-1", T0 + timedelta(hours=1)))
        self.committed(lambda uow: uow.fans.follow("fan-2", "artist-1", T0))

        assert self.read(lambda uow: uow.fans.follower_count("artist-1")) == 2

    def test_followers_are_counted_per_artist(self) -> None:
        """Following one artist does not count towards another."""
        self.committed(lambda uow: uow.fans.follow("fan-1", "artist-1", T0))
        self.committed(lambda uow: uow.fans.follow("fan-1", "artist-2", T0))
        self.committed(lambda uow: uow.fans.follow("fan-2", "artist-2", T0))

        counts = self.read(lambda uow: [uow.fans.follower_count(a) for a in ("artist-1", "artist-2", "x")])

        assert counts == [1, 2, 0]

    def test_a_fan_likes_a_track_once(self) -> None:
        """likes_of counts distinct fans per track."""
        self.committed(lambda uow: uow.fans.like("fan-1", "track-1", T0))
        self.committed(lambda uow: uow.fans.like("fan-1", "track-1", T0))
        self.committed(lambda uow: uow.fans.like("fan-2", "track-1", T0))
        self.committed(lambda uow: uow.fans.like("fan-2", "track-2", T0))

        likes = self.read(lambda uow: [uow.fans.likes_of(t) for t in ("track-1", "track-2", "track-3")])

        assert likes == [2, 1, 0]

    def test_visitors_are_counted_once_each(self) -> None:
        """visitor_count is the number of distinct visitors, however often they come."""
        self.each_committed(
            ("v1", "v2", "v1", "v3", "v1"), lambda uow, v: uow.fans.record_visit(v, "artist-1", T0)
        )
        self.committed(lambda uow: uow.fans.record_visit("v9", "artist-2", T0))

        counts = self.read(lambda uow: [uow.fans.visitor_count(a) for a in ("artist-1", "artist-2", "x")])

        assert counts == [3, 1, 0]
        visitors = self.read(
            lambda uow: [sorted(uow.fans.visitors(a)) for a in ("artist-1", "artist-2", "x")]
        )
        assert visitors == [["v1", "v2", "v3"], ["v9"], []]

    def test_follows_in_concurrent_units_of_work_all_count(self) -> None:
        """Different fans following at once are all counted; none is lost to a race."""
        self.race(4, lambda uow, i: uow.fans.follow(f"fan-{i}", "artist-1", T0))

        assert self.read(lambda uow: uow.fans.follower_count("artist-1")) == 4

    def test_unfollowing_and_unliking_are_idempotent_and_counted(self) -> None:
        """Undoing twice is undoing once; undoing what was never done changes nothing."""
        self.committed(lambda uow: uow.fans.follow("fan-1", "artist-1", T0))
        self.committed(lambda uow: uow.fans.follow("fan-2", "artist-1", T0))
        self.committed(lambda uow: uow.fans.like("fan-1", "track-1", T0))
        for _ in range(2):
            self.committed(lambda uow: uow.fans.unfollow("fan-1", "artist-1"))
            self.committed(lambda uow: uow.fans.unlike("fan-1", "track-1"))
        self.committed(lambda uow: uow.fans.unfollow("fan-9", "artist-1"))
        self.committed(lambda uow: uow.fans.unlike("fan-9", "track-2"))

        assert self.read(lambda uow: uow.fans.follower_count("artist-1")) == 1
        assert self.read(lambda uow: uow.fans.likes_of("track-1")) == 0
        assert self.read(lambda uow: list(uow.fans.following("fan-1"))) == []
        assert self.read(lambda uow: list(uow.fans.liked("fan-1"))) == []

    def test_a_fans_library_lists_the_latest_first(self) -> None:
        """following and liked list one fan's follows and likes with their times, latest first;
        following again after unfollowing counts from the new time."""
        self.committed(lambda uow: uow.fans.follow("fan-1", "artist-1", T0))
        self.committed(lambda uow: uow.fans.follow("fan-1", "artist-2", T0 + timedelta(minutes=1)))
        self.committed(lambda uow: uow.fans.follow("fan-2", "artist-3", T0))
        self.committed(lambda uow: uow.fans.unfollow("fan-1", "artist-1"))
        self.committed(lambda uow: uow.fans.follow("fan-1", "artist-1", T0 + timedelta(hours=1)))
        self.committed(lambda uow: uow.fans.like("fan-1", "track-1", T0))
        self.committed(lambda uow: uow.fans.like("fan-1", "track-2", T0 + timedelta(seconds=5)))

        assert self.read(lambda uow: list(uow.fans.following("fan-1"))) == [
            ("artist-1", T0 + timedelta(hours=1)),
            ("artist-2", T0 + timedelta(minutes=1)),
        ]
        assert self.read(lambda uow: list(uow.fans.liked("fan-1"))) == [
            ("track-2", T0 + timedelta(seconds=5)),
            ("track-1", T0),
        ]
        assert self.read(lambda uow: uow.fans.follower_count("artist-1")) == 1

    def test_follow_then_unfollow_in_one_unit_of_work(self) -> None:
        """A unit of work sees its own undo before it commits, and commits it."""
        with self.make_uow() as uow:
            uow.fans.follow("fan-1", "artist-1", T0)
            uow.fans.unfollow("fan-1", "artist-1")
            assert uow.fans.follower_count("artist-1") == 0
            uow.commit()
        assert self.read(lambda uow: uow.fans.follower_count("artist-1")) == 0


class TrackRepositoryContract(UnitOfWorkFactory):
    def test_track_round_trips_every_field(self) -> None:
        """A published exclusive track reads back with status, release, duration and rungs."""
        track = attrs.evolve(
            a_track(),
            status=TrackStatus.READY,
            release_at=T0 + timedelta(days=2, microseconds=7),
            exclusive=True,
            duration_s=241.37,
            rungs_kbps=(128, 256),
            rates=(RungRate(128, 129.3, 131.25), RungRate(256, 203.4, 268.7)),
            audience=Tier.SUPERFAN,
            description="Recorded live.\nSecond line: ünïcode ✓",
        )
        self.committed(lambda uow: uow.tracks.add(track))

        loaded = self.read(lambda uow: uow.tracks.get("track-1"))

        assert loaded == track
        assert loaded is not None
        assert loaded.status is TrackStatus.READY
        assert loaded.rungs_kbps == (128, 256)
        assert loaded.rate_of(256) == RungRate(256, 203.4, 268.7)

    def test_a_new_track_keeps_its_defaults(self) -> None:
        """A processing track's empty fields read back empty, not as zeros or strings."""
        track = a_track()
        self.committed(lambda uow: uow.tracks.add(track))

        loaded = self.read(lambda uow: uow.tracks.get("track-1"))

        assert loaded == track
        assert loaded is not None
        assert (loaded.status, loaded.release_at, loaded.duration_s, loaded.rungs_kbps) == (
            TrackStatus.PROCESSING,
            None,
            None,
            (),
        )
        assert loaded.exclusive is False
        assert loaded.failure_reason is None

    def test_save_updates_a_track(self) -> None:
        """save stores the new state: failed with a reason, then published."""
        track = a_track()
        self.committed(lambda uow: uow.tracks.add(track))
        self.committed(lambda uow: uow.tracks.save(track.failed("ffmpeg crashed")))
        failed = self.read(lambda uow: uow.tracks.get("track-1"))
        self.committed(lambda uow: uow.tracks.save(track.published(duration_s=3.5, rungs_kbps=(128,))))

        loaded = self.read(lambda uow: uow.tracks.get("track-1"))

        assert failed is not None
        assert (failed.status, failed.failure_reason) == (TrackStatus.FAILED, "ffmpeg crashed")
        assert loaded is not None
        assert (loaded.status, loaded.duration_s, loaded.rungs_kbps) == (TrackStatus.READY, 3.5, (128,))

    def test_a_transcodes_progress_is_saved_and_cleared_when_published(self) -> None:
        track = a_track()
        self.committed(lambda uow: uow.tracks.add(track))
        self.committed(lambda uow: uow.tracks.save(track.transcoding(0.45)))
        halfway = self.read(lambda uow: uow.tracks.get("track-1"))
        self.committed(lambda uow: uow.tracks.save(track.published(duration_s=2.0, rungs_kbps=(128,))))

        done = self.read(lambda uow: uow.tracks.get("track-1"))

        assert halfway is not None
        assert halfway.progress == 0.45
        assert done is not None
        assert done.progress is None

    def test_an_edit_and_a_deletion_are_saved_and_a_deleted_track_is_never_processing(self) -> None:
        """The artist's edit reads back whole; a deletion is a tombstone with its status, still
        found by id (so a transcode learns of it) and never waiting for a transcode."""
        track = a_track()
        self.committed(lambda uow: uow.tracks.add(track))
        edited = track.edited(
            TrackEdit(
                title="New title",
                description="Liner notes",
                required_tier=Tier.SUPPORTER,
                release_at=T0 + timedelta(days=3),
            )
        )
        self.committed(lambda uow: uow.tracks.save(edited))
        after_edit = self.read(lambda uow: uow.tracks.get("track-1"))
        self.committed(lambda uow: uow.tracks.save(edited.deleted()))

        gone = self.read(lambda uow: uow.tracks.get("track-1"))

        assert after_edit == edited
        assert after_edit is not None
        assert (after_edit.title, after_edit.description, after_edit.required_tier) == (
            "New title",
            "Liner notes",
            Tier.SUPPORTER,
        )
        assert gone is not None
        assert gone.status is TrackStatus.DELETED
        assert self.read(lambda uow: list(uow.tracks.processing())) == []

    def test_by_artist_lists_only_their_tracks_oldest_first(self) -> None:
        """by_artist returns the artist's tracks ordered by creation time."""
        self.committed(lambda uow: uow.tracks.add(a_track("t-late", created_at=T0 + timedelta(hours=2))))
        self.committed(lambda uow: uow.tracks.add(a_track("t-other", artist_id="artist-2")))
        self.committed(lambda uow: uow.tracks.add(a_track("t-early", created_at=T0)))

        ids = self.read(lambda uow: [t.id for t in uow.tracks.by_artist("artist-1")])

        assert ids == ["t-early", "t-late"]
        assert self.read(lambda uow: uow.tracks.by_artist("nobody")) == []

    def test_processing_lists_tracks_awaiting_transcode_oldest_first(self) -> None:
        """processing returns every artist's unfinished tracks, oldest first, not ready or failed ones."""
        tracks = [
            a_track("t-2", artist_id="artist-2", created_at=T0 + timedelta(minutes=2)),
            a_track("t-1", created_at=T0 + timedelta(minutes=1)),
            a_track("t-ready", created_at=T0).published(duration_s=1.0, rungs_kbps=(128,)),
            a_track("t-failed", created_at=T0).failed("not audio"),
            a_track("t-0", artist_id="artist-3", created_at=T0),
        ]
        self.each_committed(tracks, lambda uow, t: uow.tracks.add(t))
        waiting = self.read(lambda uow: [t.id for t in uow.tracks.processing()])
        self.committed(lambda uow: uow.tracks.save(tracks[1].published(duration_s=2.0, rungs_kbps=(128,))))

        assert waiting == ["t-0", "t-1", "t-2"]
        assert self.read(lambda uow: [t.id for t in uow.tracks.processing()]) == ["t-0", "t-2"]

    def test_unknown_track_is_none(self) -> None:
        """get of an id never added returns None."""
        assert self.read(lambda uow: uow.tracks.get("nope")) is None

    def test_releasing_between_finds_releases_in_the_half_open_range_soonest_first(self) -> None:
        """Release instants in (after, until], whatever their offset, soonest first; the start of
        the range, tracks without a release and later ones are left out."""
        paris = timezone(timedelta(hours=1))
        tracks = [
            attrs.evolve(a_track("t-start"), release_at=T0),
            attrs.evolve(a_track("t-late", artist_id="artist-2"), release_at=T0 + timedelta(hours=2)),
            # Written in Paris time, 30 minutes after T0: between the others, whatever the text says.
            attrs.evolve(a_track("t-paris"), release_at=(T0 + timedelta(minutes=30)).astimezone(paris)),
            attrs.evolve(a_track("t-end"), release_at=T0 + timedelta(hours=3)),
            attrs.evolve(a_track("t-after"), release_at=T0 + timedelta(hours=3, microseconds=1)),
            a_track("t-none"),
        ]
        self.each_committed(tracks, lambda uow, t: uow.tracks.add(t))

        found = self.read(
            lambda uow: [t.id for t in uow.tracks.releasing_between(T0, T0 + timedelta(hours=3))]
        )

        assert found == ["t-paris", "t-late", "t-end"]
        assert self.read(lambda uow: uow.tracks.releasing_between(T0, T0)) == []


class SubscriptionRepositoryContract(UnitOfWorkFactory):
    def test_subscription_round_trips_every_field(self) -> None:
        """Every field, from the plan version to the last event time, reads back equal."""
        plan = TierPlan(
            tier=Tier.SUPERFAN,
            price=Money(1250, "KWD"),
            features=("direct_messages", "live_sessions"),
            version=4,
            effective_from=T0 - timedelta(days=40),
        )
        subscription = Subscription(
            id="sub-1",
            fan_id="fan-1",
            artist_id="artist-1",
            plan=plan,
            status=SubscriptionStatus.PAST_DUE,
            current_period_start=T0,
            current_period_end=T0 + timedelta(days=31),
            created_at=T0 - timedelta(days=62),
            grace_days=9,
            cancel_at_period_end=False,
            scheduled_plan=a_plan(price_minor=600, currency="KWD"),
            past_due_since=T0 + timedelta(days=31, seconds=1),
            canceled_at=None,
            external_ref="sub_1PqRsT",
            last_event_at=T0 + timedelta(microseconds=1),
        )
        self.committed(lambda uow: uow.subscriptions.add(subscription))

        loaded = self.read(lambda uow: uow.subscriptions.get("sub-1"))

        assert loaded == subscription
        assert loaded is not None
        assert loaded.status is SubscriptionStatus.PAST_DUE
        assert loaded.plan.tier is Tier.SUPERFAN
        assert loaded.scheduled_plan == a_plan(price_minor=600, currency="KWD")

    def test_a_canceled_subscription_round_trips(self) -> None:
        """Cancellation fields (flag, time) survive storage."""
        subscription = attrs.evolve(
            a_subscription(),
            status=SubscriptionStatus.CANCELED,
            cancel_at_period_end=True,
            canceled_at=T0 + timedelta(days=30),
        )
        self.committed(lambda uow: uow.subscriptions.add(subscription))

        assert self.read(lambda uow: uow.subscriptions.get("sub-1")) == subscription

    def test_a_second_live_subscription_is_a_conflict(self) -> None:
        """One live subscription per (fan, artist): a second one is refused."""
        self.committed(lambda uow: uow.subscriptions.add(a_subscription("sub-1")))

        with pytest.raises(Conflict):
            self.committed(
                lambda uow: uow.subscriptions.add(
                    a_subscription("sub-2", status=SubscriptionStatus.INCOMPLETE)
                )
            )

        assert self.read(lambda uow: uow.subscriptions.get("sub-2")) is None

    def test_the_same_fan_may_subscribe_to_other_artists(self) -> None:
        """The rule is per pair: other artists and other fans are unaffected."""
        self.committed(lambda uow: uow.subscriptions.add(a_subscription("sub-1")))
        self.committed(lambda uow: uow.subscriptions.add(a_subscription("sub-2", artist_id="artist-2")))
        self.committed(lambda uow: uow.subscriptions.add(a_subscription("sub-3", fan_id="fan-2")))

        ids = self.read(lambda uow: [s.id for s in uow.subscriptions.of_fan("fan-1")])

        assert ids == ["sub-1", "sub-2"]

    def test_a_canceled_subscription_does_not_block_a_new_one(self) -> None:
        """After the live subscription is canceled, the pair may subscribe again."""
        first = a_subscription("sub-1")
        self.committed(lambda uow: uow.subscriptions.add(first))
        self.committed(
            lambda uow: uow.subscriptions.save(attrs.evolve(first, status=SubscriptionStatus.CANCELED))
        )

        self.committed(
            lambda uow: uow.subscriptions.add(a_subscription("sub-2", created_at=T0 + timedelta(days=1)))
        )

        live = self.read(lambda uow: uow.subscriptions.live_for("fan-1", "artist-1"))
        assert live is not None
        assert live.id == "sub-2"

    def test_reviving_a_canceled_subscription_beside_a_live_one_is_a_conflict(self) -> None:
        """save cannot make a second live subscription for the pair either."""
        first = attrs.evolve(a_subscription("sub-1"), status=SubscriptionStatus.CANCELED)
        self.committed(lambda uow: uow.subscriptions.add(first))
        self.committed(lambda uow: uow.subscriptions.add(a_subscription("sub-2")))

        with pytest.raises(Conflict):
            self.committed(
                lambda uow: uow.subscriptions.save(attrs.evolve(first, status=SubscriptionStatus.ACTIVE))
            )

        reloaded = self.read(lambda uow: uow.subscriptions.get("sub-1"))
        assert reloaded is not None
        assert reloaded.status is SubscriptionStatus.CANCELED

    def test_live_for_follows_the_status(self) -> None:
        """live_for returns the live subscription and None once it is canceled."""
        subscription = a_subscription(status=SubscriptionStatus.PAST_DUE)
        self.committed(lambda uow: uow.subscriptions.add(subscription))
        before = self.read(lambda uow: uow.subscriptions.live_for("fan-1", "artist-1"))

        self.committed(
            lambda uow: uow.subscriptions.save(attrs.evolve(subscription, status=SubscriptionStatus.CANCELED))
        )

        assert before == subscription
        assert self.read(lambda uow: uow.subscriptions.live_for("fan-1", "artist-1")) is None
        assert self.read(lambda uow: uow.subscriptions.live_for("fan-2", "artist-1")) is None

    def test_found_by_external_ref(self) -> None:
        """by_external_ref finds a subscription by the processor's id, also one set by save."""
        self.committed(lambda uow: uow.subscriptions.add(a_subscription("sub-1", external_ref="sub_A")))
        second = a_subscription("sub-2", fan_id="fan-2")
        self.committed(lambda uow: uow.subscriptions.add(second))
        self.committed(lambda uow: uow.subscriptions.save(attrs.evolve(second, external_ref="sub_B")))

        found = self.read(
            lambda uow: [uow.subscriptions.by_external_ref(r) for r in ("sub_A", "sub_B", "sub_C")]
        )

        assert [s.id if s else None for s in found] == ["sub-1", "sub-2", None]

    def test_of_fan_lists_every_subscription_oldest_first(self) -> None:
        """of_fan includes ended subscriptions, ordered by creation time."""
        self.committed(
            lambda uow: uow.subscriptions.add(a_subscription("sub-new", created_at=T0 + timedelta(days=5)))
        )
        self.committed(
            lambda uow: uow.subscriptions.add(
                a_subscription("sub-old", status=SubscriptionStatus.CANCELED, created_at=T0)
            )
        )
        self.committed(
            lambda uow: uow.subscriptions.add(
                a_subscription("sub-mid", artist_id="artist-2", created_at=T0 + timedelta(days=1))
            )
        )

        ids = self.read(lambda uow: [s.id for s in uow.subscriptions.of_fan("fan-1")])

        assert ids == ["sub-old", "sub-mid", "sub-new"]
        assert self.read(lambda uow: uow.subscriptions.of_fan("nobody")) == []

    def test_live_of_artist_leaves_out_ended_and_other_artists(self) -> None:
        """live_of_artist lists the artist's live subscriptions only."""
        subs = [
            a_subscription("s1", fan_id="f1"),
            a_subscription("s2", fan_id="f2", status=SubscriptionStatus.CANCELED),
            a_subscription("s3", fan_id="f3", status=SubscriptionStatus.UNPAID, created_at=T0 + timedelta(1)),
            a_subscription("s4", fan_id="f4", artist_id="artist-2"),
        ]
        self.each_committed(subs, lambda uow, s: uow.subscriptions.add(s))

        ids = self.read(lambda uow: [s.id for s in uow.subscriptions.live_of_artist("artist-1")])

        assert ids == ["s1", "s3"]

    def test_due_for_renewal(self) -> None:
        """Active or trialing subscriptions whose period ended at or before now are due."""
        now = T0 + timedelta(days=30)
        subs = [
            a_subscription("due-active", fan_id="f1", period_end=now - timedelta(seconds=1)),
            a_subscription("due-exactly", fan_id="f2", period_end=now),
            a_subscription(
                "due-trial",
                fan_id="f3",
                status=SubscriptionStatus.TRIALING,
                period_end=now - timedelta(days=1),
            ),
            a_subscription("not-yet", fan_id="f4", period_end=now + timedelta(microseconds=1)),
            a_subscription(
                "past-due",
                fan_id="f5",
                status=SubscriptionStatus.PAST_DUE,
                period_end=now - timedelta(days=2),
            ),
            a_subscription(
                "canceled",
                fan_id="f6",
                status=SubscriptionStatus.CANCELED,
                period_end=now - timedelta(days=2),
            ),
            a_subscription(
                "incomplete",
                fan_id="f7",
                status=SubscriptionStatus.INCOMPLETE,
                period_end=now - timedelta(days=2),
            ),
        ]
        self.each_committed(subs, lambda uow, s: uow.subscriptions.add(s))

        due = self.read(lambda uow: {s.id for s in uow.subscriptions.due_for_renewal(now)})

        assert due == {"due-active", "due-exactly", "due-trial"}

    def test_concurrent_subscribes_leave_one_live_subscription(self) -> None:
        """Of several units of work subscribing the same pair at once, exactly one commits."""
        outcomes = self.race(4, lambda uow, i: uow.subscriptions.add(a_subscription(f"sub-{i}")))

        winners = [f"sub-{i}" for i, o in enumerate(outcomes) if not isinstance(o, Conflict)]
        assert len(winners) == 1
        live = self.read(lambda uow: uow.subscriptions.live_for("fan-1", "artist-1"))
        assert live is not None
        assert [live.id] == winners
        assert len(self.read(lambda uow: uow.subscriptions.of_fan("fan-1"))) == 1


class LedgerRepositoryContract(UnitOfWorkFactory):
    def test_recorded_transaction_round_trips(self) -> None:
        """record returns True and by_key returns the transaction with every entry and field."""
        charge = a_charge("charge:1", amount=Money(1999, "EUR"))

        recorded = self.committed(lambda uow: uow.ledger.record(charge))
        loaded = self.read(lambda uow: uow.ledger.by_key("charge:1"))

        assert recorded is True
        assert loaded == charge
        assert loaded is not None
        assert loaded.kind is TransactionKind.CHARGE
        assert loaded.entries[0].direction is Direction.DEBIT
        assert [e.amount for e in loaded.entries] == [
            Money(1999, "EUR"),
            Money(1799, "EUR"),
            Money(200, "EUR"),
        ]

    def test_a_transaction_without_artist_or_gross_round_trips(self) -> None:
        """Optional fields left empty read back empty."""
        fee = Transaction(
            id="tx-fee",
            kind=TransactionKind.PROCESSING_FEE,
            idempotency_key="fee:1",
            occurred_at=T0,
            entries=(
                Entry("platform:processing", Direction.DEBIT, Money(30, "USD")),
                Entry(CASH, Direction.CREDIT, Money(30, "USD")),
            ),
        )
        self.committed(lambda uow: uow.ledger.record(fee))

        assert self.read(lambda uow: uow.ledger.by_key("fee:1")) == fee
        assert self.read(lambda uow: uow.ledger.by_key("fee:2")) is None

    def test_the_same_key_is_recorded_once(self) -> None:
        """Recording a key again returns False and the balance counts it once."""
        first = self.committed(lambda uow: uow.ledger.record(a_charge("k")))
        again = self.committed(lambda uow: uow.ledger.record(a_charge("k")))
        same_uow = self.committed(
            lambda uow: [uow.ledger.record(a_charge("k2")), uow.ledger.record(a_charge("k2"))]
        )

        assert (first, again, same_uow) == (True, False, [True, False])
        assert self.read(lambda uow: uow.ledger.balance(artist_account("artist-1"), "USD")) == -900
        assert self.read(lambda uow: uow.ledger.balance(CASH, "USD")) == 1000

    def test_balances_are_kept_per_account_and_currency(self) -> None:
        """balance is debits minus credits on one account in one currency."""
        self.committed(lambda uow: uow.ledger.record(a_charge("usd", amount=Money(500, "USD"))))
        self.committed(lambda uow: uow.ledger.record(a_charge("jpy", amount=Money(1000, "JPY"))))
        self.committed(lambda uow: uow.ledger.record(a_charge("usd2", artist_id="artist-2")))

        balances = self.read(
            lambda uow: {
                (account, currency): uow.ledger.balance(account, currency)
                for account in (CASH, PLATFORM_FEES, artist_account("artist-1"), artist_account("artist-2"))
                for currency in ("USD", "JPY")
            }
        )

        assert balances == {
            (CASH, "USD"): 1000,
            (CASH, "JPY"): 1000,
            (PLATFORM_FEES, "USD"): -100,
            (PLATFORM_FEES, "JPY"): -100,
            (artist_account("artist-1"), "USD"): -450,
            (artist_account("artist-1"), "JPY"): -900,
            (artist_account("artist-2"), "USD"): -450,
            (artist_account("artist-2"), "JPY"): 0,
        }
        assert self.read(lambda uow: uow.ledger.balance("nobody", "USD")) == 0

    def test_currencies_of_an_account(self) -> None:
        """currencies_of lists each currency the account has entries in, alphabetically."""
        charges = [
            a_charge("a", amount=Money(500, "USD")),
            a_charge("b", amount=Money(900, "JPY")),
            a_charge("c", amount=Money(500, "USD")),
        ]
        self.each_committed(charges, lambda uow, c: uow.ledger.record(c))

        currencies = self.read(lambda uow: list(uow.ledger.currencies_of(artist_account("artist-1"))))

        assert currencies == ["JPY", "USD"]
        assert list(self.read(lambda uow: uow.ledger.currencies_of(artist_account("nobody")))) == []

    def test_trial_balance_is_zero_per_currency(self) -> None:
        """Balanced transactions keep debits equal to credits in every currency."""
        empty = self.read(lambda uow: uow.ledger.trial_balance())
        self.committed(lambda uow: uow.ledger.record(a_charge("usd", amount=Money(333, "USD"))))
        self.committed(lambda uow: uow.ledger.record(a_charge("kwd", amount=Money(4567, "KWD"))))

        assert empty == {}
        assert self.read(lambda uow: uow.ledger.trial_balance()) == {"USD": 0, "KWD": 0}

    def test_of_artist_filters_by_time_window(self) -> None:
        """of_artist returns the artist's transactions with since <= occurred_at < until, oldest first."""
        charges = [a_charge(f"h{h}", at=T0 + timedelta(hours=h)) for h in (3, 0, 1, 2)]
        self.each_committed(charges, lambda uow, c: uow.ledger.record(c))
        self.committed(lambda uow: uow.ledger.record(a_charge("other", artist_id="artist-2")))

        def keys(since: datetime | None, until: datetime | None) -> list[str]:
            found = self.read(lambda uow: uow.ledger.of_artist("artist-1", since=since, until=until))
            return [t.idempotency_key for t in found]

        assert keys(None, None) == ["h0", "h1", "h2", "h3"]
        assert keys(T0 + timedelta(hours=1), T0 + timedelta(hours=3)) == ["h1", "h2"]
        assert keys(T0 + timedelta(hours=1, microseconds=1), None) == ["h2", "h3"]
        assert keys(None, T0) == []

    def test_of_fan_lists_the_fans_transactions_oldest_first(self) -> None:
        """Charges about the fan, whichever artist, oldest first; nobody else's."""
        charges = [
            a_charge("late", at=T0 + timedelta(hours=2), artist_id="artist-2"),
            a_charge("early", at=T0),
            a_charge("middle", at=T0 + timedelta(hours=1), amount=Money(1000, "JPY")),
            a_charge("someone else's", fan_id="fan-2"),
        ]
        self.each_committed(charges, lambda uow, c: uow.ledger.record(c))

        found = self.read(lambda uow: uow.ledger.of_fan("fan-1"))

        assert [t.idempotency_key for t in found] == ["early", "middle", "late"]
        assert found[1] == charges[2]
        assert self.read(lambda uow: uow.ledger.of_fan("nobody")) == []

    def test_of_artist_includes_transactions_moving_their_account(self) -> None:
        """A transaction that names no artist but moves the artist's account is theirs too."""
        adjustment = Transaction(
            id="tx-adj",
            kind=TransactionKind.REFUND,
            idempotency_key="adjust:1",
            occurred_at=T0,
            entries=(
                Entry(artist_account("artist-1"), Direction.DEBIT, Money(100, "USD")),
                Entry(CASH, Direction.CREDIT, Money(100, "USD")),
            ),
        )
        self.committed(lambda uow: uow.ledger.record(adjustment))
        self.committed(lambda uow: uow.ledger.record(a_charge("other", artist_id="artist-2")))

        found = self.read(lambda uow: list(uow.ledger.of_artist("artist-1")))

        assert found == [adjustment]

    def test_artists_with_balance(self) -> None:
        """Artists owed money are listed; one paid out to zero is not."""
        self.committed(lambda uow: uow.ledger.record(a_charge("a1", artist_id="artist-1")))
        self.committed(lambda uow: uow.ledger.record(a_charge("b1", artist_id="artist-2")))
        payout = Transaction(
            id="tx-payout",
            kind=TransactionKind.PAYOUT,
            idempotency_key="payout:artist-2:2024-03",
            occurred_at=T0,
            entries=(
                Entry(artist_account("artist-2"), Direction.DEBIT, Money(450, "USD")),
                Entry(CASH, Direction.CREDIT, Money(450, "USD")),
            ),
            artist_id="artist-2",
            gross=Money(450, "USD"),
        )
        self.committed(lambda uow: uow.ledger.record(payout))

        assert list(self.read(lambda uow: uow.ledger.artists_with_balance())) == ["artist-1"]
        assert self.read(lambda uow: uow.ledger.balance(artist_account("artist-2"), "USD")) == 0

    def test_a_key_raced_by_several_units_of_work_counts_once(self) -> None:
        """Concurrent records of one key: one takes effect; the rest see False or a Conflict."""
        outcomes = self.race(4, lambda uow, _: uow.ledger.record(a_charge("raced")))

        assert outcomes.count(True) == 1
        assert all(o is False or isinstance(o, Conflict) for o in outcomes if o is not True)
        assert self.read(lambda uow: uow.ledger.balance(CASH, "USD")) == 500
        assert self.read(lambda uow: uow.ledger.trial_balance()) == {"USD": 0}


class PayoutRepositoryContract(UnitOfWorkFactory):
    def test_payout_round_trips_every_field(self) -> None:
        """Amounts, split, period, time and external reference read back equal."""
        payout = attrs.evolve(
            a_payout("po-1"),
            amount=Money(9001, "KWD"),
            gross=Money(10001, "KWD"),
            platform_fee=Money(1000, "KWD"),
            processor_fee=Money(321, "KWD"),
            external_ref="tr_1Abc",
        )
        self.committed(lambda uow: uow.payouts.add(payout))

        assert self.read(lambda uow: list(uow.payouts.of_artist("artist-1"))) == [payout]

    def test_an_unknown_processor_fee_reads_back_unknown_and_a_zero_one_as_zero(self) -> None:
        """None (a payout from before the fee was kept) is not 0 (a processor that kept nothing)."""
        unknown = attrs.evolve(a_payout("po-1"), processor_fee=None)
        nothing = attrs.evolve(
            a_payout("po-2", paid_at=T0 + timedelta(days=1)), processor_fee=Money(0, "USD")
        )
        self.each_committed([unknown, nothing], lambda uow, p: uow.payouts.add(p))

        assert self.read(lambda uow: list(uow.payouts.of_artist("artist-1"))) == [nothing, unknown]

    def test_payouts_are_listed_newest_first(self) -> None:
        """of_artist orders by payment time, newest first, and leaves other artists out."""
        payouts = [
            a_payout(payout_id, paid_at=T0 + timedelta(days=days))
            for payout_id, days in (("po-mid", 31), ("po-old", 0), ("po-new", 60))
        ]
        self.each_committed(payouts, lambda uow, p: uow.payouts.add(p))
        self.committed(lambda uow: uow.payouts.add(a_payout("po-x", artist_id="artist-2")))

        ids = self.read(lambda uow: [p.id for p in uow.payouts.of_artist("artist-1")])
        last = self.read(lambda uow: uow.payouts.last_of_artist("artist-1"))

        assert ids == ["po-new", "po-mid", "po-old"]
        assert last is not None
        assert last.id == "po-new"

    def test_a_payouts_news_is_saved_and_found_by_the_processors_reference(self) -> None:
        """Sent pending, then paid with its arrival time; the amounts stay as they were sent."""
        sent = attrs.evolve(a_payout("po-1"), external_ref="po_stripe_1", status=PayoutStatus.PENDING)
        self.committed(lambda uow: uow.payouts.add(sent))
        assert self.read(lambda uow: uow.payouts.by_external_ref("po_stripe_1")) == sent

        arrived = attrs.evolve(sent, status=PayoutStatus.PAID, arrived_at=T0 + timedelta(days=2))
        self.committed(lambda uow: uow.payouts.save(arrived))

        assert self.read(lambda uow: uow.payouts.by_external_ref("po_stripe_1")) == arrived
        assert self.read(lambda uow: list(uow.payouts.of_artist("artist-1"))) == [arrived]
        assert self.read(lambda uow: uow.payouts.by_external_ref("po_other")) is None

    def test_no_payouts(self) -> None:
        """An artist never paid has an empty history and no last payout."""
        assert list(self.read(lambda uow: uow.payouts.of_artist("artist-1"))) == []
        assert self.read(lambda uow: uow.payouts.last_of_artist("artist-1")) is None


class PlayEventStoreContract(UnitOfWorkFactory):
    def test_listeners_are_distinct_fans_over_the_window(self) -> None:
        """A fan playing on several days, or twice a day, is one listener; days outside the window,
        other artists' fans and uncommitted plays in the same unit of work are counted right."""
        plays = [
            a_play(at=datetime(2024, 3, 1, 9, tzinfo=UTC)),
            a_play(at=datetime(2024, 3, 1, 10, tzinfo=UTC)),
            a_play(at=datetime(2024, 3, 2, 9, tzinfo=UTC)),
            a_play(at=datetime(2024, 3, 2, 9, tzinfo=UTC), fan_id="fan-2"),
            a_play(at=datetime(2024, 3, 9, 9, tzinfo=UTC), fan_id="fan-3"),
            a_play(at=datetime(2024, 3, 2, 9, tzinfo=UTC), fan_id="fan-4", artist_id="artist-2"),
        ]
        self.each_committed(plays, lambda uow, p: uow.plays.record(p))

        def with_a_pending_play(uow: UnitOfWork) -> int:
            uow.plays.record(a_play(at=datetime(2024, 3, 3, 9, tzinfo=UTC), fan_id="fan-5"))
            return uow.plays.listeners("artist-1", date(2024, 3, 1), date(2024, 3, 8))

        assert self.read(lambda uow: uow.plays.listeners("artist-1", date(2024, 3, 1), date(2024, 3, 8))) == 2
        assert self.read(lambda uow: uow.plays.listeners("artist-1", date(2024, 3, 1), date(2024, 3, 9))) == 3
        assert self.read(lambda uow: uow.plays.listeners("artist-2", date(2024, 3, 1), date(2024, 3, 9))) == 1
        assert self.read(with_a_pending_play) == 3

    def test_plays_are_counted_per_utc_day(self) -> None:
        """daily_counts buckets plays by their UTC calendar day."""
        new_york = timezone(timedelta(hours=-5))
        plays = [
            a_play(at=datetime(2024, 3, 1, 0, 0, tzinfo=UTC)),
            a_play(at=datetime(2024, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)),
            a_play(at=datetime(2024, 3, 1, 20, 0, tzinfo=new_york)),  # 2024-03-02 01:00 UTC
            a_play(at=datetime(2024, 3, 3, 12, 0, tzinfo=UTC), fan_id="fan-2"),
        ]
        self.all_committed(plays, lambda uow, p: uow.plays.record(p))

        counts = self.read(lambda uow: uow.plays.daily_counts("artist-1", date(2024, 3, 1), date(2024, 3, 3)))

        assert counts == {date(2024, 3, 1): 2, date(2024, 3, 2): 1, date(2024, 3, 3): 1}

    def test_daily_counts_cover_the_window_inclusively(self) -> None:
        """Days outside [first, last] and days without plays are left out."""
        days = [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 2), date(2024, 3, 5)]
        plays = [a_play(at=datetime(d.year, d.month, d.day, 12, tzinfo=UTC)) for d in days]
        self.each_committed(plays, lambda uow, p: uow.plays.record(p))
        self.committed(lambda uow: uow.plays.record(a_play(artist_id="artist-2", at=T0)))

        counts = self.read(
            lambda uow: uow.plays.daily_counts("artist-1", date(2024, 2, 29), date(2024, 3, 2))
        )
        others = self.read(
            lambda uow: uow.plays.daily_counts("artist-2", date(2024, 2, 29), date(2024, 3, 2))
        )

        assert counts == {date(2024, 2, 29): 1, date(2024, 3, 2): 1}
        assert others == {}

    def test_thirty_day_window(self) -> None:
        """A 30-day query returns every day's total, summing many plays per day."""
        first = date(2024, 3, 1)
        plays = [
            a_play(fan_id=f"fan-{n % 3}", at=datetime(2024, 3, 1, tzinfo=UTC) + timedelta(days=d, minutes=n))
            for d in range(30)
            for n in range(d % 4)
        ]
        self.all_committed(plays, lambda uow, p: uow.plays.record(p))

        counts = self.read(lambda uow: uow.plays.daily_counts("artist-1", first, first + timedelta(days=29)))

        assert counts == {first + timedelta(days=d): d % 4 for d in range(30) if d % 4}
        assert sum(counts.values()) == len(plays)

    def test_top_fans_by_plays_with_ties_by_fan_id(self) -> None:
        """top_fans orders by plays descending, then fan id, and honours the limit."""
        plays_per_fan = {"carol": 3, "bob": 5, "alice": 3, "dave": 1, "erin": 5}
        plays = [a_play(fan_id=fan) for fan, n in plays_per_fan.items() for _ in range(n)]
        plays.append(a_play(fan_id="zed", artist_id="artist-2"))
        self.all_committed(plays, lambda uow, p: uow.plays.record(p))

        top = self.read(lambda uow: list(uow.plays.top_fans("artist-1", 4)))
        everyone = self.read(lambda uow: list(uow.plays.top_fans("artist-1", 100)))

        assert top == [("bob", 5), ("erin", 5), ("alice", 3), ("carol", 3)]
        assert everyone[-1] == ("dave", 1)
        assert len(everyone) == 5
        assert self.read(lambda uow: list(uow.plays.top_fans("nobody", 3))) == []

    def test_top_fans_count_across_days(self) -> None:
        """A fan's plays on different days add up."""
        plays = [a_play(fan_id="fan-a", at=T0 + timedelta(days=d)) for d in (0, 1, 2)]
        self.each_committed(plays, lambda uow, p: uow.plays.record(p))
        self.all_committed([a_play(fan_id="fan-b")] * 2, lambda uow, p: uow.plays.record(p))

        assert self.read(lambda uow: list(uow.plays.top_fans("artist-1", 2))) == [("fan-a", 3), ("fan-b", 2)]

    def test_plays_from_concurrent_units_of_work_all_count(self) -> None:
        """Increments from racing units of work are added, never lost."""
        self.race(6, lambda uow, i: uow.plays.record(a_play(fan_id=f"fan-{i % 2}")))

        counts = self.read(lambda uow: uow.plays.daily_counts("artist-1", T0.date(), T0.date()))
        assert counts == {T0.date(): 6}
        assert self.read(lambda uow: list(uow.plays.top_fans("artist-1", 5))) == [("fan-0", 3), ("fan-1", 3)]


class ListeningHistoryContract(UnitOfWorkFactory):
    def test_history_is_one_row_per_track_most_recent_first(self) -> None:
        """Each play counts; the latest play's time is kept even if an older one arrives after it."""
        plays = [
            PlayEvent("artist-1", "track-1", "fan-1", T0),
            PlayEvent("artist-1", "track-2", "fan-1", T0 + timedelta(minutes=5)),
            PlayEvent("artist-1", "track-1", "fan-1", T0 + timedelta(minutes=10)),
            PlayEvent("artist-1", "track-1", "fan-1", T0 + timedelta(minutes=1)),
            PlayEvent("artist-2", "track-9", "fan-2", T0),
        ]
        self.each_committed(plays, lambda uow, p: uow.plays.record(p))

        assert self.read(lambda uow: list(uow.plays.history("fan-1", 10))) == [
            Listened("track-1", "artist-1", T0 + timedelta(minutes=10), 3),
            Listened("track-2", "artist-1", T0 + timedelta(minutes=5), 1),
        ]
        assert self.read(lambda uow: [h.track_id for h in uow.plays.history("fan-1", 1)]) == ["track-1"]
        assert self.read(lambda uow: list(uow.plays.history("nobody", 10))) == []

    def test_forgetting_a_fans_history_keeps_the_artists_counts_and_other_fans(self) -> None:
        """forget_history drops one fan's rows; daily counts and another fan's history stay."""
        plays = [
            a_play(fan_id="fan-1"),
            a_play(fan_id="fan-1", at=T0 + timedelta(hours=1)),
            a_play(fan_id="fan-2"),
        ]
        self.each_committed(plays, lambda uow, p: uow.plays.record(p))

        self.committed(lambda uow: uow.plays.forget_history("fan-1"))

        assert self.read(lambda uow: list(uow.plays.history("fan-1", 10))) == []
        assert self.read(lambda uow: [h.plays for h in uow.plays.history("fan-2", 10)]) == [1]
        assert self.read(lambda uow: uow.plays.daily_counts("artist-1", T0.date(), T0.date())) == {
            T0.date(): 3
        }


class MessageRepositoryContract(UnitOfWorkFactory):
    def test_a_fans_messages_to_every_artist_oldest_first(self) -> None:
        """from_fan returns what one fan sent to any artist, in the order sent."""
        late = a_message("m-late", artist_id="artist-2", sent_at=T0 + timedelta(minutes=5))
        early = a_message("m-early")
        self.each_committed(
            [late, early, a_message("m-other", fan_id="fan-2")], lambda uow, m: uow.messages.add(m)
        )

        assert self.read(lambda uow: list(uow.messages.from_fan("fan-1"))) == [early, late]
        assert self.read(lambda uow: list(uow.messages.from_fan("nobody"))) == []

    def test_erasing_an_artists_replies_replaces_their_bodies_only(self) -> None:
        """erase_replies_of changes the artist's replies in every thread, not what fans wrote
        to them nor another artist's replies; the threads keep their length and order."""
        messages = [
            a_message("m-fan"),
            a_message("m-reply", from_artist=True, sent_at=T0 + timedelta(minutes=1)),
            a_message("m-reply-2", fan_id="fan-2", from_artist=True, sent_at=T0 + timedelta(minutes=2)),
            a_message("m-other", artist_id="artist-2", from_artist=True),
        ]
        self.each_committed(messages, lambda uow, m: uow.messages.add(m))

        self.committed(lambda uow: uow.messages.erase_replies_of("artist-1", body="(erased)"))

        thread = self.read(lambda uow: [(m.id, m.body) for m in uow.messages.thread("fan-1", "artist-1")])
        assert thread == [("m-reply", "(erased)"), ("m-fan", "Loved it!")]
        assert self.read(lambda uow: [m.body for m in uow.messages.thread("fan-2", "artist-1")]) == [
            "(erased)"
        ]
        assert self.read(lambda uow: [m.body for m in uow.messages.thread("fan-1", "artist-2")]) == [
            "Loved it!"
        ]

    def test_erasing_a_fans_messages_replaces_their_bodies_only(self) -> None:
        """The fan's bodies are replaced in every thread; ids, times, counts and others stay."""
        mine = [a_message("m-1"), a_message("m-2", artist_id="artist-2", sent_at=T0 + timedelta(minutes=1))]
        other = a_message("m-other", fan_id="fan-2")
        self.each_committed([*mine, other], lambda uow, m: uow.messages.add(m))

        self.committed(lambda uow: uow.messages.erase_from("fan-1", body="(erased)"))

        assert self.read(lambda uow: list(uow.messages.from_fan("fan-1"))) == [
            attrs.evolve(m, body="(erased)") for m in mine
        ]
        assert self.read(lambda uow: list(uow.messages.from_fan("fan-2"))) == [other]
        assert self.read(lambda uow: uow.messages.count_from("fan-1", "artist-1", T0)) == 1

    def test_messages_to_an_artist_oldest_first(self) -> None:
        """to_artist returns the artist's messages, every field intact, in the order sent."""
        late = a_message("m-late", sent_at=T0 + timedelta(minutes=5))
        early = a_message("m-early", fan_id="fan-2")
        self.committed(lambda uow: uow.messages.add(late))
        self.committed(lambda uow: uow.messages.add(early))
        self.committed(lambda uow: uow.messages.add(a_message("m-other", artist_id="artist-2")))

        assert self.read(lambda uow: list(uow.messages.to_artist("artist-1"))) == [early, late]
        assert self.read(lambda uow: list(uow.messages.to_artist("nobody"))) == []

    def test_count_from_a_fan_since_an_instant(self) -> None:
        """count_from counts one fan's messages to one artist sent at or after ``since``."""
        month = datetime(2024, 3, 1, tzinfo=UTC)
        messages = [
            a_message("before", sent_at=month - timedelta(microseconds=1)),
            a_message("at-start", sent_at=month),
            a_message("later", sent_at=month + timedelta(days=3)),
            a_message("other-fan", fan_id="fan-2", sent_at=month + timedelta(days=3)),
            a_message("other-artist", artist_id="artist-2", sent_at=month + timedelta(days=3)),
        ]
        self.all_committed(messages, lambda uow, m: uow.messages.add(m))

        assert self.read(lambda uow: uow.messages.count_from("fan-1", "artist-1", month)) == 2
        assert self.read(lambda uow: uow.messages.count_from("fan-2", "artist-1", month)) == 1
        assert (
            self.read(lambda uow: uow.messages.count_from("fan-1", "artist-1", month + timedelta(days=4)))
            == 0
        )

    def test_a_thread_holds_both_sides_newest_first(self) -> None:
        """thread returns the fan's messages and the artist's replies of one conversation only."""
        asked = a_message("m-1", body="Will the tour reach Lyon? 🎸")
        replied = a_message("m-2", from_artist=True, body="Yes, in May!", sent_at=T0 + timedelta(hours=2))
        thanked = a_message("m-3", body="Merci ❤", sent_at=T0 + timedelta(hours=3))
        others = [a_message("x-1", fan_id="fan-2"), a_message("x-2", artist_id="artist-2")]
        self.each_committed([thanked, asked, replied, *others], lambda uow, m: uow.messages.add(m))

        assert self.read(lambda uow: list(uow.messages.thread("fan-1", "artist-1"))) == [
            thanked,
            replied,
            asked,
        ]
        assert self.read(lambda uow: list(uow.messages.thread("fan-9", "artist-1"))) == []

    def test_replies_are_not_what_fans_wrote(self) -> None:
        """to_artist, from_fan and count_from ignore the artist's replies (they use no quota)."""
        asked = a_message("m-1")
        reply = a_message("m-2", from_artist=True, sent_at=T0 + timedelta(minutes=1))
        self.each_committed([asked, reply], lambda uow, m: uow.messages.add(m))

        assert self.read(lambda uow: list(uow.messages.to_artist("artist-1"))) == [asked]
        assert self.read(lambda uow: list(uow.messages.from_fan("fan-1"))) == [asked]
        assert self.read(lambda uow: uow.messages.count_from("fan-1", "artist-1", T0)) == 1

    def test_marking_read_touches_only_the_other_sides_unread_messages(self) -> None:
        """The artist reading marks the fan's messages; a message read before keeps its time."""
        first = a_message("m-1")
        reply = a_message("m-2", from_artist=True, sent_at=T0 + timedelta(minutes=1))
        second = a_message("m-3", sent_at=T0 + timedelta(minutes=2))
        self.each_committed([first, reply], lambda uow, m: uow.messages.add(m))
        read_at = T0 + timedelta(minutes=1, seconds=30)
        self.committed(lambda uow: uow.messages.mark_read("fan-1", "artist-1", by_artist=True, at=read_at))
        self.committed(lambda uow: uow.messages.add(second))
        later = T0 + timedelta(hours=1)
        self.committed(lambda uow: uow.messages.mark_read("fan-1", "artist-1", by_artist=True, at=later))

        thread = {m.id: m.read_at for m in self.read(lambda uow: uow.messages.thread("fan-1", "artist-1"))}
        assert thread == {"m-1": read_at, "m-2": None, "m-3": later}

        self.committed(lambda uow: uow.messages.mark_read("fan-1", "artist-1", by_artist=False, at=later))
        assert self.read(lambda uow: uow.messages.thread("fan-1", "artist-1"))[1].read_at == later

    def test_conversations_latest_first_with_unread_counts(self) -> None:
        """One row per fan with the artist: latest message first, counting what the artist has not read."""
        self.each_committed(
            [
                a_message("a-1", fan_id="fan-a"),
                a_message("a-2", fan_id="fan-a", sent_at=T0 + timedelta(minutes=1)),
                a_message("a-3", fan_id="fan-a", from_artist=True, sent_at=T0 + timedelta(minutes=2)),
                a_message("b-1", fan_id="fan-b", sent_at=T0 + timedelta(minutes=5)),
                a_message("c-1", fan_id="fan-c", artist_id="artist-2"),
            ],
            lambda uow, m: uow.messages.add(m),
        )
        self.committed(
            lambda uow: uow.messages.mark_read(
                "fan-b", "artist-1", by_artist=True, at=T0 + timedelta(hours=1)
            )
        )

        assert self.read(lambda uow: list(uow.messages.conversations("artist-1"))) == [
            Conversation("fan-b", "artist-1", T0 + timedelta(minutes=5), messages=1, unread_by_artist=0),
            Conversation("fan-a", "artist-1", T0 + timedelta(minutes=2), messages=3, unread_by_artist=2),
        ]
        assert self.read(lambda uow: list(uow.messages.conversations("nobody"))) == []


def a_qa(qa_id: str = "qa-1", *, artist_id: str = "artist-1", month: str = "2024-03") -> QaSession:
    return QaSession(
        id=qa_id,
        artist_id=artist_id,
        month=month,
        title="March Q&A: the new album",
        description="Ask me anything about the recording of « Nuits blanches ».",
        opened_at=T0,
    )


def a_question(
    question_id: str, *, qa_id: str = "qa-1", fan_id: str = "fan-1", asked_at: datetime = T0
) -> Question:
    return Question(
        id=question_id,
        qa_id=qa_id,
        artist_id="artist-1",
        fan_id=fan_id,
        body="Which synth is on track 3? 🎛",
        asked_at=asked_at,
    )


class QaSessionRepositoryContract(UnitOfWorkFactory):
    def test_a_qa_round_trips_and_closes(self) -> None:
        """Every field survives; a saved close is read back."""
        qa = a_qa()
        self.committed(lambda uow: uow.qa_sessions.add(qa))
        assert self.read(lambda uow: uow.qa_sessions.get("qa-1")) == qa
        assert self.read(lambda uow: uow.qa_sessions.get("nothing")) is None

        closed = attrs.evolve(qa, closed_at=T0 + timedelta(days=3))
        self.committed(lambda uow: uow.qa_sessions.save(closed))
        assert self.read(lambda uow: uow.qa_sessions.get("qa-1")) == closed

    def test_one_qa_per_artist_and_month(self) -> None:
        """A second Q&A of the same artist and month is a Conflict; other months and artists are not."""
        self.committed(lambda uow: uow.qa_sessions.add(a_qa()))
        with pytest.raises(Conflict):
            self.committed(lambda uow: uow.qa_sessions.add(a_qa("qa-2")))
        self.committed(lambda uow: uow.qa_sessions.add(a_qa("qa-3", month="2024-04")))
        self.committed(lambda uow: uow.qa_sessions.add(a_qa("qa-4", artist_id="artist-2")))

        found = self.read(lambda uow: [q.id for q in uow.qa_sessions.of_artist("artist-1")])
        assert found == ["qa-3", "qa-1"]

    def test_racing_opens_of_one_month_keep_one(self) -> None:
        """Of several units of work opening a Q&A for the same month at once, one commits."""
        outcomes = self.race(4, lambda uow, i: uow.qa_sessions.add(a_qa(f"qa-{i}")))
        assert sum(not isinstance(o, Conflict) for o in outcomes) == 1
        assert len(self.read(lambda uow: uow.qa_sessions.of_artist("artist-1"))) == 1


class QuestionRepositoryContract(UnitOfWorkFactory):
    def test_questions_round_trip_oldest_first_with_answers_and_hiding(self) -> None:
        """of_session lists a Q&A's questions, hidden ones too, answers and flags intact."""
        late = a_question("q-late", fan_id="fan-2", asked_at=T0 + timedelta(hours=1))
        early = a_question("q-early")
        self.each_committed(
            [late, early, a_question("q-other", qa_id="qa-2")], lambda uow, q: uow.questions.add(q)
        )
        answered = attrs.evolve(
            early, answer="A Juno-60, through a tape echo.", answered_at=T0 + timedelta(days=1)
        )
        hidden = attrs.evolve(late, hidden=True)
        self.each_committed([answered, hidden], lambda uow, q: uow.questions.save(q))

        assert self.read(lambda uow: list(uow.questions.of_session("qa-1"))) == [answered, hidden]
        assert self.read(lambda uow: uow.questions.get("q-early")) == answered
        assert self.read(lambda uow: uow.questions.get("nothing")) is None

    def test_one_vote_per_fan_and_question_counted(self) -> None:
        """A second vote by the same fan is False and not counted; votes show on get and of_session."""
        self.each_committed([a_question("q-1"), a_question("q-2")], lambda uow, q: uow.questions.add(q))
        assert self.committed(lambda uow: uow.questions.vote("q-1", "fan-2", T0)) is True
        assert self.committed(lambda uow: uow.questions.vote("q-1", "fan-2", T0)) is False
        assert self.committed(lambda uow: uow.questions.vote("q-1", "fan-3", T0)) is True
        assert self.committed(lambda uow: uow.questions.vote("q-2", "fan-2", T0)) is True

        assert self.read(lambda uow: uow.questions.get("q-1")).votes == 2  # type: ignore[union-attr]
        assert self.read(lambda uow: [q.votes for q in uow.questions.of_session("qa-1")]) == [2, 1]

    def test_saving_a_question_keeps_its_votes(self) -> None:
        """Answering a question does not reset what fans voted."""
        self.committed(lambda uow: uow.questions.add(a_question("q-1")))
        self.committed(lambda uow: uow.questions.vote("q-1", "fan-2", T0))
        question = self.read(lambda uow: uow.questions.get("q-1"))
        assert question is not None
        self.committed(lambda uow: uow.questions.save(attrs.evolve(question, answer="Yes")))
        assert self.read(lambda uow: uow.questions.get("q-1")) == attrs.evolve(question, answer="Yes")

    def test_a_fans_questions_and_votes_are_listed_oldest_first(self) -> None:
        """of_fan: what one fan asked in any Q&A, with its votes; votes_of: what they upvoted."""
        late = a_question("q-late", qa_id="qa-2", asked_at=T0 + timedelta(days=30))
        early = a_question("q-early")
        theirs = a_question("q-theirs", fan_id="fan-2")
        self.each_committed([late, early, theirs], lambda uow, q: uow.questions.add(q))
        self.committed(lambda uow: uow.questions.vote("q-early", "fan-2", T0))
        self.committed(lambda uow: uow.questions.vote("q-theirs", "fan-1", T0 + timedelta(minutes=2)))
        self.committed(lambda uow: uow.questions.vote("q-late", "fan-1", T0 + timedelta(minutes=1)))

        assert self.read(lambda uow: list(uow.questions.of_fan("fan-1"))) == [
            attrs.evolve(early, votes=1),
            attrs.evolve(late, votes=1),
        ]
        assert self.read(lambda uow: list(uow.questions.votes_of("fan-1"))) == [
            ("q-late", T0 + timedelta(minutes=1)),
            ("q-theirs", T0 + timedelta(minutes=2)),
        ]
        assert self.read(lambda uow: list(uow.questions.of_fan("nobody"))) == []
        assert self.read(lambda uow: list(uow.questions.votes_of("nobody"))) == []

    def test_erasing_a_fan_blanks_their_questions_and_takes_back_their_votes(self) -> None:
        """Their questions keep answers and others' votes with the body replaced; every count
        drops by their vote; another fan's questions and votes are untouched."""
        mine, theirs = a_question("q-mine"), a_question("q-theirs", fan_id="fan-2")
        self.each_committed([mine, theirs], lambda uow, q: uow.questions.add(q))
        self.committed(lambda uow: uow.questions.save(attrs.evolve(mine, answer="Yes!")))
        self.each_committed(
            [("q-mine", "fan-2"), ("q-theirs", "fan-1"), ("q-theirs", "fan-3")],
            lambda uow, vote: uow.questions.vote(*vote, T0),
        )

        self.committed(lambda uow: uow.questions.erase_fan("fan-1", body="(erased)"))

        questions = self.read(lambda uow: list(uow.questions.of_session("qa-1")))
        assert [(q.id, q.body, q.answer, q.votes) for q in questions] == [
            ("q-mine", "(erased)", "Yes!", 1),
            ("q-theirs", theirs.body, None, 1),
        ]
        assert self.read(lambda uow: list(uow.questions.votes_of("fan-1"))) == []
        assert self.read(lambda uow: [q for q, _ in uow.questions.votes_of("fan-3")]) == ["q-theirs"]
        # The erased fan could vote again only as a new vote (nothing of theirs is left).
        assert self.committed(lambda uow: uow.questions.vote("q-theirs", "fan-1", T0)) is True

    def test_racing_votes_by_one_fan_count_once(self) -> None:
        """The same fan voting in several units of work at once: one vote, the rest False or Conflict."""
        self.committed(lambda uow: uow.questions.add(a_question("q-1")))
        outcomes = self.race(4, lambda uow, _: uow.questions.vote("q-1", "fan-2", T0))
        assert outcomes.count(True) == 1
        assert self.read(lambda uow: uow.questions.get("q-1")).votes == 1  # type: ignore[union-attr]


def a_notification(
    notification_id: str,
    *,
    fan_id: str = "fan-1",
    at: datetime = T0,
    kind: NotificationKind = NotificationKind.QA_OPENED,
) -> Notification:
    return Notification(
        id=notification_id,
        fan_id=fan_id,
        kind=kind,
        artist_id="artist-1",
        subject_id="qa-1",
        text="Nadia opened her March Q&A — « Nuits blanches »",
        created_at=at,
    )


class NotificationRepositoryContract(UnitOfWorkFactory):
    def test_a_feed_is_newest_first_and_limited(self) -> None:
        """of_fan returns one fan's notifications, every field intact, newest first, at most ``limit``."""
        notes = [a_notification(f"n-{i}", at=T0 + timedelta(minutes=i)) for i in range(3)]
        self.each_committed(
            [*notes, a_notification("other", fan_id="fan-2")], lambda uow, n: uow.notifications.add(n)
        )

        assert self.read(lambda uow: list(uow.notifications.of_fan("fan-1", 10))) == notes[::-1]
        assert self.read(lambda uow: list(uow.notifications.of_fan("fan-1", 2))) == notes[:0:-1]
        assert self.read(lambda uow: list(uow.notifications.of_fan("nobody", 10))) == []

    def test_adding_the_same_notification_twice_stores_it_once(self) -> None:
        """The second add is False, in its own unit of work and in the same one."""
        assert self.committed(lambda uow: uow.notifications.add(a_notification("n-1"))) is True
        assert self.committed(lambda uow: uow.notifications.add(a_notification("n-1"))) is False
        with self.make_uow() as uow:
            assert uow.notifications.add(a_notification("n-2")) is True
            assert uow.notifications.add(a_notification("n-2")) is False
            uow.commit()
        assert len(self.read(lambda uow: uow.notifications.of_fan("fan-1", 10))) == 2

    def test_racing_adds_of_one_notification_keep_one(self) -> None:
        """Two workers fanning out the same announcement at once store one notification."""
        self.race(3, lambda uow, _: uow.notifications.add(a_notification("n-1")))
        assert len(self.read(lambda uow: uow.notifications.of_fan("fan-1", 10))) == 1

    def test_marking_read_some_or_all_keeps_earlier_read_times(self) -> None:
        """mark_read with ids marks those; with None, the rest; a read one keeps its first time."""
        self.each_committed(
            [a_notification(f"n-{i}") for i in range(3)], lambda uow, n: uow.notifications.add(n)
        )
        self.committed(lambda uow: uow.notifications.add(a_notification("x", fan_id="fan-2")))
        first, later = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
        self.committed(lambda uow: uow.notifications.mark_read("fan-1", ["n-1", "x"], first))
        self.committed(lambda uow: uow.notifications.mark_read("fan-1", None, later))

        read = {n.id: n.read_at for n in self.read(lambda uow: uow.notifications.of_fan("fan-1", 10))}
        assert read == {"n-0": later, "n-1": first, "n-2": later}
        assert self.read(lambda uow: uow.notifications.of_fan("fan-2", 10))[0].read_at is None

    def test_email_kinds_are_replaced_per_fan(self) -> None:
        """A fan's email choices round-trip and are replaced whole; nobody else's change."""
        both = frozenset({NotificationKind.DM_REPLY, NotificationKind.QA_ANSWERED})
        self.committed(lambda uow: uow.notifications.set_email_kinds("fan-1", both))
        self.committed(
            lambda uow: uow.notifications.set_email_kinds("fan-2", frozenset({NotificationKind.QA_OPENED}))
        )
        assert self.read(lambda uow: uow.notifications.email_kinds("fan-1")) == both
        self.committed(lambda uow: uow.notifications.set_email_kinds("fan-1", frozenset()))
        assert self.read(lambda uow: uow.notifications.email_kinds("fan-1")) == frozenset()
        assert self.read(lambda uow: uow.notifications.email_kinds("fan-2")) == {NotificationKind.QA_OPENED}
        assert self.read(lambda uow: uow.notifications.email_kinds("nobody")) == frozenset()

    def test_erasing_a_fan_deletes_their_feed_and_email_choices_only(self) -> None:
        """Nothing of the fan's is left, within the erasing unit of work and after; another
        fan's feed and choices stay."""
        self.each_committed(
            [a_notification("n-1"), a_notification("n-2"), a_notification("x", fan_id="fan-2")],
            lambda uow, n: uow.notifications.add(n),
        )
        kinds = frozenset({NotificationKind.DM_REPLY})
        self.each_committed(["fan-1", "fan-2"], lambda uow, f: uow.notifications.set_email_kinds(f, kinds))

        with self.make_uow() as uow:
            uow.notifications.erase_fan("fan-1")
            assert uow.notifications.of_fan("fan-1", 10) == []
            assert uow.notifications.email_kinds("fan-1") == frozenset()
            uow.commit()

        assert self.read(lambda uow: list(uow.notifications.of_fan("fan-1", 10))) == []
        assert self.read(lambda uow: uow.notifications.email_kinds("fan-1")) == frozenset()
        assert self.read(lambda uow: [n.id for n in uow.notifications.of_fan("fan-2", 10)]) == ["x"]
        assert self.read(lambda uow: uow.notifications.email_kinds("fan-2")) == {NotificationKind.DM_REPLY}
        # The same id may be stored again: erasing left no trace that would refuse it.
        assert self.committed(lambda uow: uow.notifications.add(a_notification("n-1"))) is True

    def test_the_release_sweeps_watermark_only_moves_forward(self) -> None:
        """None before any sweep; then the latest instant marked, an earlier mark (a slower
        sweep racing a faster one) changing nothing."""
        assert self.read(lambda uow: uow.notifications.releases_swept_until()) is None
        self.committed(lambda uow: uow.notifications.mark_releases_swept(T0 + timedelta(minutes=2)))
        self.committed(lambda uow: uow.notifications.mark_releases_swept(T0 + timedelta(minutes=1)))
        assert self.read(lambda uow: uow.notifications.releases_swept_until()) == T0 + timedelta(minutes=2)
        self.committed(lambda uow: uow.notifications.mark_releases_swept(T0 + timedelta(minutes=3)))
        assert self.read(lambda uow: uow.notifications.releases_swept_until()) == T0 + timedelta(minutes=3)


class ProcessedEventStoreContract(UnitOfWorkFactory):
    def test_an_event_is_marked_once(self) -> None:
        """mark returns True the first time and False after, within and across units of work."""
        first = self.committed(lambda uow: uow.processed_events.mark("evt_1", T0))
        again = self.committed(lambda uow: uow.processed_events.mark("evt_1", T0 + timedelta(seconds=1)))
        within = self.committed(
            lambda uow: [uow.processed_events.mark("evt_2", T0), uow.processed_events.mark("evt_2", T0)]
        )

        assert (first, again, within) == (True, False, [True, False])

    def test_seen(self) -> None:
        """seen is true only for marked events."""
        self.committed(lambda uow: uow.processed_events.mark("evt_1", T0))

        assert self.read(lambda uow: uow.processed_events.seen("evt_1")) is True
        assert self.read(lambda uow: uow.processed_events.seen("evt_2")) is False

    def test_an_event_raced_by_several_units_of_work_is_processed_once(self) -> None:
        """Concurrent marks of one event: exactly one commits a True."""
        outcomes = self.race(5, lambda uow, _: uow.processed_events.mark("evt_raced", T0))

        assert outcomes.count(True) == 1
        assert all(o is False or isinstance(o, Conflict) for o in outcomes if o is not True)


def _intent(key: str, *, at: datetime = T0, subscription_id: str | None = "sub-1") -> PaymentIntent:
    return PaymentIntent(
        key=key,
        kind=IntentKind.CHANGE,
        artist_id="artist-1",
        amount=Money(250, "USD"),
        created_at=at,
        subscription_id=subscription_id,
        fan_id="fan-1",
        tier=Tier.SUPERFAN,
        plan_version=2,
    )


class PaymentIntentRepositoryContract(UnitOfWorkFactory):
    def test_an_intent_reads_back_as_it_was_reserved_and_saved(self) -> None:
        """Every field survives; a save changes its status, processor reference and settle time."""
        reserved = _intent("subscription:sub-1:change:1")
        self.committed(lambda uow: uow.intents.add(reserved))
        assert self.read(lambda uow: uow.intents.get(reserved.key)) == reserved

        settled = reserved.settled(T0 + timedelta(seconds=3), external_ref="ch_1")
        self.committed(lambda uow: uow.intents.save(settled))

        assert self.read(lambda uow: uow.intents.get(reserved.key)) == settled
        assert self.read(lambda uow: uow.intents.get("nothing")) is None

    def test_a_key_is_reserved_once(self) -> None:
        """A second intent with the same key is a Conflict, in its own unit of work or racing."""
        self.committed(lambda uow: uow.intents.add(_intent("k")))
        with pytest.raises(Conflict):
            self.committed(lambda uow: uow.intents.add(_intent("k", at=T0 + timedelta(seconds=1))))

        outcomes = self.race(5, lambda uow, _: uow.intents.add(_intent("raced")))

        assert sum(1 for o in outcomes if not isinstance(o, Conflict)) == 1

    def test_a_subscriptions_intents_oldest_first_and_the_open_ones_left_behind(self) -> None:
        """of_subscription lists one subscription's intents by reservation time; open_before lists
        open intents reserved before a moment, of any subscription, oldest first."""
        first = _intent("a", at=T0)
        second = _intent("b", at=T0 + timedelta(minutes=1))
        other = _intent("c", at=T0 + timedelta(minutes=2), subscription_id="sub-2")
        late = _intent("d", at=T0 + timedelta(minutes=10))
        self.each_committed([second, other, first, late], lambda uow, i: uow.intents.add(i))
        self.committed(lambda uow: uow.intents.save(second.failed(T0 + timedelta(minutes=3))))

        keys = self.read(lambda uow: [i.key for i in uow.intents.of_subscription("sub-1")])
        stranded = self.read(lambda uow: [i.key for i in uow.intents.open_before(T0 + timedelta(minutes=5))])

        assert keys == ["a", "b", "d"]
        assert stranded == ["a", "c"]

    def test_an_intent_not_committed_is_not_there(self) -> None:
        with self.make_uow() as uow:
            uow.intents.add(_intent("forgotten"))
        assert self.read(lambda uow: uow.intents.get("forgotten")) is None


class ProcessorLinkRepositoryContract(UnitOfWorkFactory):
    def test_a_link_is_found_by_its_owner_and_by_the_processors_id(self) -> None:
        customer = ProcessorLink(LinkKind.CUSTOMER, "fan-1", "cus_1")
        account = ProcessorLink(LinkKind.CONNECTED_ACCOUNT, "artist-1", "acct_1", ready=False)
        self.each_committed([customer, account], lambda uow, link: uow.processor_links.save(link))

        assert self.read(lambda uow: uow.processor_links.get(LinkKind.CUSTOMER, "fan-1")) == customer
        assert self.read(lambda uow: uow.processor_links.get(LinkKind.CUSTOMER, "artist-1")) is None
        found = self.read(
            lambda uow: uow.processor_links.by_external_ref(LinkKind.CONNECTED_ACCOUNT, "acct_1")
        )
        assert found == account
        assert self.read(lambda uow: uow.processor_links.by_external_ref(LinkKind.CUSTOMER, "acct_1")) is None

    def test_saving_again_replaces_what_was_known(self) -> None:
        """An account becoming ready replaces the link: one per kind and owner."""
        first = ProcessorLink(LinkKind.CONNECTED_ACCOUNT, "artist-1", "acct_1", ready=False)
        self.committed(lambda uow: uow.processor_links.save(first))
        self.committed(lambda uow: uow.processor_links.save(attrs.evolve(first, ready=True)))

        found = self.read(lambda uow: uow.processor_links.get(LinkKind.CONNECTED_ACCOUNT, "artist-1"))
        assert found == attrs.evolve(first, ready=True)


class UnitOfWorkContract(UnitOfWorkFactory):
    def test_committed_writes_are_visible(self) -> None:
        """After commit, another unit of work reads what was written."""
        with self.make_uow() as uow:
            uow.accounts.add(an_account())
            uow.commit()

        assert self.read(lambda uow: uow.accounts.get("acc-1")) == an_account()

    def test_a_unit_of_work_reads_its_own_writes(self) -> None:
        """Inside a unit of work, pending writes are visible to its own reads."""
        with self.make_uow() as uow:
            uow.accounts.add(an_account())
            uow.ledger.record(a_charge("k"))
            seen = (uow.accounts.by_email("fan@example.com"), uow.ledger.balance(CASH, "USD"))

        assert seen == (an_account(), 500)

    def test_uncommitted_writes_are_invisible_to_others(self) -> None:
        """Another unit of work does not see writes until they are committed."""
        with self.make_uow() as writer:
            writer.accounts.add(an_account())
            writer.subscriptions.add(a_subscription())
            with self.make_uow() as reader:
                during = (reader.accounts.get("acc-1"), reader.subscriptions.live_for("fan-1", "artist-1"))
            writer.commit()

        assert during == (None, None)
        assert self.read(lambda uow: uow.subscriptions.get("sub-1")) == a_subscription()

    def test_leaving_without_commit_discards_writes(self) -> None:
        """Writes not committed before the block ends are gone."""
        with self.make_uow() as uow:
            uow.accounts.add(an_account())
            uow.plays.record(a_play())

        assert self.read(lambda uow: uow.accounts.get("acc-1")) is None
        assert self.read(lambda uow: uow.plays.daily_counts("artist-1", T0.date(), T0.date())) == {}

    def test_an_exception_rolls_back_every_repository(self) -> None:
        """An error inside the block leaves nothing half-written across repositories."""

        def write_then_fail() -> None:
            with self.make_uow() as uow:
                uow.accounts.add(an_account())
                uow.ledger.record(a_charge("k"))
                uow.processed_events.mark("evt", T0)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            write_then_fail()

        assert self.read(lambda uow: uow.accounts.get("acc-1")) is None
        assert self.read(lambda uow: uow.ledger.by_key("k")) is None
        assert self.read(lambda uow: uow.ledger.trial_balance()) == {}
        assert self.read(lambda uow: uow.processed_events.seen("evt")) is False

    def test_rollback_discards_pending_writes(self) -> None:
        """rollback forgets writes since the last commit; later writes can still commit."""
        with self.make_uow() as uow:
            uow.accounts.add(an_account())
            uow.rollback()
            uow.tracks.add(a_track())
            uow.commit()

        assert self.read(lambda uow: uow.accounts.get("acc-1")) is None
        assert self.read(lambda uow: uow.tracks.get("track-1")) == a_track()

    def test_only_what_was_committed_survives(self) -> None:
        """Writes before commit are kept; writes after it, without a second commit, are not."""
        with self.make_uow() as uow:
            uow.ledger.record(a_charge("kept"))
            uow.commit()
            uow.ledger.record(a_charge("dropped"))

        assert self.read(lambda uow: uow.ledger.by_key("kept")) == a_charge("kept")
        assert self.read(lambda uow: uow.ledger.by_key("dropped")) is None
        assert self.read(lambda uow: uow.ledger.balance(CASH, "USD")) == 500

    def test_writes_to_several_repositories_commit_together(self) -> None:
        """One commit publishes writes to every repository."""
        with self.make_uow() as uow:
            uow.artists.add(an_artist())
            uow.subscriptions.add(a_subscription())
            uow.ledger.record(a_charge("k"))
            uow.payouts.add(a_payout("po-1"))
            uow.commit()

        seen = self.read(
            lambda uow: (
                uow.artists.get("artist-1"),
                uow.subscriptions.get("sub-1"),
                uow.ledger.by_key("k"),
                uow.payouts.last_of_artist("artist-1"),
            )
        )
        assert seen == (an_artist(), a_subscription(), a_charge("k"), a_payout("po-1"))

    def test_a_unit_of_work_can_be_entered_again(self) -> None:
        """The same object serves one block after another."""
        uow = self.make_uow()
        with uow:
            uow.accounts.add(an_account())
            uow.commit()
        with uow:
            uow.tracks.add(a_track())
            seen = uow.accounts.get("acc-1")
        with uow:
            after = uow.tracks.get("track-1")

        assert seen == an_account()
        assert after is None
