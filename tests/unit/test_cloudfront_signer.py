"""CloudFrontUrlSigner on its own logic: moto checks no signatures, so these tests do it with the public key.

Policies are decoded and signatures checked here independently of the signer (``cryptography``
and ``fnmatch``), so a bug shared by ``sign`` and ``verify`` cannot hide itself.
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from musicconnect.adapters.filesystem import HmacUrlSigner
from musicconnect.adapters.s3 import CloudFrontUrlSigner, PlaylistsHereSegmentsOnCdn
from musicconnect.domain.entitlements import entitlements_for_tier
from musicconnect.domain.errors import InvalidInput, SignatureInvalid
from musicconnect.domain.media import LADDER_KBPS
from musicconnect.domain.tiers import Tier
from musicconnect.ports.media import UrlSigner
from tests.contract.media_contract import EXPIRES_AT, PATH, UrlSignerContract

DOMAIN = "d111111abcdef8.cloudfront.net"
KEY_ID = "K2JCJMDEHXQW5F"
BEFORE_EXPIRY = EXPIRES_AT - timedelta(seconds=1)


@functools.cache
def _private_key(index: int, bits: int = 2048) -> rsa.RSAPrivateKey:
    """Generated once per index: RSA key generation is the slow part of these tests."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _private_pem(index: int, bits: int = 2048) -> bytes:
    return _private_key(index, bits).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_pem(index: int) -> bytes:
    return (
        _private_key(index, 2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


@functools.cache
def _signer(index: int = 0) -> CloudFrontUrlSigner:
    """One signer per key: loading a PEM private key runs OpenSSL's slow consistency checks."""
    return CloudFrontUrlSigner(DOMAIN, KEY_ID, _private_pem(index), public_key_pem=_public_pem(index))


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def _b64decode(value: str) -> bytes:
    return base64.b64decode(value.replace("-", "+").replace("_", "=").replace("~", "/"))


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode().replace("+", "-").replace("=", "_").replace("/", "~")


def _policy(value: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(_b64decode(value))
    return decoded


def _grants(policy: dict[str, Any], url: str) -> bool:
    """CloudFront's Resource match: ``*`` any run of characters, ``?`` exactly one (fnmatch, no [])."""
    (statement,) = policy["Statement"]
    resource = statement["Resource"]
    assert "[" not in resource
    return fnmatch.fnmatchcase(url, resource)


def _signature_holds(public_pem: bytes, policy_value: str, signature_value: str) -> bool:
    key = serialization.load_pem_public_key(public_pem)
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(_b64decode(signature_value), _b64decode(policy_value), padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    except InvalidSignature:
        return False
    return True


class TestCloudFrontUrlSigner(UrlSignerContract):
    def make_signer(self) -> UrlSigner:
        return _signer(0)

    def make_other_signer(self) -> UrlSigner:
        return _signer(1)


# --- shape and signature -------------------------------------------------------------------------


def test_the_url_is_a_cloudfront_custom_policy_url() -> None:
    """https://{domain}{path}?sub=..&Policy=..&Signature=..&Key-Pair-Id=..: CloudFront's parameters last."""
    url = _signer().sign("/media/t1/128k/index.m3u8", subject="fan 1", expires_at=EXPIRES_AT)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", DOMAIN, "/media/t1/128k/index.m3u8")
    assert [name for name, _ in parse_qsl(parts.query)] == ["sub", "Policy", "Signature", "Key-Pair-Id"]
    query = _query(url)
    assert query["sub"] == "fan 1"
    assert query["Key-Pair-Id"] == KEY_ID
    assert set(query["Policy"] + query["Signature"]) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~"
    )


@settings(max_examples=25, deadline=None)
@given(
    track=st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
    kbps=st.sampled_from(LADDER_KBPS),
    filename=st.from_regex(r"[a-z0-9_]{1,12}\.(m4s|mp4|m3u8)", fullmatch=True),
    subject=st.text(min_size=1, max_size=20),
)
def test_each_signature_verifies_with_the_public_key(
    track: str, kbps: int, filename: str, subject: str
) -> None:
    """The Signature is RSA-SHA1 over the exact Policy bytes, checkable with only the public key."""
    url = _signer().sign(f"/media/{track}/{kbps}k/{filename}", subject=subject, expires_at=EXPIRES_AT)
    query = _query(url)
    assert _signature_holds(_public_pem(0), query["Policy"], query["Signature"])
    assert not _signature_holds(_public_pem(1), query["Policy"], query["Signature"])
    assert _signer().verify(f"/media/{track}/{kbps}k/{filename}", query, now=BEFORE_EXPIRY) == subject


# --- what a policy grants ------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    tier=st.sampled_from(list(Tier)),
    track=st.from_regex(r"[a-z0-9-]{1,16}", fullmatch=True),
    other_track=st.from_regex(r"[a-z0-9-]{1,16}", fullmatch=True),
    filename=st.from_regex(r"(index\.m3u8|init_0\.mp4|segment_[0-9]{5}\.m4s)", fullmatch=True),
    subject=st.from_regex(r"[A-Za-z0-9 /?*&=-]{1,16}", fullmatch=True),
)
def test_no_policy_grants_a_rung_above_the_tier(
    tier: Tier, track: str, other_track: str, filename: str, subject: str
) -> None:
    """For every rung a tier may stream, the signed policy covers that rung folder and never a rung above."""
    signer = _signer()
    rights = entitlements_for_tier(tier)
    above = [kbps for kbps in LADDER_KBPS if not rights.may_stream(kbps)]
    sub = quote(subject, safe="")
    for kbps in rights.allowed_rungs(LADDER_KBPS):
        query = _query(
            signer.sign(f"/media/{track}/{kbps}k/{filename}", subject=subject, expires_at=EXPIRES_AT)
        )
        policy = _policy(query["Policy"])
        (statement,) = policy["Statement"]
        assert statement["Resource"] == f"https://{DOMAIN}/media/{track}/{kbps}k/*?sub={sub}"
        assert statement["Condition"] == {"DateLessThan": {"AWS:EpochTime": int(EXPIRES_AT.timestamp())}}
        assert _grants(policy, f"https://{DOMAIN}/media/{track}/{kbps}k/segment_00042.m4s?sub={sub}")
        forbidden = [f"/media/{track}/{higher}k/{filename}" for higher in above]
        forbidden += [f"/media/{track}/master.m3u8", f"/media/{track}/original"]
        if other_track != track:
            forbidden.append(f"/media/{other_track}/{kbps}k/{filename}")
        for path in forbidden:
            assert not _grants(policy, f"https://{DOMAIN}{path}?sub={sub}"), path
            with pytest.raises(SignatureInvalid):
                signer.verify(path, query, now=BEFORE_EXPIRY)


def test_a_url_opens_its_rung_folder_and_nothing_else() -> None:
    """Siblings in the rung folder are granted (segments share the playlist's policy); other rungs are not."""
    signer = _signer()
    query = _query(signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT))
    folder = PATH.rsplit("/", 1)[0]
    for sibling in (PATH + "x", PATH[:-1], f"{folder}/segment_00099.m4s", f"{folder}/index.m3u8"):
        assert signer.verify(sibling, query, now=BEFORE_EXPIRY) == "fan-1"
    for elsewhere in (PATH.replace("128k", "320k"), PATH.replace("128k", "256k"), folder, folder + "k/x"):
        with pytest.raises(SignatureInvalid):
            signer.verify(elsewhere, query, now=BEFORE_EXPIRY)


def test_a_path_outside_a_rung_folder_is_granted_alone() -> None:
    """A master playlist or waveform is signed for exactly its own path."""
    signer = _signer()
    query = _query(signer.sign("/media/t1/master.m3u8", subject="fan-1", expires_at=EXPIRES_AT))
    assert (
        _policy(query["Policy"])["Statement"][0]["Resource"]
        == f"https://{DOMAIN}/media/t1/master.m3u8?sub=fan-1"
    )
    with pytest.raises(SignatureInvalid):
        signer.verify("/media/t1/peaks.json", query, now=BEFORE_EXPIRY)


@pytest.mark.parametrize(
    "path", ["media/t/128k/x", "/media/t/../320k/x", "/media//t", "/media/t/./x", "/a\\b"]
)
def test_unsafe_paths_are_neither_signed_nor_verified(path: str) -> None:
    """Relative, dot-segment and empty-segment paths are refused both ways."""
    signer = _signer()
    with pytest.raises(InvalidInput):
        signer.sign(path, subject="fan-1", expires_at=EXPIRES_AT)
    query = _query(signer.sign("/media/t/128k/x", subject="fan-1", expires_at=EXPIRES_AT))
    with pytest.raises(SignatureInvalid):
        signer.verify(path, query, now=BEFORE_EXPIRY)


# --- expiry and tampering ------------------------------------------------------------------------


def test_expiry_is_enforced_to_the_second() -> None:
    """Valid strictly before DateLessThan; refused at it and after."""
    signer = _signer()
    query = _query(signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT))
    assert signer.verify(PATH, query, now=EXPIRES_AT - timedelta(milliseconds=1)) == "fan-1"
    for now in (EXPIRES_AT, EXPIRES_AT + timedelta(seconds=1), EXPIRES_AT + timedelta(days=400)):
        with pytest.raises(SignatureInvalid, match="expired"):
            signer.verify(PATH, query, now=now)


def _resigned(policy: dict[str, Any], key_index: int) -> tuple[str, str]:
    raw = json.dumps(policy, separators=(",", ":")).encode()
    signature = _private_key(key_index, 2048).sign(raw, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    return _b64encode(raw), _b64encode(signature)


HIGHER = PATH.replace("128k", "320k")


@pytest.mark.parametrize(
    "widen",
    [
        lambda r: r.replace("/128k/*", "/*"),  # every rung of the track
        lambda r: r.replace("/128k/*", "/320k/*"),  # a higher rung
        lambda r: "*",  # the whole distribution
    ],
    ids=["all-rungs", "higher-rung", "everything"],
)
def test_a_modified_policy_fails_verification(widen: Any) -> None:
    """A Resource widened to a higher rung, with a later expiry, is refused unless signed by our key."""
    signer = _signer()
    query = _query(signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT))
    policy = _policy(query["Policy"])
    policy["Statement"][0]["Resource"] = widen(policy["Statement"][0]["Resource"])
    policy["Statement"][0]["Condition"]["DateLessThan"]["AWS:EpochTime"] += 86_400 * 365
    later = EXPIRES_AT + timedelta(days=1)
    forged = {**query, "Policy": _b64encode(json.dumps(policy, separators=(",", ":")).encode())}
    for path, now in ((HIGHER, BEFORE_EXPIRY), (HIGHER, later)):
        with pytest.raises(SignatureInvalid, match="signature"):
            signer.verify(path, forged, now=now)
    policy_b64, signature_b64 = _resigned(policy, key_index=1)
    with pytest.raises(SignatureInvalid, match="signature"):
        signer.verify(HIGHER, {**query, "Policy": policy_b64, "Signature": signature_b64}, now=later)
    # Only the private key makes such a policy: signed by it, the same forgery would pass.
    policy_b64, signature_b64 = _resigned(policy, key_index=0)
    assert signer.verify(HIGHER, {**query, "Policy": policy_b64, "Signature": signature_b64}, now=later)


def test_a_modified_signature_fails_verification() -> None:
    """Flipping any single byte of the signature is refused."""
    signer = _signer()
    query = _query(signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT))
    signature = _b64decode(query["Signature"])
    for index in (0, len(signature) // 2, len(signature) - 1):
        flipped = bytearray(signature)
        flipped[index] ^= 0x01
        with pytest.raises(SignatureInvalid):
            signer.verify(PATH, {**query, "Signature": _b64encode(bytes(flipped))}, now=BEFORE_EXPIRY)


def test_a_policy_with_conditions_it_cannot_check_is_refused() -> None:
    """An IpAddress condition (or any unknown one) cannot be checked here, so verify fails closed."""
    signer = _signer()
    query = _query(signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT))
    policy = _policy(query["Policy"])
    policy["Statement"][0]["Condition"]["IpAddress"] = {"AWS:SourceIp": "192.0.2.1/32"}
    policy_b64, signature_b64 = _resigned(policy, key_index=0)
    with pytest.raises(SignatureInvalid, match="conditions"):
        signer.verify(PATH, {**query, "Policy": policy_b64, "Signature": signature_b64}, now=BEFORE_EXPIRY)


def test_not_yet_valid_policies_are_refused() -> None:
    """A DateGreaterThan in the future keeps the URL closed until then."""
    signer = _signer()
    query = _query(signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT))
    policy = _policy(query["Policy"])
    starts = EXPIRES_AT - timedelta(hours=1)
    policy["Statement"][0]["Condition"]["DateGreaterThan"] = {"AWS:EpochTime": int(starts.timestamp())}
    policy_b64, signature_b64 = _resigned(policy, key_index=0)
    forged = {**query, "Policy": policy_b64, "Signature": signature_b64}
    with pytest.raises(SignatureInvalid, match="not valid yet"):
        signer.verify(PATH, forged, now=starts - timedelta(minutes=1))
    assert signer.verify(PATH, forged, now=starts + timedelta(minutes=1)) == "fan-1"


# --- signed cookies ------------------------------------------------------------------------------


def test_signed_cookies_grant_one_rung_folder_until_expiry() -> None:
    """The three CloudFront-* cookies cover every file of the rung folder, no other rung, and expire."""
    signer = _signer()
    cookies = signer.signed_cookies("/media/t1/256k/", expires_at=EXPIRES_AT)
    assert set(cookies) == {"CloudFront-Policy", "CloudFront-Signature", "CloudFront-Key-Pair-Id"}
    assert cookies["CloudFront-Key-Pair-Id"] == KEY_ID
    assert _signature_holds(_public_pem(0), cookies["CloudFront-Policy"], cookies["CloudFront-Signature"])
    policy = _policy(cookies["CloudFront-Policy"])
    assert policy["Statement"][0]["Resource"] == f"https://{DOMAIN}/media/t1/256k/*"
    for name in ("index.m3u8", "init_0.mp4", "segment_00007.m4s"):
        signer.verify_cookies(f"/media/t1/256k/{name}", cookies, now=BEFORE_EXPIRY)
    for path in ("/media/t1/320k/index.m3u8", "/media/t1/master.m3u8", "/media/t2/256k/index.m3u8"):
        assert not _grants(policy, f"https://{DOMAIN}{path}")
        with pytest.raises(SignatureInvalid):
            signer.verify_cookies(path, cookies, now=BEFORE_EXPIRY)
    with pytest.raises(SignatureInvalid, match="expired"):
        signer.verify_cookies("/media/t1/256k/index.m3u8", cookies, now=EXPIRES_AT)
    with pytest.raises(SignatureInvalid):
        signer.verify_cookies(
            "/media/t1/256k/index.m3u8",
            {
                **cookies,
                "CloudFront-Signature": _signer(1).signed_cookies("/media/t1/256k/", expires_at=EXPIRES_AT)[
                    "CloudFront-Signature"
                ],
            },
            now=BEFORE_EXPIRY,
        )


@pytest.mark.parametrize("prefix", ["/", "/media/t1/256k", "media/t1/256k/", "/media/../256k/"])
def test_cookies_are_only_for_folders(prefix: str) -> None:
    """A cookie prefix is a folder below the root ending in '/', never the whole distribution."""
    with pytest.raises(InvalidInput):
        _signer().signed_cookies(prefix, expires_at=EXPIRES_AT)


# --- construction --------------------------------------------------------------------------------


def test_a_public_key_of_another_pair_is_refused() -> None:
    """Configuring a public key that does not match the private key is an error at start-up."""
    with pytest.raises(ValueError, match="does not belong"):
        CloudFrontUrlSigner(DOMAIN, KEY_ID, _private_pem(0), public_key_pem=_public_pem(1))


def test_keys_cloudfront_cannot_use_are_refused() -> None:
    """CloudFront key groups take RSA keys of 2048 bits: smaller RSA and EC keys are refused."""
    with pytest.raises(ValueError, match="RSA"):
        CloudFrontUrlSigner(DOMAIN, KEY_ID, _private_pem(9, bits=1024))
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="RSA"):
        CloudFrontUrlSigner(DOMAIN, KEY_ID, ec_pem)


@pytest.mark.parametrize("domain", ["", "d1.cloudfront.net/media", "https://", "d1 .net"])
def test_a_domain_must_be_a_host_name(domain: str) -> None:
    """The domain is a bare host (a scheme is tolerated and dropped), nothing else."""
    with pytest.raises(ValueError, match="host name"):
        CloudFrontUrlSigner(domain, KEY_ID, _private_pem(0))


def test_from_a_private_key_file(tmp_path: Path) -> None:
    """The signer bootstrap builds from MUSICCONNECT_CLOUDFRONT_PRIVATE_KEY_FILE verifies its own URLs."""
    key_file = tmp_path / "cloudfront.pem"
    key_file.write_bytes(_private_pem(0))
    signer = CloudFrontUrlSigner.from_private_key_file(f"https://{DOMAIN}/", KEY_ID, key_file)
    assert signer.domain == DOMAIN
    assert signer.public_key_pem() == _public_pem(0)
    query = _query(signer.sign(PATH, subject="fan-1", expires_at=datetime(2031, 1, 1, tzinfo=UTC)))
    assert _signer(0).verify(PATH, query, now=datetime(2030, 12, 31, tzinfo=UTC)) == "fan-1"


# --- playlists from the API, segments from the CDN --------------------------------------------

_API_SECRET = b"api-secret-for-playlists-long-enough"
_VARIANT = "/media/artists/a1/tracks/t1/hls/256k/index.m3u8"


def _split(index: int = 0) -> PlaylistsHereSegmentsOnCdn:
    return PlaylistsHereSegmentsOnCdn(playlists=HmacUrlSigner(_API_SECRET), segments=_signer(index))


class TestPlaylistsHereSegmentsOnCdn(UrlSignerContract):
    def make_signer(self) -> UrlSigner:
        return _split(0)

    def make_other_signer(self) -> UrlSigner:
        return _split(1)


def test_playlists_are_signed_for_the_api_and_segments_for_the_cdn() -> None:
    split = _split()
    playlist = urlsplit(split.sign(_VARIANT, subject="fan-1", expires_at=EXPIRES_AT))
    segment = urlsplit(split.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT))

    assert (playlist.netloc, playlist.path) == ("", _VARIANT)
    assert set(dict(parse_qsl(playlist.query))) == {"exp", "sub", "sig"}
    assert (segment.netloc, segment.path) == (DOMAIN, PATH)
    assert split.verify(_VARIANT, dict(parse_qsl(playlist.query)), now=BEFORE_EXPIRY) == "fan-1"
    assert split.verify(PATH, dict(parse_qsl(segment.query)), now=BEFORE_EXPIRY) == "fan-1"


def test_a_signature_of_one_kind_never_opens_the_other() -> None:
    """An API playlist signature on a segment path, or a CDN one on a playlist path: refused."""
    split = _split()
    playlist_query = dict(parse_qsl(urlsplit(split.sign(_VARIANT, subject="f", expires_at=EXPIRES_AT)).query))
    segment_query = dict(parse_qsl(urlsplit(split.sign(PATH, subject="f", expires_at=EXPIRES_AT)).query))

    with pytest.raises(SignatureInvalid):
        split.verify(PATH, playlist_query, now=BEFORE_EXPIRY)
    with pytest.raises(SignatureInvalid):
        split.verify(_VARIANT, segment_query, now=BEFORE_EXPIRY)


def test_the_segments_of_one_rung_share_one_signature_per_listener_and_expiry() -> None:
    signer = _signer()
    folder = PATH.rsplit("/", 1)[0]

    def signature(path: str, subject: str, expires_at: datetime = EXPIRES_AT) -> str:
        url = signer.sign(path, subject=subject, expires_at=expires_at)
        return dict(parse_qsl(urlsplit(url).query))["Signature"]

    same = {signature(f"{folder}/seg_{n:05d}.m4s", "fan-1") for n in range(20)}
    others = {
        signature(PATH, "fan-2"),
        signature(PATH, "fan-1", EXPIRES_AT + timedelta(seconds=1)),
        signature(PATH.replace("/128k/", "/256k/"), "fan-1"),
    }

    assert len(same) == 1
    assert same.isdisjoint(others)
    assert len(others) == len(["another fan", "another expiry", "another rung"])
