"""What every multipart upload route shares: receiving the request's body as a stream into the
upload folder, and documenting that body, which the handler reads itself rather than as ``data``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

from musicconnect.entrypoints.http.uploads import ReceivedForm, UploadFolder, spooled_form


def binary() -> Schema:
    """A file part's schema."""
    return Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)


@dataclass
class MultipartOperation(Operation):
    """Documents the multipart body, which the handler reads as a stream rather than as ``data``:
    a route's subclass says the form's fields (``form_schema``)."""

    def form_schema(self) -> Schema:
        raise NotImplementedError

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            content={"multipart/form-data": OpenAPIMediaType(schema=self.form_schema())},
        )


@asynccontextmanager
async def received_form(
    request: Request[Any, Any, Any],
    uploads: UploadFolder,
    *,
    max_file_bytes: int,
    file_parts: Mapping[str, int] | None = None,
) -> AsyncIterator[ReceivedForm]:
    """The request's multipart body, received into the upload folder (``spooled_form``) and
    removed when the block exits."""
    async with spooled_form(
        request.stream(),
        content_type=request.headers.get("content-type"),
        content_length=request.content_length,
        scratch_root=uploads.scratch_root,
        max_file_bytes=max_file_bytes,
        file_parts=file_parts,
    ) as form:
        yield form
