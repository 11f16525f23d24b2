"""Delivery through a CDN that players can follow: playlists from the API, segments from CloudFront.

A player resolves the segment URIs of a variant playlist relative to the playlist's URL and drops
its query string. A playlist served by CloudFront could therefore only list unsigned segment
URIs, which CloudFront refuses, unless every player held CloudFront signed cookies for the CDN's
domain. So the small variant playlists are handed out as API URLs instead: the API checks the
listener's tier on each one and writes every segment URI in it as a full CloudFront URL, signed
for that listener and rung. The segments, nearly all the bytes, still come from the CDN.
"""

from __future__ import annotations

from datetime import datetime

from musicconnect.ports.media import UrlSigner


def _is_playlist(path: str) -> bool:
    return path.endswith(".m3u8")


class PlaylistsHereSegmentsOnCdn:
    """A UrlSigner that signs playlists with ``playlists`` (the API's) and all else with ``segments``."""

    def __init__(self, *, playlists: UrlSigner, segments: UrlSigner) -> None:
        self._playlists = playlists
        self._segments = segments

    def __repr__(self) -> str:
        return f"{type(self).__name__}(playlists={self._playlists!r}, segments={self._segments!r})"

    def sign(self, path: str, *, subject: str, expires_at: datetime) -> str:
        return self._for(path).sign(path, subject=subject, expires_at=expires_at)

    def verify(self, path: str, query: dict[str, str], *, now: datetime) -> str:
        # Each kind of URL is checked by the signer that made it, never by the other.
        return self._for(path).verify(path, query, now=now)

    def _for(self, path: str) -> UrlSigner:
        return self._playlists if _is_playlist(path) else self._segments
