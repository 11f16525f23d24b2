"""S3MediaStorage against S3 served by moto in server mode on a free loopback port.

The media-storage contract runs twice (bucket root and a key prefix); the rest checks what only
S3 promises: multipart for large files, headers per object kind, cleanup of interrupted uploads
and presigned browser uploads.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from musicconnect.adapters.s3 import S3MediaStorage, make_s3_client
from musicconnect.adapters.s3.storage import (
    ORIGINAL_CACHE_CONTROL,
    OTHER_CACHE_CONTROL,
    PLAYLIST_CACHE_CONTROL,
    SEGMENT_CACHE_CONTROL,
)
from musicconnect.domain.errors import InvalidInput, ServiceUnavailable
from musicconnect.ports.media import MediaStorage
from tests.contract.media_contract import MediaStorageContract
from tests.support.moto_s3 import endpoint_url, moto_server

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
REGION = "us-east-1"
REPO_ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def _session() -> Any:
    # One session: each new one would load the S3 service model from disk again.
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = moto_server(tmp_path_factory.mktemp("moto-s3"))
    try:
        yield endpoint_url(server)
    finally:
        server.stop()


@functools.cache
def _admin(endpoint: str) -> Any:
    return make_s3_client(endpoint_url=endpoint, region=REGION, session=_session())


def _new_bucket(endpoint: str) -> str:
    name = f"media-{uuid.uuid4().hex[:20]}"
    _admin(endpoint).create_bucket(Bucket=name)
    return name


def _storage(endpoint: str, bucket: str, **options: Any) -> S3MediaStorage:
    return S3MediaStorage(
        bucket,
        client_factory=lambda: make_s3_client(endpoint_url=endpoint, region=REGION, session=_session()),
        **options,
    )


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    return _new_bucket(s3_endpoint)


@pytest.fixture
def raw(s3_endpoint: str) -> Any:
    """A plain client to look at the bucket behind the storage's back."""
    return _admin(s3_endpoint)


class TestS3MediaStorage(MediaStorageContract):
    prefix = ""

    @pytest.fixture(autouse=True)
    def _on_moto(self, s3_endpoint: str) -> None:
        self.endpoint = s3_endpoint

    def make_storage(self, tmp_path: Path) -> MediaStorage:
        return _storage(self.endpoint, _new_bucket(self.endpoint), prefix=self.prefix)


class TestS3MediaStorageUnderAPrefix(TestS3MediaStorage):
    """The same contract with every key stored below ``media/`` (the CDN path layout)."""

    prefix = "media"


# --- multipart -----------------------------------------------------------------------------------


class _CallLog:
    """Records the S3 operations a client makes (botocore's event hooks, nothing patched)."""

    def __init__(self, client: Any) -> None:
        self.calls: list[str] = []
        client.meta.events.register("before-parameter-build.s3", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)


def test_a_large_file_goes_through_multipart_upload(
    bucket: str, s3_endpoint: str, raw: Any, tmp_path: Path
) -> None:
    """A 20 MiB file above the 8 MiB threshold is sent as three parts, then completed once."""
    storage = _storage(s3_endpoint, bucket)
    log = _CallLog(storage.client)
    source = tmp_path / "original"
    data = os.urandom(20 * MiB)
    source.write_bytes(data)
    storage.put_file("artists/a/tracks/t/original", source, "application/octet-stream")
    assert log.calls.count("CreateMultipartUpload") == 1
    assert log.calls.count("UploadPart") == 3
    assert log.calls.count("CompleteMultipartUpload") == 1
    assert "PutObject" not in log.calls
    head = raw.head_object(Bucket=bucket, Key="artists/a/tracks/t/original")
    assert head["ETag"].strip('"').endswith("-3"), "S3 gives multipart objects an ETag ending in -<parts>"
    assert (
        hashlib.sha256(storage.get_bytes("artists/a/tracks/t/original")).digest()
        == hashlib.sha256(data).digest()
    )


def test_a_small_file_is_one_put(bucket: str, s3_endpoint: str, tmp_path: Path) -> None:
    """Below the threshold put_file makes a single PutObject and no multipart upload."""
    storage = _storage(s3_endpoint, bucket)
    log = _CallLog(storage.client)
    source = tmp_path / "segment_00001.m4s"
    source.write_bytes(b"s" * 4096)
    storage.put_file("t/hls/128k/segment_00001.m4s", source, "audio/mp4")
    assert log.calls == ["PutObject"]


# --- headers per object kind ---------------------------------------------------------------------


KINDS = [
    ("hls/128k/segment_00001.m4s", "audio/mp4", SEGMENT_CACHE_CONTROL),
    ("hls/128k/init_0.mp4", "audio/mp4", SEGMENT_CACHE_CONTROL),
    ("hls/128k/index.m3u8", "application/vnd.apple.mpegurl", PLAYLIST_CACHE_CONTROL),
    ("hls/master.m3u8", "application/vnd.apple.mpegurl", PLAYLIST_CACHE_CONTROL),
    ("hls/peaks.json", "application/json", OTHER_CACHE_CONTROL),
    ("original", "audio/wav", ORIGINAL_CACHE_CONTROL),
]


@pytest.mark.parametrize("kind", KINDS, ids=[name for name, _, _ in KINDS])
def test_each_kind_of_object_gets_its_headers(
    bucket: str, s3_endpoint: str, raw: Any, tmp_path: Path, kind: tuple[str, str, str]
) -> None:
    """Type from the caller, Cache-Control from the kind, SSE from the storage; by put_file and put_bytes."""
    name, content_type, cache_control = kind
    storage = _storage(s3_endpoint, bucket, prefix="media")
    source = tmp_path / "body"
    source.write_bytes(b"x" * 1024)
    storage.put_file(f"artists/a/tracks/t/{name}", source, content_type)
    storage.put_bytes(f"artists/a/tracks/t2/{name}", b"y", content_type)
    for track in ("t", "t2"):
        head = raw.head_object(Bucket=bucket, Key=f"media/artists/a/tracks/{track}/{name}")
        assert head["ContentType"] == content_type
        assert head["CacheControl"] == cache_control
        assert head["ServerSideEncryption"] == "AES256"


def test_a_multipart_original_carries_its_headers(
    bucket: str, s3_endpoint: str, raw: Any, tmp_path: Path
) -> None:
    """Headers given to a multipart upload end up on the completed object."""
    storage = _storage(s3_endpoint, bucket, multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    source = tmp_path / "original"
    source.write_bytes(b"o" * (11 * MiB))
    storage.put_file("artists/a/tracks/t/original", source, "audio/flac")
    head = raw.head_object(Bucket=bucket, Key="artists/a/tracks/t/original")
    assert head["ETag"].strip('"').endswith("-3")
    assert (head["ContentType"], head["CacheControl"], head["ServerSideEncryption"]) == (
        "audio/flac",
        ORIGINAL_CACHE_CONTROL,
        "AES256",
    )


def test_kms_encryption_names_its_key(bucket: str, s3_endpoint: str, raw: Any) -> None:
    """sse='aws:kms' with a key id stores objects encrypted under that key."""
    storage = _storage(s3_endpoint, bucket, sse="aws:kms", kms_key_id="alias/musicconnect-media")
    storage.put_bytes("k.m4s", b"x", "audio/mp4")
    head = raw.head_object(Bucket=bucket, Key="k.m4s")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == "alias/musicconnect-media"


def test_encryption_can_be_left_to_the_bucket(bucket: str, s3_endpoint: str, raw: Any) -> None:
    """sse=None sends no encryption header, leaving the bucket's default to apply."""
    storage = _storage(s3_endpoint, bucket, sse=None)
    sent: list[dict[str, Any]] = []
    storage.client.meta.events.register(
        "provide-client-params.s3.PutObject", lambda params, **_: sent.append(dict(params))
    )
    storage.put_bytes("k.m4s", b"x", "audio/mp4")
    assert len(sent) == 1
    assert "ServerSideEncryption" not in sent[0]
    assert "ServerSideEncryption" not in raw.head_object(Bucket=bucket, Key="k.m4s")


# --- interrupted uploads -------------------------------------------------------------------------


class _BreaksHalfWay:
    """A request body that fails after ``limit`` bytes, as a dropped client connection does."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent = 0

    def read(self, size: int = -1) -> bytes:
        size = MiB if size is None or size < 0 else size
        if self.sent + size > self.limit:
            raise OSError("connection reset by peer")
        self.sent += size
        return b"\x00" * size


def test_an_upload_failing_half_way_leaves_the_old_object_and_no_multipart_upload(
    bucket: str, s3_endpoint: str, raw: Any
) -> None:
    """A stream breaking after 12 MiB: readers still see the old bytes, no upload is left behind."""
    storage = _storage(s3_endpoint, bucket)
    storage.put_bytes("t/original", b"old", "audio/wav")
    with pytest.raises(OSError, match="connection reset"):
        storage.put_stream("t/original", _BreaksHalfWay(12 * MiB), "audio/wav")
    assert storage.get_bytes("t/original") == b"old"
    assert list(storage.list_keys("t")) == ["t/original"]
    assert raw.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert storage.abort_stale_multipart_uploads(timedelta(0)) == 0


#: Runs in a child process: starts a multipart upload and is SIGKILLed once a part is stored.
_KILLED_WRITER = """
import os, signal, sys, time
import boto3
from musicconnect.adapters.s3 import S3MediaStorage, make_s3_client

endpoint, bucket, key = sys.argv[1:4]
session = boto3.session.Session(
    aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
)
client = make_s3_client(endpoint_url=endpoint, session=session)
storage = S3MediaStorage(bucket, client_factory=lambda: client, max_concurrency=2)


class DiesHalfWay:
    sent = 0

    def read(self, size=-1):
        if self.sent >= 16 * 2**20:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
                if uploads and client.list_parts(
                    Bucket=bucket, Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"]
                ).get("Parts"):
                    break
                time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGKILL)
        size = 2**20 if size is None or size < 0 else size
        self.sent += size
        return b"\\0" * size


storage.put_stream(key, DiesHalfWay(), "application/octet-stream")
"""


def test_a_killed_writer_leaves_no_object_and_cleanup_aborts_its_upload(
    bucket: str, s3_endpoint: str, raw: Any
) -> None:
    """A writer killed mid-multipart leaves an invisible upload; only the stale-upload cleanup removes it."""
    writer = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, s3_endpoint, bucket, "artists/a/tracks/t/original"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert writer.returncode == -9, writer.stderr.decode(errors="replace")[-2000:]
    storage = _storage(s3_endpoint, bucket)
    assert not storage.exists("artists/a/tracks/t/original")
    assert list(storage.list_keys("")) == []
    (orphan,) = raw.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert raw.list_parts(Bucket=bucket, Key=orphan["Key"], UploadId=orphan["UploadId"])["Parts"]

    started = orphan["Initiated"]
    assert _storage(s3_endpoint, bucket, prefix="elsewhere").abort_stale_multipart_uploads(timedelta(0)) == 0
    assert storage.abort_stale_multipart_uploads(timedelta(hours=1), now=started + timedelta(minutes=30)) == 0
    assert len(raw.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1
    assert storage.abort_stale_multipart_uploads(timedelta(hours=1), now=started + timedelta(hours=2)) == 1
    assert raw.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


# --- presigned browser uploads -------------------------------------------------------------------


def test_presigned_post_limits_size_and_content_type(bucket: str, s3_endpoint: str) -> None:
    """The signed SigV4 policy pins the key, a 1..max_bytes size range, the type and the storage's headers."""
    storage = _storage(s3_endpoint, bucket, prefix="media")
    now = datetime.now(UTC).replace(microsecond=0)
    form = storage.presigned_post(
        "uploads/a/u1/original",
        max_bytes=200 * MiB,
        content_type="audio/wav",
        expires_in=timedelta(minutes=10),
        now=now,
    )
    policy = json.loads(base64.b64decode(form.fields["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, 200 * MiB] in conditions
    assert {"Content-Type": "audio/wav"} in conditions
    assert {"key": "media/uploads/a/u1/original"} in conditions
    assert {"bucket": bucket} in conditions
    assert {"Cache-Control": ORIGINAL_CACHE_CONTROL} in conditions
    assert {"x-amz-server-side-encryption": "AES256"} in conditions
    assert {"x-amz-algorithm": "AWS4-HMAC-SHA256"} in conditions
    assert form.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert form.fields["Content-Type"] == "audio/wav"
    expiration = datetime.fromisoformat(policy["expiration"])
    assert abs(expiration - (now + timedelta(minutes=10))) <= timedelta(seconds=5)
    assert form.expires_at == now + timedelta(minutes=10)


def test_a_browser_upload_with_the_form_lands_under_the_key(bucket: str, s3_endpoint: str) -> None:
    """POSTing the form's fields and a file stores it with the signed content type and headers."""
    storage = _storage(s3_endpoint, bucket)
    form = storage.presigned_post("uploads/u1/original", max_bytes=MiB, content_type="audio/wav")
    response = httpx.post(
        form.url, data=form.fields, files={"file": ("take.wav", b"RIFF....WAVE", "audio/wav")}
    )
    assert response.status_code in {200, 201, 204}, response.text
    assert storage.get_bytes("uploads/u1/original") == b"RIFF....WAVE"
    head = storage.client.head_object(Bucket=bucket, Key="uploads/u1/original")
    assert (head["ContentType"], head["CacheControl"]) == ("audio/wav", ORIGINAL_CACHE_CONTROL)


@pytest.mark.parametrize(
    "options",
    [
        {"max_bytes": 0, "content_type": "audio/wav"},
        {"max_bytes": 10, "content_type": ""},
        {"max_bytes": 10, "content_type": "audio/wav", "expires_in": timedelta(days=8)},
    ],
)
def test_presigned_post_refuses_impossible_limits(
    bucket: str, s3_endpoint: str, options: dict[str, Any]
) -> None:
    """No size limit, no content type, or a lifetime beyond SigV4's week are refused."""
    with pytest.raises(InvalidInput):
        _storage(s3_endpoint, bucket).presigned_post("uploads/u1/original", **options)


# --- listing, deleting, prefixes, faults ---------------------------------------------------------


def test_delete_prefix_works_through_more_than_one_batch(bucket: str, s3_endpoint: str, raw: Any) -> None:
    """1001 objects take two listing pages and two DeleteObjects calls of at most 1000 keys."""
    from concurrent.futures import ThreadPoolExecutor

    storage = _storage(s3_endpoint, bucket)
    keys = [f"t/hls/128k/segment_{n:05d}.m4s" for n in range(1001)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda key: raw.put_object(Bucket=bucket, Key=key, Body=b"s"), keys))
    raw.put_object(Bucket=bucket, Key="t2/keep", Body=b"k")
    batches: list[int] = []
    storage.client.meta.events.register(
        "provide-client-params.s3.DeleteObjects",
        lambda params, **_: batches.append(len(params["Delete"]["Objects"])),
    )
    assert storage.delete_prefix("t") == 1001
    assert sorted(batches) == [1, 1000]
    assert list(storage.list_keys("")) == ["t2/keep"]


def test_a_prefixed_storage_never_touches_keys_outside_its_prefix(
    bucket: str, s3_endpoint: str, raw: Any
) -> None:
    """Under prefix 'media', listing and deleting everything leaves media2/ and the bucket root alone."""
    for key in ("media/a/1", "media2/a/1", "a/1", "mediax"):
        raw.put_object(Bucket=bucket, Key=key, Body=b"x")
    storage = _storage(s3_endpoint, bucket, prefix="media/")
    assert list(storage.list_keys("")) == ["a/1"]
    assert storage.get_bytes("a/1") == b"x"
    assert storage.delete_prefix("") == 1
    remaining = sorted(item["Key"] for item in raw.list_objects_v2(Bucket=bucket)["Contents"])
    assert remaining == ["a/1", "media2/a/1", "mediax"]


@pytest.mark.parametrize("prefix", ["../neighbour", "a/../../x", "/abs", "a\\b"])
def test_unsafe_prefixes_are_refused_before_any_request(bucket: str, s3_endpoint: str, prefix: str) -> None:
    """list_keys and delete_prefix refuse a prefix that climbs out, without calling S3."""
    storage = _storage(s3_endpoint, bucket)
    log = _CallLog(storage.client)
    with pytest.raises(InvalidInput):
        storage.list_keys(prefix)
    with pytest.raises(InvalidInput):
        storage.delete_prefix(prefix)
    with pytest.raises(InvalidInput):
        S3MediaStorage(bucket, prefix=prefix)
    assert log.calls == []


def test_a_key_too_long_once_prefixed_is_refused(bucket: str, s3_endpoint: str) -> None:
    """S3 keys stop at 1024 bytes: a key that fits alone but not below the prefix is InvalidInput."""
    storage = _storage(s3_endpoint, bucket, prefix="media")
    storage.put_bytes("k" * 1018, b"x", "application/octet-stream")
    with pytest.raises(InvalidInput):
        storage.put_bytes("k" * 1019, b"x", "application/octet-stream")


def test_credentials_and_region_come_from_the_environment(
    bucket: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With only endpoint_url, boto3 finds credentials the standard way (here AWS_* variables)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    storage = S3MediaStorage(bucket, endpoint_url=s3_endpoint)
    storage.put_bytes("k", b"v", "application/octet-stream")
    assert storage.get_bytes("k") == b"v"
    assert storage.client.meta.config.signature_version == "s3v4"
    assert storage.client.meta.config.retries["mode"] == "standard"


def test_an_unreachable_endpoint_is_service_unavailable(tmp_path: Path) -> None:
    """Nothing connects at construction; the first call to a dead endpoint raises ServiceUnavailable."""
    from tests.support.servers import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    storage = S3MediaStorage(
        "media-bucket",
        client_factory=lambda: make_s3_client(endpoint_url=dead, region=REGION, session=_session()),
    )
    with pytest.raises(ServiceUnavailable):
        storage.get_bytes("k")
    with pytest.raises(ServiceUnavailable):
        storage.put_bytes("k", b"v", "application/octet-stream")


@pytest.mark.parametrize(
    "options",
    [
        {"sse": "rot13"},
        {"sse": "AES256", "kms_key_id": "alias/x"},
        {"multipart_chunksize": MiB},
        {"client_factory": object, "endpoint_url": "http://x"},
    ],
)
def test_impossible_configurations_are_refused(options: dict[str, Any]) -> None:
    """Unknown SSE, a KMS key without KMS, parts below S3's 5 MiB minimum, or two ways to connect."""
    with pytest.raises(ValueError):  # noqa: PT011 - each message is specific; the option is what matters
        S3MediaStorage("media-bucket", **options)
