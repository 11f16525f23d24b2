"""Every repository on MongoDB (pymongo): Atlas in production, any replica set or standalone server.

A unit of work buffers its writes and applies them at ``commit``: in one multi-document
transaction where the server has them (replica set, Atlas), else in a retry-safe order, ledger
idempotency keys first, undoing its own earlier writes when a later one meets a Conflict. The
trade-off of the second way (a crash part-way through a commit can leave some of its documents
written) is spelled out in ``_work``. Reads see the unit of work's own pending writes.
"""

from musicconnect.adapters.mongo.accounts import MongoAccountRepository, MongoArtistRepository
from musicconnect.adapters.mongo.audience import (
    MongoFanRepository,
    MongoMessageRepository,
    MongoPlayEventStore,
)
from musicconnect.adapters.mongo.billing import (
    MongoLedgerRepository,
    MongoPayoutRepository,
    MongoProcessedEventStore,
    MongoSubscriptionRepository,
)
from musicconnect.adapters.mongo.catalog import MongoTrackRepository
from musicconnect.adapters.mongo.database import INDEXES, MongoDatabase
from musicconnect.adapters.mongo.uow import MongoUnitOfWork

__all__ = [
    "INDEXES",
    "MongoAccountRepository",
    "MongoArtistRepository",
    "MongoDatabase",
    "MongoFanRepository",
    "MongoLedgerRepository",
    "MongoMessageRepository",
    "MongoPayoutRepository",
    "MongoPlayEventStore",
    "MongoProcessedEventStore",
    "MongoSubscriptionRepository",
    "MongoTrackRepository",
    "MongoUnitOfWork",
]
