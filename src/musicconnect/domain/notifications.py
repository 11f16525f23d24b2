"""In-app notifications: what happened (an announcement), fanned out to the fans it concerns.

A notification's id is made of its kind, its subject and its fan, so fanning the same
announcement out twice (a worker restarted mid-job, a redelivered job) stores it once.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Final

import attrs

from musicconnect.domain.tiers import Feature

MAX_FEED: Final = 100


class NotificationKind(enum.StrEnum):
    RELEASE_OPEN = "release_open"
    QA_OPENED = "qa_opened"
    QA_ANSWERED = "qa_answered"
    BACKSTAGE_POST = "backstage_post"
    DM_REPLY = "dm_reply"
    LIVE_SESSION_STARTING = "live_session_starting"


#: The feature a fan needs at fan-out time to hear of each kind (None: what the kind's own
#: rule says, e.g. seeing the released track, or being the one the artist replied to).
REQUIRED_FEATURE: Final[dict[NotificationKind, Feature | None]] = {
    NotificationKind.RELEASE_OPEN: None,
    NotificationKind.QA_OPENED: Feature.MONTHLY_QA,
    NotificationKind.QA_ANSWERED: Feature.MONTHLY_QA,
    NotificationKind.BACKSTAGE_POST: Feature.VIRTUAL_BACKSTAGE,
    NotificationKind.DM_REPLY: None,
    NotificationKind.LIVE_SESSION_STARTING: Feature.LIVE_SESSIONS,
}


@attrs.frozen
class Announcement:
    """Something an artist's fans may hear of. ``fan_ids`` names the recipients when they are
    known (a reply, an answer); otherwise the artist's entitled followers and subscribers."""

    kind: NotificationKind
    artist_id: str
    subject_id: str
    text: str
    at: datetime
    fan_ids: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject_id}"


@attrs.frozen
class Notification:
    id: str
    fan_id: str
    kind: NotificationKind
    artist_id: str
    subject_id: str
    text: str
    created_at: datetime
    read_at: datetime | None = None


def notification_for(announcement: Announcement, fan_id: str) -> Notification:
    return Notification(
        id=f"{announcement.key}:{fan_id}",
        fan_id=fan_id,
        kind=announcement.kind,
        artist_id=announcement.artist_id,
        subject_id=announcement.subject_id,
        text=announcement.text,
        created_at=announcement.at,
    )
