"""Repositories, one per aggregate, and the unit of work that commits them together."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self

from musicconnect.domain.accounts import Account, Artist
from musicconnect.domain.analytics import Listened, PlayEvent
from musicconnect.domain.backstage import BackstagePost, Clip, Comment, PageCursor
from musicconnect.domain.ledger import Transaction
from musicconnect.domain.live import LiveSession
from musicconnect.domain.messages import Conversation, DirectMessage
from musicconnect.domain.notifications import Notification, NotificationKind
from musicconnect.domain.payments import LinkKind, PaymentIntent, Payout, ProcessorLink
from musicconnect.domain.qa import QaSession, Question
from musicconnect.domain.subscriptions import Subscription
from musicconnect.domain.tiers import Tier, TierPlan
from musicconnect.domain.tracks import Track


class AccountRepository(Protocol):
    def add(self, account: Account) -> None:
        """Raise Conflict when the email is taken."""
        ...

    def get(self, account_id: str) -> Account | None: ...

    def by_email(self, email: str) -> Account | None: ...

    def save(self, account: Account) -> None:
        """Store a changed account (email, password hash, role, name, verification); raise
        Conflict when its new email belongs to another account."""
        ...


class ArtistRepository(Protocol):
    def add(self, artist: Artist) -> None: ...

    def get(self, artist_id: str) -> Artist | None: ...

    def save(self, artist: Artist) -> None:
        """Store the artist's profile and current plans; every plan version ever saved is kept."""
        ...

    def plan_version(self, artist_id: str, tier: Tier, version: int) -> TierPlan | None: ...

    def search(self, name: str, *, limit: int, after: str | None = None) -> Sequence[Artist]:
        """Artists whose display name contains ``name`` (case-insensitive; every artist when it is
        empty), by name then id, at most ``limit``; an erased artist never. ``after``, the id of
        the last artist of the previous page, starts after that artist in that order (an
        unknown one starts at the beginning)."""
        ...


class FanRepository(Protocol):
    """A fan's relationship with artists beyond money: follows, likes, profile visits."""

    def follow(self, fan_id: str, artist_id: str, at: datetime) -> None:
        """Idempotent: following twice is following once."""
        ...

    def like(self, fan_id: str, track_id: str, at: datetime) -> None: ...

    def unfollow(self, fan_id: str, artist_id: str) -> None:
        """Idempotent: unfollowing an artist not followed does nothing."""
        ...

    def unlike(self, fan_id: str, track_id: str) -> None:
        """Idempotent: unliking a track not liked does nothing."""
        ...

    def followers(self, artist_id: str) -> Sequence[str]:
        """The ids of the fans who follow the artist, in no particular order."""
        ...

    def following(self, fan_id: str) -> Sequence[tuple[str, datetime]]:
        """(artist id, followed at) of every artist the fan follows, the latest follow first."""
        ...

    def liked(self, fan_id: str) -> Sequence[tuple[str, datetime]]:
        """(track id, liked at) of every track the fan likes, the latest like first."""
        ...

    def record_visit(self, visitor_id: str, artist_id: str, at: datetime) -> None: ...

    def follower_count(self, artist_id: str) -> int: ...

    def visitor_count(self, artist_id: str) -> int:
        """Distinct visitors of the artist's profile."""
        ...

    def visitors(self, artist_id: str) -> Sequence[str]:
        """The ids of the distinct visitors of the artist's profile, in no particular order."""
        ...

    def likes_of(self, track_id: str) -> int: ...


class TrackRepository(Protocol):
    def add(self, track: Track) -> None: ...

    def get(self, track_id: str) -> Track | None: ...

    def save(self, track: Track) -> None: ...

    def by_artist(self, artist_id: str) -> Sequence[Track]: ...

    def processing(self) -> Sequence[Track]:
        """Tracks still waiting for their transcode, oldest first (for workers to pick up)."""
        ...

    def releasing_between(self, after: datetime, until: datetime) -> Sequence[Track]:
        """Tracks whose ``release_at`` is in (``after``, ``until``], soonest first (ties by id)."""
        ...


class LiveSessionRepository(Protocol):
    def add(self, session: LiveSession) -> None:
        """Raise Conflict when a session with its id exists."""
        ...

    def get(self, session_id: str) -> LiveSession | None: ...

    def save(self, session: LiveSession) -> None:
        """Store a changed session; raise Conflict unless the stored one is the version before
        it (``version - 1``): of two changes made from one copy, one is saved."""
        ...

    def of_artist(self, artist_id: str) -> Sequence[LiveSession]:
        """Soonest start first."""
        ...

    def live(self) -> Sequence[LiveSession]:
        """Sessions stored as live, for the sweep that ends or fails them."""
        ...


class SubscriptionRepository(Protocol):
    def add(self, subscription: Subscription) -> None:
        """Raise Conflict if the (fan, artist) pair already has a live subscription."""
        ...

    def get(self, subscription_id: str) -> Subscription | None: ...

    def save(self, subscription: Subscription) -> None: ...

    def live_for(self, fan_id: str, artist_id: str) -> Subscription | None: ...

    def by_external_ref(self, external_ref: str) -> Subscription | None: ...

    def of_fan(self, fan_id: str) -> Sequence[Subscription]: ...

    def live_of_artist(self, artist_id: str) -> Sequence[Subscription]: ...

    def due_for_renewal(self, now: datetime) -> Sequence[Subscription]:
        """Active or trialing subscriptions whose current period ended at or before ``now``."""
        ...


class LedgerRepository(Protocol):
    def record(self, transaction: Transaction) -> bool:
        """Append a balanced transaction; False (and no write) if its idempotency key exists."""
        ...

    def by_key(self, idempotency_key: str) -> Transaction | None: ...

    def balance(self, account: str, currency: str) -> int:
        """Debits minus credits on ``account`` in ``currency``, in minor units."""
        ...

    def currencies_of(self, account: str) -> Sequence[str]: ...

    def of_artist(
        self,
        artist_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Sequence[Transaction]:
        """The artist's transactions with ``since <= occurred_at < until``, oldest first."""
        ...

    def of_fan(self, fan_id: str) -> Sequence[Transaction]:
        """The transactions about the fan (their charges and refunds), oldest first."""
        ...

    def trial_balance(self) -> dict[str, int]:
        """Debits minus credits per currency over every entry: all zero when the books balance."""
        ...

    def artists_with_balance(self) -> Sequence[str]: ...


class PayoutRepository(Protocol):
    def add(self, payout: Payout) -> None: ...

    def save(self, payout: Payout) -> None:
        """Store a payout's new status (the processor's news about it)."""
        ...

    def by_external_ref(self, external_ref: str) -> Payout | None: ...

    def of_artist(self, artist_id: str) -> Sequence[Payout]:
        """Newest first."""
        ...

    def last_of_artist(self, artist_id: str) -> Payout | None: ...


class PlayEventStore(Protocol):
    """Plays counted in daily buckets, so a 30-day query reads 30 rows, not every event."""

    def record(self, play: PlayEvent) -> None: ...

    def daily_counts(self, artist_id: str, first: date, last: date) -> dict[date, int]: ...

    def top_fans(self, artist_id: str, limit: int) -> Sequence[tuple[str, int]]:
        """(fan_id, plays), most plays first, ties by fan id."""
        ...

    def listeners(self, artist_id: str, first: date, last: date) -> int:
        """Distinct fans who played the artist on a UTC day from ``first`` to ``last``."""
        ...

    def history(self, fan_id: str, limit: int) -> Sequence[Listened]:
        """The tracks the fan played, the most recently played first (one row per track)."""
        ...

    def forget_history(self, fan_id: str) -> None:
        """Drop the fan's listening history (the artists' play counts stay: they are theirs)."""
        ...


class MessageRepository(Protocol):
    """Conversations between fans and artists. ``to_artist``, ``from_fan`` and ``count_from``
    concern what fans wrote; ``thread`` and ``conversations`` show both sides."""

    def add(self, message: DirectMessage) -> None: ...

    def to_artist(self, artist_id: str) -> Sequence[DirectMessage]:
        """What fans wrote to the artist, oldest first."""
        ...

    def count_from(self, fan_id: str, artist_id: str, since: datetime) -> int: ...

    def from_fan(self, fan_id: str) -> Sequence[DirectMessage]:
        """Every message the fan sent, to any artist, oldest first."""
        ...

    def erase_from(self, fan_id: str, *, body: str) -> None:
        """Replace the body of every message the fan sent (the thread and its count stay)."""
        ...

    def erase_replies_of(self, artist_id: str, *, body: str) -> None:
        """Replace the body of every reply the artist wrote (the threads and their counts stay)."""
        ...

    def thread(self, fan_id: str, artist_id: str) -> Sequence[DirectMessage]:
        """Both sides of one conversation, newest first."""
        ...

    def mark_read(self, fan_id: str, artist_id: str, *, by_artist: bool, at: datetime) -> None:
        """Mark read, at ``at``, the unread messages the other side wrote in the conversation."""
        ...

    def conversations(self, artist_id: str) -> Sequence[Conversation]:
        """The artist's conversations, the one with the latest message first."""
        ...


class QaSessionRepository(Protocol):
    """Monthly Q&As: at most one per artist and month."""

    def add(self, session: QaSession) -> None:
        """Raise Conflict when the artist has a Q&A for that month already."""
        ...

    def get(self, qa_id: str) -> QaSession | None: ...

    def save(self, session: QaSession) -> None: ...

    def of_artist(self, artist_id: str) -> Sequence[QaSession]:
        """The artist's Q&As, the latest month first."""
        ...


class QuestionRepository(Protocol):
    """Questions of a Q&A and their upvotes (one per fan and question)."""

    def add(self, question: Question) -> None: ...

    def get(self, question_id: str) -> Question | None:
        """The question with its vote count."""
        ...

    def save(self, question: Question) -> None:
        """Store a changed answer or hidden flag (the vote count is not stored)."""
        ...

    def of_session(self, qa_id: str) -> Sequence[Question]:
        """Every question of the Q&A, hidden ones too, each with its vote count, oldest first."""
        ...

    def vote(self, question_id: str, fan_id: str, at: datetime) -> bool:
        """Record the fan's upvote; False (and no write) when they voted for it before. A vote
        racing another by the same fan may instead raise Conflict at commit."""
        ...

    def of_fan(self, fan_id: str) -> Sequence[Question]:
        """Every question the fan asked, in any Q&A, each with its vote count, oldest first."""
        ...

    def votes_of(self, fan_id: str) -> Sequence[tuple[str, datetime]]:
        """The questions the fan upvoted and when, oldest vote first."""
        ...

    def erase_fan(self, fan_id: str, *, body: str) -> None:
        """Forget the fan: their questions' bodies become ``body`` (answers and others' votes
        stay) and their own votes go, so every count drops by the votes they gave."""
        ...


class BackstagePostRepository(Protocol):
    """An artist's backstage posts, read newest first a page at a time."""

    def add(self, post: BackstagePost) -> None:
        """Raise Conflict when a post with its id exists."""
        ...

    def get(self, post_id: str) -> BackstagePost | None: ...

    def save(self, post: BackstagePost) -> None:
        """Store an edited body (and when it was edited); the clip is ``save_clip``'s."""
        ...

    def save_clip(self, post_id: str, clip: Clip) -> None:
        """Store the clip's new state (its transcode's outcome); nothing for a deleted post."""
        ...

    def delete(self, post_id: str) -> None:
        """Delete the post and every comment on it (idempotent)."""
        ...

    def page(self, artist_id: str, *, after: PageCursor | None, limit: int) -> Sequence[BackstagePost]:
        """At most ``limit`` of the artist's posts, newest first (ties: larger id first), only
        those after ``after`` in that order when it is given."""
        ...

    def clips_processing(self) -> Sequence[BackstagePost]:
        """Every artist's posts whose clip is still processing, oldest first (the stranded-clip
        sweep's list: deleted posts are not in it)."""
        ...


class BackstageCommentRepository(Protocol):
    """Superfans' comments on backstage posts."""

    def add(self, comment: Comment) -> None: ...

    def get(self, comment_id: str) -> Comment | None: ...

    def delete(self, comment_id: str) -> None:
        """Idempotent."""
        ...

    def of_post(self, post_id: str) -> Sequence[Comment]:
        """The post's comments, oldest first."""
        ...

    def by_fan(self, fan_id: str) -> Sequence[Comment]:
        """Every comment the fan wrote (on any artist's posts), oldest first: their export and erasure."""
        ...


class BackstageBlockRepository(Protocol):
    """Fans an artist has blocked from commenting on their backstage."""

    def block(self, artist_id: str, fan_id: str, at: datetime) -> None:
        """Idempotent: blocking twice is blocking once."""
        ...

    def unblock(self, artist_id: str, fan_id: str) -> None:
        """Idempotent."""
        ...

    def is_blocked(self, artist_id: str, fan_id: str) -> bool: ...

    def blocked(self, artist_id: str) -> Sequence[str]:
        """The ids of the fans the artist blocked, the latest block first."""
        ...


class NotificationRepository(Protocol):
    """Each fan's in-app feed, and which kinds they also want by email."""

    def add(self, notification: Notification) -> bool:
        """Store it; False (and no write) when one with its id exists. Racing adds of one id
        may instead raise Conflict at commit."""
        ...

    def of_fan(self, fan_id: str, limit: int) -> Sequence[Notification]:
        """The fan's latest ``limit`` notifications, newest first."""
        ...

    def mark_read(self, fan_id: str, ids: Sequence[str] | None, at: datetime) -> None:
        """Mark the fan's unread notifications with these ids (all of them: None) read at ``at``."""
        ...

    def email_kinds(self, fan_id: str) -> frozenset[NotificationKind]: ...

    def set_email_kinds(self, fan_id: str, kinds: frozenset[NotificationKind]) -> None: ...

    def releases_swept_until(self) -> datetime | None:
        """Up to when the release sweep has announced openings (None: it never ran)."""
        ...

    def erase_fan(self, fan_id: str) -> None:
        """Delete the fan's feed and their email choices."""
        ...

    def mark_releases_swept(self, until: datetime) -> None:
        """Record that openings up to ``until`` are announced; an earlier ``until`` than the
        one stored changes nothing, so sweeps racing each other never move it back."""
        ...


class PaymentIntentRepository(Protocol):
    """Money about to move, reserved before the processor is called (see ``PaymentIntent``)."""

    def add(self, intent: PaymentIntent) -> None:
        """Raise Conflict if an intent with this key exists: of two identical requests, one reserves."""
        ...

    def get(self, key: str) -> PaymentIntent | None: ...

    def save(self, intent: PaymentIntent) -> None: ...

    def of_subscription(self, subscription_id: str) -> Sequence[PaymentIntent]:
        """Every intent of the subscription, oldest first."""
        ...

    def open_before(self, at: datetime) -> Sequence[PaymentIntent]:
        """Open intents reserved before ``at``, oldest first: work a crash left behind."""
        ...


class ProcessorLinkRepository(Protocol):
    """The payment processor's ids for our fans and artists (customers, connected accounts)."""

    def save(self, link: ProcessorLink) -> None:
        """Remember ``link``, replacing what was known for the same kind and owner."""
        ...

    def get(self, kind: LinkKind, owner_id: str) -> ProcessorLink | None: ...

    def by_external_ref(self, kind: LinkKind, external_ref: str) -> ProcessorLink | None: ...


class ProcessedEventStore(Protocol):
    """Remembers which external events (webhooks) were applied, for idempotency."""

    def mark(self, event_id: str, at: datetime) -> bool:
        """Record ``event_id``; False if it was recorded before."""
        ...

    def seen(self, event_id: str) -> bool: ...


class UnitOfWork(Protocol):
    """All repositories over one transaction: commit makes every write visible at once."""

    accounts: AccountRepository
    artists: ArtistRepository
    fans: FanRepository
    tracks: TrackRepository
    live_sessions: LiveSessionRepository
    subscriptions: SubscriptionRepository
    ledger: LedgerRepository
    payouts: PayoutRepository
    plays: PlayEventStore
    messages: MessageRepository
    processed_events: ProcessedEventStore
    intents: PaymentIntentRepository
    processor_links: ProcessorLinkRepository
    qa_sessions: QaSessionRepository
    questions: QuestionRepository
    notifications: NotificationRepository
    backstage_posts: BackstagePostRepository
    backstage_comments: BackstageCommentRepository
    backstage_blocks: BackstageBlockRepository

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...
