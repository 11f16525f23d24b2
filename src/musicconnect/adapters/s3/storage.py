"""Media in an S3 bucket: streamed multipart uploads, per-kind caching headers, presigned browser uploads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Protocol

import attrs
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from musicconnect.adapters.s3._aws import aws_config, error_code, translated
from musicconnect.domain.clocks import require_aware
from musicconnect.domain.errors import InvalidInput, NotFound, ServiceUnavailable
from musicconnect.domain.media import MAX_MEDIA_KEY_BYTES, check_media_key

MiB: Final = 1024 * 1024
#: S3 refuses parts below 5 MiB (all but the last), and DeleteObjects takes at most 1000 keys.
_MIN_PART_BYTES: Final = 5 * MiB
_DELETE_BATCH: Final = 1000
#: SigV4 presigned requests live at most a week.
_MAX_PRESIGN: Final = timedelta(days=7)

#: Segments and init files never change once published: any cache may keep them for a year.
SEGMENT_CACHE_CONTROL: Final = "public, max-age=31536000, immutable"
#: Playlists are re-read often so a republished ladder shows up within seconds.
PLAYLIST_CACHE_CONTROL: Final = "public, max-age=5"
#: Originals are the artist's master files: never cached anywhere.
ORIGINAL_CACHE_CONTROL: Final = "private, no-store"
#: Anything else (waveform peaks, ...) is revalidated on every use.
OTHER_CACHE_CONTROL: Final = "no-cache"

_SEGMENT_SUFFIXES: Final = (".m4s", ".mp4", ".m4a", ".ts", ".aac")
_SSE_ALGORITHMS: Final = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})


class Readable(Protocol):
    """Anything with ``read(size)``: an open file, a request body stream."""

    def read(self, size: int = -1, /) -> bytes: ...


def cache_control_for(key: str) -> str:
    """The Cache-Control an object is stored with, chosen by what kind of media file it is."""
    name = key.rsplit("/", 1)[-1]
    if name.endswith(".m3u8"):
        return PLAYLIST_CACHE_CONTROL
    if name.endswith(_SEGMENT_SUFFIXES):
        return SEGMENT_CACHE_CONTROL
    if name == "original":
        return ORIGINAL_CACHE_CONTROL
    return OTHER_CACHE_CONTROL


def make_s3_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    session: Any | None = None,
    max_pool_connections: int = 10,
) -> Any:
    """An S3 client with SigV4 and standard retries; path-style addressing for custom endpoints."""
    session = session if session is not None else boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        config=aws_config(path_style=endpoint_url is not None, max_pool_connections=max_pool_connections),
    )


@attrs.frozen
class PresignedPost:
    """A form a browser POSTs straight to S3: ``url`` plus ``fields`` to send before the file field."""

    url: str
    fields: dict[str, str]
    expires_at: datetime


class S3MediaStorage:
    """MediaStorage on one bucket, under an optional key prefix.

    Every write is a single PUT or a multipart upload completed at the end, so readers only ever
    see whole objects: S3 makes an object visible when its PUT or CompleteMultipartUpload succeeds.
    A failed multipart upload is aborted by the transfer manager; one orphaned by a killed process
    is removed by ``abort_stale_multipart_uploads`` (and by the bucket's lifecycle rule that
    ``provision`` installs).
    """

    def __init__(
        self,
        bucket: str,
        *,
        client_factory: Callable[[], Any] | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        prefix: str = "",
        sse: str | None = "AES256",
        kms_key_id: str | None = None,
        multipart_threshold: int = 8 * MiB,
        multipart_chunksize: int = 8 * MiB,
        max_concurrency: int = 4,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 bucket name is required")
        if client_factory is not None and (endpoint_url is not None or region is not None):
            raise ValueError("pass either client_factory or endpoint_url/region, not both")
        if sse is not None and sse not in _SSE_ALGORITHMS:
            raise ValueError(f"sse must be one of {sorted(_SSE_ALGORITHMS)} or None, got {sse!r}")
        if kms_key_id is not None and (sse is None or not sse.startswith("aws:kms")):
            raise ValueError("kms_key_id needs sse='aws:kms' or 'aws:kms:dsse'")
        if multipart_chunksize < _MIN_PART_BYTES:
            raise ValueError(f"multipart_chunksize must be at least {_MIN_PART_BYTES} bytes (S3's minimum)")
        stripped = prefix.rstrip("/")
        self._root = f"{check_media_key(stripped, what='prefix')}/" if stripped else ""
        self._bucket = bucket
        self._sse = sse
        self._kms_key_id = kms_key_id
        self._factory = client_factory or (
            lambda: make_s3_client(
                endpoint_url=endpoint_url, region=region, max_pool_connections=max_concurrency + 6
            )
        )
        self._client: Any | None = None
        self._client_lock = threading.Lock()
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=max_concurrency,
        )

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use: constructing the storage never touches the network."""
        with self._client_lock:
            if self._client is None:
                self._client = self._factory()
            return self._client

    def object_key(self, key: str) -> str:
        """The S3 key holding ``key``; InvalidInput if the key is unsafe or too long with the prefix."""
        s3_key = self._root + check_media_key(key)
        if len(s3_key.encode()) > MAX_MEDIA_KEY_BYTES:
            raise InvalidInput(
                f"key is longer than {MAX_MEDIA_KEY_BYTES} bytes with the prefix {self._root!r}"
            )
        return s3_key

    def _folder(self, prefix: str) -> str:
        stripped = prefix.rstrip("/")
        if not stripped:
            return self._root
        return f"{self._root}{check_media_key(stripped, what='prefix')}/"

    def _put_args(self, key: str, content_type: str) -> dict[str, str]:
        args = {"ContentType": content_type, "CacheControl": cache_control_for(key)}
        if self._sse is not None:
            args["ServerSideEncryption"] = self._sse
        if self._kms_key_id is not None:
            args["SSEKMSKeyId"] = self._kms_key_id
        return args

    # --- MediaStorage -------------------------------------------------------------------------

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        s3_key = self.object_key(key)
        with translated():
            self.client.upload_file(
                str(source),
                self._bucket,
                s3_key,
                ExtraArgs=self._put_args(key, content_type),
                Config=self._transfer,
            )

    def put_stream(self, key: str, reader: Readable, content_type: str) -> None:
        """Upload from a file object without knowing its size first (a request body, say)."""
        s3_key = self.object_key(key)
        with translated():
            self.client.upload_fileobj(
                reader,
                self._bucket,
                s3_key,
                ExtraArgs=self._put_args(key, content_type),
                Config=self._transfer,
            )

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        s3_key = self.object_key(key)
        with translated():
            self.client.put_object(
                Bucket=self._bucket, Key=s3_key, Body=data, **self._put_args(key, content_type)
            )

    def get_bytes(self, key: str) -> bytes:
        s3_key = self.object_key(key)
        with translated(key):
            response = self.client.get_object(Bucket=self._bucket, Key=s3_key)
            body: bytes = response["Body"].read()
        return body

    def download(self, key: str, target: Path) -> None:
        # The transfer manager writes beside the target and renames, so a failure leaves it as it was.
        s3_key = self.object_key(key)
        with translated(key):
            self.client.download_file(self._bucket, s3_key, str(target), Config=self._transfer)

    def exists(self, key: str) -> bool:
        s3_key = self.object_key(key)
        try:
            with translated(key):
                self.client.head_object(Bucket=self._bucket, Key=s3_key)
        except NotFound:
            return False
        return True

    def list_keys(self, prefix: str) -> Iterator[str]:
        # A list, not a lazy walk: the prefix is checked at once, as the other adapters do.
        folder = self._folder(prefix)
        return iter(sorted(self._iter_keys(folder)))

    def delete_prefix(self, prefix: str) -> int:
        folder = self._folder(prefix)
        deleted = 0
        paginator = self.client.get_paginator("list_objects_v2")
        with translated():
            for page in paginator.paginate(Bucket=self._bucket, Prefix=folder):
                keys = [item["Key"] for item in page.get("Contents", [])]
                for start in range(0, len(keys), _DELETE_BATCH):
                    deleted += self._delete_batch(keys[start : start + _DELETE_BATCH])
        return deleted

    # --- beyond the port ----------------------------------------------------------------------

    def abort_stale_multipart_uploads(self, older_than: timedelta, *, now: datetime | None = None) -> int:
        """Abort multipart uploads under this storage's prefix started before ``now - older_than``.

        Uploads still in progress are younger than any sensible ``older_than`` (an hour, say), so
        only the leftovers of crashed or killed writers go. Returns how many were aborted.
        """
        cutoff = require_aware(now or datetime.now(UTC)) - older_than
        aborted = 0
        paginator = self.client.get_paginator("list_multipart_uploads")
        with translated():
            for page in paginator.paginate(Bucket=self._bucket, Prefix=self._root):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] <= cutoff and self._abort(upload["Key"], upload["UploadId"]):
                        aborted += 1
        return aborted

    def presigned_post(
        self,
        key: str,
        *,
        max_bytes: int,
        content_type: str,
        expires_in: timedelta = timedelta(minutes=15),
        now: datetime | None = None,
    ) -> PresignedPost:
        """A form for a direct browser upload of at most ``max_bytes`` of exactly ``content_type``.

        S3 enforces the policy's conditions: the size range, the content type, and the headers
        this storage always sets (Cache-Control, server-side encryption).
        """
        if max_bytes < 1:
            raise InvalidInput("max_bytes must be positive")
        if not content_type or "\n" in content_type:
            raise InvalidInput("a content type is required")
        if not timedelta(seconds=1) <= expires_in <= _MAX_PRESIGN:
            raise InvalidInput("a presigned upload lives between 1 second and 7 days")
        s3_key = self.object_key(key)
        fields = {"Content-Type": content_type, "Cache-Control": cache_control_for(key)}
        if self._sse is not None:
            fields["x-amz-server-side-encryption"] = self._sse
        if self._kms_key_id is not None:
            fields["x-amz-server-side-encryption-aws-kms-key-id"] = self._kms_key_id
        conditions: list[Any] = [["content-length-range", 1, max_bytes]]
        conditions.extend({name: value} for name, value in fields.items())
        issued = require_aware(now or datetime.now(UTC))
        with translated():
            form = self.client.generate_presigned_post(
                Bucket=self._bucket,
                Key=s3_key,
                Fields=fields,
                Conditions=conditions,
                ExpiresIn=int(expires_in.total_seconds()),
            )
        return PresignedPost(
            url=str(form["url"]),
            fields={str(name): str(value) for name, value in form["fields"].items()},
            expires_at=issued + expires_in,
        )

    # --- helpers ------------------------------------------------------------------------------

    def _iter_keys(self, folder: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        with translated():
            for page in paginator.paginate(Bucket=self._bucket, Prefix=folder):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self._root) :]

    def _delete_batch(self, keys: list[str]) -> int:
        if not keys:
            return 0
        response = self.client.delete_objects(
            Bucket=self._bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise ServiceUnavailable(
                f"S3 kept {len(errors)} of {len(keys)} objects: {first.get('Key')!r}: {first.get('Code')}",
            )
        return len(keys)

    def _abort(self, s3_key: str, upload_id: str) -> bool:
        try:
            self.client.abort_multipart_upload(Bucket=self._bucket, Key=s3_key, UploadId=upload_id)
        except ClientError as error:
            if error_code(error) == "NoSuchUpload":  # completed or aborted meanwhile
                return False
            raise
        return True
