"""What every MediaStorage and UrlSigner adapter must do, fake or real.

Subclass a contract as ``Test<Adapter>`` and implement its factory hook; pytest collects the
inherited tests for each adapter.
"""

from __future__ import annotations

import hashlib
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from musicconnect.domain.errors import InvalidInput, NotFound, SignatureInvalid, UrlExpired
from musicconnect.ports.media import MediaStorage, UrlSigner

UNSAFE_KEYS = [
    "",
    "../escape",
    "a/../../escape",
    "a/..",
    "/etc/passwd",
    "a\\..\\..\\escape",
    "a\x00b",
    "a//b",
    "./a",
    "a/b/",
]


class MediaStorageContract:
    """Bytes by key; a key is visible only once completely written."""

    def make_storage(self, tmp_path: Path) -> MediaStorage:
        """A new, empty storage; ``tmp_path`` is a fresh folder it may use."""
        raise NotImplementedError

    @pytest.fixture
    def storage(self, tmp_path: Path) -> MediaStorage:
        return self.make_storage(tmp_path / "storage")

    @pytest.fixture
    def workdir(self, tmp_path: Path) -> Path:
        folder = tmp_path / "work"
        folder.mkdir()
        return folder

    def test_bytes_round_trip(self, storage: MediaStorage) -> None:
        """put_bytes then get_bytes returns exactly what was stored."""
        storage.put_bytes(
            "artists/a1/tracks/t1/hls/master.m3u8", b"#EXTM3U\n", "application/vnd.apple.mpegurl"
        )
        assert storage.get_bytes("artists/a1/tracks/t1/hls/master.m3u8") == b"#EXTM3U\n"

    def test_empty_object_round_trip(self, storage: MediaStorage) -> None:
        """An empty object exists and reads back empty."""
        storage.put_bytes("empty", b"", "application/octet-stream")
        assert storage.exists("empty")
        assert storage.get_bytes("empty") == b""

    def test_key_with_spaces_and_unicode_round_trip(self, storage: MediaStorage) -> None:
        """Keys are text: spaces and non-ASCII characters are kept as they are."""
        storage.put_bytes("artists/Björk Guðmundsdóttir/a track.bin", b"\x00\xff", "audio/mp4")
        assert storage.get_bytes("artists/Björk Guðmundsdóttir/a track.bin") == b"\x00\xff"
        assert list(storage.list_keys("artists")) == ["artists/Björk Guðmundsdóttir/a track.bin"]

    def test_file_round_trip(self, storage: MediaStorage, workdir: Path) -> None:
        """put_file stores the file's bytes under the key."""
        source = workdir / "segment.m4s"
        source.write_bytes(b"segment bytes" * 100)
        storage.put_file("t/128k/segment_00001.m4s", source, "audio/mp4")
        assert storage.get_bytes("t/128k/segment_00001.m4s") == b"segment bytes" * 100

    def test_large_file_round_trip(self, storage: MediaStorage, workdir: Path) -> None:
        """A 20 MB upload survives put_file and download byte for byte."""
        source = workdir / "original"
        data = os.urandom(20 * 1024 * 1024)
        source.write_bytes(data)
        storage.put_file("t/original", source, "application/octet-stream")
        target = workdir / "copy"
        storage.download("t/original", target)
        assert target.stat().st_size == len(data)
        assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest()

    def test_download_writes_the_object_to_a_path(self, storage: MediaStorage, workdir: Path) -> None:
        """download copies the object into a local file, replacing what was there."""
        storage.put_bytes("k", b"fresh", "application/octet-stream")
        target = workdir / "out.bin"
        target.write_bytes(b"stale and longer")
        storage.download("k", target)
        assert target.read_bytes() == b"fresh"

    def test_missing_key_is_not_found(self, storage: MediaStorage, workdir: Path) -> None:
        """get_bytes and download of a missing key raise NotFound and write nothing."""
        with pytest.raises(NotFound):
            storage.get_bytes("missing/key")
        with pytest.raises(NotFound):
            storage.download("missing/key", workdir / "never")
        assert not (workdir / "never").exists()

    def test_a_folder_is_not_an_object(self, storage: MediaStorage) -> None:
        """A prefix that only holds other keys is not itself a key."""
        storage.put_bytes("a/b/c", b"x", "application/octet-stream")
        assert not storage.exists("a/b")
        with pytest.raises(NotFound):
            storage.get_bytes("a/b")

    def test_exists(self, storage: MediaStorage) -> None:
        """exists is true only for stored keys."""
        assert not storage.exists("a/key")
        storage.put_bytes("a/key", b"x", "application/octet-stream")
        assert storage.exists("a/key")
        assert not storage.exists("a/key2")

    def test_list_keys_under_a_prefix_is_sorted_and_skips_neighbours(self, storage: MediaStorage) -> None:
        """A prefix is a folder: 'a/b' lists a/b/... sorted, never a/bc/... or a/c."""
        for key in ["a/b/2", "a/b/1", "a/b/c/3", "a/bc/x", "a/c", "z"]:
            storage.put_bytes(key, key.encode(), "application/octet-stream")
        assert list(storage.list_keys("a/b")) == ["a/b/1", "a/b/2", "a/b/c/3"]
        assert list(storage.list_keys("a/b/")) == ["a/b/1", "a/b/2", "a/b/c/3"]
        assert list(storage.list_keys("a")) == ["a/b/1", "a/b/2", "a/b/c/3", "a/bc/x", "a/c"]
        assert list(storage.list_keys("")) == ["a/b/1", "a/b/2", "a/b/c/3", "a/bc/x", "a/c", "z"]
        assert list(storage.list_keys("nothing/here")) == []

    def test_delete_prefix_returns_the_count_and_spares_neighbours(self, storage: MediaStorage) -> None:
        """delete_prefix removes every key under the folder and nothing beside it."""
        for key in ["a/b/1", "a/b/2", "a/b/c/3", "a/bc/x", "a/c"]:
            storage.put_bytes(key, b"x", "application/octet-stream")
        assert storage.delete_prefix("a/b") == 3
        assert list(storage.list_keys("a/b")) == []
        assert not storage.exists("a/b/1")
        assert list(storage.list_keys("a")) == ["a/bc/x", "a/c"]
        assert storage.delete_prefix("a/b") == 0

    def test_a_deleted_prefix_can_be_written_again(self, storage: MediaStorage) -> None:
        """After delete_prefix the same keys can be stored afresh."""
        storage.put_bytes("t/hls/master.m3u8", b"old", "application/vnd.apple.mpegurl")
        storage.delete_prefix("t")
        storage.put_bytes("t/hls/master.m3u8", b"new", "application/vnd.apple.mpegurl")
        assert storage.get_bytes("t/hls/master.m3u8") == b"new"

    def test_overwrite_replaces_the_whole_content(self, storage: MediaStorage, workdir: Path) -> None:
        """A shorter overwrite leaves no tail of the longer old content."""
        storage.put_bytes("k", b"x" * 10_000, "application/octet-stream")
        storage.put_bytes("k", b"short", "application/octet-stream")
        assert storage.get_bytes("k") == b"short"
        source = workdir / "shorter"
        source.write_bytes(b"s")
        storage.put_file("k", source, "application/octet-stream")
        assert storage.get_bytes("k") == b"s"
        assert list(storage.list_keys("")) == ["k"]

    @pytest.mark.parametrize("key", UNSAFE_KEYS)
    def test_unsafe_keys_are_refused(self, storage: MediaStorage, key: str) -> None:
        """Keys that are empty, absolute, climb with '..', or hold backslashes or NUL are refused."""
        with pytest.raises(InvalidInput):
            storage.put_bytes(key, b"x", "application/octet-stream")
        with pytest.raises(InvalidInput):
            storage.get_bytes(key)

    def test_a_reader_never_sees_a_partial_object(self, storage: MediaStorage) -> None:
        """While a writer keeps overwriting a key, every read returns one whole version."""
        versions = (b"a" * 512 * 1024, b"b" * 384 * 1024)
        storage.put_bytes("hot/key", versions[0], "application/octet-stream")
        writing = threading.Event()
        writing.set()

        def write() -> None:
            try:
                for round_ in range(40):
                    storage.put_bytes("hot/key", versions[round_ % 2], "application/octet-stream")
            finally:
                writing.clear()

        writer = threading.Thread(target=write)
        writer.start()
        reads = 0
        torn: list[int] = []
        while writing.is_set() or reads < 10:
            data = storage.get_bytes("hot/key")
            if data not in versions:
                torn.append(len(data))
            reads += 1
        writer.join()
        assert torn == [], f"{len(torn)} of {reads} reads saw a partial object"


#: A fixed instant well ahead of any clock the tests pass explicitly.
EXPIRES_AT = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
PATH = "/media/artists/a1/tracks/t1/hls/128k/segment_00001.m4s"


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def _altered(value: str) -> str:
    return value[:-1] + ("B" if value[-1:] == "A" else "A")


class UrlSignerContract:
    """Signed URLs that grant one subject access to one path until they expire."""

    def make_signer(self) -> UrlSigner:
        raise NotImplementedError

    def make_other_signer(self) -> UrlSigner:
        """A signer of the same kind with a different key."""
        raise NotImplementedError

    @pytest.fixture
    def signer(self) -> UrlSigner:
        return self.make_signer()

    @pytest.fixture
    def before_expiry(self) -> datetime:
        return EXPIRES_AT - timedelta(seconds=1)

    def test_verify_returns_the_subject(self, signer: UrlSigner, before_expiry: datetime) -> None:
        """A URL signed for a subject verifies as that subject before it expires."""
        url = signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT)
        assert signer.verify(PATH, _query(url), now=before_expiry) == "fan-1"

    def test_the_url_points_at_the_path(self, signer: UrlSigner) -> None:
        """The URL's path, decoded, is the signed path (perhaps below a base)."""
        url = signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT)
        assert unquote(urlsplit(url).path).endswith(PATH)

    def test_paths_that_need_quoting_survive(self, signer: UrlSigner, before_expiry: datetime) -> None:
        """A path with spaces and non-ASCII yields a valid URL that verifies once decoded."""
        path = "/media/artists/Sigur Rós/tracks/t1/hls/128k/init_0.mp4"
        url = signer.sign(path, subject="fan-1", expires_at=EXPIRES_AT)
        assert " " not in url
        assert url.isascii()
        decoded_path = unquote(urlsplit(url).path)
        assert decoded_path.endswith(path)
        assert signer.verify(path, _query(url), now=before_expiry) == "fan-1"

    def test_another_path_is_refused(self, signer: UrlSigner, before_expiry: datetime) -> None:
        """A signature for one rung's file opens no other rung, no other track and nothing above it.

        (A signer may grant the rest of the rung's own folder, as CloudFront policies for HLS do.)
        """
        query = _query(signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT))
        hls_folder = PATH.rsplit("/", 2)[0]
        for other in (
            PATH.replace("128k", "320k"),
            PATH.replace("128k", "256k"),
            PATH.replace("/tracks/t1/", "/tracks/t2/"),
            f"{hls_folder}/master.m3u8",
        ):
            with pytest.raises(SignatureInvalid):
                signer.verify(other, query, now=before_expiry)

    def test_every_tampered_parameter_is_refused(self, signer: UrlSigner, before_expiry: datetime) -> None:
        """Changing any query parameter (expiry, subject, signature, ...) breaks the signature."""
        query = _query(signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT))
        assert query
        for name, value in query.items():
            for forged in (_altered(value), value + "0", ""):
                with pytest.raises(SignatureInvalid):
                    signer.verify(PATH, {**query, name: forged}, now=before_expiry)

    def test_every_missing_parameter_is_refused(self, signer: UrlSigner, before_expiry: datetime) -> None:
        """Dropping any query parameter is refused, and so is a bare path."""
        query = _query(signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT))
        for name in query:
            with pytest.raises(SignatureInvalid):
                signer.verify(PATH, {k: v for k, v in query.items() if k != name}, now=before_expiry)
        with pytest.raises(SignatureInvalid):
            signer.verify(PATH, {}, now=before_expiry)

    def test_a_subject_cannot_borrow_another_subjects_signature(
        self, signer: UrlSigner, before_expiry: datetime
    ) -> None:
        """Parameters from two signed URLs cannot be mixed."""
        first = _query(signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT))
        second = _query(signer.sign(PATH, subject="fan-2", expires_at=EXPIRES_AT + timedelta(hours=1)))
        for name in first:
            mixed = {**first, name: second[name]} if name in second else first
            if mixed != first:
                with pytest.raises(SignatureInvalid):
                    signer.verify(PATH, mixed, now=before_expiry)

    def test_expired_url_is_refused_as_expired(self, signer: UrlSigner) -> None:
        """After its expiry the same URL is refused with UrlExpired (a player fetches a new master)."""
        query = _query(signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT))
        with pytest.raises(UrlExpired):
            signer.verify(PATH, query, now=EXPIRES_AT + timedelta(seconds=1))
        with pytest.raises(UrlExpired):
            signer.verify(PATH, query, now=EXPIRES_AT + timedelta(days=365))

    def test_another_keys_signature_is_refused(self, signer: UrlSigner, before_expiry: datetime) -> None:
        """A URL signed with a different key does not verify."""
        other = self.make_other_signer()
        query = _query(other.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT))
        assert other.verify(PATH, query, now=before_expiry) == "fan-1"
        with pytest.raises(SignatureInvalid):
            signer.verify(PATH, query, now=before_expiry)
