"""Media bytes in a dict: the fake MediaStorage, held to the same contract as the real ones."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from musicconnect.domain.errors import NotFound
from musicconnect.domain.media import check_media_key


def _check(key: str, *, what: str = "key") -> None:
    check_media_key(key, what=what)


def _folder(prefix: str) -> str:
    """``prefix`` as a folder: ``a/b`` covers ``a/b/x`` but not ``a/bc``; empty covers all."""
    stripped = prefix.rstrip("/")
    if not stripped:
        return ""
    _check(stripped, what="prefix")
    return f"{stripped}/"


class InMemoryMediaStorage:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, tuple[bytes, str]] = {}

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        _check(key)
        self.put_bytes(key, source.read_bytes(), content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        _check(key)
        with self._lock:
            self._objects[key] = (bytes(data), content_type)

    def get_bytes(self, key: str) -> bytes:
        _check(key)
        with self._lock:
            stored = self._objects.get(key)
        if stored is None:
            raise NotFound(f"no media stored under {key!r}")
        return stored[0]

    def content_type(self, key: str) -> str:
        """What the object was stored as; NotFound when the key does not exist."""
        _check(key)
        with self._lock:
            stored = self._objects.get(key)
        if stored is None:
            raise NotFound(f"no media stored under {key!r}")
        return stored[1]

    def download(self, key: str, target: Path) -> None:
        target.write_bytes(self.get_bytes(key))

    def exists(self, key: str) -> bool:
        _check(key)
        with self._lock:
            return key in self._objects

    def list_keys(self, prefix: str) -> Iterator[str]:
        folder = _folder(prefix)
        with self._lock:
            return iter(sorted(key for key in self._objects if key.startswith(folder)))

    def delete_prefix(self, prefix: str) -> int:
        folder = _folder(prefix)
        with self._lock:
            doomed = [key for key in self._objects if key.startswith(folder)]
            for key in doomed:
                del self._objects[key]
        return len(doomed)
