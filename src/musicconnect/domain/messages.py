"""Direct messages from superfans to an artist."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs

from musicconnect.domain.errors import InvalidInput

MAX_MESSAGE_LENGTH: Final = 2000


@attrs.frozen
class DirectMessage:
    id: str
    fan_id: str
    artist_id: str
    body: str
    sent_at: datetime


def check_body(body: str) -> str:
    cleaned = body.strip()
    if not cleaned:
        raise InvalidInput("a message needs a body")
    if len(cleaned) > MAX_MESSAGE_LENGTH:
        raise InvalidInput(f"a message is at most {MAX_MESSAGE_LENGTH} characters")
    return cleaned


def dm_quota_key(fan_id: str, artist_id: str, month: str) -> str:
    return f"dm:{artist_id}:{fan_id}:{month}"
