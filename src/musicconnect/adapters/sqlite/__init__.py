"""Every repository on one SQLite file (stdlib sqlite3): the embedded default."""

from musicconnect.adapters.sqlite.accounts import SqliteAccountRepository, SqliteArtistRepository
from musicconnect.adapters.sqlite.audience import (
    SqliteFanRepository,
    SqliteMessageRepository,
    SqlitePlayEventStore,
)
from musicconnect.adapters.sqlite.billing import (
    SqliteLedgerRepository,
    SqlitePayoutRepository,
    SqliteProcessedEventStore,
    SqliteSubscriptionRepository,
)
from musicconnect.adapters.sqlite.catalog import SqliteTrackRepository
from musicconnect.adapters.sqlite.counters import SqliteOneTimeTokens, SqliteQuotaCounter, SqliteTokenDenylist
from musicconnect.adapters.sqlite.database import SqliteDatabase
from musicconnect.adapters.sqlite.schema import SCHEMA_VERSION, SchemaVersionError
from musicconnect.adapters.sqlite.uow import SqliteUnitOfWork

__all__ = [
    "SCHEMA_VERSION",
    "SchemaVersionError",
    "SqliteAccountRepository",
    "SqliteArtistRepository",
    "SqliteDatabase",
    "SqliteFanRepository",
    "SqliteLedgerRepository",
    "SqliteMessageRepository",
    "SqliteOneTimeTokens",
    "SqlitePayoutRepository",
    "SqlitePlayEventStore",
    "SqliteProcessedEventStore",
    "SqliteQuotaCounter",
    "SqliteSubscriptionRepository",
    "SqliteTokenDenylist",
    "SqliteTrackRepository",
    "SqliteUnitOfWork",
]
