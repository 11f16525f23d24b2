"""What fans do besides paying: follow, like, play, and message the artist."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from musicconnect.domain.throttling import Action
from musicconnect.entrypoints.http.auth import BEARER
from musicconnect.entrypoints.http.auth_routes import client_address
from musicconnect.entrypoints.http.deps import CallerDep, EngagementDep, ThrottlingDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.schemas import InboxMessageOut, MessageIn, MessageOut


class EngagementController(Controller):
    path = "/"
    tags = ("engagement",)
    security = BEARER

    @post(
        "/artists/{artist_id:str}/follow",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=error_responses(401, 403, 404),
    )
    def follow(self, *, artist_id: FromPath[str], caller: CallerDep, engagement: EngagementDep) -> None:
        """Follow the artist (following twice is following once)."""
        engagement.follow(artist_id, caller=caller)

    @post(
        "/tracks/{track_id:str}/like",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=error_responses(401, 403, 404),
    )
    def like(self, *, track_id: FromPath[str], caller: CallerDep, engagement: EngagementDep) -> None:
        """Like a track the caller may see."""
        engagement.like(track_id, caller=caller)

    @post(
        "/tracks/{track_id:str}/plays",
        status_code=HTTP_202_ACCEPTED,
        sync_to_thread=True,
        responses=error_responses(401, 403, 404, 409, 429),
    )
    def play(
        self,
        *,
        request: Request[Any, Any, Any],
        track_id: FromPath[str],
        caller: CallerDep,
        engagement: EngagementDep,
        throttling: ThrottlingDep,
    ) -> None:
        """Count a play of a ready track in the artist's daily statistics (once per 30 s per fan
        and track; plays are rate-limited per account and address)."""
        throttling.count(Action.PLAY, account=caller.id, address=client_address(request))
        engagement.play(track_id, caller=caller)

    @post(
        "/artists/{artist_id:str}/messages",
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=error_responses(401, 403, 404, 429, 503),
    )
    def message(
        self,
        *,
        artist_id: FromPath[str],
        data: JSONBody[MessageIn],
        caller: CallerDep,
        engagement: EngagementDep,
    ) -> MessageOut:
        """A superfan's direct message to the artist: five per calendar month (UTC)."""
        sent = engagement.message(artist_id, data.body, caller=caller)
        return MessageOut.of(sent)

    @get(
        "/artists/{artist_id:str}/messages",
        sync_to_thread=True,
        responses=error_responses(401, 403, 404),
    )
    def messages(
        self, *, artist_id: FromPath[str], caller: CallerDep, engagement: EngagementDep
    ) -> list[InboxMessageOut]:
        """The artist's inbox: every direct message fans sent, oldest first."""
        return [InboxMessageOut.of(m) for m in engagement.inbox(artist_id, caller=caller)]
