"""Token verification remembered per process: a fan's player sends the same token many times."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

from musicconnect.ports.services import Clock, TokenClaims, TokenFamily, TokenIssuer, TokenPair

#: Tokens remembered at most, the least recently used forgotten first; about 300 bytes each.
DEFAULT_CAPACITY: Final = 10_000


class MemoizedTokenIssuer:
    """A TokenIssuer that verifies each token's signature once, then answers from memory.

    Verifying an HS256 JWT (base64 checks, HMAC, claim checks) was the largest single cost of
    opening a stream. The claims a valid token decodes to never change, so they are kept (never
    a refusal) and handed out again until the token expires by the injected clock, checked on
    every call. Revocation is not decided here: callers still ask the denylist every time.
    """

    def __init__(self, inner: TokenIssuer, *, clock: Clock, capacity: int = DEFAULT_CAPACITY) -> None:
        self._inner = inner
        self._clock = clock
        self._capacity = capacity
        self._known: OrderedDict[tuple[str, str], TokenClaims] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self, *, subject: str, role: str, family: TokenFamily | None = None) -> TokenPair:
        return self._inner.issue(subject=subject, role=role, family=family)

    def decode(self, token: str, *, kind: str) -> TokenClaims:
        key = (token, kind)
        with self._lock:
            claims = self._known.get(key)
            if claims is not None:
                self._known.move_to_end(key)
        if claims is None or claims.expires_at <= self._clock.now():
            # Expired or unknown: the inner issuer gives the answer (and the reason) itself.
            claims = self._inner.decode(token, kind=kind)
            with self._lock:
                self._known[key] = claims
                while len(self._known) > self._capacity:
                    self._known.popitem(last=False)
        return claims
