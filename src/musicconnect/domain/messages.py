"""Direct messages between a superfan and an artist, as one conversation per (fan, artist)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

import attrs

from musicconnect.domain.text import clean_text

MAX_MESSAGE_LENGTH: Final = 2000


@attrs.frozen
class DirectMessage:
    """One message of the conversation between ``fan_id`` and ``artist_id``, written by the fan
    or (``from_artist``) by the artist; ``read_at`` is when the other side first read it."""

    id: str
    fan_id: str
    artist_id: str
    body: str
    sent_at: datetime
    from_artist: bool = False
    read_at: datetime | None = None

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


@attrs.frozen
class Conversation:
    """A conversation as an inbox lists it: its latest message and what the reader has not read."""

    fan_id: str
    artist_id: str
    last_message_at: datetime
    messages: int
    #: Messages of the fan the artist has not read yet.
    unread_by_artist: int


def check_body(body: str) -> str:
    return clean_text(body, field="body", max_chars=MAX_MESSAGE_LENGTH, multiline=True)


def dm_quota_key(fan_id: str, artist_id: str, month: str) -> str:
    return f"dm:{artist_id}:{fan_id}:{month}"


def summarise(messages: Iterable[DirectMessage]) -> list[Conversation]:
    """One artist's messages as conversations, the latest first (ties by fan id)."""
    by_fan: dict[str, list[DirectMessage]] = {}
    for message in messages:
        by_fan.setdefault(message.fan_id, []).append(message)
    found = [
        Conversation(
            fan_id=fan_id,
            artist_id=thread[0].artist_id,
            last_message_at=max(m.sent_at for m in thread),
            messages=len(thread),
            unread_by_artist=sum(1 for m in thread if not m.from_artist and m.read_at is None),
        )
        for fan_id, thread in by_fan.items()
    ]
    found.sort(key=lambda c: c.fan_id)
    found.sort(key=lambda c: c.last_message_at, reverse=True)
    return found
