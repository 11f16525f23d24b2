"""The audience: follows, likes and visits, play counters, and direct messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

from musicconnect.adapters.mongo._codec import (
    Doc,
    instant_fields,
    key,
    micros,
    put_instant,
    read_instant,
    read_instant_or_none,
)
from musicconnect.adapters.mongo._work import CurrentWork, Work
from musicconnect.adapters.mongo.database import (
    FAN_HISTORY,
    FAN_PLAYS,
    FOLLOWS,
    LIKES,
    LISTENER_DAYS,
    MESSAGES,
    PLAY_BUCKETS,
    VISITS,
)
from musicconnect.domain.analytics import Listened, PlayEvent
from musicconnect.domain.clocks import require_aware
from musicconnect.domain.messages import Conversation, DirectMessage, summarise

#: Follows and likes not undone (documents from before undoing existed have no ``active``).
_ACTIVE: Final = {"active": {"$ne": False}}
#: Up to this many days, a plays query looks buckets up by id; a longer one scans by range.
_MAX_KEYED_DAYS: Final = 400


class MongoFanRepository:
    """One document per (artist, fan) follow, (track, fan) like and (artist, visitor) visit."""

    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def follow(self, fan_id: str, artist_id: str, at: datetime) -> None:
        self._mark(FOLLOWS, {"artist_id": artist_id, "fan_id": fan_id}, "followed_at", at)

    def like(self, fan_id: str, track_id: str, at: datetime) -> None:
        self._mark(LIKES, {"track_id": track_id, "fan_id": fan_id}, "liked_at", at)

    def unfollow(self, fan_id: str, artist_id: str) -> None:
        self._unmark(FOLLOWS, key(artist_id, fan_id))

    def unlike(self, fan_id: str, track_id: str) -> None:
        self._unmark(LIKES, key(track_id, fan_id))

    def followers(self, artist_id: str) -> Sequence[str]:
        return [str(doc["fan_id"]) for doc in self._work().find(FOLLOWS, {"artist_id": artist_id, **_ACTIVE})]

    def following(self, fan_id: str) -> Sequence[tuple[str, datetime]]:
        return self._latest_first(FOLLOWS, "artist_id", "followed_at", fan_id)

    def liked(self, fan_id: str) -> Sequence[tuple[str, datetime]]:
        return self._latest_first(LIKES, "track_id", "liked_at", fan_id)

    def _mark(self, collection: str, identity: Doc, field: str, at: datetime) -> None:
        """Follow or like: idempotent, the first time kept while it lasts (an undone one is
        kept as inactive, so that ``$set`` upserts suffice and nothing is ever deleted)."""
        work = self._work()
        doc_id = key(*identity.values())
        found = work.find_one(collection, {"_id": doc_id})
        if found is not None and found.get("active", True):
            return
        fields = {**identity, "active": True, **instant_fields(field, at)}
        work.upsert(collection, {"_id": doc_id, **fields}, {"$set": fields})

    def _unmark(self, collection: str, doc_id: str) -> None:
        work = self._work()
        found = work.find_one(collection, {"_id": doc_id})
        if found is None or not found.get("active", True):
            return
        work.upsert(collection, {**found, "active": False}, {"$set": {"active": False}})

    def _latest_first(
        self, collection: str, subject: str, field: str, fan_id: str
    ) -> list[tuple[str, datetime]]:
        query = {"fan_id": fan_id, **_ACTIVE}
        docs = self._work().find(collection, query, sort=((f"{field}_us", -1), (subject, -1)))
        return [(str(doc[subject]), read_instant(doc, field)) for doc in docs]

    def record_visit(self, visitor_id: str, artist_id: str, at: datetime) -> None:
        work = self._work()
        doc_id = key(artist_id, visitor_id)
        first, last = instant_fields("first_visit_at", at), instant_fields("last_visit_at", at)
        earlier = work.written(VISITS, doc_id)
        if earlier is not None:
            if earlier["first_visit_at_us"] < first["first_visit_at_us"]:
                first = {k: earlier[k] for k in first}
            if earlier["last_visit_at_us"] > last["last_visit_at_us"]:
                last = {k: earlier[k] for k in last}
        identity = {"artist_id": artist_id, "visitor_id": visitor_id}
        work.upsert(
            VISITS,
            {"_id": doc_id, **identity, **first, **last},
            {"$setOnInsert": identity, "$min": first, "$max": last},
        )

    def follower_count(self, artist_id: str) -> int:
        return self._work().count(FOLLOWS, {"artist_id": artist_id, **_ACTIVE})

    def visitor_count(self, artist_id: str) -> int:
        return self._work().count(VISITS, {"artist_id": artist_id})

    def visitors(self, artist_id: str) -> Sequence[str]:
        return [str(doc["visitor_id"]) for doc in self._work().find(VISITS, {"artist_id": artist_id})]

    def likes_of(self, track_id: str) -> int:
        return self._work().count(LIKES, {"track_id": track_id, **_ACTIVE})


def _insert_once(work: Work, collection: str, doc: Doc) -> None:
    """Insert unless present: the first follow or like keeps its time, as a set would."""
    if work.written(collection, doc["_id"]) is None:
        fields = {k: v for k, v in doc.items() if k != "_id"}
        work.upsert(collection, doc, {"$setOnInsert": fields})


class MongoPlayEventStore:
    """Two counters per play and never the raw event: a bucket document per (artist, UTC day),
    so a 30-day window reads 30 documents, and a counter per (artist, fan) for top fans."""

    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def record(self, play: PlayEvent) -> None:
        work = self._work()
        played_on = require_aware(play.at).date().isoformat()
        bucket = {"artist_id": play.artist_id, "day": played_on}
        work.increment(PLAY_BUCKETS, key(play.artist_id, played_on), bucket)
        fan = {"artist_id": play.artist_id, "fan_id": play.fan_id}
        work.increment(FAN_PLAYS, key(play.artist_id, play.fan_id), fan)
        _insert_once(
            work, LISTENER_DAYS, {"_id": key(play.artist_id, played_on, play.fan_id), **fan, "day": played_on}
        )
        self._remember(work, play)

    def _remember(self, work: Work, play: PlayEvent) -> None:
        """The fan's history row for the track: one more play, the latest time kept."""
        doc_id = key(play.fan_id, play.track_id)
        before = work.find_one(FAN_HISTORY, {"_id": doc_id})
        identity = {"fan_id": play.fan_id, "track_id": play.track_id, "artist_id": play.artist_id}
        last = instant_fields("last_played_at", play.at)
        if before is not None and before["last_played_at_us"] > last["last_played_at_us"]:
            last = {k: before[k] for k in last}
        plays = (int(before["plays"]) if before is not None else 0) + 1
        work.upsert(
            FAN_HISTORY,
            {"_id": doc_id, **identity, **last, "plays": plays},
            {
                "$setOnInsert": identity,
                "$max": instant_fields("last_played_at", play.at),
                "$inc": {"plays": 1},
            },
        )

    def forget_history(self, fan_id: str) -> None:
        work = self._work()
        for doc in work.find(FAN_HISTORY, {"fan_id": fan_id}):
            work.delete(FAN_HISTORY, doc["_id"])

    def history(self, fan_id: str, limit: int) -> Sequence[Listened]:
        if limit <= 0:
            return []
        docs = self._work().find(
            FAN_HISTORY, {"fan_id": fan_id}, sort=(("last_played_at_us", -1), ("track_id", -1)), limit=limit
        )
        return [
            Listened(
                str(d["track_id"]), str(d["artist_id"]), read_instant(d, "last_played_at"), int(d["plays"])
            )
            for d in docs
        ]

    def listeners(self, artist_id: str, first: date, last: date) -> int:
        window = {"$gte": first.isoformat(), "$lte": last.isoformat()}
        days = self._work().find(LISTENER_DAYS, {"artist_id": artist_id, "day": window})
        return len({doc["fan_id"] for doc in days})

    def daily_counts(self, artist_id: str, first: date, last: date) -> dict[date, int]:
        work = self._work()
        window = {"$gte": first.isoformat(), "$lte": last.isoformat()}
        counts: dict[date, int] = {}
        span = (last - first).days + 1
        # Bucket ids are known in advance: looking them up by _id reads exactly the window's
        # documents on every server (nx-27017 scans on a range over the secondary index).
        query: dict[str, Any] = (
            {"_id": {"$in": [key(artist_id, (first + timedelta(days=n)).isoformat()) for n in range(span)]}}
            if 0 < span <= _MAX_KEYED_DAYS
            else {"artist_id": artist_id, "day": window}
        )
        for doc in work.server_find(PLAY_BUCKETS, query):
            counts[date.fromisoformat(doc["day"])] = int(doc["count"])
        for count in work.increments(PLAY_BUCKETS).values():
            day = count.on_insert["day"]
            if count.on_insert["artist_id"] == artist_id and window["$gte"] <= day <= window["$lte"]:
                played_on = date.fromisoformat(day)
                counts[played_on] = counts.get(played_on, 0) + count.by
        return dict(sorted(counts.items()))

    def top_fans(self, artist_id: str, limit: int) -> Sequence[tuple[str, int]]:
        if limit <= 0:
            return []
        work = self._work()
        top = work.server_find(FAN_PLAYS, {"artist_id": artist_id}, sort=_MOST_PLAYS_FIRST, limit=limit)
        counts = {str(doc["fan_id"]): int(doc["count"]) for doc in top}
        pending = {
            str(c.on_insert["fan_id"]): c.by
            for c in work.increments(FAN_PLAYS).values()
            if c.on_insert["artist_id"] == artist_id
        }
        # Pending plays only raise counts: the true top is within the server's top and them.
        unseen = [key(artist_id, fan) for fan in pending if fan not in counts]
        if unseen:
            for doc in work.server_find(FAN_PLAYS, {"_id": {"$in": unseen}}):
                counts[str(doc["fan_id"])] = int(doc["count"])
        for fan, plays in pending.items():
            counts[fan] = counts.get(fan, 0) + plays
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


_MOST_PLAYS_FIRST: Final = (("count", -1), ("fan_id", 1))


class MongoMessageRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def add(self, message: DirectMessage) -> None:
        doc: Doc = {
            "_id": message.id,
            "fan_id": message.fan_id,
            "artist_id": message.artist_id,
            "body": message.body,
            "from_artist": message.from_artist,
        }
        put_instant(doc, "sent_at", message.sent_at)
        put_instant(doc, "read_at", message.read_at)
        self._work().insert_new(MESSAGES, doc, conflict=f"message {message.id!r} exists")

    def to_artist(self, artist_id: str) -> Sequence[DirectMessage]:
        docs = self._work().find(MESSAGES, {"artist_id": artist_id, **_BY_FANS}, sort=_OLDEST_FIRST)
        return [_message(doc) for doc in docs]

    def from_fan(self, fan_id: str) -> Sequence[DirectMessage]:
        return [
            _message(doc)
            for doc in self._work().find(MESSAGES, {"fan_id": fan_id, **_BY_FANS}, sort=_OLDEST_FIRST)
        ]

    def erase_from(self, fan_id: str, *, body: str) -> None:
        self._rewrite({"fan_id": fan_id, **_BY_FANS}, body)

    def erase_replies_of(self, artist_id: str, *, body: str) -> None:
        self._rewrite({"artist_id": artist_id, "from_artist": True}, body)

    def _rewrite(self, query: Doc, body: str) -> None:
        work = self._work()
        for doc in work.find(MESSAGES, query):
            work.save(MESSAGES, {**doc, "body": body}, conflict=f"message {doc['_id']!r} changed meanwhile")

    def count_from(self, fan_id: str, artist_id: str, since: datetime) -> int:
        query = {"fan_id": fan_id, "artist_id": artist_id, "sent_at_us": {"$gte": micros(since)}, **_BY_FANS}
        return self._work().count(MESSAGES, query)

    def thread(self, fan_id: str, artist_id: str) -> Sequence[DirectMessage]:
        docs = self._work().find(MESSAGES, {"artist_id": artist_id, "fan_id": fan_id}, sort=_NEWEST_FIRST)
        return [_message(doc) for doc in docs]

    def mark_read(self, fan_id: str, artist_id: str, *, by_artist: bool, at: datetime) -> None:
        work = self._work()
        # Messages stored before replies existed have no ``from_artist``: they are the fan's.
        written_by = {"$ne": True} if by_artist else True
        query = {"artist_id": artist_id, "fan_id": fan_id, "from_artist": written_by, "read_at_us": None}
        for doc in work.find(MESSAGES, query):
            changed = {**doc, **instant_fields("read_at", at)}
            work.save(MESSAGES, changed, conflict=f"message {doc['_id']!r} changed meanwhile")

    def conversations(self, artist_id: str) -> Sequence[Conversation]:
        return summarise(_message(doc) for doc in self._work().find(MESSAGES, {"artist_id": artist_id}))


_OLDEST_FIRST: Final = (("sent_at_us", 1), ("seq", 1))
_NEWEST_FIRST: Final = (("sent_at_us", -1), ("seq", -1))
#: What fans wrote (documents from before replies existed have no ``from_artist``).
_BY_FANS: Final = {"from_artist": {"$ne": True}}


def _message(doc: Doc) -> DirectMessage:
    return DirectMessage(
        id=doc["_id"],
        fan_id=doc["fan_id"],
        artist_id=doc["artist_id"],
        body=doc["body"],
        sent_at=read_instant(doc, "sent_at"),
        from_artist=bool(doc.get("from_artist", False)),
        read_at=read_instant_or_none(doc, "read_at"),
    )
