"""CORS for the configured web origins: a player on another origin can open and follow a stream."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest
from litestar.testing import TestClient

from musicconnect.bootstrap import Services
from musicconnect.domain.hls import referenced_uris
from musicconnect.entrypoints.http.app import create_app
from musicconnect.platform import Platform
from tests.unit.http.conftest import Api

WEB = "https://player.example"


@pytest.fixture
def web(services: Services, api: Api) -> Iterator[Api]:
    """The API with MUSICCONNECT_CORS_ORIGINS naming the player's origin (and another)."""
    settings = services.settings.model_copy(update={"cors_origins": f"{WEB}, https://b.example/"})
    services = attrs.evolve(services, settings=settings)
    with TestClient(create_app(Platform.of(services))) as client:
        yield Api(client, services, api.clock)


def test_a_preflight_for_the_stream_allows_the_bearer_header(web: Api) -> None:
    """The browser's OPTIONS before an authorised GET is answered for a listed origin."""
    track_id = web.ready_track(web.artist())
    response = web.client.options(
        f"/tracks/{track_id}/stream",
        headers={
            "origin": WEB,
            "access-control-request-method": "GET",
            "access-control-request-headers": "authorization",
        },
    )
    assert response.status_code in {200, 204}
    assert response.headers["access-control-allow-origin"] == WEB
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert "GET" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers


def test_master_variant_and_segment_responses_carry_the_origin(web: Api) -> None:
    """Every response a player reads, and the API's JSON, names the origin; no credentials."""
    artist = web.artist()
    track_id = web.ready_track(artist)
    origin = {"origin": WEB}
    master = web.client.get(f"/tracks/{track_id}/stream", headers={**artist.headers, **origin})
    variant = web.client.get(referenced_uris(master.text)[0], headers=origin)
    segment = web.client.get(referenced_uris(variant.text)[1], headers={**origin, "range": "bytes=0-3"})
    details = web.client.get(f"/tracks/{track_id}", headers=origin)
    for response in (master, variant, segment, details):
        assert response.status_code in {200, 206}, response.text
        assert response.headers["access-control-allow-origin"] == WEB
        assert "access-control-allow-credentials" not in response.headers
    assert "content-range" in segment.headers["access-control-expose-headers"].lower()


def test_an_error_a_player_must_read_carries_the_origin_too(web: Api) -> None:
    """An expired URL's 403 url_expired is readable by the page, so its player can recover."""
    artist = web.artist()
    track_id = web.ready_track(artist)
    master = web.client.get(f"/tracks/{track_id}/stream", headers=artist.headers)
    web.clock.advance(seconds=web.services.settings.url_ttl_s)
    expired = web.client.get(referenced_uris(master.text)[0], headers={"origin": WEB})
    assert expired.status_code == 403
    assert expired.json()["error"] == "url_expired"
    assert expired.headers["access-control-allow-origin"] == WEB


def test_an_origin_not_listed_gets_no_cors_headers(web: Api) -> None:
    """Pages elsewhere are not let in."""
    response = web.client.get("/health", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_without_the_setting_no_origin_is_allowed(api: Api) -> None:
    """CORS is off unless origins are configured."""
    response = api.client.get("/health", headers={"origin": WEB})
    assert "access-control-allow-origin" not in response.headers
