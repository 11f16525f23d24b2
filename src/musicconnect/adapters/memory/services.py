"""In-process clocks, ids, quotas, caches and token revocation.

Each is real, thread-safe code usable by the API and CLI on one process. Anything that must hold
across processes (quotas, revocation) has a Redis adapter; these hold within one.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from musicconnect.domain.clocks import require_aware
from musicconnect.domain.events import LiveSessionEvent
from musicconnect.ports.services import Clock, EmailMessage

_log = logging.getLogger(__name__)
#: The newest events an in-process publisher keeps (a long-running server must not grow forever).
_KEPT_EVENTS: Final = 1000


class SystemClock:
    """The real current instant in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to: for tests and a reproducible demo."""

    def __init__(self, at: datetime | None = None) -> None:
        self._at = require_aware(at) if at is not None else datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def set(self, at: datetime) -> None:
        at = require_aware(at)
        with self._lock:
            self._at = at

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward by ``delta`` or ``timedelta(**parts)``; return the new instant."""
        step = delta if delta is not None else timedelta(**parts)
        with self._lock:
            self._at += step
            return self._at


_RAND_A_MAX: Final = 0xFFF


class UuidIdGenerator:
    """UUIDv7-shaped ids as 32 hex digits: time-ordered (index-friendly) and unguessable.

    Within one generator ids are strictly increasing, even inside one millisecond: the 12-bit
    ``rand_a`` field counts up (RFC 9562, method 1), borrowing the next millisecond if it overflows.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0

    def new_id(self) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms <= self._last_ms:
                ms = self._last_ms
                self._counter += 1
                if self._counter > _RAND_A_MAX:
                    ms += 1
                    self._counter = 0
            else:
                self._counter = 0
            self._last_ms = ms
            counter = self._counter
        rand_b = secrets.randbits(62)
        value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
        return f"{value:032x}"


class SequentialIdGenerator:
    """``{prefix}-000001``, ``{prefix}-000002``, ...: deterministic ids that sort in order."""

    def __init__(self, prefix: str = "id", *, width: int = 6) -> None:
        self._prefix = prefix
        self._width = width
        self._next = 1
        self._lock = threading.Lock()

    def new_id(self) -> str:
        with self._lock:
            number = self._next
            self._next += 1
        return f"{self._prefix}-{number:0{self._width}d}"


@attrs.define
class _Window:
    used: int
    resets_at: datetime


class InMemoryQuotaCounter:
    """Counters with a limit, atomic under one lock; a window ends at its ``resets_at``."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

    def _live(self, key: str) -> _Window | None:
        window = self._windows.get(key)
        if window is not None and self._clock.now() >= window.resets_at:
            del self._windows[key]
            return None
        return window

    def acquire(self, key: str, *, limit: int, resets_at: datetime) -> bool:
        resets_at = require_aware(resets_at)
        with self._lock:
            window = self._live(key)
            if window is None:
                window = self._windows[key] = _Window(used=0, resets_at=resets_at)
            if window.used >= limit:
                return False
            window.used += 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            window = self._live(key)
            if window is not None and window.used > 0:
                window.used -= 1

    def used(self, key: str) -> int:
        with self._lock:
            window = self._live(key)
            return window.used if window is not None else 0


class NoCache:
    """A cache that keeps nothing: every read goes to the source.

    The embedded default. SQLite on the same disk is about as near as a cache would be, and an
    in-process cache could not be invalidated across the processes of ``serve --workers N``.
    """

    def get(self, key: str) -> bytes | None:  # noqa: ARG002 - the port's signature
        return None

    def set(self, key: str, value: bytes, *, ttl_s: int) -> None:  # noqa: ARG002
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")

    def delete(self, *keys: str) -> None:
        pass


class InMemoryCache:
    """Bytes by key with a time to live measured on ``clock``."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[bytes, datetime]] = {}

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, expires_at = entry
            if self._clock.now() >= expires_at:
                del self._entries[key]
                return None
            return value

    def set(self, key: str, value: bytes, *, ttl_s: int) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        expires_at = self._clock.now() + timedelta(seconds=ttl_s)
        with self._lock:
            self._entries[key] = (bytes(value), expires_at)

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)


class InMemoryTokenDenylist:
    """Revoked token ids, forgotten once the token would have expired anyway."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, datetime] = {}

    def revoke(self, token_id: str, *, until: datetime) -> None:
        until = require_aware(until)
        with self._lock:
            self._until[token_id] = max(until, self._until.get(token_id, until))
            self._forget_expired()

    def spend(self, token_id: str, *, until: datetime) -> bool:
        until = require_aware(until)
        with self._lock:
            now = self._clock.now()
            earlier = self._until.get(token_id)
            if until <= now or (earlier is not None and now < earlier):
                return False
            self._until[token_id] = until
            self._forget_expired()
            return True

    def is_revoked(self, *token_ids: str) -> bool:
        with self._lock:
            now = self._clock.now()
            return any(now < self._until.get(token_id, now) for token_id in token_ids)

    def _forget_expired(self) -> None:
        now = self._clock.now()
        for token_id in [t for t, until in self._until.items() if until <= now]:
            del self._until[token_id]


class InMemoryOneTimeTokens:
    """Values by digest until they expire or are taken."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, tuple[str, datetime]] = {}

    def put(self, digest: str, value: str, *, until: datetime) -> None:
        until = require_aware(until)
        with self._lock:
            self._values[digest] = (value, until)

    def take(self, digest: str) -> str | None:
        with self._lock:
            found = self._values.pop(digest, None)
        if found is None or self._clock.now() >= found[1]:
            return None
        return found[0]


class InMemoryEmailSender:
    """Keeps every message sent, in order: an outbox for tests and single-process tools."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        with self._lock:
            self._sent.append(message)

    def sent(self, to: str | None = None) -> list[EmailMessage]:
        """The messages sent so far, oldest first (only those to ``to`` when given)."""
        with self._lock:
            return [m for m in self._sent if to is None or m.to == to]


class InMemoryEventPublisher:
    """Keeps every event published, in order, and logs it: where notifications will listen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[LiveSessionEvent] = []

    def publish(self, event: LiveSessionEvent) -> None:
        _log.info("event %r", event)
        with self._lock:
            self._events.append(event)
            del self._events[:-_KEPT_EVENTS]

    def published(self) -> list[LiveSessionEvent]:
        with self._lock:
            return list(self._events)
