"""A fan's library: whom they follow and what they like (each undoable), the plays they make and
their listening history, and the counts an artist or a listener sees."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import attrs

from musicconnect.domain.accounts import Caller
from musicconnect.domain.analytics import PlayEvent
from musicconnect.domain.errors import Conflict
from musicconnect.domain.throttling import PLAY_REPEAT
from musicconnect.domain.tracks import Track, TrackStatus, can_see
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, QuotaCounter
from musicconnect.usecases.access import require_artist, require_fan, require_open_artist
from musicconnect.usecases.tracks import caller_rights, view_track


@attrs.frozen
class FollowedArtist:
    artist_id: str
    display_name: str
    followed_at: datetime


@attrs.frozen
class LikedTrack:
    track: Track
    liked_at: datetime


@attrs.frozen
class PlayedTrack:
    track: Track
    last_played_at: datetime
    plays: int


#: How much history ``GET /me/history`` shows.
HISTORY_LENGTH = 50


@attrs.frozen
class Library:
    """A fan's library (follows, likes, plays, history), bound once to their ports."""

    uow: Callable[[], UnitOfWork]
    #: Keeps a play from being counted twice within ``PLAY_REPEAT``.
    quota: QuotaCounter
    clock: Clock

    def follow(self, artist_id: str, *, caller: Caller) -> None:
        """Following twice is following once; an erased artist is closed (NotFound)."""
        require_fan(caller)
        with self.uow() as uow:
            require_open_artist(uow, artist_id)
            uow.fans.follow(caller.id, artist_id, self.clock.now())
            uow.commit()

    def unfollow(self, artist_id: str, *, caller: Caller) -> None:
        """Unfollowing an artist not followed does nothing."""
        require_fan(caller)
        with self.uow() as uow:
            require_artist(uow, artist_id)
            uow.fans.unfollow(caller.id, artist_id)
            uow.commit()

    def like(self, track_id: str, *, caller: Caller) -> None:
        """Like a track the caller may see now; liking twice is liking once."""
        require_fan(caller)
        view_track(track_id, caller=caller, uow=self.uow(), clock=self.clock)
        with self.uow() as uow:
            uow.fans.like(caller.id, track_id, self.clock.now())
            uow.commit()

    def unlike(self, track_id: str, *, caller: Caller) -> None:
        """Take a like back (also of a track the caller can no longer see); idempotent."""
        require_fan(caller)
        with self.uow() as uow:
            uow.fans.unlike(caller.id, track_id)
            uow.commit()

    def play(self, track_id: str, *, caller: Caller) -> bool:
        """Count a play of a track the caller can stream now, in the artist's daily bucket: at most
        one per fan and track every 30 s (the player reports a play, not every seek). False when
        the play was not counted for that reason. Counted plays make the listening history."""
        require_fan(caller)
        track = view_track(track_id, caller=caller, uow=self.uow(), clock=self.clock)
        if track.status is not TrackStatus.READY:
            raise Conflict("only a track that can be streamed can be played")
        now = self.clock.now()
        if not self.quota.acquire(f"play-once:{caller.id}:{track.id}", limit=1, resets_at=now + PLAY_REPEAT):
            return False
        with self.uow() as uow:
            uow.plays.record(
                PlayEvent(artist_id=track.artist_id, track_id=track.id, fan_id=caller.id, at=now)
            )
            uow.commit()
        return True

    def following(self, *, caller: Caller) -> Sequence[FollowedArtist]:
        """The artists the caller follows, the latest follow first."""
        require_fan(caller)
        with self.uow() as uow:
            found = []
            for artist_id, at in uow.fans.following(caller.id):
                artist = uow.artists.get(artist_id)
                if artist is not None:
                    found.append(FollowedArtist(artist_id, artist.display_name, at))
        return found

    def likes(self, *, caller: Caller) -> Sequence[LikedTrack]:
        """The tracks the caller likes and may see now, the latest like first."""
        require_fan(caller)
        now = self.clock.now()
        found = []
        with self.uow() as uow:
            for track_id, at in uow.fans.liked(caller.id):
                track = uow.tracks.get(track_id)
                if track is not None and self._visible(uow, caller, track, now):
                    found.append(LikedTrack(track, at))
        return found

    def history(self, *, caller: Caller) -> Sequence[PlayedTrack]:
        """The tracks the caller played and may still see, the most recently played first."""
        require_fan(caller)
        now = self.clock.now()
        found = []
        with self.uow() as uow:
            for listened in uow.plays.history(caller.id, HISTORY_LENGTH):
                track = uow.tracks.get(listened.track_id)
                if track is not None and self._visible(uow, caller, track, now):
                    found.append(PlayedTrack(track, listened.last_played_at, listened.plays))
        return found

    def followers(self, artist_id: str) -> int:
        """How many fans follow the artist (shown on the artist's page)."""
        with self.uow() as uow:
            return uow.fans.follower_count(artist_id)

    def likes_of(self, track_id: str) -> int:
        """How many fans like the track (shown on the track's page)."""
        with self.uow() as uow:
            return uow.fans.likes_of(track_id)

    def _visible(self, uow: UnitOfWork, caller: Caller, track: Track, now: datetime) -> bool:
        return can_see(
            track, rights=caller_rights(caller, track.artist_id, uow=uow, clock=self.clock), now=now
        )
