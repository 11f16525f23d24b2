"""A fan's library: follows and likes, undoing them, and listing them."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.params import FromPath
from litestar.status_codes import HTTP_204_NO_CONTENT

from musicconnect.entrypoints.http.auth import BEARER
from musicconnect.entrypoints.http.auth_routes import NO_STORE
from musicconnect.entrypoints.http.deps import CallerDep, LibraryDep
from musicconnect.entrypoints.http.engagement_schemas import FollowedArtistOut, LikedTrackOut, PlayedTrackOut
from musicconnect.entrypoints.http.errors import error_responses


class LibraryController(Controller):
    path = "/"
    tags = ("library",)
    security = BEARER

    @post(
        "/artists/{artist_id:str}/follow",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=error_responses(401, 403, 404),
    )
    def follow(self, *, artist_id: FromPath[str], caller: CallerDep, library: LibraryDep) -> None:
        """Follow the artist (following twice is following once)."""
        library.follow(artist_id, caller=caller)

    @post(
        "/tracks/{track_id:str}/like",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=error_responses(401, 403, 404),
    )
    def like(self, *, track_id: FromPath[str], caller: CallerDep, library: LibraryDep) -> None:
        """Like a track the caller may see."""
        library.like(track_id, caller=caller)

    @delete("/artists/{artist_id:str}/follow", sync_to_thread=True, responses=error_responses(401, 403, 404))
    def unfollow(self, *, artist_id: FromPath[str], caller: CallerDep, library: LibraryDep) -> None:
        """Stop following the artist (unfollowing twice is unfollowing once)."""
        library.unfollow(artist_id, caller=caller)

    @delete("/tracks/{track_id:str}/like", sync_to_thread=True, responses=error_responses(401, 403))
    def unlike(self, *, track_id: FromPath[str], caller: CallerDep, library: LibraryDep) -> None:
        """Take back a like (idempotent)."""
        library.unlike(track_id, caller=caller)

    @get("/me/following", sync_to_thread=True, response_headers=NO_STORE, responses=error_responses(401, 403))
    def following(self, *, caller: CallerDep, library: LibraryDep) -> list[FollowedArtistOut]:
        """The artists the caller follows, the latest follow first."""
        return [FollowedArtistOut.of(f) for f in library.following(caller=caller)]

    @get("/me/likes", sync_to_thread=True, response_headers=NO_STORE, responses=error_responses(401, 403))
    def likes(self, *, caller: CallerDep, library: LibraryDep) -> list[LikedTrackOut]:
        """The tracks the caller likes and may see now, the latest like first."""
        return [LikedTrackOut.of(liked) for liked in library.likes(caller=caller)]

    @get("/me/history", sync_to_thread=True, response_headers=NO_STORE, responses=error_responses(401, 403))
    def history(self, *, caller: CallerDep, library: LibraryDep) -> list[PlayedTrackOut]:
        """The tracks the caller played recently (and may still see), the latest first, with play counts."""
        return [PlayedTrackOut.of(played) for played in library.history(caller=caller)]
