"""Receiving a multipart upload as a stream: the file part goes to disk chunk by chunk, never
whole into memory, and the size limit is enforced as the bytes arrive."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import IO, Final

import anyio.to_thread
import attrs
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from musicconnect.domain.errors import InvalidInput, MediaTooLarge

FILE_FIELD: Final = "file"
#: Room for the boundaries, part headers and the small text fields around the file.
FORM_OVERHEAD_BYTES: Final = 64 * 1024
_MAX_FIELD_BYTES: Final = 4096
_MAX_PARTS: Final = 16


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` content type; InvalidInput for anything else."""
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidInput("send the upload as multipart/form-data")
    return boundary


def check_announced_length(content_length: int | None, max_file_bytes: int) -> None:
    """Refuse before reading a byte when the client already says the body is too big."""
    if content_length is not None and content_length > max_file_bytes + FORM_OVERHEAD_BYTES:
        raise MediaTooLarge(f"the upload is larger than {max_file_bytes} bytes")


@attrs.frozen
class UploadFolder:
    """Where uploads are spooled while they arrive (``<data dir>/tmp/uploads``)."""

    scratch_root: Path


@attrs.frozen
class ReceivedForm:
    fields: dict[str, str]
    #: The spooled file part, or None when the form had none.
    file: Path | None
    #: Every spooled file part by field name, in the order they arrived.
    files: Mapping[str, tuple[Path, ...]] = attrs.field(factory=dict)


class MultipartSpool:
    """Feeds a multipart body through python-multipart's streaming parser.

    The part named ``file`` (or the parts ``file_parts`` names, each up to its count) is written to
    a private temporary folder; other parts are small text fields kept in memory. Exceeding
    ``max_file_bytes`` (all files together) or the overall body allowance raises
    MediaTooLarge at once, so a refused upload never gets further onto the disk than the limit.
    ``close()`` removes everything written.
    """

    def __init__(
        self,
        boundary: bytes,
        *,
        scratch_root: Path,
        max_file_bytes: int,
        file_parts: Mapping[str, int] | None = None,
    ) -> None:
        scratch_root.mkdir(parents=True, exist_ok=True)
        self._file_parts = dict(file_parts) if file_parts is not None else {FILE_FIELD: 1}
        self._files: dict[str, list[Path]] = {}
        self.folder = Path(tempfile.mkdtemp(prefix="upload-", dir=scratch_root))
        self._max_file_bytes = max_file_bytes
        self._max_body_bytes = max_file_bytes + FORM_OVERHEAD_BYTES
        self._body_bytes = 0
        self._file_bytes = 0
        self._parts = 0
        self._ended = False
        self._fields: dict[str, str] = {}
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._field_name: str | None = None
        self._field_value = bytearray()
        self._out: IO[bytes] | None = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
        )

    @property
    def file_bytes(self) -> int:
        return self._file_bytes

    def feed(self, chunk: bytes) -> None:
        """Parse one chunk of the body (blocking: it writes to disk)."""
        self._body_bytes += len(chunk)
        if self._body_bytes > self._max_body_bytes:
            raise MediaTooLarge(f"the upload is larger than {self._max_file_bytes} bytes")
        try:
            self._parser.write(chunk)
        except FormParserError as error:
            raise InvalidInput(f"malformed multipart body: {error}") from None

    def finish(self) -> ReceivedForm:
        if not self._ended:
            raise InvalidInput("the multipart body ended early")
        files = {name: tuple(paths) for name, paths in self._files.items()}
        first = files.get(FILE_FIELD, ())
        return ReceivedForm(fields=dict(self._fields), file=first[0] if first else None, files=files)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- parser callbacks ---------------------------------------------------------------------

    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > _MAX_PARTS:
            raise InvalidInput(f"at most {_MAX_PARTS} form fields")
        self._headers = {}
        self._field_name = None
        self._field_value = bytearray()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_name).strip().lower()] = bytes(self._header_value).strip()
        self._header_name = bytearray()
        self._header_value = bytearray()

    def _on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        if disposition != b"form-data" or name is None:
            raise InvalidInput("every part needs a Content-Disposition: form-data name")
        self._field_name = name.decode("utf-8", "replace")
        limit = self._file_parts.get(self._field_name)
        if limit is not None:
            spooled = self._files.setdefault(self._field_name, [])
            if len(spooled) >= limit:
                raise InvalidInput(
                    "send one file per upload"
                    if limit == 1
                    else f"at most {limit} {self._field_name!r} files"
                )
            spooled.append(self.folder / f"upload-{sum(map(len, self._files.values()))}")
            self._out = spooled[-1].open("xb")

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        if self._out is not None:
            self._file_bytes += size
            if self._file_bytes > self._max_file_bytes:
                raise MediaTooLarge(f"the upload is larger than {self._max_file_bytes} bytes")
            self._out.write(data[start:end])
            return
        self._field_value += data[start:end]
        if len(self._field_value) > _MAX_FIELD_BYTES:
            raise InvalidInput(f"form field {self._field_name!r} is longer than {_MAX_FIELD_BYTES} bytes")

    def _on_part_end(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        elif self._field_name is not None:
            try:
                self._fields[self._field_name] = self._field_value.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(f"form field {self._field_name!r} is not UTF-8") from None

    def _on_end(self) -> None:
        self._ended = True


@contextlib.asynccontextmanager
async def spooled_form(
    chunks: AsyncIterator[bytes],
    *,
    content_type: str | None,
    content_length: int | None,
    scratch_root: Path,
    max_file_bytes: int,
    file_parts: Mapping[str, int] | None = None,
) -> AsyncIterator[ReceivedForm]:
    """Receive a multipart body into a temporary folder that is removed when the block exits
    (``file_parts``: the file fields and how many of each, by default one ``file``)."""
    check_announced_length(content_length, max_file_bytes)
    spool = MultipartSpool(
        boundary_of(content_type),
        scratch_root=scratch_root,
        max_file_bytes=max_file_bytes,
        file_parts=file_parts,
    )
    try:
        async for chunk in chunks:
            if chunk:
                await anyio.to_thread.run_sync(spool.feed, chunk)
        yield spool.finish()
    finally:
        await anyio.to_thread.run_sync(spool.close)
