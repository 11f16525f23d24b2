"""Direct messages from superfans to an artist."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs

from musicconnect.domain.text import clean_text

MAX_MESSAGE_LENGTH: Final = 2000


@attrs.frozen
class DirectMessage:
    id: str
    fan_id: str
    artist_id: str
    body: str
    sent_at: datetime


def check_body(body: str) -> str:
    return clean_text(body, field="body", max_chars=MAX_MESSAGE_LENGTH, multiline=True)


def dm_quota_key(fan_id: str, artist_id: str, month: str) -> str:
    return f"dm:{artist_id}:{fan_id}:{month}"
