"""One MongoDB database: the client built on first use, its indexes, and what its errors mean.

Nothing connects at import or construction: the ``MongoClient`` is built the first time a unit of
work needs it, with ``connect=False`` so that even then the first operation opens the sockets.
Atlas ``mongodb+srv://`` URIs work as pymongo handles them (TLS on by default, hosts from DNS).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    PyMongoError,
)

from musicconnect.domain.backstage import ClipStatus
from musicconnect.domain.errors import Conflict, ServiceUnavailable

Doc = dict[str, Any]

ACCOUNTS: Final = "accounts"
ARTISTS: Final = "artists"
TIER_PLANS: Final = "tier_plans"
TRACKS: Final = "tracks"
LIVE_SESSIONS: Final = "live_sessions"
SUBSCRIPTIONS: Final = "subscriptions"
LEDGER: Final = "ledger_transactions"
PAYOUTS: Final = "payouts"
PROCESSED_EVENTS: Final = "processed_events"
PAYMENT_INTENTS: Final = "payment_intents"
PROCESSOR_LINKS: Final = "processor_links"
FOLLOWS: Final = "follows"
LIKES: Final = "likes"
VISITS: Final = "visits"
PLAY_BUCKETS: Final = "play_buckets"
FAN_PLAYS: Final = "fan_plays"
LISTENER_DAYS: Final = "listener_days"
MESSAGES: Final = "messages"
QA_SESSIONS: Final = "qa_sessions"
QA_QUESTIONS: Final = "qa_questions"
QA_VOTES: Final = "qa_votes"
NOTIFICATIONS: Final = "notifications"
FAN_HISTORY: Final = "fan_history"
NOTIFICATION_EMAIL: Final = "notification_email"
#: Up to when each sweep ran: one document per sweep, keyed by its name.
SWEEPS: Final = "sweeps"
BACKSTAGE_POSTS: Final = "backstage_posts"
BACKSTAGE_COMMENTS: Final = "backstage_comments"
BACKSTAGE_BLOCKS: Final = "backstage_blocks"

#: Every index the repositories rely on. Unnamed, so that MongoDB derives the names: creating them
#: again is a no-op, and nothing depends on names (which the test server does not keep).
INDEXES: Final[Mapping[str, tuple[IndexModel, ...]]] = {
    ACCOUNTS: (IndexModel([("email_key", ASCENDING)], unique=True),),
    ARTISTS: (IndexModel([("name_key", ASCENDING)]),),
    TRACKS: (
        IndexModel([("artist_id", ASCENDING), ("created_at_us", ASCENDING)]),
        IndexModel([("status", ASCENDING), ("created_at_us", ASCENDING)]),
        IndexModel([("release_at_us", ASCENDING)]),
    ),
    LIVE_SESSIONS: (
        IndexModel([("artist_id", ASCENDING), ("starts_at_us", ASCENDING)]),
        IndexModel([("status", ASCENDING), ("starts_at_us", ASCENDING)]),
    ),
    SUBSCRIPTIONS: (
        # One live subscription per (fan, artist): see ``live_key`` in billing.py.
        IndexModel([("live_key", ASCENDING)], unique=True),
        IndexModel([("fan_id", ASCENDING), ("created_at_us", ASCENDING)]),
        IndexModel([("artist_id", ASCENDING), ("live", ASCENDING), ("created_at_us", ASCENDING)]),
        IndexModel([("external_ref", ASCENDING)]),
        IndexModel([("status", ASCENDING), ("current_period_end_us", ASCENDING)]),
    ),
    LEDGER: (
        IndexModel([("idempotency_key", ASCENDING)], unique=True),
        IndexModel([("entries.slot", ASCENDING)]),
        IndexModel([("entries.account", ASCENDING)]),
        IndexModel([("artist_id", ASCENDING), ("occurred_at_us", ASCENDING)]),
        IndexModel([("fan_id", ASCENDING), ("occurred_at_us", ASCENDING)]),
    ),
    PAYOUTS: (
        IndexModel([("artist_id", ASCENDING), ("paid_at_us", DESCENDING)]),
        IndexModel([("external_ref", ASCENDING)]),
    ),
    PROCESSOR_LINKS: (IndexModel([("kind", ASCENDING), ("external_ref", ASCENDING)]),),
    PAYMENT_INTENTS: (
        IndexModel([("subscription_id", ASCENDING), ("created_at_us", ASCENDING)]),
        IndexModel([("status", ASCENDING), ("created_at_us", ASCENDING)]),
    ),
    FOLLOWS: (
        IndexModel([("artist_id", ASCENDING)]),
        IndexModel([("fan_id", ASCENDING), ("followed_at_us", DESCENDING)]),
    ),
    LIKES: (
        IndexModel([("track_id", ASCENDING)]),
        IndexModel([("fan_id", ASCENDING), ("liked_at_us", DESCENDING)]),
    ),
    VISITS: (IndexModel([("artist_id", ASCENDING)]),),
    PLAY_BUCKETS: (IndexModel([("artist_id", ASCENDING), ("day", ASCENDING)]),),
    FAN_PLAYS: (IndexModel([("artist_id", ASCENDING), ("count", DESCENDING), ("fan_id", ASCENDING)]),),
    LISTENER_DAYS: (IndexModel([("artist_id", ASCENDING), ("day", ASCENDING)]),),
    MESSAGES: (
        IndexModel([("artist_id", ASCENDING), ("sent_at_us", ASCENDING)]),
        IndexModel([("fan_id", ASCENDING), ("artist_id", ASCENDING), ("sent_at_us", ASCENDING)]),
        IndexModel([("artist_id", ASCENDING), ("fan_id", ASCENDING), ("sent_at_us", ASCENDING)]),
    ),
    QA_SESSIONS: (
        IndexModel([("artist_month", ASCENDING)], unique=True),
        IndexModel([("artist_id", ASCENDING), ("month", DESCENDING)]),
    ),
    QA_QUESTIONS: (
        IndexModel([("qa_id", ASCENDING), ("asked_at_us", ASCENDING)]),
        IndexModel([("fan_id", ASCENDING), ("asked_at_us", ASCENDING)]),
    ),
    QA_VOTES: (
        IndexModel([("qa_id", ASCENDING)]),
        IndexModel([("question_id", ASCENDING)]),
        IndexModel([("fan_id", ASCENDING), ("voted_at_us", ASCENDING)]),
    ),
    NOTIFICATIONS: (IndexModel([("fan_id", ASCENDING), ("created_at_us", DESCENDING)]),),
    FAN_HISTORY: (IndexModel([("fan_id", ASCENDING), ("last_played_at_us", DESCENDING)]),),
    BACKSTAGE_POSTS: (
        IndexModel([("artist_id", ASCENDING), ("deleted", ASCENDING), ("created_at_us", DESCENDING)]),
        # The stranded-clip sweep: only the few posts whose clip is processing.
        IndexModel(
            [("clip.status", ASCENDING), ("created_at_us", ASCENDING)],
            partialFilterExpression={"clip.status": ClipStatus.PROCESSING.value},
        ),
    ),
    BACKSTAGE_COMMENTS: (
        IndexModel([("post_id", ASCENDING), ("created_at_us", ASCENDING)]),
        IndexModel([("fan_id", ASCENDING), ("created_at_us", ASCENDING)]),
    ),
    BACKSTAGE_BLOCKS: (IndexModel([("artist_id", ASCENDING), ("blocked_at_us", DESCENDING)]),),
}

#: MongoDB's code for a broken unique index.
_DUPLICATE_KEY: Final = 11000
_UNAVAILABLE_LABELS: Final = ("TransientTransactionError", "UnknownTransactionCommitResult")


class MongoDatabase:
    """A database on a MongoDB deployment (Atlas, a replica set, or a standalone server).

    ``transactions`` says whether commits run in a multi-document transaction; ``None`` asks the
    server once (replica set members and mongos can, standalone servers cannot).
    ``client_options`` go to ``MongoClient`` as they are (event listeners, TLS files, ...).
    """

    def __init__(
        self,
        uri: str,
        *,
        database: str = "musicconnect",
        app_name: str = "musicconnect",
        timeout_ms: int = 5000,
        transactions: bool | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._uri = uri
        self.name = database
        self.app_name = app_name
        self.timeout_ms = int(timeout_ms)
        self._transactions = transactions
        self._client_options = dict(client_options or {})
        self._client: MongoClient[Doc] | None = None
        self._client_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._indexed = False

    def __repr__(self) -> str:
        # The URI may carry a password: it stays out of logs.
        return f"MongoDatabase(database={self.name!r}, app_name={self.app_name!r})"

    @property
    def client(self) -> MongoClient[Doc]:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._build_client()
        return self._client

    @property
    def database(self) -> Database[Doc]:
        return self.client[self.name]

    def collection(self, name: str) -> Collection[Doc]:
        return self.database[name]

    @property
    def commit_timeout_s(self) -> float:
        """How long a transactional commit may keep retrying (a failover takes a few seconds)."""
        return 4 * self.timeout_ms / 1000

    @property
    def supports_transactions(self) -> bool:
        if self._transactions is None:
            with translate_errors():
                hello: Doc = self.client.admin.command("hello")
            self._transactions = "setName" in hello or hello.get("msg") == "isdbgrid"
        return self._transactions

    def ensure_indexes(self) -> None:
        """Create every index the repositories need; running it again changes nothing."""
        with translate_errors():
            for name, indexes in INDEXES.items():
                self.collection(name).create_indexes(list(indexes))
        self._indexed = True

    def ready(self) -> None:
        """Ensure the indexes once per object (and again after a failed attempt)."""
        if self._indexed:
            return
        with self._index_lock:
            if not self._indexed:
                self.ensure_indexes()

    def close(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _build_client(self) -> MongoClient[Doc]:
        options: dict[str, Any] = {
            "appname": self.app_name,
            "retryWrites": True,
            "w": "majority",
            "serverSelectionTimeoutMS": self.timeout_ms,
            "connectTimeoutMS": self.timeout_ms,
            # Bounded, so that a server that vanishes without closing its sockets fails a call
            # instead of hanging it; generous, so that slow aggregations still finish.
            "socketTimeoutMS": 10 * self.timeout_ms,
            "tz_aware": True,
            "connect": False,
            **self._client_options,
        }
        return MongoClient(self._uri, **options)


@contextmanager
def translate_errors(conflict: str = "a unique value is taken already") -> Iterator[None]:
    """pymongo's errors as the domain's: a broken unique index is a Conflict, an unreachable
    server (or a transaction that could not finish in time) is ServiceUnavailable."""
    try:
        yield
    except DuplicateKeyError as error:
        raise Conflict(conflict) from error
    except BulkWriteError as error:
        codes = {e.get("code") for e in error.details.get("writeErrors", [])}
        if _DUPLICATE_KEY in codes:
            raise Conflict(conflict) from error
        raise
    except ConnectionFailure as error:
        raise ServiceUnavailable(f"MongoDB is unreachable: {error}") from error
    except ExecutionTimeout as error:
        raise ServiceUnavailable(f"MongoDB did not answer in time: {error}") from error
    except PyMongoError as error:
        if any(error.has_error_label(label) for label in _UNAVAILABLE_LABELS):
            raise ServiceUnavailable(f"MongoDB could not finish the write: {error}") from error
        raise
