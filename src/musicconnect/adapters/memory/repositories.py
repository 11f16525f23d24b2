"""Repositories and a unit of work over plain dicts in one process.

How a unit of work stays isolated and atomic without a database:

- The store holds one *published* state: a set of tables (dicts) that is never modified once
  published. Entering a unit of work forks it; a fork shares every table and copies a table only
  when it first writes to it, so readers of the published state never see a write in progress.
- Every write is a small function of the state (an *operation*) that checks its rule (unique
  email, one live subscription per fan and artist, unique ledger key) before it changes anything.
  The unit of work applies it to its fork at once, so its own reads see it, and keeps it in a
  journal.
- ``commit()`` takes the store's lock. If nobody committed since the fork, the fork is published
  as it is; otherwise the journal is replayed on a fresh fork of what is now published, checking
  every rule again, so two units of work can never both insert rows that break one. A rule broken
  at commit raises ``Conflict`` and publishes nothing. Concurrent updates of the same aggregate
  are last-writer-wins.

Repositories given the store itself (not a unit of work) commit each write on its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

import attrs

from musicconnect.domain.accounts import Account, Artist
from musicconnect.domain.analytics import Listened, PlayEvent
from musicconnect.domain.backstage import BackstagePost, Clip, ClipStatus, Comment, PageCursor
from musicconnect.domain.clocks import require_aware
from musicconnect.domain.errors import Conflict
from musicconnect.domain.ledger import Transaction, artist_account
from musicconnect.domain.live import LiveSession, LiveStatus
from musicconnect.domain.messages import Conversation, DirectMessage, summarise
from musicconnect.domain.notifications import Notification, NotificationKind
from musicconnect.domain.payments import IntentStatus, LinkKind, PaymentIntent, Payout, ProcessorLink
from musicconnect.domain.qa import QaSession, Question
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus
from musicconnect.domain.tiers import Tier, TierPlan
from musicconnect.domain.tracks import Track, TrackStatus
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

K = TypeVar("K")
V = TypeVar("V")

_ARTIST_ACCOUNT_PREFIX = artist_account("")
_RELEASE_SWEEP = "releases"
_RENEWABLE = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING})


class _Table(Generic[K, V]):
    """A dict that copies itself on its first write after being shared by a fork."""

    __slots__ = ("_data", "_shared")

    def __init__(self, data: dict[K, V] | None = None, *, shared: bool = False) -> None:
        self._data: dict[K, V] = {} if data is None else data
        self._shared = shared

    def fork(self) -> _Table[K, V]:
        self._shared = True
        return _Table(self._data, shared=True)

    def _writable(self) -> dict[K, V]:
        if self._shared:
            self._data = dict(self._data)
            self._shared = False
        return self._data

    def get(self, key: K) -> V | None:
        return self._data.get(key)

    def __contains__(self, key: K) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def items(self) -> Iterator[tuple[K, V]]:
        return iter(self._data.items())

    def values(self) -> Iterator[V]:
        return iter(self._data.values())

    def put(self, key: K, value: V) -> None:
        self._writable()[key] = value

    def discard(self, key: K) -> None:
        if key in self._data:
            del self._writable()[key]


def _add(table: _Table[K, int], key: K, amount: int) -> None:
    table.put(key, (table.get(key) or 0) + amount)


@attrs.define
class _State:
    """Every table of the store. Keys are flat so that copying one table never copies another."""

    accounts: _Table[str, Account] = attrs.field(factory=_Table)
    account_ids_by_email: _Table[str, str] = attrs.field(factory=_Table)
    artists: _Table[str, Artist] = attrs.field(factory=_Table)
    plan_versions: _Table[tuple[str, Tier, int], TierPlan] = attrs.field(factory=_Table)
    follows: _Table[tuple[str, str], datetime] = attrs.field(factory=_Table)  # (artist, fan)
    follower_counts: _Table[str, int] = attrs.field(factory=_Table)
    likes: _Table[tuple[str, str], datetime] = attrs.field(factory=_Table)  # (track, fan)
    like_counts: _Table[str, int] = attrs.field(factory=_Table)
    visits: _Table[tuple[str, str], datetime] = attrs.field(factory=_Table)  # (artist, visitor)
    visitor_counts: _Table[str, int] = attrs.field(factory=_Table)
    tracks: _Table[str, Track] = attrs.field(factory=_Table)
    live_sessions: _Table[str, LiveSession] = attrs.field(factory=_Table)
    subscriptions: _Table[str, Subscription] = attrs.field(factory=_Table)
    live_subscription_ids: _Table[tuple[str, str], str] = attrs.field(factory=_Table)
    transactions_by_key: _Table[str, Transaction] = attrs.field(factory=_Table)
    balances: _Table[tuple[str, str], int] = attrs.field(factory=_Table)  # (account, currency)
    trial_balance: _Table[str, int] = attrs.field(factory=_Table)
    payouts: _Table[str, Payout] = attrs.field(factory=_Table)
    plays_by_day: _Table[tuple[str, date], int] = attrs.field(factory=_Table)  # (artist, day)
    plays_by_fan: _Table[tuple[str, str], int] = attrs.field(factory=_Table)  # (artist, fan)
    #: Who played an artist on which day, as (artist, day) -> fans.
    listener_days: _Table[tuple[str, date], frozenset[str]] = attrs.field(factory=_Table)
    history: _Table[tuple[str, str], Listened] = attrs.field(factory=_Table)  # (fan, track)
    messages: _Table[str, DirectMessage] = attrs.field(factory=_Table)
    processed_events: _Table[str, datetime] = attrs.field(factory=_Table)
    intents: _Table[str, PaymentIntent] = attrs.field(factory=_Table)
    processor_links: _Table[tuple[LinkKind, str], ProcessorLink] = attrs.field(factory=_Table)
    qa_sessions: _Table[str, QaSession] = attrs.field(factory=_Table)
    qa_months: _Table[tuple[str, str], str] = attrs.field(factory=_Table)  # (artist, month) -> id
    questions: _Table[str, Question] = attrs.field(factory=_Table)
    votes: _Table[tuple[str, str], datetime] = attrs.field(factory=_Table)  # (question, fan)
    vote_counts: _Table[str, int] = attrs.field(factory=_Table)
    notifications: _Table[str, Notification] = attrs.field(factory=_Table)
    email_kinds: _Table[str, frozenset[NotificationKind]] = attrs.field(factory=_Table)
    #: Up to when each sweep ran, by sweep name.
    swept_until: _Table[str, datetime] = attrs.field(factory=_Table)
    backstage_posts: _Table[str, BackstagePost] = attrs.field(factory=_Table)
    backstage_comments: _Table[str, Comment] = attrs.field(factory=_Table)
    backstage_blocks: _Table[tuple[str, str], datetime] = attrs.field(factory=_Table)  # (artist, fan)

    def fork(self) -> _State:
        return attrs.evolve(
            self, **{field.name: getattr(self, field.name).fork() for field in attrs.fields(_State)}
        )


#: A write: checks its rules against the state (raising Conflict), then changes the state.
_Operation = Callable[[_State], None]


class InMemoryStore:
    """The shared data of every in-memory repository and unit of work in one process."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._published = _State()

    def fork(self) -> tuple[_State, _State]:
        """(what is published now, a private working copy of it)."""
        with self._lock:
            base = self._published
            return base, base.fork()

    def publish(self, base: _State, working: _State, journal: Sequence[_Operation]) -> None:
        """Make a unit of work's writes visible at once, or raise Conflict and change nothing."""
        with self._lock:
            if self._published is base:
                # Nobody committed since the fork: the working copy is exactly the outcome.
                self._published = working
                return
            candidate = self._published.fork()
            for operation in journal:
                operation(candidate)
            self._published = candidate

    def apply(self, operation: _Operation) -> None:
        """Commit one write on its own."""
        with self._lock:
            candidate = self._published.fork()
            operation(candidate)
            self._published = candidate

    @property
    def published(self) -> _State:
        """The latest committed state; never modified, so safe to read without the lock."""
        return self._published


class _Access(Protocol):
    def view(self) -> _State: ...

    def write(self, operation: _Operation) -> None: ...


class _AutoCommit:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    def view(self) -> _State:
        return self._store.published

    def write(self, operation: _Operation) -> None:
        self._store.apply(operation)


class _Session:
    """The working copy and journal behind one unit of work."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._base, self._working = store.fork()
        self._journal: list[_Operation] = []

    def view(self) -> _State:
        return self._working

    def write(self, operation: _Operation) -> None:
        operation(self._working)
        self._journal.append(operation)

    def commit(self) -> None:
        try:
            if self._journal:
                self._store.publish(self._base, self._working, self._journal)
        finally:
            # Committed or refused, the next writes start from what is published now.
            self.rollback()

    def rollback(self) -> None:
        self._base, self._working = self._store.fork()
        self._journal = []


def _access(source: InMemoryStore | _Session) -> _Access:
    return _AutoCommit(source) if isinstance(source, InMemoryStore) else source


def _email_key(email: str) -> str:
    """Emails are unique whatever their case or surrounding spaces."""
    return email.strip().lower()


def _require_new(table: _Table[str, V], key: str, what: str) -> None:
    if key in table:
        raise Conflict(f"{what} {key!r} already exists")


class InMemoryAccountRepository(AccountRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def add(self, account: Account) -> None:
        def operation(state: _State) -> None:
            _require_new(state.accounts, account.id, "account")
            if _email_key(account.email) in state.account_ids_by_email:
                raise Conflict("an account with this email already exists")
            state.accounts.put(account.id, account)
            state.account_ids_by_email.put(_email_key(account.email), account.id)

        self._access.write(operation)

    def get(self, account_id: str) -> Account | None:
        return self._access.view().accounts.get(account_id)

    def save(self, account: Account) -> None:
        def operation(state: _State) -> None:
            before = state.accounts.get(account.id)
            if before is None:
                raise Conflict(f"account {account.id!r} does not exist")
            owner = state.account_ids_by_email.get(_email_key(account.email))
            if owner is not None and owner != account.id:
                raise Conflict("an account with this email already exists")
            state.account_ids_by_email.discard(_email_key(before.email))
            state.account_ids_by_email.put(_email_key(account.email), account.id)
            state.accounts.put(account.id, account)

        self._access.write(operation)

    def by_email(self, email: str) -> Account | None:
        state = self._access.view()
        account_id = state.account_ids_by_email.get(_email_key(email))
        return state.accounts.get(account_id) if account_id is not None else None


def _keep_plans(state: _State, artist: Artist) -> None:
    for plan in artist.plans:
        state.plan_versions.put((artist.id, plan.tier, plan.version), plan)


class InMemoryArtistRepository(ArtistRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def add(self, artist: Artist) -> None:
        def operation(state: _State) -> None:
            _require_new(state.artists, artist.id, "artist")
            state.artists.put(artist.id, artist)
            _keep_plans(state, artist)

        self._access.write(operation)

    def get(self, artist_id: str) -> Artist | None:
        return self._access.view().artists.get(artist_id)

    def save(self, artist: Artist) -> None:
        def operation(state: _State) -> None:
            state.artists.put(artist.id, artist)
            _keep_plans(state, artist)

        self._access.write(operation)

    def plan_version(self, artist_id: str, tier: Tier, version: int) -> TierPlan | None:
        return self._access.view().plan_versions.get((artist_id, tier, version))

    def search(self, name: str, *, limit: int, after: str | None = None) -> Sequence[Artist]:
        wanted = name.casefold()
        artists = self._access.view().artists

        def order(artist: Artist) -> tuple[str, str]:
            return artist.display_name.casefold(), artist.id

        last = artists.get(after) if after is not None else None
        found = [
            a
            for a in artists.values()
            if wanted in a.display_name.casefold()
            and not a.is_erased
            and (last is None or order(a) > order(last))
        ]
        return sorted(found, key=order)[:limit]


_Marks = Callable[[_State], _Table[tuple[str, str], datetime]]
_Counts = Callable[[_State], _Table[str, int]]


def _once(marks: _Marks, counts: _Counts, subject: str, who: str, at: datetime) -> _Operation:
    """Remember the first time ``who`` did something to ``subject``, counting each ``who`` once."""
    at = require_aware(at)

    def operation(state: _State) -> None:
        if (subject, who) in marks(state):
            return
        marks(state).put((subject, who), at)
        _add(counts(state), subject, 1)

    return operation


def _undo(marks: _Marks, counts: _Counts, subject: str, who: str) -> _Operation:
    """Forget that ``who`` did something to ``subject`` (nothing if they had not)."""

    def operation(state: _State) -> None:
        if (subject, who) in marks(state):
            marks(state).discard((subject, who))
            _add(counts(state), subject, -1)

    return operation


def _latest_first(marks: _Table[tuple[str, str], datetime], who: str) -> list[tuple[str, datetime]]:
    found = [(subject, at) for (subject, by), at in marks.items() if by == who]
    return sorted(found, key=lambda row: (row[1], row[0]), reverse=True)


class InMemoryFanRepository(FanRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def follow(self, fan_id: str, artist_id: str, at: datetime) -> None:
        self._access.write(_once(lambda s: s.follows, lambda s: s.follower_counts, artist_id, fan_id, at))

    def like(self, fan_id: str, track_id: str, at: datetime) -> None:
        self._access.write(_once(lambda s: s.likes, lambda s: s.like_counts, track_id, fan_id, at))

    def unfollow(self, fan_id: str, artist_id: str) -> None:
        self._access.write(_undo(lambda s: s.follows, lambda s: s.follower_counts, artist_id, fan_id))

    def unlike(self, fan_id: str, track_id: str) -> None:
        self._access.write(_undo(lambda s: s.likes, lambda s: s.like_counts, track_id, fan_id))

    def followers(self, artist_id: str) -> Sequence[str]:
        return [fan for (artist, fan), _ in self._access.view().follows.items() if artist == artist_id]

    def following(self, fan_id: str) -> Sequence[tuple[str, datetime]]:
        return _latest_first(self._access.view().follows, fan_id)

    def liked(self, fan_id: str) -> Sequence[tuple[str, datetime]]:
        return _latest_first(self._access.view().likes, fan_id)

    def record_visit(self, visitor_id: str, artist_id: str, at: datetime) -> None:
        self._access.write(_once(lambda s: s.visits, lambda s: s.visitor_counts, artist_id, visitor_id, at))

    def follower_count(self, artist_id: str) -> int:
        return self._access.view().follower_counts.get(artist_id) or 0

    def visitor_count(self, artist_id: str) -> int:
        return self._access.view().visitor_counts.get(artist_id) or 0

    def visitors(self, artist_id: str) -> Sequence[str]:
        return [visitor for (artist, visitor), _ in self._access.view().visits.items() if artist == artist_id]

    def likes_of(self, track_id: str) -> int:
        return self._access.view().like_counts.get(track_id) or 0


class InMemoryTrackRepository(TrackRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def add(self, track: Track) -> None:
        def operation(state: _State) -> None:
            _require_new(state.tracks, track.id, "track")
            state.tracks.put(track.id, track)

        self._access.write(operation)

    def get(self, track_id: str) -> Track | None:
        return self._access.view().tracks.get(track_id)

    def save(self, track: Track) -> None:
        def operation(state: _State) -> None:
            state.tracks.put(track.id, track)

        self._access.write(operation)

    def by_artist(self, artist_id: str) -> Sequence[Track]:
        """Oldest first (ties in the order added)."""
        found = [t for t in self._access.view().tracks.values() if t.artist_id == artist_id]
        return sorted(found, key=lambda t: t.created_at)

    def processing(self) -> Sequence[Track]:
        """Oldest first (ties in the order added)."""
        found = [t for t in self._access.view().tracks.values() if t.status is TrackStatus.PROCESSING]
        return sorted(found, key=lambda t: t.created_at)

    def releasing_between(self, after: datetime, until: datetime) -> Sequence[Track]:
        after, until = require_aware(after), require_aware(until)
        found = [
            (t.release_at, t.id, t)
            for t in self._access.view().tracks.values()
            if t.release_at is not None and after < t.release_at <= until
        ]
        return [t for _, _, t in sorted(found, key=lambda found: found[:2])]


class InMemoryLiveSessionRepository(LiveSessionRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def add(self, session: LiveSession) -> None:
        def operation(state: _State) -> None:
            _require_new(state.live_sessions, session.id, "live session")
            state.live_sessions.put(session.id, session)

        self._access.write(operation)

    def get(self, session_id: str) -> LiveSession | None:
        return self._access.view().live_sessions.get(session_id)

    def save(self, session: LiveSession) -> None:
        def operation(state: _State) -> None:
            stored = state.live_sessions.get(session.id)
            if stored is None or stored.version != session.version - 1:
                raise Conflict(f"live session {session.id!r} changed meanwhile")
            state.live_sessions.put(session.id, session)

        self._access.write(operation)

    def of_artist(self, artist_id: str) -> Sequence[LiveSession]:
        found = [s for s in self._access.view().live_sessions.values() if s.artist_id == artist_id]
        return sorted(found, key=lambda s: s.starts_at)

    def live(self) -> Sequence[LiveSession]:
        found = [s for s in self._access.view().live_sessions.values() if s.status is LiveStatus.LIVE]
        return sorted(found, key=lambda s: s.starts_at)


def _store_subscription(state: _State, subscription: Subscription) -> None:
    """Insert or replace, keeping the live-pair and external-ref indexes exact."""
    pair = (subscription.fan_id, subscription.artist_id)
    if subscription.is_live:
        holder = state.live_subscription_ids.get(pair)
        if holder is not None and holder != subscription.id:
            raise Conflict("the fan already has a live subscription to this artist")
    old = state.subscriptions.get(subscription.id)
    if old is not None:
        old_pair = (old.fan_id, old.artist_id)
        if state.live_subscription_ids.get(old_pair) == old.id:
            state.live_subscription_ids.discard(old_pair)
    state.subscriptions.put(subscription.id, subscription)
    if subscription.is_live:
        state.live_subscription_ids.put(pair, subscription.id)


def _by_creation(subscription: Subscription) -> datetime:
    # Sorting is stable, so subscriptions created at one instant stay in the order added.
    return subscription.created_at


class InMemorySubscriptionRepository(SubscriptionRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def add(self, subscription: Subscription) -> None:
        def operation(state: _State) -> None:
            _require_new(state.subscriptions, subscription.id, "subscription")
            _store_subscription(state, subscription)

        self._access.write(operation)

    def get(self, subscription_id: str) -> Subscription | None:
        return self._access.view().subscriptions.get(subscription_id)

    def save(self, subscription: Subscription) -> None:
        self._access.write(lambda state: _store_subscription(state, subscription))

    def live_for(self, fan_id: str, artist_id: str) -> Subscription | None:
        state = self._access.view()
        subscription_id = state.live_subscription_ids.get((fan_id, artist_id))
        return state.subscriptions.get(subscription_id) if subscription_id is not None else None

    def by_external_ref(self, external_ref: str) -> Subscription | None:
        """The newest subscription carrying the processor's reference."""
        found = [s for s in self._access.view().subscriptions.values() if s.external_ref == external_ref]
        return max(found, key=_by_creation) if found else None

    def of_fan(self, fan_id: str) -> Sequence[Subscription]:
        """Oldest first."""
        found = [s for s in self._access.view().subscriptions.values() if s.fan_id == fan_id]
        return sorted(found, key=_by_creation)

    def live_of_artist(self, artist_id: str) -> Sequence[Subscription]:
        """Oldest first."""
        state = self._access.view()
        found = [s for s in state.subscriptions.values() if s.artist_id == artist_id and s.is_live]
        return sorted(found, key=_by_creation)

    def due_for_renewal(self, now: datetime) -> Sequence[Subscription]:
        """Soonest due first (ties in the order added)."""
        now = require_aware(now)
        found = [
            s
            for s in self._access.view().subscriptions.values()
            if s.status in _RENEWABLE and s.current_period_end <= now
        ]
        return sorted(found, key=lambda s: s.current_period_end)


class InMemoryLedgerRepository(LedgerRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def record(self, transaction: Transaction) -> bool:
        key = transaction.idempotency_key
        if key in self._access.view().transactions_by_key:
            return False

        def operation(state: _State) -> None:
            # Seen here only when another unit of work recorded the key after this one looked.
            if key in state.transactions_by_key:
                raise Conflict(f"ledger idempotency key {key!r} was recorded concurrently")
            state.transactions_by_key.put(key, transaction)
            for entry in transaction.entries:
                currency = entry.amount.currency
                _add(state.balances, (entry.account, currency), entry.signed_minor)
                _add(state.trial_balance, currency, entry.signed_minor)

        self._access.write(operation)
        return True

    def by_key(self, idempotency_key: str) -> Transaction | None:
        return self._access.view().transactions_by_key.get(idempotency_key)

    def balance(self, account: str, currency: str) -> int:
        return self._access.view().balances.get((account, currency)) or 0

    def currencies_of(self, account: str) -> Sequence[str]:
        """Every currency the account ever had an entry in, alphabetically."""
        balances = self._access.view().balances
        return sorted(currency for (name, currency), _ in balances.items() if name == account)

    def of_artist(
        self,
        artist_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Sequence[Transaction]:
        since = require_aware(since) if since is not None else None
        until = require_aware(until) if until is not None else None
        account = artist_account(artist_id)
        found = [
            t
            for t in self._access.view().transactions_by_key.values()
            if (t.artist_id == artist_id or any(e.account == account for e in t.entries))
            and (since is None or t.occurred_at >= since)
            and (until is None or t.occurred_at < until)
        ]
        # A stable sort: transactions at the same instant stay in the order they were recorded.
        return sorted(found, key=lambda t: t.occurred_at)

    def of_fan(self, fan_id: str) -> Sequence[Transaction]:
        found = [t for t in self._access.view().transactions_by_key.values() if t.fan_id == fan_id]
        return sorted(found, key=lambda t: t.occurred_at)

    def trial_balance(self) -> dict[str, int]:
        return dict(self._access.view().trial_balance.items())

    def artists_with_balance(self) -> Sequence[str]:
        """Artists whose account is not zero in some currency, by id."""
        return sorted(
            {
                account.removeprefix(_ARTIST_ACCOUNT_PREFIX)
                for (account, _), balance in self._access.view().balances.items()
                if account.startswith(_ARTIST_ACCOUNT_PREFIX) and balance
            }
        )


class InMemoryPayoutRepository(PayoutRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def add(self, payout: Payout) -> None:
        def operation(state: _State) -> None:
            _require_new(state.payouts, payout.id, "payout")
            state.payouts.put(payout.id, payout)

        self._access.write(operation)

    def save(self, payout: Payout) -> None:
        self._access.write(lambda state: state.payouts.put(payout.id, payout))

    def by_external_ref(self, external_ref: str) -> Payout | None:
        return next((p for p in self._access.view().payouts.values() if p.external_ref == external_ref), None)

    def of_artist(self, artist_id: str) -> Sequence[Payout]:
        found = [
            (payout.paid_at, order, payout)
            for order, payout in enumerate(self._access.view().payouts.values())
            if payout.artist_id == artist_id
        ]
        found.sort(key=lambda row: (row[0], row[1]), reverse=True)
        return [payout for _, _, payout in found]

    def last_of_artist(self, artist_id: str) -> Payout | None:
        payouts = self.of_artist(artist_id)
        return payouts[0] if payouts else None


class InMemoryPlayEventStore(PlayEventStore):
    """Two counters per play: its (artist, UTC day) bucket and its (artist, fan) total."""

    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def record(self, play: PlayEvent) -> None:
        day = require_aware(play.at).date()

        def operation(state: _State) -> None:
            _add(state.plays_by_day, (play.artist_id, day), 1)
            _add(state.plays_by_fan, (play.artist_id, play.fan_id), 1)
            fans = state.listener_days.get((play.artist_id, day)) or frozenset()
            state.listener_days.put((play.artist_id, day), fans | {play.fan_id})
            before = state.history.get((play.fan_id, play.track_id))
            state.history.put(
                (play.fan_id, play.track_id),
                Listened(
                    play.track_id,
                    play.artist_id,
                    max(play.at, before.last_played_at) if before else play.at,
                    (before.plays if before else 0) + 1,
                ),
            )

        self._access.write(operation)

    def daily_counts(self, artist_id: str, first: date, last: date) -> dict[date, int]:
        """Days from ``first`` to ``last`` inclusive that had plays; one lookup per day."""
        buckets = self._access.view().plays_by_day
        counts: dict[date, int] = {}
        day = first
        while day <= last:
            count = buckets.get((artist_id, day))
            if count:
                counts[day] = count
            day += timedelta(days=1)
        return counts

    def listeners(self, artist_id: str, first: date, last: date) -> int:
        days = self._access.view().listener_days
        fans: set[str] = set()
        day = first
        while day <= last:
            fans |= days.get((artist_id, day)) or frozenset()
            day += timedelta(days=1)
        return len(fans)

    def history(self, fan_id: str, limit: int) -> Sequence[Listened]:
        found = [row for (fan, _), row in self._access.view().history.items() if fan == fan_id]
        found.sort(key=lambda row: (row.last_played_at, row.track_id), reverse=True)
        return found[: max(limit, 0)]

    def forget_history(self, fan_id: str) -> None:
        def operation(state: _State) -> None:
            for fan, track_id in [key for key, _ in state.history.items() if key[0] == fan_id]:
                state.history.discard((fan, track_id))

        self._access.write(operation)

    def top_fans(self, artist_id: str, limit: int) -> Sequence[tuple[str, int]]:
        if limit <= 0:
            return []
        fans = [
            (fan_id, plays)
            for (artist, fan_id), plays in self._access.view().plays_by_fan.items()
            if artist == artist_id
        ]
        fans.sort(key=lambda row: (-row[1], row[0]))
        return fans[:limit]


class InMemoryMessageRepository(MessageRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def add(self, message: DirectMessage) -> None:
        def operation(state: _State) -> None:
            _require_new(state.messages, message.id, "message")
            state.messages.put(message.id, message)

        self._access.write(operation)

    def to_artist(self, artist_id: str) -> Sequence[DirectMessage]:
        """Oldest first."""
        found = [m for m in self._fans_messages() if m.artist_id == artist_id]
        return sorted(found, key=lambda m: m.sent_at)

    def count_from(self, fan_id: str, artist_id: str, since: datetime) -> int:
        since = require_aware(since)
        return sum(
            1
            for m in self._fans_messages()
            if m.fan_id == fan_id and m.artist_id == artist_id and m.sent_at >= since
        )

    def from_fan(self, fan_id: str) -> Sequence[DirectMessage]:
        found = [m for m in self._fans_messages() if m.fan_id == fan_id]
        return sorted(found, key=lambda m: m.sent_at)

    def erase_from(self, fan_id: str, *, body: str) -> None:
        self._rewrite(lambda m: m.fan_id == fan_id and not m.from_artist, body)

    def erase_replies_of(self, artist_id: str, *, body: str) -> None:
        self._rewrite(lambda m: m.artist_id == artist_id and m.from_artist, body)

    def _rewrite(self, chosen: Callable[[DirectMessage], bool], body: str) -> None:
        def operation(state: _State) -> None:
            for message in [m for m in state.messages.values() if chosen(m)]:
                state.messages.put(message.id, attrs.evolve(message, body=body))

        self._access.write(operation)

    def thread(self, fan_id: str, artist_id: str) -> Sequence[DirectMessage]:
        found = [
            m for m in self._access.view().messages.values() if (m.fan_id, m.artist_id) == (fan_id, artist_id)
        ]
        # Messages sent at one instant: the later written first, as the other stores order them.
        return sorted(found[::-1], key=lambda m: m.sent_at, reverse=True)  # noqa: C415 - ties

    def mark_read(self, fan_id: str, artist_id: str, *, by_artist: bool, at: datetime) -> None:
        at = require_aware(at)

        def operation(state: _State) -> None:
            unread = [
                m
                for m in state.messages.values()
                if (m.fan_id, m.artist_id) == (fan_id, artist_id)
                and m.from_artist is not by_artist
                and m.read_at is None
            ]
            for m in unread:
                state.messages.put(m.id, attrs.evolve(m, read_at=at))

        self._access.write(operation)

    def conversations(self, artist_id: str) -> Sequence[Conversation]:
        return summarise(m for m in self._access.view().messages.values() if m.artist_id == artist_id)

    def _fans_messages(self) -> Iterator[DirectMessage]:
        return (m for m in self._access.view().messages.values() if not m.from_artist)


class InMemoryProcessedEventStore(ProcessedEventStore):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def mark(self, event_id: str, at: datetime) -> bool:
        if event_id in self._access.view().processed_events:
            return False
        at = require_aware(at)

        def operation(state: _State) -> None:
            # Seen here only when another unit of work marked the event after this one looked.
            if event_id in state.processed_events:
                raise Conflict(f"event {event_id!r} was processed concurrently")
            state.processed_events.put(event_id, at)

        self._access.write(operation)
        return True

    def seen(self, event_id: str) -> bool:
        return event_id in self._access.view().processed_events


class InMemoryPaymentIntentRepository(PaymentIntentRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def add(self, intent: PaymentIntent) -> None:
        def operation(state: _State) -> None:
            if intent.key in state.intents:
                raise Conflict(f"a payment {intent.key!r} is already under way")
            state.intents.put(intent.key, intent)

        self._access.write(operation)

    def get(self, key: str) -> PaymentIntent | None:
        return self._access.view().intents.get(key)

    def save(self, intent: PaymentIntent) -> None:
        self._access.write(lambda state: state.intents.put(intent.key, intent))

    def of_subscription(self, subscription_id: str) -> Sequence[PaymentIntent]:
        found = [i for i in self._access.view().intents.values() if i.subscription_id == subscription_id]
        return sorted(found, key=lambda i: i.created_at)

    def open_before(self, at: datetime) -> Sequence[PaymentIntent]:
        at = require_aware(at)
        found = [
            i
            for i in self._access.view().intents.values()
            if i.status is IntentStatus.OPEN and i.created_at < at
        ]
        return sorted(found, key=lambda i: i.created_at)


class InMemoryProcessorLinkRepository(ProcessorLinkRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def save(self, link: ProcessorLink) -> None:
        self._access.write(lambda state: state.processor_links.put((link.kind, link.owner_id), link))

    def get(self, kind: LinkKind, owner_id: str) -> ProcessorLink | None:
        return self._access.view().processor_links.get((kind, owner_id))

    def by_external_ref(self, kind: LinkKind, external_ref: str) -> ProcessorLink | None:
        links = self._access.view().processor_links.values()
        return next((k for k in links if k.kind is kind and k.external_ref == external_ref), None)


class InMemoryQaSessionRepository(QaSessionRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def add(self, session: QaSession) -> None:
        def operation(state: _State) -> None:
            if (session.artist_id, session.month) in state.qa_months:
                raise Conflict(f"a Q&A for {session.month} exists already")
            _require_new(state.qa_sessions, session.id, "Q&A")
            state.qa_months.put((session.artist_id, session.month), session.id)
            state.qa_sessions.put(session.id, session)

        self._access.write(operation)

    def get(self, qa_id: str) -> QaSession | None:
        return self._access.view().qa_sessions.get(qa_id)

    def save(self, session: QaSession) -> None:
        self._access.write(lambda state: state.qa_sessions.put(session.id, session))

    def of_artist(self, artist_id: str) -> Sequence[QaSession]:
        found = [s for s in self._access.view().qa_sessions.values() if s.artist_id == artist_id]
        return sorted(found, key=lambda s: s.month, reverse=True)


class InMemoryQuestionRepository(QuestionRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def add(self, question: Question) -> None:
        def operation(state: _State) -> None:
            _require_new(state.questions, question.id, "question")
            state.questions.put(question.id, attrs.evolve(question, votes=0))

        self._access.write(operation)

    def get(self, question_id: str) -> Question | None:
        state = self._access.view()
        question = state.questions.get(question_id)
        return None if question is None else _counted(state, question)

    def save(self, question: Question) -> None:
        self._access.write(lambda state: state.questions.put(question.id, attrs.evolve(question, votes=0)))

    def of_session(self, qa_id: str) -> Sequence[Question]:
        state = self._access.view()
        found = [_counted(state, q) for q in state.questions.values() if q.qa_id == qa_id]
        return sorted(found, key=lambda q: q.asked_at)

    def vote(self, question_id: str, fan_id: str, at: datetime) -> bool:
        if (question_id, fan_id) in self._access.view().votes:
            return False
        at = require_aware(at)

        def operation(state: _State) -> None:
            # Seen here only when the same fan's vote was committed after this one looked.
            if (question_id, fan_id) in state.votes:
                raise Conflict("that vote was counted already")
            state.votes.put((question_id, fan_id), at)
            _add(state.vote_counts, question_id, 1)

        self._access.write(operation)
        return True

    def of_fan(self, fan_id: str) -> Sequence[Question]:
        state = self._access.view()
        found = [_counted(state, q) for q in state.questions.values() if q.fan_id == fan_id]
        return sorted(found, key=lambda q: q.asked_at)

    def votes_of(self, fan_id: str) -> Sequence[tuple[str, datetime]]:
        found = [
            (question_id, at) for (question_id, fan), at in self._access.view().votes.items() if fan == fan_id
        ]
        return sorted(found, key=lambda vote: vote[1])

    def erase_fan(self, fan_id: str, *, body: str) -> None:
        def operation(state: _State) -> None:
            for question in [q for q in state.questions.values() if q.fan_id == fan_id]:
                state.questions.put(question.id, attrs.evolve(question, body=body))
            for question_id, fan in [key for key, _ in state.votes.items() if key[1] == fan_id]:
                state.votes.discard((question_id, fan))
                _add(state.vote_counts, question_id, -1)

        self._access.write(operation)


class InMemoryNotificationRepository(NotificationRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def add(self, notification: Notification) -> bool:
        if notification.id in self._access.view().notifications:
            return False

        def operation(state: _State) -> None:
            # Seen here only when another unit of work stored it after this one looked.
            if notification.id in state.notifications:
                raise Conflict(f"notification {notification.id!r} exists")
            state.notifications.put(notification.id, notification)

        self._access.write(operation)
        return True

    def of_fan(self, fan_id: str, limit: int) -> Sequence[Notification]:
        found = [n for n in self._access.view().notifications.values() if n.fan_id == fan_id]
        found.sort(key=lambda n: (n.created_at, n.id), reverse=True)
        return found[: max(limit, 0)]

    def mark_read(self, fan_id: str, ids: Sequence[str] | None, at: datetime) -> None:
        at = require_aware(at)
        wanted = None if ids is None else frozenset(ids)

        def operation(state: _State) -> None:
            unread = [
                n
                for n in state.notifications.values()
                if n.fan_id == fan_id and n.read_at is None and (wanted is None or n.id in wanted)
            ]
            for n in unread:
                state.notifications.put(n.id, attrs.evolve(n, read_at=at))

        self._access.write(operation)

    def email_kinds(self, fan_id: str) -> frozenset[NotificationKind]:
        return self._access.view().email_kinds.get(fan_id) or frozenset()

    def set_email_kinds(self, fan_id: str, kinds: frozenset[NotificationKind]) -> None:
        self._access.write(lambda state: state.email_kinds.put(fan_id, frozenset(kinds)))

    def erase_fan(self, fan_id: str) -> None:
        def operation(state: _State) -> None:
            for notification in [n for n in state.notifications.values() if n.fan_id == fan_id]:
                state.notifications.discard(notification.id)
            state.email_kinds.discard(fan_id)

        self._access.write(operation)

    def releases_swept_until(self) -> datetime | None:
        return self._access.view().swept_until.get(_RELEASE_SWEEP)

    def mark_releases_swept(self, until: datetime) -> None:
        until = require_aware(until)

        def operation(state: _State) -> None:
            stored = state.swept_until.get(_RELEASE_SWEEP)
            state.swept_until.put(_RELEASE_SWEEP, until if stored is None else max(stored, until))

        self._access.write(operation)


class InMemoryBackstagePostRepository(BackstagePostRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def add(self, post: BackstagePost) -> None:
        def operation(state: _State) -> None:
            _require_new(state.backstage_posts, post.id, "backstage post")
            state.backstage_posts.put(post.id, post)

        self._access.write(operation)

    def get(self, post_id: str) -> BackstagePost | None:
        return self._access.view().backstage_posts.get(post_id)

    def save(self, post: BackstagePost) -> None:
        def operation(state: _State) -> None:
            stored = state.backstage_posts.get(post.id)
            if stored is not None:  # the clip is save_clip's: a racing transcode keeps its outcome
                state.backstage_posts.put(
                    post.id, attrs.evolve(stored, body=post.body, edited_at=post.edited_at)
                )

        self._access.write(operation)

    def save_clip(self, post_id: str, clip: Clip) -> None:
        def operation(state: _State) -> None:
            stored = state.backstage_posts.get(post_id)
            if stored is not None:
                state.backstage_posts.put(post_id, attrs.evolve(stored, clip=clip))

        self._access.write(operation)

    def delete(self, post_id: str) -> None:
        def operation(state: _State) -> None:
            state.backstage_posts.discard(post_id)
            for comment in [c for c in state.backstage_comments.values() if c.post_id == post_id]:
                state.backstage_comments.discard(comment.id)

        self._access.write(operation)

    def page(self, artist_id: str, *, after: PageCursor | None, limit: int) -> Sequence[BackstagePost]:
        found = [
            p
            for p in self._access.view().backstage_posts.values()
            if p.artist_id == artist_id and (after is None or after.is_before(p))
        ]
        found.sort(key=lambda p: (p.created_at, p.id), reverse=True)
        return found[: max(limit, 0)]

    def clips_processing(self) -> Sequence[BackstagePost]:
        found = [
            p
            for p in self._access.view().backstage_posts.values()
            if p.clip is not None and p.clip.status is ClipStatus.PROCESSING
        ]
        return sorted(found, key=lambda p: (p.created_at, p.id))


class InMemoryBackstageCommentRepository(BackstageCommentRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def add(self, comment: Comment) -> None:
        def operation(state: _State) -> None:
            _require_new(state.backstage_comments, comment.id, "comment")
            state.backstage_comments.put(comment.id, comment)

        self._access.write(operation)

    def get(self, comment_id: str) -> Comment | None:
        return self._access.view().backstage_comments.get(comment_id)

    def delete(self, comment_id: str) -> None:
        self._access.write(lambda state: state.backstage_comments.discard(comment_id))

    def of_post(self, post_id: str) -> Sequence[Comment]:
        found = [c for c in self._access.view().backstage_comments.values() if c.post_id == post_id]
        return sorted(found, key=lambda c: c.created_at)

    def by_fan(self, fan_id: str) -> Sequence[Comment]:
        found = [c for c in self._access.view().backstage_comments.values() if c.fan_id == fan_id]
        return sorted(found, key=lambda c: c.created_at)


class InMemoryBackstageBlockRepository(BackstageBlockRepository):
    def __init__(self, source: InMemoryStore | _Session) -> None:
        self._access = _access(source)

    def block(self, artist_id: str, fan_id: str, at: datetime) -> None:
        at = require_aware(at)

        def operation(state: _State) -> None:
            if (artist_id, fan_id) not in state.backstage_blocks:
                state.backstage_blocks.put((artist_id, fan_id), at)

        self._access.write(operation)

    def unblock(self, artist_id: str, fan_id: str) -> None:
        self._access.write(lambda state: state.backstage_blocks.discard((artist_id, fan_id)))

    def is_blocked(self, artist_id: str, fan_id: str) -> bool:
        return (artist_id, fan_id) in self._access.view().backstage_blocks

    def blocked(self, artist_id: str) -> Sequence[str]:
        found = [
            (at, fan)
            for (artist, fan), at in self._access.view().backstage_blocks.items()
            if artist == artist_id
        ]
        return [fan for _, fan in sorted(found, reverse=True)]


def _counted(state: _State, question: Question) -> Question:
    return attrs.evolve(question, votes=state.vote_counts.get(question.id) or 0)


class InMemoryUnitOfWork:
    """Every repository over a private working copy of ``store``; ``commit`` publishes it at once.

    One unit of work serves one thread at a time; make one per request or job. Entering takes a
    fresh snapshot, leaving discards whatever was not committed.
    """

    def __init__(self, store: InMemoryStore) -> None:
        self._session = _Session(store)
        self.accounts: AccountRepository = InMemoryAccountRepository(self._session)
        self.artists: ArtistRepository = InMemoryArtistRepository(self._session)
        self.fans: FanRepository = InMemoryFanRepository(self._session)
        self.tracks: TrackRepository = InMemoryTrackRepository(self._session)
        self.live_sessions: LiveSessionRepository = InMemoryLiveSessionRepository(self._session)
        self.subscriptions: SubscriptionRepository = InMemorySubscriptionRepository(self._session)
        self.ledger: LedgerRepository = InMemoryLedgerRepository(self._session)
        self.payouts: PayoutRepository = InMemoryPayoutRepository(self._session)
        self.plays: PlayEventStore = InMemoryPlayEventStore(self._session)
        self.messages: MessageRepository = InMemoryMessageRepository(self._session)
        self.processed_events: ProcessedEventStore = InMemoryProcessedEventStore(self._session)
        self.intents: PaymentIntentRepository = InMemoryPaymentIntentRepository(self._session)
        self.processor_links: ProcessorLinkRepository = InMemoryProcessorLinkRepository(self._session)
        self.qa_sessions: QaSessionRepository = InMemoryQaSessionRepository(self._session)
        self.questions: QuestionRepository = InMemoryQuestionRepository(self._session)
        self.notifications: NotificationRepository = InMemoryNotificationRepository(self._session)
        self.backstage_posts: BackstagePostRepository = InMemoryBackstagePostRepository(self._session)
        self.backstage_comments: BackstageCommentRepository = InMemoryBackstageCommentRepository(
            self._session
        )
        self.backstage_blocks: BackstageBlockRepository = InMemoryBackstageBlockRepository(self._session)

    def __enter__(self) -> Self:
        self._session.rollback()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._session.rollback()

    def commit(self) -> None:
        """Publish every write since the last commit; raise Conflict (publishing none) if a
        uniqueness rule no longer holds against what others committed meanwhile."""
        self._session.commit()

    def rollback(self) -> None:
        self._session.rollback()
