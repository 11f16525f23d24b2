"""What people read for the platform's own names: a tier's perks and the kinds of notification."""

from __future__ import annotations

from typing import Final

from musicconnect.domain.notifications import NotificationKind
from musicconnect.domain.tiers import Feature

_LABELS: Final[dict[str, str]] = {
    Feature.STREAM_PUBLIC: "Listen to public tracks",
    Feature.FOLLOW: "Follow",
    Feature.LIKE: "Like tracks",
    Feature.EARLY_ACCESS: "Early access to releases",
    Feature.EXCLUSIVE_TRACKS: "Exclusive tracks",
    Feature.MONTHLY_QA: "Monthly Q&A",
    Feature.DIRECT_MESSAGES: "Direct messages",
    Feature.VIRTUAL_BACKSTAGE: "Virtual backstage",
    Feature.LIVE_SESSIONS: "Live sessions",
    NotificationKind.RELEASE_OPEN: "A release opens to you",
    NotificationKind.QA_OPENED: "A Q&A opens",
    NotificationKind.QA_ANSWERED: "Your question is answered",
    NotificationKind.BACKSTAGE_POST: "A backstage post",
    NotificationKind.DM_REPLY: "The artist replies to your message",
    NotificationKind.LIVE_SESSION_STARTING: "A live session starts",
}


def label(name: str) -> str:
    """The words for a feature or notification kind; a name without words reads as itself."""
    return _LABELS.get(name, name.replace("_", " ").capitalize())
