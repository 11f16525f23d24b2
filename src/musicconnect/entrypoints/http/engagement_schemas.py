"""Request and response bodies of the fan-engagement routes: conversations and monthly Q&A."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from musicconnect.domain.messages import Conversation, DirectMessage
from musicconnect.entrypoints.http.schemas import _Out


class ThreadMessageOut(_Out):
    id: str
    from_artist: bool
    body: str
    sent_at: datetime
    read: bool

    @classmethod
    def of(cls, message: DirectMessage) -> ThreadMessageOut:
        return cls(
            id=message.id,
            from_artist=message.from_artist,
            body=message.body,
            sent_at=message.sent_at,
            read=message.is_read,
        )

    @classmethod
    def thread(cls, messages: Sequence[DirectMessage]) -> list[ThreadMessageOut]:
        return [cls.of(m) for m in messages]


class ConversationOut(_Out):
    fan_id: str
    last_message_at: datetime
    messages: int
    unread: int

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationOut:
        return cls(
            fan_id=conversation.fan_id,
            last_message_at=conversation.last_message_at,
            messages=conversation.messages,
            unread=conversation.unread_by_artist,
        )
