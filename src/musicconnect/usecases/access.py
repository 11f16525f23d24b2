"""Shared look-ups and checks that several use cases need."""

from __future__ import annotations

from datetime import datetime

from musicconnect.domain.accounts import Artist, Caller, Role
from musicconnect.domain.entitlements import entitlements
from musicconnect.domain.errors import Forbidden, NotFound
from musicconnect.domain.tiers import Feature
from musicconnect.domain.tracks import Track
from musicconnect.ports.repositories import UnitOfWork


def require_artist(uow: UnitOfWork, artist_id: str) -> Artist:
    artist = uow.artists.get(artist_id)
    if artist is None:
        raise NotFound(f"no artist {artist_id}")
    return artist


def require_open_artist(uow: UnitOfWork, artist_id: str) -> Artist:
    """The artist, for anything a fan starts with them (a visit, a subscription, a tier change):
    NotFound when there is none or they erased their account, as they are closed for good."""
    artist = require_artist(uow, artist_id)
    if artist.is_erased:
        raise NotFound(f"no artist {artist_id}")
    return artist


def require_track(uow: UnitOfWork, track_id: str) -> Track:
    """The track; NotFound when there is none or its artist deleted it."""
    track = uow.tracks.get(track_id)
    if track is None or track.is_deleted:
        raise NotFound(f"no track {track_id}")
    return track


def is_owner(caller: Caller, artist_id: str) -> bool:
    """The artist themself, or an admin."""
    return caller.id == artist_id or caller.is_admin


def require_owner(caller: Caller, artist_id: str) -> None:
    """Only the artist themself (or an admin) may manage an artist's page."""
    if not is_owner(caller, artist_id):
        raise Forbidden("only that artist may do this")


def require_fan(caller: Caller) -> None:
    if caller.role is not Role.FAN:
        raise Forbidden("only fans may do this")


def require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise Forbidden("only an admin may do this")


def require_perk(
    uow: UnitOfWork,
    caller: Caller,
    artist_id: str,
    feature: Feature,
    *,
    now: datetime,
    refusal: str,
    not_a_fan: str = "only fans may do this",
) -> None:
    """The artist (or an admin) always passes; anyone else must be a fan whose live
    subscriptions to the artist grant ``feature`` now. Forbidden, saying ``not_a_fan`` or
    ``refusal``, otherwise."""
    if is_owner(caller, artist_id):
        return
    if caller.role is not Role.FAN:
        raise Forbidden(not_a_fan)
    if not entitlements(uow.subscriptions.live_for(caller.id, artist_id), now).has(feature):
        raise Forbidden(refusal)
