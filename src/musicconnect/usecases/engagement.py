"""What fans do besides paying: follow, like, play, and message the artist."""

from __future__ import annotations

from collections.abc import Sequence

from musicconnect.domain.accounts import Caller
from musicconnect.domain.analytics import PlayEvent
from musicconnect.domain.errors import Conflict
from musicconnect.domain.messages import DirectMessage
from musicconnect.domain.throttling import PLAY_REPEAT
from musicconnect.domain.tracks import TrackStatus
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, IdGenerator, QuotaCounter
from musicconnect.usecases.access import require_artist, require_fan, require_owner
from musicconnect.usecases.conversations import Conversations
from musicconnect.usecases.library import Library
from musicconnect.usecases.tracks import view_track


def follow(artist_id: str, *, caller: Caller, uow: UnitOfWork, clock: Clock) -> None:
    Library(lambda: uow, clock).follow(artist_id, caller=caller)


def like(track_id: str, *, caller: Caller, uow: UnitOfWork, clock: Clock) -> None:
    Library(lambda: uow, clock).like(track_id, caller=caller)


def record_play(track_id: str, *, caller: Caller, uow: UnitOfWork, quota: QuotaCounter, clock: Clock) -> bool:
    """Count a play of a track the caller can stream now, in the artist's daily bucket: at most
    one per fan and track every 30 s (the player reports a play, not every seek). False when the
    play was not counted for that reason."""
    require_fan(caller)
    track = view_track(track_id, caller=caller, uow=uow, clock=clock)
    if track.status is not TrackStatus.READY:
        raise Conflict("only a track that can be streamed can be played")
    now = clock.now()
    if not quota.acquire(f"play-once:{caller.id}:{track.id}", limit=1, resets_at=now + PLAY_REPEAT):
        return False
    with uow:
        uow.plays.record(PlayEvent(artist_id=track.artist_id, track_id=track.id, fan_id=caller.id, at=now))
        uow.commit()
    return True


def send_message(
    artist_id: str,
    body: str,
    *,
    caller: Caller,
    uow: UnitOfWork,
    quota: QuotaCounter,
    ids: IdGenerator,
    clock: Clock,
) -> DirectMessage:
    """A superfan's direct message, at most five per artist per calendar month (UTC)."""
    return Conversations(lambda: uow, quota, ids, clock).send(artist_id, body, caller=caller)


def inbox(artist_id: str, *, caller: Caller, uow: UnitOfWork) -> Sequence[DirectMessage]:
    """The direct messages fans sent the artist, oldest first: only the artist may read them."""
    require_owner(caller, artist_id)
    with uow:
        require_artist(uow, artist_id)
        return uow.messages.to_artist(artist_id)
