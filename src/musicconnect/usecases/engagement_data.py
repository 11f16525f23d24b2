"""What fan engagement keeps about a person, for their export and their erasure.

A fan's library (follows, likes, listening history), their Q&A questions and upvotes, their DM
conversations (what they sent and the replies they received), their backstage comments, their
notifications and email choices; for an artist, the Q&As they opened, the answers and the DM
replies they wrote, and their backstage posts.

What erasure does with each, and why:
- follows and likes are undone: the artist's follower count and the track's like count drop, as
  for anyone who unfollows (a count of people who are gone would be a lie);
- listening history is dropped; the artists' play counts and daily listeners stay, because they
  are the artist's statistics, not the fan's data (the id they count names nobody);
- Q&A questions stay with their body replaced by the erased marker, so the artist's answer
  still reads as an answer to a question, and the others' upvotes on it stay (theirs to keep);
  the fan's own upvotes are taken back, so every count is what is stored;
- DM messages the fan sent are blanked the same way (the artist's inbox keeps the thread and
  its count, shown as from an erased account); the artist's replies in it are the artist's words;
- backstage comments are deleted, as the fan could have deleted each of them themselves;
- notifications and email choices are deleted: nothing in them is anyone else's;
- an erased artist's Q&A titles, descriptions, answers and DM replies are their words: blanked,
  while the fans' questions and messages to them stay the fans'.
- an erased artist's backstage posts are deleted with their images and clips, and the fans'
  comments on them with them, as when the artist deletes a post. Unlike a Q&A answer (kept,
  blanked, so the fan's question still reads as answered), a post is the artist's words,
  pictures and voice from end to end: nothing in it
  is another person's to keep, and a blanked post with a stranger's face or voice still in its
  media would erase nothing. The artist's list of blocked fans goes too: it moderated a
  backstage that is no longer there. The media bytes are deleted after the erasing commit
  (``media_cleanup``); the export lists the posts (text, image and clip metadata; the media
  themselves are the artist's uploads, served while the account lives).
- an erased artist is closed for good (``Artist.is_erased``): their page answers 404 and no
  list or search shows it; nobody may follow them, subscribe to them or change tier with them
  (404), though a fan may still cancel or unfollow; every fan's paid subscription to them is
  cancelled through billing, by the fan's own cancel path, after the erasure commits (nothing
  more is charged; what was paid runs to its end, as any cancellation does; the ledger rows
  stay, anonymised);
- an erased artist's tracks are deleted as when the artist deletes one (404 to everyone, media
  removed after the commit): a recording is the artist's work and voice, which erasure must
  not keep publishing, and a fan's paid period is access to the artist, not a copy to keep.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from musicconnect.domain.accounts import ERASED_NAME
from musicconnect.domain.backstage import BackstagePost
from musicconnect.ports.repositories import UnitOfWork

#: Repositories page their lists; an export wants all of it (and MongoDB takes an int32 limit).
_EVERYTHING: Final = 2**31 - 1


def engagement_export(uow: UnitOfWork, person_id: str, *, artist: bool) -> dict[str, Any]:
    """The person's engagement data as JSON-ready data; call inside an open unit of work."""
    wrote_to = dict.fromkeys(m.artist_id for m in uow.messages.from_fan(person_id))
    data: dict[str, Any] = {
        "following": [_dated("artist_id", a, "followed_at", at) for a, at in uow.fans.following(person_id)],
        "likes": [_dated("track_id", t, "liked_at", at) for t, at in uow.fans.liked(person_id)],
        "history": [plain(listened) for listened in uow.plays.history(person_id, _EVERYTHING)],
        "questions": [plain(question) for question in uow.questions.of_fan(person_id)],
        "votes": [_dated("question_id", q, "voted_at", at) for q, at in uow.questions.votes_of(person_id)],
        "conversations": [
            {
                "artist_id": artist_id,
                "messages": [plain(m) for m in uow.messages.thread(person_id, artist_id)],
            }
            for artist_id in wrote_to
        ],
        "backstage_comments": [plain(comment) for comment in uow.backstage_comments.by_fan(person_id)],
        "notifications": [plain(n) for n in uow.notifications.of_fan(person_id, _EVERYTHING)],
        "notification_email": sorted(kind.value for kind in uow.notifications.email_kinds(person_id)),
    }
    if artist:
        data["qa_sessions"] = [
            {
                **plain(session),
                "answers": [
                    {"question_id": q.id, "answer": q.answer, "answered_at": _iso(q.answered_at)}
                    for q in uow.questions.of_session(session.id)
                    if q.answer is not None
                ],
            }
            for session in uow.qa_sessions.of_artist(person_id)
        ]
        data["replies_sent"] = [
            plain(message)
            for conversation in uow.messages.conversations(person_id)
            for message in uow.messages.thread(conversation.fan_id, person_id)
            if message.from_artist
        ]
        data["backstage_posts"] = [plain(post) for post in _backstage_of(uow, person_id)]
    return data


def erase_engagement(uow: UnitOfWork, person_id: str, *, artist: bool) -> list[str]:
    """Erase or blank the person's engagement data as the module docstring says; call inside
    the erasing unit of work (the caller commits). Returns the storage prefixes of the media
    erased with it, for the caller to discard once committed (never before)."""
    # Listed before anything is written here: a MongoDB unit of work asks the server for
    # ``_EVERYTHING`` plus its pending writes, which must stay within an int32.
    posts = _backstage_of(uow, person_id) if artist else ()
    for artist_id, _ in uow.fans.following(person_id):
        uow.fans.unfollow(person_id, artist_id)
    for track_id, _ in uow.fans.liked(person_id):
        uow.fans.unlike(person_id, track_id)
    uow.plays.forget_history(person_id)
    uow.questions.erase_fan(person_id, body=ERASED_NAME)
    uow.messages.erase_from(person_id, body=ERASED_NAME)
    for comment in uow.backstage_comments.by_fan(person_id):
        uow.backstage_comments.delete(comment.id)
    uow.notifications.erase_fan(person_id)
    if not artist:
        return []
    uow.messages.erase_replies_of(person_id, body=ERASED_NAME)
    for session in uow.qa_sessions.of_artist(person_id):
        uow.qa_sessions.save(attrs.evolve(session, title=ERASED_NAME, description=""))
        for question in uow.questions.of_session(session.id):
            if question.answer is not None:
                uow.questions.save(attrs.evolve(question, answer=ERASED_NAME))
    for post in posts:
        uow.backstage_posts.delete(post.id)  # and the comments on it
    for fan_id in uow.backstage_blocks.blocked(person_id):
        uow.backstage_blocks.unblock(person_id, fan_id)
    return [post.media_prefix + "/" for post in posts]


def _backstage_of(uow: UnitOfWork, artist_id: str) -> Sequence[BackstagePost]:
    """Every post of the artist's backstage, newest first."""
    return uow.backstage_posts.page(artist_id, after=None, limit=_EVERYTHING)


def plain(value: object) -> Any:
    """An attrs object as JSON-ready data: enums by value, instants in ISO 8601."""

    def serialise(_: object, __: object, item: Any) -> Any:
        if hasattr(item, "isoformat"):
            return item.isoformat()
        if hasattr(item, "value") and not attrs.has(type(item)):
            return item.value
        return item

    return attrs.asdict(value, value_serializer=serialise)  # type: ignore[arg-type]


def _dated(name: str, value: str, when: str, at: datetime) -> dict[str, str]:
    return {name: value, when: at.isoformat()}


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()
