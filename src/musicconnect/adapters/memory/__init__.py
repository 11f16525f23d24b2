"""In-process adapters: real code over dicts and locks, usable by the API, the CLI and tests."""

from musicconnect.adapters.memory.audio import (
    InMemoryLiveTranscoder,
    InMemoryMediaProbe,
    InMemoryRecordingPacker,
    InMemoryTranscoder,
)
from musicconnect.adapters.memory.media import InMemoryMediaStorage
from musicconnect.adapters.memory.repositories import (
    InMemoryAccountRepository,
    InMemoryArtistRepository,
    InMemoryFanRepository,
    InMemoryLedgerRepository,
    InMemoryLiveSessionRepository,
    InMemoryMessageRepository,
    InMemoryPayoutRepository,
    InMemoryPlayEventStore,
    InMemoryProcessedEventStore,
    InMemoryStore,
    InMemorySubscriptionRepository,
    InMemoryTrackRepository,
    InMemoryUnitOfWork,
)
from musicconnect.adapters.memory.services import (
    FrozenClock,
    InMemoryCache,
    InMemoryEmailSender,
    InMemoryEventPublisher,
    InMemoryOneTimeTokens,
    InMemoryQuotaCounter,
    InMemoryTokenDenylist,
    NoCache,
    SequentialIdGenerator,
    SystemClock,
    UuidIdGenerator,
)
from musicconnect.adapters.memory.signing import MemoizedUrlSigner
from musicconnect.adapters.memory.tokens import MemoizedTokenIssuer

__all__ = [
    "FrozenClock",
    "InMemoryAccountRepository",
    "InMemoryArtistRepository",
    "InMemoryCache",
    "InMemoryEmailSender",
    "InMemoryEventPublisher",
    "InMemoryFanRepository",
    "InMemoryLedgerRepository",
    "InMemoryLiveSessionRepository",
    "InMemoryLiveTranscoder",
    "InMemoryMediaProbe",
    "InMemoryMediaStorage",
    "InMemoryMessageRepository",
    "InMemoryOneTimeTokens",
    "InMemoryPayoutRepository",
    "InMemoryPlayEventStore",
    "InMemoryProcessedEventStore",
    "InMemoryQuotaCounter",
    "InMemoryRecordingPacker",
    "InMemoryStore",
    "InMemorySubscriptionRepository",
    "InMemoryTokenDenylist",
    "InMemoryTrackRepository",
    "InMemoryTranscoder",
    "InMemoryUnitOfWork",
    "MemoizedTokenIssuer",
    "MemoizedUrlSigner",
    "NoCache",
    "SequentialIdGenerator",
    "SystemClock",
    "UuidIdGenerator",
]
