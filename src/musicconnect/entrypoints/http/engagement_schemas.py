"""Request and response bodies of the fan-engagement routes: conversations and monthly Q&A."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from pydantic import Field

from musicconnect.domain.messages import Conversation, DirectMessage
from musicconnect.domain.qa import QaSession, Question
from musicconnect.entrypoints.http.schemas import _In, _Out


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


# --- monthly Q&A ----------------------------------------------------------------------------


class QaOpenIn(_In):
    title: Annotated[str, Field(max_length=1000)]
    description: Annotated[str | None, Field(max_length=10_000)] = None


class QuestionIn(_In):
    body: Annotated[str, Field(max_length=10_000)]


class AnswerIn(_In):
    body: Annotated[str, Field(max_length=20_000)]


class HiddenIn(_In):
    hidden: bool


class QaOut(_Out):
    id: str
    artist_id: str
    month: str = Field(description="The calendar month (UTC) it runs for, YYYY-MM")
    title: str
    description: str
    opened_at: datetime
    closed_at: datetime | None
    ends_at: datetime
    open: bool

    @classmethod
    def of(cls, session: QaSession, now: datetime) -> QaOut:
        return cls(
            id=session.id,
            artist_id=session.artist_id,
            month=session.month,
            title=session.title,
            description=session.description,
            opened_at=session.opened_at,
            closed_at=session.closed_at,
            ends_at=session.ends_at,
            open=session.is_open(now),
        )


class QuestionOut(_Out):
    id: str
    fan_id: str
    body: str
    asked_at: datetime
    votes: int
    answer: str | None
    answered_at: datetime | None
    hidden: bool

    @classmethod
    def of(cls, question: Question) -> QuestionOut:
        return cls(
            id=question.id,
            fan_id=question.fan_id,
            body=question.body,
            asked_at=question.asked_at,
            votes=question.votes,
            answer=question.answer,
            answered_at=question.answered_at,
            hidden=question.hidden,
        )


class QaPageOut(_Out):
    qa: QaOut
    questions: list[QuestionOut]
