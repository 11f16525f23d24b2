"""Master playlists capped by tier, and signed media URLs that refuse tampering, expiry and greed."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from musicconnect.bootstrap import Services
from musicconnect.domain.hls import listed_rungs, referenced_uris
from musicconnect.usecases.streaming import media_path
from tests.unit.http.conftest import Api, Rebind, User, assert_error
from tests.unit.http.fakes import INIT, SEGMENT

HLS = "application/vnd.apple.mpegurl"


def _master(api: Api, track_id: str, user: User) -> str:
    response = api.client.get(f"/tracks/{track_id}/stream", headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(HLS)
    assert response.headers["cache-control"] == "private, no-store"
    return response.text


def _variant_url(api: Api, track_id: str, user: User, kbps: int) -> str:
    [url] = [u for u in referenced_uris(_master(api, track_id, user)) if f"/{kbps}k/" in u]
    return url


def test_each_tier_gets_its_rungs(api: Api) -> None:
    """Free lists 128k; supporter 128k and 256k; superfan all three."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    expected = {"free": [128], "supporter": [128, 256], "superfan": [128, 256, 320]}
    for tier, rungs in expected.items():
        assert listed_rungs(_master(api, track_id, api.fan_on(artist, tier))) == rungs, tier


def test_the_artist_hears_the_whole_ladder(api: Api) -> None:
    """The owner's master lists every rung."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    assert listed_rungs(_master(api, track_id, artist)) == [128, 256, 320]


def test_streaming_needs_a_signed_in_caller(api: Api) -> None:
    """Anonymous requests for a master playlist are 401."""
    track_id = api.ready_track(api.artist())
    assert_error(api.client.get(f"/tracks/{track_id}/stream"), 401, "authentication_failed")


def test_streaming_a_hidden_or_missing_track_is_404(api: Api) -> None:
    """An exclusive track does not exist for a free fan; an unknown one does not exist for anyone."""
    artist = api.artist()
    track_id = api.ready_track(artist, exclusive="true")
    assert_error(api.client.get(f"/tracks/{track_id}/stream", headers=api.fan().headers), 404)
    assert_error(api.client.get("/tracks/nothing/stream", headers=artist.headers), 404)


def test_a_track_still_processing_is_409(api: Api, rebind: Rebind) -> None:
    """There is nothing to stream before the ladder is published."""
    artist = api.artist()
    api.services = rebind(jobs=_NoJobs())
    response = api.upload(artist)
    assert response.status_code == 202
    track_id = response.json()["track_id"]
    assert api.client.get(f"/tracks/{track_id}").json()["status"] == "processing"
    assert_error(api.client.get(f"/tracks/{track_id}/stream", headers=artist.headers), 409, "conflict")


class _NoJobs:
    def enqueue(self, job: object) -> None:
        """Queue nothing: the track stays processing."""


def test_a_signed_variant_playlist_and_its_segments_are_served(api: Api) -> None:
    """The variant's own URIs come back signed; following them serves the bytes with their types."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    fan = api.fan_on(artist, "supporter")
    variant = api.client.get(_variant_url(api, track_id, fan, 256))
    assert variant.status_code == 200
    assert variant.headers["content-type"].startswith(HLS)
    uris = referenced_uris(variant.text)
    assert [urlsplit(u).path.rsplit("/", 1)[1] for u in uris] == [INIT, SEGMENT]
    for uri in uris:
        assert set(parse_qs(urlsplit(uri).query)) == {"exp", "sub", "sig"}
    segment = api.client.get(uris[1])
    assert segment.status_code == 200
    assert segment.headers["content-type"] == "audio/mp4"
    assert segment.content == b"segment-256"


def test_media_caching_is_private_and_bounded_by_the_signature(api: Api, services: Services) -> None:
    """max-age never outlives the URL's expiry."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    fan = api.fan_on(artist, "free")
    url = _variant_url(api, track_id, fan, 128)
    api.clock.advance(minutes=30)
    response = api.client.get(url)
    assert response.status_code == 200
    expires = int(parse_qs(urlsplit(url).query)["exp"][0])
    left = expires - int(api.clock.now().timestamp())
    assert response.headers["cache-control"] == f"private, max-age={left}"
    assert 0 < left <= services.settings.url_ttl_s


def test_a_tampered_url_is_403(api: Api) -> None:
    """Changing the signature, the subject, the expiry or the rung breaks the signature."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    fan = api.fan_on(artist, "free")
    other = api.fan_on(artist, "superfan")
    url = _variant_url(api, track_id, fan, 128)
    path, query = url.split("?", 1)
    params = {k: v[0] for k, v in parse_qs(query).items()}
    flipped = params["sig"][:-1] + ("A" if params["sig"][-1] != "A" else "B")
    tampered = [
        f"{path}?exp={params['exp']}&sub={params['sub']}&sig={flipped}",
        f"{path}?exp={params['exp']}&sub={other.id}&sig={params['sig']}",
        f"{path}?exp={int(params['exp']) + 3600}&sub={params['sub']}&sig={params['sig']}",
        f"{path.replace('/128k/', '/320k/')}?{query}",
        f"{path.replace('index.m3u8', SEGMENT)}?{query}",
        path,
    ]
    for candidate in tampered:
        assert_error(api.client.get(candidate), 403, "signature_invalid")


def test_an_expired_url_is_403_url_expired(api: Api, services: Services) -> None:
    """Once the signature's time is up, the URL stops working, with a code telling the player to
    fetch a fresh master; the fresh master's URLs work again."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    fan = api.fan_on(artist, "free")
    url = _variant_url(api, track_id, fan, 128)
    api.clock.advance(seconds=services.settings.url_ttl_s)
    assert_error(api.client.get(url), 403, "url_expired")
    assert api.client.get(_variant_url(api, track_id, api.login(fan), 128)).status_code == 200


def _segment_url(api: Api, track_id: str, user: User, kbps: int) -> str:
    variant = api.client.get(_variant_url(api, track_id, user, kbps))
    return referenced_uris(variant.text)[1]


def test_a_range_request_gets_206_with_those_bytes(api: Api) -> None:
    """Players that read segments in pieces get exactly the bytes asked for, and where they sit."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    url = _segment_url(api, track_id, artist, 128)
    whole = b"segment-128"
    for header, first, last in (("bytes=0-6", 0, 6), ("bytes=8-", 8, 10), ("bytes=-3", 8, 10)):
        response = api.client.get(url, headers={"range": header})
        assert response.status_code == 206, header
        assert response.content == whole[first : last + 1]
        assert response.headers["content-range"] == f"bytes {first}-{last}/{len(whole)}"
    plain = api.client.get(url)
    assert (plain.status_code, plain.content, plain.headers["accept-ranges"]) == (200, whole, "bytes")


def test_a_range_past_the_end_is_416(api: Api) -> None:
    """A range that starts after the last byte cannot be satisfied; the size is given instead."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    for header in ("bytes=500-", "bytes=-0"):
        response = api.client.get(_segment_url(api, track_id, artist, 128), headers={"range": header})
        assert response.status_code == 416, header
        assert response.headers["content-range"] == "bytes */11"


def test_a_validly_signed_url_above_the_tier_is_403(api: Api, services: Services) -> None:
    """Even a genuine signature does not unlock a rung above the listener's tier."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    fan = api.fan_on(artist, "free")
    expires = api.clock.now() + timedelta(hours=1)
    for kbps in (256, 320):
        url = services.signer.sign(
            media_path(artist.id, track_id, kbps, "index.m3u8"), subject=fan.id, expires_at=expires
        )
        assert_error(api.client.get(url), 403, "signature_invalid")


def test_a_signed_url_for_a_missing_file_is_404(api: Api, services: Services) -> None:
    """A genuine signature on a file that does not exist finds nothing."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    expires = api.clock.now() + timedelta(hours=1)
    url = services.signer.sign(
        media_path(artist.id, track_id, 128, "missing.m4s"), subject=artist.id, expires_at=expires
    )
    assert_error(api.client.get(url), 404, "not_found")


def test_an_upgrade_mid_session_returns_a_richer_master(api: Api) -> None:
    """Next fetch after upgrading to superfan lists all three rungs, with no new login."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    fan = api.fan_on(artist, "supporter")
    assert listed_rungs(_master(api, track_id, fan)) == [128, 256]
    upgrade = api.client.patch(
        f"/artists/{artist.id}/subscription", json={"tier": "superfan"}, headers=fan.headers
    )
    assert upgrade.status_code == 200
    assert listed_rungs(_master(api, track_id, fan)) == [128, 256, 320]
    assert api.client.get(_variant_url(api, track_id, fan, 320)).status_code == 200
