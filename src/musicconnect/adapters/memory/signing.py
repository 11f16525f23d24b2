"""Signed URLs remembered per process: the same grant asked for again is not signed again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from datetime import datetime

    from musicconnect.ports.media import UrlSigner

#: URLs remembered at most, the least recently used forgotten first; about 400 bytes each.
DEFAULT_CAPACITY: Final = 20_000


class MemoizedUrlSigner:
    """A UrlSigner that keeps the URLs it signed, keyed by everything a signature covers.

    Expiries fall on a coarse grid (see ``usecases.streaming.url_expiry``), so a listener who
    opens a stream again soon, or a player re-reading a master, asks for grants already signed:
    signing (an HMAC, or an RSA signature for CloudFront) was a third of a stream request.
    A signature depends only on path, subject and expiry, so a remembered one is exact.
    """

    def __init__(self, inner: UrlSigner, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self._inner = inner
        self._capacity = capacity
        self._signed: OrderedDict[tuple[str, str, datetime], str] = OrderedDict()
        self._lock = threading.Lock()

    def sign(self, path: str, *, subject: str, expires_at: datetime) -> str:
        key = (path, subject, expires_at)
        with self._lock:
            url = self._signed.get(key)
            if url is not None:
                self._signed.move_to_end(key)
                return url
        url = self._inner.sign(path, subject=subject, expires_at=expires_at)
        with self._lock:
            self._signed[key] = url
            while len(self._signed) > self._capacity:
                self._signed.popitem(last=False)
        return url

    def verify(self, path: str, query: dict[str, str], *, now: datetime) -> str:
        return self._inner.verify(path, query, now=now)
