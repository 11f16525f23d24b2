"""Direct-message conversations: the fan's thread, the artist's inbox, threads and replies."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from musicconnect.entrypoints.http.auth import BEARER
from musicconnect.entrypoints.http.deps import CallerDep, ConversationsDep
from musicconnect.entrypoints.http.engagement_schemas import ConversationOut, ThreadMessageOut
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.schemas import MessageIn


class ConversationController(Controller):
    path = "/"
    tags = ("messages",)
    security = BEARER

    @get("/me/conversations/{artist_id:str}", sync_to_thread=True, responses=error_responses(401, 403, 404))
    def my_thread(
        self, *, artist_id: FromPath[str], caller: CallerDep, conversations: ConversationsDep
    ) -> list[ThreadMessageOut]:
        """The caller's conversation with the artist, newest first (also after leaving the
        superfan tier); the artist's replies are marked read."""
        return ThreadMessageOut.thread(conversations.fan_thread(artist_id, caller=caller))

    @get(
        "/artists/{artist_id:str}/conversations",
        sync_to_thread=True,
        responses=error_responses(401, 403, 404),
    )
    def inbox(
        self, *, artist_id: FromPath[str], caller: CallerDep, conversations: ConversationsDep
    ) -> list[ConversationOut]:
        """The artist's conversations, the latest first, each with how many messages are unread."""
        return [ConversationOut.of(c) for c in conversations.inbox(artist_id, caller=caller)]

    @get(
        "/artists/{artist_id:str}/conversations/{fan_id:str}",
        sync_to_thread=True,
        responses=error_responses(401, 403, 404),
    )
    def thread(
        self,
        *,
        artist_id: FromPath[str],
        fan_id: FromPath[str],
        caller: CallerDep,
        conversations: ConversationsDep,
    ) -> list[ThreadMessageOut]:
        """One conversation for the artist, newest first; the fan's messages are marked read."""
        return ThreadMessageOut.thread(conversations.artist_thread(artist_id, fan_id, caller=caller))

    @post(
        "/artists/{artist_id:str}/conversations/{fan_id:str}/replies",
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=error_responses(401, 403, 404),
    )
    def reply(
        self,
        *,
        artist_id: FromPath[str],
        fan_id: FromPath[str],
        data: JSONBody[MessageIn],
        caller: CallerDep,
        conversations: ConversationsDep,
    ) -> ThreadMessageOut:
        """The artist's reply in a conversation a fan began (replies use no quota)."""
        return ThreadMessageOut.of(conversations.reply(artist_id, fan_id, data.body, caller=caller))
