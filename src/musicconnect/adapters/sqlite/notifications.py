"""Each fan's notification feed, and the kinds they also want by email."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from musicconnect.adapters.sqlite._codec import Connect, instant, read_instant, read_instant_or_none
from musicconnect.domain.notifications import Notification, NotificationKind

_RELEASE_SWEEP: Final = "releases"


class SqliteNotificationRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def add(self, notification: Notification) -> bool:
        cursor = self._connect().execute(
            "INSERT INTO notifications (id, fan_id, kind, artist_id, subject_id, text, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                notification.id,
                notification.fan_id,
                notification.kind.value,
                notification.artist_id,
                notification.subject_id,
                notification.text,
                instant(notification.created_at),
            ),
        )
        return cursor.rowcount == 1

    def of_fan(self, fan_id: str, limit: int) -> Sequence[Notification]:
        rows = self._connect().execute(
            "SELECT * FROM notifications WHERE fan_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
            (fan_id, max(limit, 0)),
        )
        return [_notification(row) for row in rows]

    def mark_read(self, fan_id: str, ids: Sequence[str] | None, at: datetime) -> None:
        connection = self._connect()
        if ids is None:
            connection.execute(
                "UPDATE notifications SET read_at = ? WHERE fan_id = ? AND read_at IS NULL",
                (instant(at), fan_id),
            )
            return
        connection.executemany(
            "UPDATE notifications SET read_at = ? WHERE fan_id = ? AND id = ? AND read_at IS NULL",
            [(instant(at), fan_id, notification_id) for notification_id in ids],
        )

    def email_kinds(self, fan_id: str) -> frozenset[NotificationKind]:
        rows = self._connect().execute(
            "SELECT kind FROM notification_email_kinds WHERE fan_id = ?", (fan_id,)
        )
        return frozenset(NotificationKind(row[0]) for row in rows)

    def set_email_kinds(self, fan_id: str, kinds: frozenset[NotificationKind]) -> None:
        connection = self._connect()
        connection.execute("DELETE FROM notification_email_kinds WHERE fan_id = ?", (fan_id,))
        connection.executemany(
            "INSERT INTO notification_email_kinds (fan_id, kind) VALUES (?, ?)",
            [(fan_id, kind.value) for kind in sorted(kinds)],
        )

    def erase_fan(self, fan_id: str) -> None:
        connection = self._connect()
        connection.execute("DELETE FROM notifications WHERE fan_id = ?", (fan_id,))
        connection.execute("DELETE FROM notification_email_kinds WHERE fan_id = ?", (fan_id,))

    def releases_swept_until(self) -> datetime | None:
        row = (
            self._connect()
            .execute("SELECT until FROM notification_sweeps WHERE name = ?", (_RELEASE_SWEEP,))
            .fetchone()
        )
        return None if row is None else read_instant(row[0])

    def mark_releases_swept(self, until: datetime) -> None:
        # ISO 8601 in UTC with microseconds: text order is time order, so max() keeps the latest.
        self._connect().execute(
            "INSERT INTO notification_sweeps (name, until) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET until = max(until, excluded.until)",
            (_RELEASE_SWEEP, instant(until)),
        )


def _notification(row: sqlite3.Row) -> Notification:
    return Notification(
        id=row["id"],
        fan_id=row["fan_id"],
        kind=NotificationKind(row["kind"]),
        artist_id=row["artist_id"],
        subject_id=row["subject_id"],
        text=row["text"],
        created_at=read_instant(row["created_at"]),
        read_at=read_instant_or_none(row["read_at"]),
    )
