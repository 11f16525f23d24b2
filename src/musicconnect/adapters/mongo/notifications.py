"""Each fan's notification feed (one document per notification, keyed by its id), and the
kinds each fan also wants by email (one document per fan)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from musicconnect.adapters.mongo._codec import (
    Doc,
    instant_fields,
    put_instant,
    read_instant,
    read_instant_or_none,
)
from musicconnect.adapters.mongo._work import CurrentWork
from musicconnect.adapters.mongo.database import NOTIFICATION_EMAIL, NOTIFICATIONS, SWEEPS
from musicconnect.domain.notifications import Notification, NotificationKind

_NEWEST_FIRST: Final = (("created_at_us", -1), ("_id", -1))
_RELEASE_SWEEP: Final = "releases"


class MongoNotificationRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def add(self, notification: Notification) -> bool:
        work = self._work()
        if work.find_one(NOTIFICATIONS, {"_id": notification.id}) is not None:
            return False
        doc: Doc = {
            "_id": notification.id,
            "fan_id": notification.fan_id,
            "kind": notification.kind.value,
            "artist_id": notification.artist_id,
            "subject_id": notification.subject_id,
            "text": notification.text,
        }
        put_instant(doc, "created_at", notification.created_at)
        put_instant(doc, "read_at", None)
        work.insert(NOTIFICATIONS, doc, conflict=f"notification {notification.id!r} exists", versioned=True)
        return True

    def of_fan(self, fan_id: str, limit: int) -> Sequence[Notification]:
        if limit <= 0:
            return []
        docs = self._work().find(NOTIFICATIONS, {"fan_id": fan_id}, sort=_NEWEST_FIRST, limit=limit)
        return [_notification(doc) for doc in docs]

    def mark_read(self, fan_id: str, ids: Sequence[str] | None, at: datetime) -> None:
        work = self._work()
        query: Doc = {"fan_id": fan_id, "read_at_us": None}
        if ids is not None:
            query["_id"] = {"$in": list(ids)}
        for doc in work.find(NOTIFICATIONS, query):
            changed = {**doc, **instant_fields("read_at", at)}
            work.save(NOTIFICATIONS, changed, conflict=f"notification {doc['_id']!r} changed meanwhile")

    def email_kinds(self, fan_id: str) -> frozenset[NotificationKind]:
        doc = self._work().find_one(NOTIFICATION_EMAIL, {"_id": fan_id})
        return frozenset() if doc is None else frozenset(NotificationKind(k) for k in doc["kinds"])

    def set_email_kinds(self, fan_id: str, kinds: frozenset[NotificationKind]) -> None:
        values = sorted(kind.value for kind in kinds)
        self._work().upsert(NOTIFICATION_EMAIL, {"_id": fan_id, "kinds": values}, {"$set": {"kinds": values}})

    def erase_fan(self, fan_id: str) -> None:
        work = self._work()
        for doc in work.find(NOTIFICATIONS, {"fan_id": fan_id}):
            work.delete(NOTIFICATIONS, doc["_id"])
        work.delete(NOTIFICATION_EMAIL, fan_id)

    def releases_swept_until(self) -> datetime | None:
        doc = self._work().find_one(SWEEPS, {"_id": _RELEASE_SWEEP})
        return None if doc is None else read_instant(doc, "until")

    def mark_releases_swept(self, until: datetime) -> None:
        fields = instant_fields("until", until)
        # ``$max`` on both fields: racing sweeps leave the latest, never move it back.
        self._work().upsert(SWEEPS, {"_id": _RELEASE_SWEEP, **fields}, {"$max": fields})


def _notification(doc: Doc) -> Notification:
    return Notification(
        id=doc["_id"],
        fan_id=doc["fan_id"],
        kind=NotificationKind(doc["kind"]),
        artist_id=doc["artist_id"],
        subject_id=doc["subject_id"],
        text=doc["text"],
        created_at=read_instant(doc, "created_at"),
        read_at=read_instant_or_none(doc, "read_at"),
    )
