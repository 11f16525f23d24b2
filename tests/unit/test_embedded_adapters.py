"""The embedded adapters held to their port contracts, plus what only they promise."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest

from musicconnect.adapters.crypto import Argon2PasswordHasher, ScryptPasswordHasher
from musicconnect.adapters.email import OutboxEmailSender, read_outbox
from musicconnect.adapters.filesystem import FilesystemMediaStorage, HmacUrlSigner
from musicconnect.adapters.inprocess import InlineJobQueue, ThreadJobQueue
from musicconnect.adapters.jwt import PyJwtTokenIssuer
from musicconnect.adapters.memory.media import InMemoryMediaStorage
from musicconnect.adapters.memory.services import FrozenClock, InMemoryEmailSender, SequentialIdGenerator
from musicconnect.adapters.offline import OfflinePaymentGateway
from musicconnect.domain.errors import AuthenticationFailed, Conflict, InvalidInput, SignatureInvalid
from musicconnect.domain.money import Money
from musicconnect.ports.media import MediaStorage, UrlSigner
from musicconnect.ports.services import (
    Clock,
    EmailMessage,
    EmailSender,
    Job,
    JobHandler,
    JobQueue,
    PasswordHasher,
    TokenIssuer,
)
from tests.contract.auth_contract import (
    START,
    PasswordHasherContract,
    TokenFamilyContract,
    TokenIssuerContract,
)
from tests.contract.email_contract import EmailSenderContract
from tests.contract.jobs_contract import JobQueueContract
from tests.contract.media_contract import EXPIRES_AT, PATH, MediaStorageContract, UrlSignerContract
from tests.contract.payments_contract import Gateway, PaymentGatewayContract

SECRET = "unit-test-jwt-secret-" + "s" * 64
URL_SECRET = b"u" * 32
#: An RSA public key, as a server using RS256 would publish it: the classic HS256 confusion key.
PUBLIC_KEY_PEM = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlIX4Fj8kQxfVYwwod/Jj
AdCBYGuhaQJh6WQZCapnri3Tmj8V075AI/ehiDVfBe8Va4Jwm4hLYApvnPoA1Cni
7zyDwrdAgg2OEHI5fKhYq91sLPhP/A0Jl/KtMAFSvkIhk+1h+aMFANLt/j4vfYYw
abaU07fOwG11sFRABX04kMG/WmZOhO5K17/5aII80sot6c1Ml9s5hUkl7/vFzdKz
IRIbZApeNJ9Hc3kx/a0fXO/si0JiUbq/rMZzJNOzpUmnv7CyJ7Fb2uhLwvaZfSOe
J6ROB18zQxqg8PVewBhahwBWvvF66DJQv49DmTNuHjmMDfecj1gaFz29ydzg9AWD
UwIDAQAB
-----END PUBLIC KEY-----
"""


# --- media storage -------------------------------------------------------------------------------


class TestFilesystemMediaStorage(MediaStorageContract):
    def make_storage(self, tmp_path: Path) -> MediaStorage:
        return FilesystemMediaStorage(tmp_path)

    @pytest.mark.parametrize(
        "key",
        ["../outside", "a/../../outside", "/abs/outside", "..\\outside", "a/\x00", "..", ".mc-partial-x"],
    )
    def test_keys_that_escape_the_root_write_nothing_outside(self, tmp_path: Path, key: str) -> None:
        """Escaping keys raise InvalidInput and leave the folder around the root untouched."""
        storage = FilesystemMediaStorage(tmp_path / "root")
        with pytest.raises(InvalidInput):
            storage.put_bytes(key, b"x", "application/octet-stream")
        with pytest.raises(InvalidInput):
            storage.exists(key)
        with pytest.raises(InvalidInput):
            storage.delete_prefix(key)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]
        assert list((tmp_path / "root").iterdir()) == []

    def test_prefixes_that_escape_the_root_are_refused(self, tmp_path: Path) -> None:
        """list_keys and delete_prefix refuse a prefix that climbs out, before touching anything."""
        (tmp_path / "neighbour").mkdir()
        (tmp_path / "neighbour" / "file").write_bytes(b"keep")
        storage = FilesystemMediaStorage(tmp_path / "root")
        with pytest.raises(InvalidInput):
            storage.list_keys("../neighbour")
        with pytest.raises(InvalidInput):
            storage.delete_prefix("../neighbour")
        assert (tmp_path / "neighbour" / "file").read_bytes() == b"keep"

    def test_keys_are_files_under_the_root(self, tmp_path: Path) -> None:
        """A key is the file at that relative path, so the data dir can be inspected by hand."""
        storage = FilesystemMediaStorage(tmp_path)
        storage.put_bytes("artists/a1/original", b"abc", "audio/wav")
        assert (tmp_path / "artists" / "a1" / "original").read_bytes() == b"abc"

    def test_a_failed_write_keeps_the_old_content_and_leaves_no_partial_file(self, tmp_path: Path) -> None:
        """If writing breaks half-way, the key still holds the old bytes and no temp file is left."""
        storage = FilesystemMediaStorage(tmp_path)
        storage.put_bytes("k/v", b"old", "application/octet-stream")

        def half_then_crash(out: Any) -> None:
            out.write(b"new but incomp")
            raise OSError("disk full")

        with pytest.raises(OSError, match="disk full"):
            storage._write_atomically(storage.path_of("k/v"), half_then_crash)
        assert storage.get_bytes("k/v") == b"old"
        assert [p.name for p in (tmp_path / "k").iterdir()] == ["v"]

    def test_leftover_partial_files_are_not_keys(self, tmp_path: Path) -> None:
        """A temp file left by a crashed writer is neither listed nor counted as deleted."""
        storage = FilesystemMediaStorage(tmp_path)
        storage.put_bytes("t/a", b"x", "application/octet-stream")
        (tmp_path / "t" / ".mc-partial-abc123").write_bytes(b"half")
        assert list(storage.list_keys("t")) == ["t/a"]
        assert storage.delete_prefix("t") == 1

    def test_delete_prefix_removes_empty_folders(self, tmp_path: Path) -> None:
        """Deleting a track's prefix leaves no empty folders of it behind."""
        storage = FilesystemMediaStorage(tmp_path)
        storage.put_bytes("artists/a/tracks/t/hls/128k/s1.m4s", b"x", "audio/mp4")
        storage.put_bytes("artists/a/tracks/t/original", b"x", "audio/wav")
        assert storage.delete_prefix("artists/a/tracks/t") == 2
        assert not (tmp_path / "artists" / "a" / "tracks" / "t").exists()
        assert tmp_path.exists()

    def test_a_key_cannot_be_both_object_and_folder(self, tmp_path: Path) -> None:
        """Storing under an existing object's path, or over a folder, is a Conflict."""
        storage = FilesystemMediaStorage(tmp_path)
        storage.put_bytes("a/b", b"x", "application/octet-stream")
        with pytest.raises(Conflict):
            storage.put_bytes("a/b/c", b"y", "application/octet-stream")
        storage.put_bytes("d/e/f", b"x", "application/octet-stream")
        with pytest.raises(Conflict):
            storage.put_bytes("d/e", b"y", "application/octet-stream")
        assert storage.get_bytes("a/b") == b"x"
        assert list(storage.list_keys("d")) == ["d/e/f"]


class TestInMemoryMediaStorage(MediaStorageContract):
    def make_storage(self, tmp_path: Path) -> MediaStorage:
        return InMemoryMediaStorage()

    def test_content_type_is_kept(self) -> None:
        """The fake remembers each object's content type for tests to check."""
        storage = InMemoryMediaStorage()
        storage.put_bytes("m.m3u8", b"#EXTM3U\n", "application/vnd.apple.mpegurl")
        assert storage.content_type("m.m3u8") == "application/vnd.apple.mpegurl"


# --- URL signing ---------------------------------------------------------------------------------


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


class TestHmacUrlSigner(UrlSignerContract):
    def make_signer(self) -> UrlSigner:
        return HmacUrlSigner(URL_SECRET, base_url="http://localhost:8000")

    def make_other_signer(self) -> UrlSigner:
        return HmacUrlSigner(b"o" * 32, base_url="http://localhost:8000")

    def test_url_shape(self) -> None:
        """base_url, path, then exp, sub and an unpadded urlsafe base64 HMAC-SHA256."""
        url = HmacUrlSigner(URL_SECRET, base_url="https://api.example").sign(
            PATH, subject="fan-1", expires_at=EXPIRES_AT
        )
        head, query = url.split("?")
        assert head == f"https://api.example{PATH}"
        fields = dict(part.split("=") for part in query.split("&"))
        assert list(fields) == ["exp", "sub", "sig"]
        assert fields["exp"] == str(int(EXPIRES_AT.timestamp()))
        assert fields["sub"] == "fan-1"
        assert len(base64.urlsafe_b64decode(fields["sig"] + "=")) == 32

    def test_a_url_is_refused_at_the_instant_it_expires(self) -> None:
        """now == exp is already too late."""
        signer = HmacUrlSigner(URL_SECRET)
        query = _query(signer.sign(PATH, subject="s", expires_at=EXPIRES_AT))
        assert signer.verify(PATH, query, now=EXPIRES_AT - timedelta(microseconds=1)) == "s"
        with pytest.raises(SignatureInvalid):
            signer.verify(PATH, query, now=EXPIRES_AT)

    def test_a_padded_expiry_is_refused(self) -> None:
        """'0' + exp names the same instant but is not what was signed."""
        signer = HmacUrlSigner(URL_SECRET)
        query = _query(signer.sign(PATH, subject="s", expires_at=EXPIRES_AT))
        with pytest.raises(SignatureInvalid):
            signer.verify(PATH, {**query, "exp": "0" + query["exp"]}, now=EXPIRES_AT - timedelta(hours=1))

    def test_fields_cannot_be_reshuffled_across_separators(self) -> None:
        """path '/a|E1|x' + sub 'y' must not pass for path '/a' + sub 'x|E2|y' (same joined text)."""
        signer = HmacUrlSigner(URL_SECRET)
        first_expiry = int((EXPIRES_AT + timedelta(days=1)).timestamp())
        query = _query(signer.sign(f"/a|{first_expiry}|x", subject="y", expires_at=EXPIRES_AT))
        shuffled = {"exp": str(first_expiry), "sub": f"x|{query['exp']}|y", "sig": query["sig"]}
        with pytest.raises(SignatureInvalid):
            signer.verify("/a", shuffled, now=EXPIRES_AT - timedelta(hours=1))

    def test_relative_paths_naive_times_and_short_secrets_are_refused(self) -> None:
        """Paths must start with '/', instants must be aware, secrets must be 32 bytes or more."""
        signer = HmacUrlSigner(URL_SECRET)
        with pytest.raises(InvalidInput):
            signer.sign("media/x", subject="s", expires_at=EXPIRES_AT)
        with pytest.raises(InvalidInput):
            signer.sign(PATH, subject="s", expires_at=datetime(2031, 1, 1))  # noqa: DTZ001 - the point
        with pytest.raises(ValueError, match="32 bytes"):
            HmacUrlSigner(b"short")


# --- tokens --------------------------------------------------------------------------------------


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _forge(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A token built by hand, so any header and any key can be tried (pyjwt refuses some)."""
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def _claims(**overrides: Any) -> dict[str, Any]:
    issued_at = int(START.timestamp())
    claims: dict[str, Any] = {
        "sub": "acct-1",
        "role": "admin",
        "jti": "0" * 32,
        "fam": "1" * 32,
        "fxp": issued_at + 3600,
        "typ": "access",
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + 900,
        "iss": "musicconnect",
        "aud": "musicconnect-api",
    }
    claims.update(overrides)
    return claims


class TestPyJwtTokenFamilies(TokenFamilyContract):
    def make_issuer(self, clock: Clock) -> TokenIssuer:
        return PyJwtTokenIssuer(SECRET, clock=clock)


class TestPyJwtTokenIssuer(TokenIssuerContract):
    def make_issuer(self, clock: Clock) -> TokenIssuer:
        return PyJwtTokenIssuer(SECRET, clock=clock)

    def make_other_issuer(self, clock: Clock) -> TokenIssuer:
        return PyJwtTokenIssuer("x" * 40, clock=clock)

    @pytest.fixture
    def pyjwt_issuer(self, clock: FrozenClock) -> PyJwtTokenIssuer:
        return PyJwtTokenIssuer(SECRET, clock=clock)

    def test_a_well_formed_forgery_with_the_right_key_is_accepted(
        self, pyjwt_issuer: PyJwtTokenIssuer
    ) -> None:
        """The hand-built tokens below fail for the reason each test names, not by accident."""
        token = jwt.encode(_claims(), SECRET, algorithm="HS256")
        assert pyjwt_issuer.decode(token, kind="access").role == "admin"
        assert pyjwt_issuer.decode(
            _forge({"alg": "HS256", "typ": "JWT"}, _claims(), SECRET.encode()), kind="access"
        )

    def test_issued_claims(self, pyjwt_issuer: PyJwtTokenIssuer) -> None:
        """Tokens carry sub, role, jti, the family and its end, typ, iat, nbf, exp, iss and aud,
        signed HS256; the refresh token expires with its family."""
        pair = pyjwt_issuer.issue(subject="acct-1", role="fan")
        assert jwt.get_unverified_header(pair.access_token)["alg"] == "HS256"
        claims = jwt.decode(pair.access_token, options={"verify_signature": False})
        assert set(claims) == {"sub", "role", "jti", "fam", "fxp", "typ", "iat", "nbf", "exp", "iss", "aud"}
        assert claims["exp"] - claims["iat"] == 900 == pair.expires_in
        refresh = jwt.decode(pair.refresh_token, options={"verify_signature": False})
        assert refresh["exp"] - refresh["iat"] == 30 * 24 * 3600 == refresh["fxp"] - refresh["iat"]
        assert refresh["fam"] == claims["fam"]

    @pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
    def test_alg_none_is_refused(self, pyjwt_issuer: PyJwtTokenIssuer, alg: str) -> None:
        """An unsigned token, however 'none' is spelled, is refused."""
        with pytest.raises(AuthenticationFailed):
            pyjwt_issuer.decode(_forge({"alg": alg, "typ": "JWT"}, _claims(), None), kind="access")

    def test_hs256_signed_with_a_public_key_is_refused(self, pyjwt_issuer: PyJwtTokenIssuer) -> None:
        """The RS256/HS256 confusion: an HMAC keyed with a public key PEM is refused."""
        forged = _forge({"alg": "HS256", "typ": "JWT"}, _claims(), PUBLIC_KEY_PEM.encode())
        with pytest.raises(AuthenticationFailed):
            pyjwt_issuer.decode(forged, kind="access")

    @pytest.mark.parametrize("alg", ["HS384", "HS512"])
    def test_another_algorithm_is_refused_even_with_the_right_key(
        self, pyjwt_issuer: PyJwtTokenIssuer, alg: str
    ) -> None:
        """Only HS256 is accepted: HS384 or HS512 signed with our own secret is refused."""
        token = jwt.encode(_claims(), SECRET, algorithm=alg)
        with pytest.raises(AuthenticationFailed):
            pyjwt_issuer.decode(token, kind="access")

    @pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA", "HS1", ""])
    def test_unknown_algorithm_headers_are_refused(self, pyjwt_issuer: PyJwtTokenIssuer, alg: str) -> None:
        """Any header alg but HS256 is refused, even over an HS256 signature with our key."""
        forged = _forge({"alg": alg, "typ": "JWT"}, _claims(), SECRET.encode())
        with pytest.raises(AuthenticationFailed):
            pyjwt_issuer.decode(forged, kind="access")

    @pytest.mark.parametrize("claim", ["sub", "role", "jti", "typ", "iat", "nbf", "exp", "iss", "aud"])
    def test_each_missing_claim_is_refused(self, pyjwt_issuer: PyJwtTokenIssuer, claim: str) -> None:
        """A correctly signed token lacking any one claim is refused."""
        claims = _claims()
        del claims[claim]
        with pytest.raises(AuthenticationFailed):
            pyjwt_issuer.decode(jwt.encode(claims, SECRET, algorithm="HS256"), kind="access")

    @pytest.mark.parametrize(
        "overrides",
        [
            {"sub": 42},
            {"sub": ""},
            {"role": None},
            {"jti": ["a"]},
            {"exp": "9999999999"},
            {"exp": 9_999_999_999.5},
            {"iat": True},
            {"nbf": "0"},
        ],
    )
    def test_claims_of_the_wrong_type_are_refused(
        self, pyjwt_issuer: PyJwtTokenIssuer, overrides: dict[str, Any]
    ) -> None:
        """Claims must be non-empty strings and integer timestamps."""
        token = jwt.encode(_claims(**overrides), SECRET, algorithm="HS256")
        with pytest.raises(AuthenticationFailed):
            pyjwt_issuer.decode(token, kind="access")

    @pytest.mark.parametrize("exp_offset", [0, -1, -3600])
    def test_expired_tokens_are_refused(self, pyjwt_issuer: PyJwtTokenIssuer, exp_offset: int) -> None:
        """exp at or before the injected clock's now is refused, with no leeway."""
        token = jwt.encode(_claims(exp=int(START.timestamp()) + exp_offset), SECRET, algorithm="HS256")
        with pytest.raises(AuthenticationFailed):
            pyjwt_issuer.decode(token, kind="access")

    @pytest.mark.parametrize("claim", ["iat", "nbf"])
    def test_tokens_from_the_future_are_refused(self, pyjwt_issuer: PyJwtTokenIssuer, claim: str) -> None:
        """iat or nbf after now is refused."""
        token = jwt.encode(_claims(**{claim: int(START.timestamp()) + 60}), SECRET, algorithm="HS256")
        with pytest.raises(AuthenticationFailed):
            pyjwt_issuer.decode(token, kind="access")

    @pytest.mark.parametrize(
        "overrides",
        [
            {"aud": "someone-else"},
            {"aud": ["musicconnect-api", "someone-else"]},
            {"iss": "evil"},
            {"iss": "musicconnect "},
        ],
    )
    def test_wrong_audience_or_issuer_is_refused(
        self, pyjwt_issuer: PyJwtTokenIssuer, overrides: dict[str, Any]
    ) -> None:
        """Tokens meant for another audience or from another issuer are refused."""
        token = jwt.encode(_claims(**overrides), SECRET, algorithm="HS256")
        with pytest.raises(AuthenticationFailed):
            pyjwt_issuer.decode(token, kind="access")

    def test_a_refresh_token_cannot_be_used_for_access(self, pyjwt_issuer: PyJwtTokenIssuer) -> None:
        """typ 'refresh' is refused where an access token is expected."""
        token = jwt.encode(_claims(typ="refresh"), SECRET, algorithm="HS256")
        with pytest.raises(AuthenticationFailed):
            pyjwt_issuer.decode(token, kind="access")
        assert pyjwt_issuer.decode(token, kind="refresh").kind == "refresh"

    def test_short_secrets_are_refused(self, clock: FrozenClock) -> None:
        """RFC 7518: an HS256 key shorter than 32 bytes is refused at construction."""
        with pytest.raises(ValueError, match="32 bytes"):
            PyJwtTokenIssuer("too-short", clock=clock)


# --- passwords -----------------------------------------------------------------------------------


class TestScryptPasswordHasher(PasswordHasherContract):
    def make_hasher(self) -> PasswordHasher:
        return ScryptPasswordHasher(n=16, r=1, p=1)

    def test_encoding_carries_the_parameters(self) -> None:
        """scrypt$n$r$p$salt$hash with a 16-byte salt and 32-byte hash."""
        scheme, n, r, p, salt, digest = ScryptPasswordHasher(n=32, r=2, p=1).hash("pw-123456").split("$")
        assert (scheme, n, r, p) == ("scrypt", "32", "2", "1")
        assert len(base64.b64decode(salt)) == 16
        assert len(base64.b64decode(digest)) == 32

    def test_a_hash_verifies_whatever_the_current_parameters(self) -> None:
        """Raising the cost later still verifies hashes made with the old cost."""
        old = ScryptPasswordHasher(n=16, r=1, p=1).hash("pw-123456")
        assert ScryptPasswordHasher(n=64, r=2, p=1).verify("pw-123456", old)

    def test_the_default_cost(self) -> None:
        """By default n=2**14, r=8, p=1."""
        assert ScryptPasswordHasher().hash("pw-123456").startswith(f"scrypt${2**14}$8$1$")

    @pytest.mark.parametrize("params", ["1073741824$8$1", "16$1000$1", "15$1$1", "16$1$0", "x$1$1"])
    def test_absurd_stored_parameters_verify_nothing(self, params: str) -> None:
        """A tampered hash cannot make verify burn memory or crash."""
        genuine = ScryptPasswordHasher(n=16, r=1, p=1).hash("pw-123456").split("$")
        forged = "$".join(["scrypt", params, *genuine[4:]])
        assert not ScryptPasswordHasher(n=16, r=1, p=1).verify("pw-123456", forged)

    @pytest.mark.parametrize("params", [{"n": 15}, {"n": 1}, {"r": 0}, {"p": 0}])
    def test_bad_parameters_are_refused(self, params: dict[str, int]) -> None:
        """n must be a power of two above 1; r and p at least 1."""
        with pytest.raises(ValueError, match="scrypt"):
            ScryptPasswordHasher(**params)


class TestArgon2PasswordHasher(PasswordHasherContract):
    def make_hasher(self) -> PasswordHasher:
        return Argon2PasswordHasher(time_cost=1, memory_cost_kib=64, parallelism=1)

    def test_hashes_are_argon2id(self) -> None:
        """The PHC string names argon2id with its parameters."""
        hashed = Argon2PasswordHasher(time_cost=1, memory_cost_kib=64, parallelism=1).hash("pw-123456")
        assert hashed.startswith("$argon2id$v=19$m=64,t=1,p=1$")

    def test_scrypt_hashes_of_earlier_releases_verify_and_need_a_rehash(self) -> None:
        """An old scrypt hash still signs its owner in, and is marked for the upgrade."""
        hasher = Argon2PasswordHasher(time_cost=1, memory_cost_kib=64, parallelism=1)
        old = ScryptPasswordHasher(n=16, r=1, p=1).hash("pw-123456")
        assert hasher.verify("pw-123456", old)
        assert not hasher.verify("pw-1234567", old)
        assert hasher.needs_rehash(old)

    def test_weaker_parameters_need_a_rehash(self) -> None:
        """Raising the cost marks hashes made at the old cost."""
        cheap = Argon2PasswordHasher(time_cost=1, memory_cost_kib=64, parallelism=1).hash("pw-123456")
        assert Argon2PasswordHasher(time_cost=2, memory_cost_kib=64, parallelism=1).needs_rehash(cheap)

    def test_the_default_cost_is_rfc_9106s_low_memory_profile(self) -> None:
        """By default 64 MiB, 3 passes, 4 lanes."""
        assert Argon2PasswordHasher().hash("pw-123456").startswith("$argon2id$v=19$m=65536,t=3,p=4$")


# --- email ---------------------------------------------------------------------------------------


class TestInMemoryEmailSender(EmailSenderContract):
    @pytest.fixture(autouse=True)
    def _sender(self) -> None:
        self.sender = InMemoryEmailSender()

    def make_sender(self) -> EmailSender:
        return self.sender

    def delivered(self, to: str) -> list[EmailMessage]:
        return self.sender.sent(to)


class TestOutboxEmailSender(EmailSenderContract):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.folder = tmp_path / "outbox"

    def make_sender(self) -> EmailSender:
        return OutboxEmailSender(self.folder)

    def delivered(self, to: str) -> list[EmailMessage]:
        return [message for _, message in read_outbox(self.folder) if message.to == to]

    def test_messages_are_readable_by_the_owner_only(self) -> None:
        """Emails carry sign-in links: the files are 0600 and the folder 0700."""
        OutboxEmailSender(self.folder).send(EmailMessage(to="a@example.com", subject="s", body="b"))
        [path] = self.folder.glob("*.eml")
        assert path.stat().st_mode & 0o777 == 0o600
        assert self.folder.stat().st_mode & 0o777 == 0o700


# --- payments ------------------------------------------------------------------------------------


class TestOfflinePaymentGateway(PaymentGatewayContract):
    def make_gateway(self) -> Gateway:
        return OfflinePaymentGateway(SequentialIdGenerator("pay"))

    def test_charges_cost_no_fee_and_are_kept(self) -> None:
        """Offline charges succeed at zero fee, and the gateway lists each distinct one once."""
        gateway = OfflinePaymentGateway(SequentialIdGenerator("pay"))
        result = gateway.charge(
            fan_id="f1", artist_id="a1", amount=Money(500, "USD"), description="June", idempotency_key="k1"
        )
        gateway.charge(
            fan_id="f1", artist_id="a1", amount=Money(500, "USD"), description="June", idempotency_key="k1"
        )
        assert result.processor_fee == Money(0, "USD")
        assert [(c.idempotency_key, c.fan_id, c.result) for c in gateway.charges] == [("k1", "f1", result)]
        payout = gateway.pay_out(artist_id="a1", amount=Money(450, "USD"), idempotency_key="p1")
        assert [(p.artist_id, p.result) for p in gateway.payouts] == [("a1", payout)]

    def test_a_key_reused_for_another_fan_is_a_conflict(self) -> None:
        """The key names one request: another fan or artist under it is refused."""
        gateway = OfflinePaymentGateway(SequentialIdGenerator("pay"))
        gateway.charge(
            fan_id="f1", artist_id="a1", amount=Money(5, "USD"), description="", idempotency_key="k"
        )
        with pytest.raises(Conflict):
            gateway.charge(
                fan_id="f2", artist_id="a1", amount=Money(5, "USD"), description="", idempotency_key="k"
            )
        gateway.pay_out(artist_id="a1", amount=Money(5, "USD"), idempotency_key="p")
        with pytest.raises(Conflict):
            gateway.pay_out(artist_id="a2", amount=Money(5, "USD"), idempotency_key="p")

    def test_concurrent_retries_make_one_charge(self) -> None:
        """Many threads retrying one key at once get one charge between them."""
        gateway = OfflinePaymentGateway(SequentialIdGenerator("pay"))
        start = threading.Barrier(16)
        seen: list[str] = []

        def retry() -> None:
            start.wait()
            result = gateway.charge(
                fan_id="f", artist_id="a", amount=Money(1000, "USD"), description="", idempotency_key="same"
            )
            seen.append(result.charge_id)

        threads = [threading.Thread(target=retry) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(seen) == 16
        assert len(set(seen)) == 1
        assert len(gateway.charges) == 1

    def test_negative_amounts_and_empty_keys_are_refused(self) -> None:
        """Money only moves forward, and every call names its idempotency key."""
        gateway = OfflinePaymentGateway(SequentialIdGenerator("pay"))
        with pytest.raises(InvalidInput):
            gateway.charge(
                fan_id="f", artist_id="a", amount=Money(-1, "USD"), description="", idempotency_key="k"
            )
        with pytest.raises(InvalidInput):
            gateway.pay_out(artist_id="a", amount=Money(1, "USD"), idempotency_key="")


# --- jobs ----------------------------------------------------------------------------------------


class TestThreadJobQueue(JobQueueContract):
    def make_queue(self, handlers: Mapping[str, JobHandler]) -> JobQueue:
        return ThreadJobQueue(handlers, workers=2, max_attempts=self.max_attempts, retry_backoff_s=0)

    def drain(self, queue: JobQueue) -> None:
        assert isinstance(queue, ThreadJobQueue)
        assert queue.join(timeout=10), "jobs still running after 10 s"

    def dispose(self, queue: JobQueue) -> None:
        assert isinstance(queue, ThreadJobQueue)
        queue.close()

    def test_a_queued_duplicate_is_dropped(self) -> None:
        """With the only worker busy, the same key enqueued three times runs once."""
        release = threading.Event()
        runs: list[str] = []

        def block(_: Mapping[str, Any]) -> None:
            release.wait(5)

        handlers: dict[str, JobHandler] = {"block": block, "work": lambda payload: runs.append(payload["n"])}
        with ThreadJobQueue(handlers, workers=1, retry_backoff_s=0) as queue:
            queue.enqueue(Job(name="block", payload={}, key="block"))
            for n in ("first", "second", "third"):
                queue.enqueue(Job(name="work", payload={"n": n}, key="work:1"))
            queue.enqueue(Job(name="work", payload={"n": "other"}, key="work:2"))
            assert not queue.join(timeout=0.05)
            release.set()
            assert queue.join(timeout=5)
        assert runs == ["first", "other"]

    def test_jobs_run_concurrently_on_the_workers(self) -> None:
        """Two workers run two jobs at the same time."""
        both_running = threading.Barrier(2, timeout=5)

        def meet(_: Mapping[str, Any]) -> None:
            both_running.wait()

        with ThreadJobQueue({"meet": meet}, workers=2, max_attempts=1) as queue:
            queue.enqueue(Job(name="meet", payload={}, key="a"))
            queue.enqueue(Job(name="meet", payload={}, key="b"))
            assert queue.join(timeout=10)
        assert not both_running.broken

    def test_a_dropped_job_is_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        """Giving up on a job logs an error naming it."""

        def broken(_: Mapping[str, Any]) -> None:
            raise RuntimeError("boom")

        with (
            ThreadJobQueue({"broken": broken}, max_attempts=2, retry_backoff_s=0.001) as queue,
            caplog.at_level(logging.WARNING, logger="musicconnect.adapters.inprocess.jobs"),
        ):
            queue.enqueue(Job(name="broken", payload={}, key="broken:7"))
            assert queue.join(timeout=5)
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        assert "broken:7" in errors[0].getMessage()
        assert errors[0].exc_info is not None

    def test_unknown_jobs_and_closed_queues_are_refused(self) -> None:
        """A job with no handler fails at enqueue; a closed queue takes no more jobs."""
        queue = ThreadJobQueue({"known": lambda _: None})
        with pytest.raises(ValueError, match="unknown"):
            queue.enqueue(Job(name="unknown", payload={}, key="k"))
        queue.close()
        with pytest.raises(RuntimeError, match="closed"):
            queue.enqueue(Job(name="known", payload={}, key="k"))


class TestInlineJobQueue(JobQueueContract):
    def make_queue(self, handlers: Mapping[str, JobHandler]) -> JobQueue:
        return InlineJobQueue(handlers, max_attempts=self.max_attempts)

    def drain(self, queue: JobQueue) -> None:
        """Nothing to wait for: the job ran inside enqueue."""

    def test_the_job_has_run_when_enqueue_returns(self) -> None:
        """No join needed: enqueue returns after the handler."""
        runs: list[Mapping[str, Any]] = []
        InlineJobQueue({"j": runs.append}).enqueue(Job(name="j", payload={"x": 1}, key="j"))
        assert runs == [{"x": 1}]
