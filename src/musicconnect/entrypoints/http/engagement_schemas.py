"""Request and response bodies of the fan-engagement routes: conversations, monthly Q&A, library,
notifications."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from musicconnect.domain.messages import Conversation, DirectMessage
from musicconnect.domain.notifications import MAX_FEED, Notification, NotificationKind
from musicconnect.domain.qa import QaSession, Question
from musicconnect.entrypoints.http.schemas import TrackOut, _In, _Out
from musicconnect.usecases.library import FollowedArtist, LikedTrack, PlayedTrack


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


# --- a fan's library ------------------------------------------------------------------------


class FollowedArtistOut(_Out):
    artist_id: str
    display_name: str
    followed_at: datetime

    @classmethod
    def of(cls, followed: FollowedArtist) -> FollowedArtistOut:
        return cls(
            artist_id=followed.artist_id, display_name=followed.display_name, followed_at=followed.followed_at
        )


class PlayedTrackOut(_Out):
    track: TrackOut
    last_played_at: datetime
    plays: int

    @classmethod
    def of(cls, played: PlayedTrack) -> PlayedTrackOut:
        return cls(track=TrackOut.of(played.track), last_played_at=played.last_played_at, plays=played.plays)


class LikedTrackOut(_Out):
    track: TrackOut
    liked_at: datetime

    @classmethod
    def of(cls, liked: LikedTrack) -> LikedTrackOut:
        return cls(track=TrackOut.of(liked.track), liked_at=liked.liked_at)


# --- notifications --------------------------------------------------------------------------

NotificationKindName = Literal[
    "release_open", "qa_opened", "qa_answered", "backstage_post", "dm_reply", "live_session_starting"
]


class NotificationOut(_Out):
    id: str
    kind: NotificationKindName
    artist_id: str
    subject_id: str = Field(description="The track, Q&A, question, message or session it is about")
    text: str
    created_at: datetime
    read: bool

    @classmethod
    def of(cls, notification: Notification) -> NotificationOut:
        return cls(
            id=notification.id,
            kind=notification.kind.value,
            artist_id=notification.artist_id,
            subject_id=notification.subject_id,
            text=notification.text,
            created_at=notification.created_at,
            read=notification.read_at is not None,
        )


class MarkReadIn(_In):
    ids: Annotated[list[Annotated[str, Field(max_length=500)]] | None, Field(max_length=MAX_FEED)] = Field(
        default=None, description="The notifications to mark read; omit to mark every one read"
    )


class EmailKindsIn(_In):
    kinds: Annotated[list[NotificationKindName], Field(max_length=len(NotificationKind))]


class EmailKindsOut(_Out):
    kinds: list[NotificationKindName]

    @classmethod
    def of(cls, kinds: frozenset[NotificationKind]) -> EmailKindsOut:
        return cls(kinds=[k.value for k in sorted(kinds)])
