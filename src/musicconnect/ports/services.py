"""Small infrastructure ports: time, ids, quotas, caches, jobs, passwords and tokens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

import attrs

from musicconnect.domain.events import LiveSessionEvent

_T = TypeVar("_T")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str: ...


class QuotaCounter(Protocol):
    """Atomic counters with a limit, safe across processes."""

    def acquire(self, key: str, *, limit: int, resets_at: datetime) -> bool:
        """Take one unit under ``key`` if fewer than ``limit`` were taken; the count resets at
        ``resets_at``. Raise ServiceUnavailable rather than guess when the store is down."""
        ...

    def release(self, key: str) -> None:
        """Give back one unit taken by ``acquire`` (the action it guarded did not happen)."""
        ...

    def used(self, key: str) -> int: ...


class Cache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, *, ttl_s: int) -> None: ...

    def delete(self, *keys: str) -> None: ...


@attrs.frozen
class Job:
    name: str
    payload: Mapping[str, Any]
    #: Jobs with the same key are one job: enqueuing it again while it waits does nothing.
    key: str


JobHandler = Callable[[Mapping[str, Any]], None]


class JobQueue(Protocol):
    def enqueue(self, job: Job) -> None: ...


class EventPublisher(Protocol):
    """Hands what happened to whoever reacts to it (notifications); never raises for a listener."""

    def publish(self, event: LiveSessionEvent) -> None: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password: str, hashed: str) -> bool: ...

    def needs_rehash(self, hashed: str) -> bool:
        """True when ``hashed`` is in an older scheme or weaker parameters than ``hash`` makes."""
        ...


@attrs.frozen
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@attrs.frozen
class TokenFamily:
    """The tokens descending from one login. Rotation keeps the family and its end, so a login
    lives at most one refresh lifetime, and revoking the family id until then revokes them all."""

    id: str
    expires_at: datetime


@attrs.frozen
class TokenClaims:
    subject: str
    role: str
    token_id: str
    kind: str
    expires_at: datetime
    family: TokenFamily
    issued_at: datetime


class TokenIssuer(Protocol):
    def issue(self, *, subject: str, role: str, family: TokenFamily | None = None) -> TokenPair:
        """A new pair: in a new family (a login), or in ``family`` (a rotation), whose end no
        token of the pair outlives."""
        ...

    def decode(self, token: str, *, kind: str) -> TokenClaims:
        """Raise AuthenticationFailed for anything but a valid, unexpired token of ``kind``."""
        ...


class TokenDenylist(Protocol):
    """Revoked token ids, kept until the token would have expired anyway."""

    def revoke(self, token_id: str, *, until: datetime) -> None: ...

    def spend(self, token_id: str, *, until: datetime) -> bool:
        """Revoke a single-use token; True only for the one call that did it first.

        One atomic step: of any number of calls for one token at once, exactly one gets True.
        False when it was revoked already or ``until`` has passed (nothing is stored then).
        """
        ...

    def is_revoked(self, *token_ids: str) -> bool:
        """Whether any of ``token_ids`` (a token's own id, its family's) is revoked, in one look.

        Raise ServiceUnavailable when the store cannot answer: revocation fails closed."""
        ...


@attrs.frozen
class EmailMessage:
    to: str
    subject: str
    body: str


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand the message to the mail system; ServiceUnavailable when it cannot take it."""
        ...


class OneTimeTokens(Protocol):
    """Single-use secrets (email verification, password reset), stored by their hash only."""

    def put(self, digest: str, value: str, *, until: datetime) -> None:
        """Keep ``value`` under ``digest`` until ``until``."""
        ...

    def take(self, digest: str) -> str | None:
        """The value under ``digest``, removed in the same atomic step: of any number of calls
        at once exactly one gets it. None when unknown, taken already or expired."""
        ...


class AccessReads(Protocol):
    """The reads that let a request through, made together and without blocking the event loop.

    Opening a stream asks the shared stores on every request: is any of the token's ids
    revoked, and what does the cache hold for the remembered track's change mark and the fan's
    standing. On a network store all go in one round trip, awaited; on local files they are
    answered in place.
    """

    async def read(
        self, token_ids: Sequence[str], cache_keys: Sequence[str]
    ) -> tuple[bool, tuple[bytes | None, ...]]:
        """Whether any of ``token_ids`` is revoked (raise ServiceUnavailable rather than guess),
        and the cache's entry under each of ``cache_keys``, in order (None for a miss, or for a
        cache that cannot be reached)."""
        ...


class BlockingWork(Protocol):
    """Runs blocking work (a database read) for async code: in a worker thread where it may wait
    on the network, in place where it only reads local files in microseconds."""

    def __call__(self, work: Callable[[], _T], /) -> Awaitable[_T]: ...
