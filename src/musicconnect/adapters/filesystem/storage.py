"""Media storage in a local folder: one file per key, written atomically."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Final

from musicconnect.domain.errors import Conflict, NotFound
from musicconnect.domain.media import RESERVED_KEY_PREFIX, check_media_key

#: Half-written files carry this prefix until they are renamed into place; no key may use it.
_TEMP_PREFIX: Final = RESERVED_KEY_PREFIX
_COPY_CHUNK: Final = 1024 * 1024
#: A concurrent delete_prefix may remove the folder a writer just created; try again this often.
_WRITE_RETRIES: Final = 3


def _segments(key: str, *, what: str) -> list[str]:
    return check_media_key(key, what=what).split("/")


class FilesystemMediaStorage:
    """Keys are slash-separated paths under ``root``; readers never see a partially written file.

    Content types are not kept: a file has nowhere to hold one, and delivery derives the type
    from the name (``content_type_for``), as it must for every adapter anyway.
    """

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()
        self._root.mkdir(parents=True, exist_ok=True)

    @property
    def root(self) -> Path:
        return self._root

    def path_of(self, key: str) -> Path:
        """The file holding ``key`` (which may not exist); InvalidInput if the key is unsafe."""
        return self._root.joinpath(*_segments(key, what="key"))

    def _folder_of(self, prefix: str) -> Path:
        stripped = prefix.rstrip("/")
        if not stripped:
            return self._root
        return self._root.joinpath(*_segments(stripped, what="prefix"))

    def put_file(self, key: str, source: Path, content_type: str) -> None:  # noqa: ARG002 - see class doc
        target = self.path_of(key)
        with source.open("rb") as reader:
            self._write_atomically(target, _copier(reader))

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:  # noqa: ARG002 - see class doc
        self._write_atomically(self.path_of(key), lambda out: out.write(data))

    def get_bytes(self, key: str) -> bytes:
        path = self.path_of(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"no media stored under {key!r}") from None

    def download(self, key: str, target: Path) -> None:
        path = self.path_of(key)
        try:
            reader = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"no media stored under {key!r}") from None
        with reader:
            self._write_atomically(target, _copier(reader))

    def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    def list_keys(self, prefix: str) -> Iterator[str]:
        # A list, not a lazy walk: the prefix is checked at once, and a caller deleting keys as it
        # iterates does not disturb the walk.
        return iter(sorted(self._keys_under(self._folder_of(prefix))))

    def delete_prefix(self, prefix: str) -> int:
        folder = self._folder_of(prefix)
        deleted = 0
        for _, path in self._files_under(folder):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                deleted += 1
        deepest_first = sorted((Path(entry[0]) for entry in os.walk(folder)), key=lambda p: len(p.parts))
        for path in reversed(deepest_first):
            if path != self._root:
                # A folder that is not empty is being filled by a writer right now: leave it.
                with contextlib.suppress(OSError):
                    path.rmdir()
        return deleted

    def _keys_under(self, folder: Path) -> list[str]:
        return [key for key, _ in self._files_under(folder)]

    def _files_under(self, folder: Path) -> list[tuple[str, Path]]:
        found = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [name for name in dirnames if not name.startswith(_TEMP_PREFIX)]
            here = Path(dirpath)
            relative = here.relative_to(self._root).as_posix()
            for name in filenames:
                if not name.startswith(_TEMP_PREFIX):
                    key = name if relative == "." else f"{relative}/{name}"
                    found.append((key, here / name))
        return found

    def _write_atomically(self, target: Path, fill: Callable[[IO[bytes]], object]) -> None:
        descriptor, temp_name = _open_temp_beside(target)
        try:
            with os.fdopen(descriptor, "wb") as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())
            try:
                Path(temp_name).replace(target)
            except IsADirectoryError:
                raise Conflict(f"{target} is a folder of other objects") from None
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                Path(temp_name).unlink()
            raise
        _fsync_folder(target.parent)


def _copier(reader: IO[bytes]) -> Callable[[IO[bytes]], None]:
    return lambda out: shutil.copyfileobj(reader, out, _COPY_CHUNK)


def _open_temp_beside(target: Path) -> tuple[int, str]:
    """A new temporary file in the target's folder, so renaming it over the target is atomic."""
    attempts_left = _WRITE_RETRIES
    while True:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=target.parent)
        except (FileExistsError, NotADirectoryError):
            raise Conflict(f"a stored object already uses part of the path {target}") from None
        except FileNotFoundError:
            # A concurrent delete_prefix removed the folder between mkdir and mkstemp.
            attempts_left -= 1
            if not attempts_left:
                raise


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable, so a crash cannot bring back the old content."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms that cannot open folders
        return
    try:
        # Some filesystems refuse fsync on folders; the data itself is already synced.
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
