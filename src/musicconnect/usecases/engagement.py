"""What fans do besides paying: follow, like, play, and message the artist."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from musicconnect.domain.accounts import Caller
from musicconnect.domain.analytics import PlayEvent
from musicconnect.domain.clocks import month_key, next_month_start
from musicconnect.domain.entitlements import DM_PER_MONTH, entitlements
from musicconnect.domain.errors import Conflict, Forbidden, QuotaExceeded
from musicconnect.domain.messages import DirectMessage, check_body, dm_quota_key
from musicconnect.domain.throttling import PLAY_REPEAT
from musicconnect.domain.tiers import Feature
from musicconnect.domain.tracks import TrackStatus
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, IdGenerator, QuotaCounter
from musicconnect.usecases.access import require_artist, require_fan, require_owner
from musicconnect.usecases.tracks import view_track


def follow(artist_id: str, *, caller: Caller, uow: UnitOfWork, clock: Clock) -> None:
    require_fan(caller)
    with uow:
        require_artist(uow, artist_id)
        uow.fans.follow(caller.id, artist_id, clock.now())
        uow.commit()


def like(track_id: str, *, caller: Caller, uow: UnitOfWork, clock: Clock) -> None:
    require_fan(caller)
    view_track(track_id, caller=caller, uow=uow, clock=clock)
    with uow:
        uow.fans.like(caller.id, track_id, clock.now())
        uow.commit()


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
    require_fan(caller)
    text = check_body(body)
    now = clock.now()
    with uow:
        require_artist(uow, artist_id)
        rights = entitlements(uow.subscriptions.live_for(caller.id, artist_id), now)
    if not rights.has(Feature.DIRECT_MESSAGES):
        raise Forbidden("direct messages are for superfans")
    key = dm_quota_key(caller.id, artist_id, month_key(now))
    if not quota.acquire(key, limit=DM_PER_MONTH, resets_at=next_month_start(now)):
        raise QuotaExceeded(f"{DM_PER_MONTH} messages a month; the quota resets on the 1st")
    message = DirectMessage(id=ids.new_id(), fan_id=caller.id, artist_id=artist_id, body=text, sent_at=now)
    try:
        with uow:
            uow.messages.add(message)
            uow.commit()
    except BaseException:
        quota.release(key)  # the message was not stored, so it must not use up the quota
        raise
    return message


def inbox(artist_id: str, *, caller: Caller, uow: UnitOfWork) -> Sequence[DirectMessage]:
    """The direct messages fans sent the artist, oldest first: only the artist may read them."""
    require_owner(caller, artist_id)
    with uow:
        require_artist(uow, artist_id)
        return uow.messages.to_artist(artist_id)


@attrs.frozen
class Engagement:
    """What fans do besides paying (follow, like, play, message), bound once to their ports."""

    uow: Callable[[], UnitOfWork]
    quota: QuotaCounter
    ids: IdGenerator
    clock: Clock

    def follow(self, artist_id: str, *, caller: Caller) -> None:
        """Follow the artist (following twice is following once)."""
        follow(artist_id, caller=caller, uow=self.uow(), clock=self.clock)

    def like(self, track_id: str, *, caller: Caller) -> None:
        """Like a track the caller may see."""
        like(track_id, caller=caller, uow=self.uow(), clock=self.clock)

    def play(self, track_id: str, *, caller: Caller) -> bool:
        """Count a play; False when it repeats one of the last 30 s."""
        return record_play(track_id, caller=caller, uow=self.uow(), quota=self.quota, clock=self.clock)

    def message(self, artist_id: str, body: str, *, caller: Caller) -> DirectMessage:
        """A superfan's direct message to the artist: five per calendar month (UTC)."""
        return send_message(
            artist_id, body, caller=caller, uow=self.uow(), quota=self.quota, ids=self.ids, clock=self.clock
        )

    def inbox(self, artist_id: str, *, caller: Caller) -> Sequence[DirectMessage]:
        """The artist's direct messages, oldest first."""
        return inbox(artist_id, caller=caller, uow=self.uow())
