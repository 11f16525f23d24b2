"""Media in S3 behind CloudFront, end to end: playlists from the API, segments from the CDN, signed per rung.

moto serves the bucket (it does not check signatures), so the test checks each signature with
the public key itself, then fetches the objects from moto by translating the CDN host to the
origin, as CloudFront would after accepting the signature.
"""

from __future__ import annotations

import json
import time
from base64 import b64decode
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import attrs
import boto3
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from musicconnect.adapters.ffmpeg import generate_demo_audio
from musicconnect.adapters.s3 import CloudFrontUrlSigner
from musicconnect.domain.errors import SignatureInvalid
from musicconnect.domain.hls import listed_rungs, referenced_uris
from tests.e2e.backends import AWS_ENV
from tests.support.accounts import signed_in
from tests.support.moto_s3 import endpoint_url, moto_server
from tests.support.servers import musicconnect_server
from tests.support.tracks import uploaded_track

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CDN = "d111111abcdef8.cloudfront.net"
BUCKET = "musicconnect-cdn-e2e"
KEY_ID = "K2JCJMDEHXQW5F"


@attrs.frozen
class Cdn:
    http: httpx.Client
    origin: str
    public_key: bytes
    private_key: Path
    artist: str
    track_id: str
    fans: dict[str, dict[str, str]]


def _key_pair(folder: Path) -> tuple[Path, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = folder / "cloudfront.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


@pytest.fixture(scope="module")
def cdn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cdn]:
    root = tmp_path_factory.mktemp("cdn")
    private_key, public_key = _key_pair(root)
    s3 = moto_server(root / "moto")
    try:
        origin = endpoint_url(s3)
        boto3.client(
            "s3",
            endpoint_url=origin,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=BUCKET)
        env = {
            **AWS_ENV,
            "MUSICCONNECT_SECRET_KEY": "cdn-e2e-secret-key-long-enough-for-hs256",
            "MUSICCONNECT_S3_BUCKET": BUCKET,
            "MUSICCONNECT_S3_ENDPOINT_URL": origin,
            "MUSICCONNECT_CLOUDFRONT_DOMAIN": CDN,
            "MUSICCONNECT_CLOUDFRONT_KEY_ID": KEY_ID,
            "MUSICCONNECT_CLOUDFRONT_PRIVATE_KEY_FILE": str(private_key),
        }
        with (
            musicconnect_server(root / "data", env=env) as base,
            httpx.Client(base_url=base, timeout=60) as http,
        ):
            artist, artist_auth = signed_in(http, "artist@example.com", "artist")
            audio = root / "song.wav"
            generate_demo_audio(audio, 14.0)
            track_id = uploaded_track(http, artist, artist_auth, audio, title="On the CDN")
            deadline = time.monotonic() + 120
            while http.get(f"/tracks/{track_id}").json()["status"] == "processing":
                assert time.monotonic() < deadline, "transcode took too long"
                time.sleep(0.3)
            fans = {}
            for tier in ("free", "supporter", "superfan"):
                _, auth = signed_in(http, f"{tier}@example.com", "fan")
                subscribed = http.post(f"/artists/{artist}/subscription", headers=auth, json={"tier": tier})
                assert subscribed.status_code == 201, subscribed.text
                fans[tier] = auth
            yield Cdn(http, origin, public_key, private_key, artist, track_id, fans)
    finally:
        s3.stop()


def _variant_urls(cdn: Cdn, tier: str) -> list[str]:
    master = cdn.http.get(f"/tracks/{cdn.track_id}/stream", headers=cdn.fans[tier])
    assert master.status_code == 200, master.text
    return [line for line in master.text.splitlines() if line and not line.startswith("#")]


def _from_origin(cdn: Cdn, url: str) -> bytes:
    """What CloudFront fetches from the bucket (through its origin access) for a CDN URL it accepted."""
    parts = urlsplit(url)
    assert parts.netloc == CDN
    s3 = boto3.client(
        "s3",
        endpoint_url=cdn.origin,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    body: bytes = s3.get_object(Bucket=BUCKET, Key=parts.path.lstrip("/"))["Body"].read()
    return body


def _variant(cdn: Cdn, tier: str, index: int) -> tuple[str, str]:
    """(URL, body) of one variant playlist from a fan's master, as the API serves it."""
    url = _variant_urls(cdn, tier)[index]
    served = cdn.http.get(url)
    assert served.status_code == 200, served.text
    return url, served.text


def test_masters_list_the_tier_s_rungs_as_playlists_the_api_serves(cdn: Cdn) -> None:
    """Each fan's master lists their tier's rungs; the variant playlists come from the API, which
    checks the tier on each fetch, never from the CDN (where segment URIs could not be signed)."""
    for tier, rungs in (("free", [128]), ("supporter", [128, 256]), ("superfan", [128, 256, 320])):
        master = cdn.http.get(f"/tracks/{cdn.track_id}/stream", headers=cdn.fans[tier]).text
        assert listed_rungs(master) == rungs
        for url in _variant_urls(cdn, tier):
            parts = urlsplit(url)
            assert parts.netloc != CDN
            assert parts.path.endswith("/index.m3u8")


def test_every_uri_in_a_variant_is_a_cdn_url_signed_for_that_rung_only(cdn: Cdn) -> None:
    """The init file and every segment: on the CloudFront domain, verified with the public key,
    granting the playlist's rung folder to this fan and nothing above it, one signature for all."""
    verifier = CloudFrontUrlSigner(CDN, KEY_ID, cdn.private_key.read_bytes(), public_key_pem=cdn.public_key)
    url, variant = _variant(cdn, "supporter", -1)
    rung_folder = urlsplit(url).path.rsplit("/", 1)[0]
    assert rung_folder.endswith("/256k")
    uris = referenced_uris(variant)
    assert len(uris) > 2, variant
    signatures = set()
    for uri in uris:
        parts = urlsplit(uri)
        assert parts.netloc == CDN
        assert parts.path.startswith(f"{rung_folder}/")
        query = dict(parse_qsl(parts.query))
        verifier.verify(parts.path, query, now=datetime.now(UTC))
        policy = json.loads(b64decode(query["Policy"].replace("-", "+").replace("_", "=").replace("~", "/")))
        assert policy["Statement"][0]["Resource"].startswith(f"https://{CDN}{rung_folder}/*")
        above = parts.path.replace("/256k/", "/320k/")
        with pytest.raises(SignatureInvalid):
            verifier.verify(above, query, now=datetime.now(UTC))
        signatures.add(query["Signature"])
    assert len(signatures) == 1, "a playlist's URIs share one policy, signed once"


def test_the_segment_bytes_come_from_the_bucket_through_the_cdn_urls(cdn: Cdn) -> None:
    """What the handed-out CDN URLs point at is in the bucket: the init file and real segments."""
    _, variant = _variant(cdn, "superfan", -1)
    init, first, *_ = referenced_uris(variant)
    assert _from_origin(cdn, init)
    assert len(_from_origin(cdn, first)) > 10_000


def test_the_api_refuses_a_variant_above_the_tier(cdn: Cdn) -> None:
    """Moving a free fan's signed 128k playlist URL to 320k breaks its signature: 403."""
    url = _variant_urls(cdn, "free")[0]
    parts = urlsplit(url)
    guessed = parts.path.replace("/128k/", "/320k/")
    assert cdn.http.get(f"{guessed}?{parts.query}").status_code == 403
