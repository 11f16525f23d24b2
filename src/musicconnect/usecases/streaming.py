"""Authorising a stream: a master playlist with only the caller's rungs, each URI signed.

Every media URL is ``/media/{track.hls_prefix}/{kbps}k/{file}``, the storage key under ``/media``,
so the API and a CDN in front of the bucket serve the same paths; each is signed for the caller.
Serving re-checks the caller's tier, so a signed URL for a rung above it (or a guessed one) is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from musicconnect.domain.accounts import Caller, Role, role_of_token
from musicconnect.domain.entitlements import OWNER_ENTITLEMENTS, Entitlements, entitlements_for_tier
from musicconnect.domain.errors import AuthenticationFailed, Conflict, Forbidden, NotFound, SignatureInvalid
from musicconnect.domain.hls import Variant, master_playlist, rewrite_uris
from musicconnect.domain.media import VARIANT_PLAYLIST, RungRate, content_type_for, rung_folder
from musicconnect.domain.subscriptions import Standing
from musicconnect.domain.tiers import Tier
from musicconnect.domain.tracks import Track, TrackStatus, can_see
from musicconnect.ports.media import MediaStorage, UrlSigner
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import AccessReads, BlockingWork, Cache, Clock, TokenIssuer
from musicconnect.usecases.access import is_owner
from musicconnect.usecases.caching import (
    ReadyTracks,
    decode_standing,
    standing_key,
    standing_with,
    track_mark_key,
    variant_playlist,
)

DEFAULT_URL_TTL: Final = timedelta(hours=2)
#: Expiries fall on a grid of this many steps per lifetime (2 minutes for the default 2 hours):
#: a listener re-opening a stream within a step gets the very same URLs, which caches keep and
#: signers need not sign again. A URL then lives between ``ttl - ttl / steps`` and ``ttl``.
EXPIRY_STEPS: Final = 60


def url_expiry(now: datetime, ttl: timedelta) -> datetime:
    """When URLs signed at ``now`` expire: ``now + ttl``, rounded down to the grid (whole seconds)."""
    step = max(1, int(ttl.total_seconds()) // EXPIRY_STEPS)
    latest = int((now + ttl).timestamp())
    return datetime.fromtimestamp(latest - latest % step, tz=UTC)


def media_path(artist_id: str, track_id: str, kbps: int, filename: str) -> str:
    """The delivery path of one rung's file: the storage key, under ``/media``."""
    return f"/media/artists/{artist_id}/tracks/{track_id}/hls/{rung_folder(kbps)}/{filename}"


def standing_entitlements(  # outside any open unit of work: the cache is read first
    caller: Caller, artist_id: str, *, uow: UnitOfWork, cache: Cache, clock: Clock
) -> Entitlements:
    """What the caller may do with the artist's media now: the artist (or an admin) everything,
    a fan what their tier grants, anyone else the free tier."""
    if is_owner(caller, artist_id):
        return OWNER_ENTITLEMENTS
    tier = Tier.FREE
    if caller.role is Role.FAN:
        tier = standing_with(caller.id, artist_id, uow=uow, cache=cache).tier_at(clock.now())
    return entitlements_for_tier(tier)


def _needs_standing(caller: Caller, track: Track) -> bool:
    """Whether the caller's rights on ``track`` depend on their subscription: a fan's, not its owner's."""
    return caller.role is Role.FAN and caller.id != track.artist_id


def _entitlements_at(caller: Caller, track: Track, standing: Standing | None, now: datetime) -> Entitlements:
    """What ``caller`` may do with ``track`` at ``now``; ``standing`` is a fan's (None for others)."""
    if is_owner(caller, track.artist_id):
        return OWNER_ENTITLEMENTS
    tier = Tier.FREE if standing is None else standing.tier_at(now)
    rights = entitlements_for_tier(tier)
    if not can_see(track, rights=rights, now=now):
        raise NotFound(f"no track {track.id}")
    return rights


def _listener_entitlements(  # outside any open unit of work: the cache is read first
    caller: Caller, track: Track, *, uow: UnitOfWork, cache: Cache, clock: Clock
) -> Entitlements:
    standing = None
    if _needs_standing(caller, track):
        standing = standing_with(caller.id, track.artist_id, uow=uow, cache=cache)
    return _entitlements_at(caller, track, standing, clock.now())


def _playable(
    track_id: str, caller: Caller, *, uow: UnitOfWork, tracks: ReadyTracks, cache: Cache, clock: Clock
) -> tuple[Track, Entitlements]:
    if caller.role not in {Role.FAN, Role.ARTIST, Role.ADMIN}:
        raise Forbidden("sign in to stream")
    track = tracks.get(track_id, uow=uow, cache=cache)
    rights = _listener_entitlements(caller, track, uow=uow, cache=cache, clock=clock)
    if track.status is not TrackStatus.READY:
        raise Conflict(f"track {track_id} is {track.status}, not ready")
    return track, rights


def _master(
    track: Track, rights: Entitlements, *, subject: str, signer: UrlSigner, now: datetime, ttl: timedelta
) -> str:
    """The master playlist of the rungs ``rights`` allow, each variant URI signed for ``subject``."""
    return signed_master(
        track.rungs_kbps,
        lambda kbps, name: media_path(track.artist_id, track.id, kbps, name),
        rights=rights,
        subject=subject,
        expires=url_expiry(now, ttl),
        signer=signer,
        rate_of=track.rate_of,
    )


def signed_master(
    rungs_kbps: Iterable[int],
    path_of: Callable[[int, str], str],
    *,
    rights: Entitlements,
    subject: str,
    expires: datetime,
    signer: UrlSigner,
    rate_of: Callable[[int], RungRate | None] = lambda _: None,
) -> str:
    """A master playlist of the rungs ``rights`` allow, each variant URI (``path_of(kbps, name)``)
    signed for ``subject``; without a measured rate a rung declares its nominal one."""
    variants = [
        Variant(
            kbps,
            signer.sign(path_of(kbps, VARIANT_PLAYLIST), subject=subject, expires_at=expires),
            rate_of(kbps),
        )
        for kbps in rights.allowed_rungs(rungs_kbps)
    ]
    return master_playlist(variants)


def verified_listener(
    path: str, query: Mapping[str, str], *, uow: UnitOfWork, signer: UrlSigner, now: datetime
) -> Caller:
    """The holder of a signed media URL, who must still exist; SignatureInvalid otherwise."""
    subject = signer.verify(path, dict(query), now=now)
    with uow:
        listener = uow.accounts.get(subject)
    if listener is None:
        raise SignatureInvalid("the signature's holder no longer exists")
    return Caller(listener.id, listener.role)


def authorise_stream(
    track_id: str,
    *,
    caller: Caller,
    uow: UnitOfWork,
    tracks: ReadyTracks,
    cache: Cache,
    signer: UrlSigner,
    clock: Clock,
    ttl: timedelta = DEFAULT_URL_TTL,
) -> str:
    """The caller's master playlist: only the rungs their tier allows, each URI signed for them."""
    track, rights = _playable(track_id, caller, uow=uow, tracks=tracks, cache=cache, clock=clock)
    return _master(track, rights, subject=caller.id, signer=signer, now=clock.now(), ttl=ttl)


@attrs.frozen
class MediaFile:
    body: bytes
    content_type: str


def serve_media(
    artist_id: str,
    track_id: str,
    rung: str,
    filename: str,
    query: Mapping[str, str],
    *,
    uow: UnitOfWork,
    tracks: ReadyTracks,
    cache: Cache,
    storage: MediaStorage,
    signer: UrlSigner,
    clock: Clock,
    ttl: timedelta = DEFAULT_URL_TTL,
) -> MediaFile:
    """A signed variant playlist or segment. Tampered, expired or above-tier requests are refused."""
    kbps = parse_rung(rung)
    now = clock.now()
    listening = verified_listener(
        media_path(artist_id, track_id, kbps, filename), query, uow=uow, signer=signer, now=now
    )
    subject = listening.id
    track = tracks.get(track_id, uow=uow, cache=cache)
    if track.artist_id != artist_id:
        raise NotFound(f"no track {track_id} by artist {artist_id}")
    rights = _listener_entitlements(listening, track, uow=uow, cache=cache, clock=clock)
    if not rights.may_stream(kbps) or kbps not in track.rungs_kbps:
        raise SignatureInvalid(f"rung {kbps}k is above this listener's tier")
    if "/" in filename or filename.startswith("."):
        raise NotFound(f"no file {filename}")
    if filename == VARIANT_PLAYLIST:
        body = variant_playlist(track, kbps, storage=storage, cache=cache)
    else:
        body = storage.get_bytes(f"{track.hls_prefix}/{rung_folder(kbps)}/{filename}")
    if filename.endswith(".m3u8"):
        body = sign_playlist(
            body,
            lambda uri: media_path(track.artist_id, track.id, kbps, uri),
            subject=subject,
            expires=url_expiry(now, ttl),
            signer=signer,
        )
    return MediaFile(body=body, content_type=content_type_for(filename))


def parse_rung(rung: str) -> int:
    """The kbps of a rung folder's name (``320k``); NotFound for anything else."""
    if not rung.endswith("k") or not rung[:-1].isdigit():
        raise NotFound(f"no rung {rung}")
    return int(rung[:-1])


def sign_playlist(
    body: bytes,
    path_of: Callable[[str], str],
    *,
    subject: str,
    expires: datetime,
    signer: UrlSigner,
) -> bytes:
    """A variant playlist whose every URI (``path_of(uri)``) is signed for ``subject``."""

    def sign(uri: str) -> str:
        return signer.sign(path_of(uri), subject=subject, expires_at=expires)

    return rewrite_uris(body.decode("utf-8"), sign).encode("utf-8")


@attrs.frozen
class Streaming:
    """The hot path of playback: master playlists and signed media, bound once at start-up so a
    request builds nothing."""

    #: Read-only units of work: opening a stream never takes a write lock.
    reader: Callable[[], UnitOfWork]
    tracks: ReadyTracks
    cache: Cache
    storage: MediaStorage
    signer: UrlSigner
    clock: Clock
    ttl: timedelta = DEFAULT_URL_TTL
    #: Reads access tokens (their signature, expiry and claims).
    tokens: TokenIssuer | None = None
    #: Whether a token is revoked and the fan's cached standing, awaited together.
    reads: AccessReads | None = None
    #: How the database is read when the cache cannot answer: in place on local files, else in a
    #: worker thread, so the event loop never waits on the network.
    blocking: BlockingWork | None = None

    def master_playlist(self, track_id: str, *, caller: Caller) -> str:
        """The caller's master playlist: only the rungs their tier allows, each URI signed."""
        return authorise_stream(
            track_id,
            caller=caller,
            uow=self.reader(),
            tracks=self.tracks,
            cache=self.cache,
            signer=self.signer,
            clock=self.clock,
            ttl=self.ttl,
        )

    async def master_playlist_for(self, track_id: str, *, access_token: str) -> str:
        """``master_playlist`` for the holder of ``access_token``, for async callers.

        Each request must learn whether the token is revoked, what the fan's standing is, and
        whether the track this process remembers is still as it was (its change mark). All are
        asked of ``reads`` together and awaited, so on Redis the event loop never waits and no
        worker thread is involved. Only a track this process has not yet seen published (or has
        seen change), or a standing the cache does not hold, is read from the database as
        ``blocking`` work, which fills both for the requests after it. AuthenticationFailed when
        the token is bad, expired or revoked.
        """
        if self.tokens is None or self.reads is None or self.blocking is None:
            raise AuthenticationFailed("this platform signs nobody in")
        claims = self.tokens.decode(access_token, kind="access")
        caller = Caller(id=claims.subject, role=role_of_token(claims.role))
        remembered = self.tracks.remembered(track_id)
        track = None if remembered is None else remembered.track
        keys = [] if track is None else [track_mark_key(track_id)]
        if track is not None and _needs_standing(caller, track):
            keys.append(standing_key(caller.id, track.artist_id))
        revoked, cached = await self.reads.read((claims.token_id, claims.family.id), keys)
        if revoked:
            raise AuthenticationFailed("token revoked")
        if remembered is not None and cached[0] != remembered.mark:
            track = None  # edited or deleted since this process read it: read it again
        standing = decode_standing(cached[1]) if len(cached) > 1 and cached[1] is not None else None
        if track is None or (len(keys) > 1 and standing is None):
            return await self.blocking(lambda: self.master_playlist(track_id, caller=caller))
        now = self.clock.now()
        rights = _entitlements_at(caller, track, standing, now)
        return _master(track, rights, subject=caller.id, signer=self.signer, now=now, ttl=self.ttl)

    def media(
        self, artist_id: str, track_id: str, rung: str, filename: str, query: Mapping[str, str]
    ) -> MediaFile:
        """A variant playlist or segment behind a signed URL (``query`` holds the signature)."""
        return serve_media(
            artist_id,
            track_id,
            rung,
            filename,
            query,
            uow=self.reader(),
            tracks=self.tracks,
            cache=self.cache,
            storage=self.storage,
            signer=self.signer,
            clock=self.clock,
            ttl=self.ttl,
        )
