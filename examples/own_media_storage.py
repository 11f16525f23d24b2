"""Swapping in one's own ``MediaStorage``: any object with the port's methods will do.

This one keeps objects in a dict and counts what it stores; in practice it would talk to your
object store. ``in_memory(storage=...)`` builds the platform around it; with real settings, pass
it to ``bootstrap(settings, storage=...)`` and wrap that in ``Platform.of``.

Run it: ``python examples/own_media_storage.py``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from musicconnect import IngestTrack, Register
from musicconnect.domain.errors import NotFound
from musicconnect.ports.media import MediaStorage
from musicconnect.testing import in_memory, write_wav

PASSWORD = "correct horse battery"


class DictMediaStorage:
    """Media objects in a dict, with a count of what was written."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.writes = 0

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        self.put_bytes(key, source.read_bytes(), content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        del content_type  # a real store would keep it for the Content-Type header
        self.objects[key] = data
        self.writes += 1

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError:
            raise NotFound(f"no media at {key}") from None

    def download(self, key: str, target: Path) -> None:
        target.write_bytes(self.get_bytes(key))

    def exists(self, key: str) -> bool:
        return key in self.objects

    def list_keys(self, prefix: str) -> Iterator[str]:
        return iter(sorted(k for k in self.objects if k.startswith(prefix)))

    def delete_prefix(self, prefix: str) -> int:
        doomed = [k for k in self.objects if k.startswith(prefix)]
        for key in doomed:
            del self.objects[key]
        return len(doomed)


def main() -> None:
    storage = DictMediaStorage()
    port: MediaStorage = storage  # mypy checks here that it fits the port
    with in_memory(storage=port) as platform, tempfile.TemporaryDirectory() as folder:
        platform.accounts.register(Register("nova@example.com", PASSWORD, "artist", "Nova"))
        artist = platform.accounts.sign_in("nova@example.com", PASSWORD)
        song = write_wav(Path(folder) / "take-2.wav", seconds=7)
        track = platform.tracks.ingest(IngestTrack(artist.id, "Take 2", song), caller=artist)
        status = platform.tracks.view(track.id, caller=artist).status.value
        print(f"the track is {status}; my storage holds {len(storage.objects)} objects")
        print(*storage.list_keys(f"artists/{artist.id}/tracks/{track.id}/hls/128k/"), sep="\n")


if __name__ == "__main__":
    main()
