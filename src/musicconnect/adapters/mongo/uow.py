"""The unit of work over MongoDB: every repository, writes buffered until ``commit``.

Nothing of a unit of work reaches the server before ``commit``, so no other reader ever sees it
half done, and leaving the block without committing simply forgets it. How commit applies the
buffered writes, with a transaction or without, is explained in ``_work``.
State is per thread, so one instance may serve the threads of a server; it does not nest.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from musicconnect.adapters.mongo._work import Work
from musicconnect.adapters.mongo.accounts import MongoAccountRepository, MongoArtistRepository
from musicconnect.adapters.mongo.audience import (
    MongoFanRepository,
    MongoMessageRepository,
    MongoPlayEventStore,
)
from musicconnect.adapters.mongo.backstage import (
    MongoBackstageBlockRepository,
    MongoBackstageCommentRepository,
    MongoBackstagePostRepository,
)
from musicconnect.adapters.mongo.billing import (
    MongoLedgerRepository,
    MongoPayoutRepository,
    MongoProcessedEventStore,
    MongoSubscriptionRepository,
)
from musicconnect.adapters.mongo.catalog import MongoTrackRepository
from musicconnect.adapters.mongo.database import MongoDatabase
from musicconnect.adapters.mongo.intents import MongoPaymentIntentRepository, MongoProcessorLinkRepository
from musicconnect.adapters.mongo.live import MongoLiveSessionRepository
from musicconnect.adapters.mongo.notifications import MongoNotificationRepository
from musicconnect.adapters.mongo.qa import MongoQaSessionRepository, MongoQuestionRepository
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


class MongoUnitOfWork:
    def __init__(self, db: MongoDatabase) -> None:
        self.db = db
        self._local = threading.local()
        work = self._work
        self.accounts: AccountRepository = MongoAccountRepository(work)
        self.artists: ArtistRepository = MongoArtistRepository(work)
        self.fans: FanRepository = MongoFanRepository(work)
        self.tracks: TrackRepository = MongoTrackRepository(work)
        self.live_sessions: LiveSessionRepository = MongoLiveSessionRepository(work)
        self.subscriptions: SubscriptionRepository = MongoSubscriptionRepository(work)
        self.ledger: LedgerRepository = MongoLedgerRepository(work)
        self.payouts: PayoutRepository = MongoPayoutRepository(work)
        self.plays: PlayEventStore = MongoPlayEventStore(work)
        self.messages: MessageRepository = MongoMessageRepository(work)
        self.processed_events: ProcessedEventStore = MongoProcessedEventStore(work)
        self.intents: PaymentIntentRepository = MongoPaymentIntentRepository(work)
        self.processor_links: ProcessorLinkRepository = MongoProcessorLinkRepository(work)
        self.qa_sessions: QaSessionRepository = MongoQaSessionRepository(work)
        self.questions: QuestionRepository = MongoQuestionRepository(work)
        self.notifications: NotificationRepository = MongoNotificationRepository(work)
        self.backstage_posts: BackstagePostRepository = MongoBackstagePostRepository(work)
        self.backstage_comments: BackstageCommentRepository = MongoBackstageCommentRepository(work)
        self.backstage_blocks: BackstageBlockRepository = MongoBackstageBlockRepository(work)

    def __enter__(self) -> Self:
        if self._current() is not None:
            raise RuntimeError("this unit of work is already open in this thread; they do not nest")
        self._local.work = Work(self.db)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Whatever was not committed was never sent: forgetting it is the rollback.
        self._local.work = None

    def commit(self) -> None:
        """Apply every write since the last commit or rollback (Conflict, ServiceUnavailable).

        A failed commit writes nothing (see ``_work`` for the limits without transactions) and
        forgets the writes it was given, as a rolled-back transaction would.
        """
        self._work().commit()

    def rollback(self) -> None:
        self._work().reset()

    def _current(self) -> Work | None:
        work: Work | None = getattr(self._local, "work", None)
        return work

    def _work(self) -> Work:
        work = self._current()
        if work is None:
            raise RuntimeError("use the unit of work inside a `with` block")
        return work
