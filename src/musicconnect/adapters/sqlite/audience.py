"""The audience: follows, likes and visits, play counters, and direct messages."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, datetime

from musicconnect.adapters.sqlite._codec import (
    Connect,
    day,
    insert_or_conflict,
    instant,
    instant_or_none,
    read_day,
    read_instant,
    read_instant_or_none,
)
from musicconnect.domain.analytics import Listened, PlayEvent
from musicconnect.domain.clocks import require_aware
from musicconnect.domain.messages import Conversation, DirectMessage


class SqliteFanRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def follow(self, fan_id: str, artist_id: str, at: datetime) -> None:
        self._connect().execute(
            "INSERT INTO follows (artist_id, fan_id, followed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (artist_id, fan_id, instant(at)),
        )

    def like(self, fan_id: str, track_id: str, at: datetime) -> None:
        self._connect().execute(
            "INSERT INTO likes (track_id, fan_id, liked_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (track_id, fan_id, instant(at)),
        )

    def unfollow(self, fan_id: str, artist_id: str) -> None:
        self._connect().execute("DELETE FROM follows WHERE artist_id = ? AND fan_id = ?", (artist_id, fan_id))

    def unlike(self, fan_id: str, track_id: str) -> None:
        self._connect().execute("DELETE FROM likes WHERE track_id = ? AND fan_id = ?", (track_id, fan_id))

    def followers(self, artist_id: str) -> Sequence[str]:
        rows = self._connect().execute("SELECT fan_id FROM follows WHERE artist_id = ?", (artist_id,))
        return [str(row[0]) for row in rows]

    def following(self, fan_id: str) -> Sequence[tuple[str, datetime]]:
        return self._latest_first(
            "SELECT artist_id, followed_at FROM follows WHERE fan_id = ?"
            " ORDER BY followed_at DESC, artist_id DESC",
            fan_id,
        )

    def liked(self, fan_id: str) -> Sequence[tuple[str, datetime]]:
        return self._latest_first(
            "SELECT track_id, liked_at FROM likes WHERE fan_id = ? ORDER BY liked_at DESC, track_id DESC",
            fan_id,
        )

    def _latest_first(self, sql: str, fan_id: str) -> list[tuple[str, datetime]]:
        return [(str(row[0]), read_instant(row[1])) for row in self._connect().execute(sql, (fan_id,))]

    def record_visit(self, visitor_id: str, artist_id: str, at: datetime) -> None:
        self._connect().execute(
            "INSERT INTO visits (artist_id, visitor_id, first_visit_at, last_visit_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE"
            " SET first_visit_at = min(first_visit_at, excluded.first_visit_at),"
            " last_visit_at = max(last_visit_at, excluded.last_visit_at)",
            (artist_id, visitor_id, instant(at), instant(at)),
        )

    def follower_count(self, artist_id: str) -> int:
        return self._count("SELECT count(*) FROM follows WHERE artist_id = ?", artist_id)

    def visitor_count(self, artist_id: str) -> int:
        return self._count("SELECT count(*) FROM visits WHERE artist_id = ?", artist_id)

    def visitors(self, artist_id: str) -> Sequence[str]:
        rows = self._connect().execute("SELECT visitor_id FROM visits WHERE artist_id = ?", (artist_id,))
        return [str(row[0]) for row in rows]

    def likes_of(self, track_id: str) -> int:
        return self._count("SELECT count(*) FROM likes WHERE track_id = ?", track_id)

    def _count(self, sql: str, key: str) -> int:
        return int(self._connect().execute(sql, (key,)).fetchone()[0])


class SqlitePlayEventStore:
    """Two counters per play, so reads never scan events: a 30-day window is 30 bucket rows."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def record(self, play: PlayEvent) -> None:
        connection = self._connect()
        played_on = day(require_aware(play.at).date())
        connection.execute(
            "INSERT INTO play_buckets (artist_id, day, count) VALUES (?, ?, 1)"
            " ON CONFLICT (artist_id, day) DO UPDATE SET count = count + 1",
            (play.artist_id, played_on),
        )
        connection.execute(
            "INSERT INTO fan_plays (artist_id, fan_id, count) VALUES (?, ?, 1)"
            " ON CONFLICT (artist_id, fan_id) DO UPDATE SET count = count + 1",
            (play.artist_id, play.fan_id),
        )
        connection.execute(
            "INSERT OR IGNORE INTO listener_days (artist_id, day, fan_id) VALUES (?, ?, ?)",
            (play.artist_id, played_on, play.fan_id),
        )
        connection.execute(
            "INSERT INTO fan_history (fan_id, track_id, artist_id, last_played_at, plays)"
            " VALUES (?, ?, ?, ?, 1)"
            " ON CONFLICT (fan_id, track_id) DO UPDATE"
            " SET plays = plays + 1, last_played_at = max(last_played_at, excluded.last_played_at)",
            (play.fan_id, play.track_id, play.artist_id, instant(play.at)),
        )

    def history(self, fan_id: str, limit: int) -> Sequence[Listened]:
        rows = self._connect().execute(
            "SELECT track_id, artist_id, last_played_at, plays FROM fan_history WHERE fan_id = ?"
            " ORDER BY last_played_at DESC, track_id DESC LIMIT ?",
            (fan_id, max(limit, 0)),
        )
        return [Listened(str(r[0]), str(r[1]), read_instant(r[2]), int(r[3])) for r in rows]

    def forget_history(self, fan_id: str) -> None:
        self._connect().execute("DELETE FROM fan_history WHERE fan_id = ?", (fan_id,))

    def listeners(self, artist_id: str, first: date, last: date) -> int:
        row = (
            self._connect()
            .execute(
                "SELECT COUNT(DISTINCT fan_id) FROM listener_days"
                " WHERE artist_id = ? AND day BETWEEN ? AND ?",
                (artist_id, day(first), day(last)),
            )
            .fetchone()
        )
        return int(row[0])

    def daily_counts(self, artist_id: str, first: date, last: date) -> dict[date, int]:
        rows = self._connect().execute(
            "SELECT day, count FROM play_buckets WHERE artist_id = ? AND day BETWEEN ? AND ? ORDER BY day",
            (artist_id, day(first), day(last)),
        )
        return {read_day(row[0]): int(row[1]) for row in rows}

    def top_fans(self, artist_id: str, limit: int) -> Sequence[tuple[str, int]]:
        rows = self._connect().execute(
            "SELECT fan_id, count FROM fan_plays WHERE artist_id = ? ORDER BY count DESC, fan_id LIMIT ?",
            (artist_id, max(limit, 0)),
        )
        return [(str(row[0]), int(row[1])) for row in rows]


class SqliteMessageRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def add(self, message: DirectMessage) -> None:
        insert_or_conflict(
            self._connect(),
            "INSERT INTO messages (id, fan_id, artist_id, body, sent_at, from_artist, read_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                message.id,
                message.fan_id,
                message.artist_id,
                message.body,
                instant(message.sent_at),
                int(message.from_artist),
                instant_or_none(message.read_at),
            ),
            f"message {message.id!r} exists",
        )

    def to_artist(self, artist_id: str) -> Sequence[DirectMessage]:
        rows = self._connect().execute(
            "SELECT * FROM messages WHERE artist_id = ? AND from_artist = 0 ORDER BY sent_at, rowid",
            (artist_id,),
        )
        return [_message(row) for row in rows]

    def from_fan(self, fan_id: str) -> Sequence[DirectMessage]:
        rows = self._connect().execute(
            "SELECT * FROM messages WHERE fan_id = ? AND from_artist = 0 ORDER BY sent_at, rowid",
            (fan_id,),
        )
        return [_message(row) for row in rows]

    def erase_from(self, fan_id: str, *, body: str) -> None:
        self._connect().execute(
            "UPDATE messages SET body = ? WHERE fan_id = ? AND from_artist = 0", (body, fan_id)
        )

    def erase_replies_of(self, artist_id: str, *, body: str) -> None:
        self._connect().execute(
            "UPDATE messages SET body = ? WHERE artist_id = ? AND from_artist = 1", (body, artist_id)
        )

    def count_from(self, fan_id: str, artist_id: str, since: datetime) -> int:
        row = (
            self._connect()
            .execute(
                "SELECT count(*) FROM messages"
                " WHERE fan_id = ? AND artist_id = ? AND from_artist = 0 AND sent_at >= ?",
                (fan_id, artist_id, instant(since)),
            )
            .fetchone()
        )
        return int(row[0])

    def thread(self, fan_id: str, artist_id: str) -> Sequence[DirectMessage]:
        rows = self._connect().execute(
            "SELECT * FROM messages WHERE artist_id = ? AND fan_id = ? ORDER BY sent_at DESC, rowid DESC",
            (artist_id, fan_id),
        )
        return [_message(row) for row in rows]

    def mark_read(self, fan_id: str, artist_id: str, *, by_artist: bool, at: datetime) -> None:
        self._connect().execute(
            "UPDATE messages SET read_at = ?"
            " WHERE artist_id = ? AND fan_id = ? AND from_artist = ? AND read_at IS NULL",
            (instant(at), artist_id, fan_id, int(not by_artist)),
        )

    def conversations(self, artist_id: str) -> Sequence[Conversation]:
        rows = self._connect().execute(
            "SELECT fan_id, max(sent_at) AS last, count(*) AS total,"
            " sum(from_artist = 0 AND read_at IS NULL) AS unread"
            " FROM messages WHERE artist_id = ? GROUP BY fan_id ORDER BY last DESC, fan_id",
            (artist_id,),
        )
        return [
            Conversation(
                fan_id=row["fan_id"],
                artist_id=artist_id,
                last_message_at=read_instant(row["last"]),
                messages=int(row["total"]),
                unread_by_artist=int(row["unread"]),
            )
            for row in rows
        ]


def _message(row: sqlite3.Row) -> DirectMessage:
    return DirectMessage(
        id=row["id"],
        fan_id=row["fan_id"],
        artist_id=row["artist_id"],
        body=row["body"],
        sent_at=read_instant(row["sent_at"]),
        from_artist=bool(row["from_artist"]),
        read_at=read_instant_or_none(row["read_at"]),
    )
