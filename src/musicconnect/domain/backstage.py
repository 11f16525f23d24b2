"""Virtual backstage: the artist's members-only posts (text, images, an audio clip) and the
superfans' comments on them.

A post's media lives under its own storage prefix; its clip goes through the probe and a
single-rung transcode like a track, and reads "processing" until that job publishes it.
"""

from __future__ import annotations

import base64
import binascii
import enum
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from musicconnect.domain.errors import InvalidInput
from musicconnect.domain.text import clean_text

MAX_POST: Final = 5000
MAX_COMMENT: Final = 1000
#: Images one post may carry.
MAX_IMAGES: Final = 4
#: The one rung a clip is encoded at: demos and voice notes, not the catalogue's ladder.
CLIP_KBPS: Final = 128
DEFAULT_PAGE: Final = 20
MAX_PAGE: Final = 50
#: Comments one fan may write on one artist's backstage per hour: a conversation, not a flood.
COMMENTS_PER_HOUR: Final = 30
COMMENT_WINDOW: Final = timedelta(hours=1)
#: Signed backstage media URLs live this long: a feed read again gets fresh ones.
MEDIA_URL_TTL: Final = timedelta(minutes=15)


class ClipStatus(enum.StrEnum):
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


@attrs.frozen
class PostImage:
    """One re-encoded image of a post, by its position (its storage key is the post's)."""

    filename: str
    content_type: str
    width: int
    height: int


@attrs.frozen
class Clip:
    status: ClipStatus = ClipStatus.PROCESSING
    duration_s: float | None = None
    failure_reason: str | None = None

    def ready(self, duration_s: float) -> Clip:
        return Clip(ClipStatus.READY, duration_s=duration_s)

    def failed(self, reason: str) -> Clip:
        return Clip(ClipStatus.FAILED, failure_reason=reason[:500])


@attrs.frozen
class BackstagePost:
    id: str
    artist_id: str
    body: str
    created_at: datetime
    edited_at: datetime | None = None
    images: tuple[PostImage, ...] = ()
    clip: Clip | None = None

    @property
    def media_prefix(self) -> str:
        """Every stored file of the post is under this storage key prefix."""
        return f"artists/{self.artist_id}/backstage/{self.id}"

    def image_key(self, filename: str) -> str:
        return f"{self.media_prefix}/images/{filename}"

    @property
    def clip_original_key(self) -> str:
        return f"{self.media_prefix}/clip/original"

    @property
    def clip_hls_prefix(self) -> str:
        return f"{self.media_prefix}/clip/hls"

    def edited(self, body: str, now: datetime) -> BackstagePost:
        return attrs.evolve(self, body=check_post(body), edited_at=now)


@attrs.frozen
class Comment:
    id: str
    post_id: str
    artist_id: str
    fan_id: str
    body: str
    created_at: datetime


def check_post(body: str) -> str:
    return clean_text(body, field="body", max_chars=MAX_POST, multiline=True)


def check_comment(body: str) -> str:
    return clean_text(body, field="body", max_chars=MAX_COMMENT, multiline=True)


def check_page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1 to {MAX_PAGE}")
    return limit


def comment_quota_key(artist_id: str, fan_id: str, now: datetime) -> str:
    """The counter of a fan's comments on an artist's backstage in the hour ``now`` falls in."""
    return f"backstage-comments:{artist_id}:{fan_id}:{now.astimezone(UTC):%Y%m%d%H}"


def comment_window_end(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + COMMENT_WINDOW


@attrs.frozen
class PageCursor:
    """Where a page of the feed stopped: the last post's (created_at, id); the next page holds
    the posts strictly older than it (ties broken by id, so no post is skipped or repeated)."""

    created_at: datetime
    post_id: str

    @classmethod
    def after(cls, post: BackstagePost) -> PageCursor:
        return cls(post.created_at, post.id)

    def encode(self) -> str:
        text = f"{self.created_at.astimezone(UTC).isoformat()}|{self.post_id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> PageCursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            at, _, post_id = base64.urlsafe_b64decode(padded.encode("ascii")).decode().partition("|")
            created_at = datetime.fromisoformat(at)
        except (ValueError, UnicodeError, binascii.Error):
            raise InvalidInput("not a page cursor") from None
        if created_at.tzinfo is None or not post_id:
            raise InvalidInput("not a page cursor")
        return cls(created_at, post_id)

    def is_before(self, post: BackstagePost) -> bool:
        """Whether ``post`` comes after this cursor in the feed (newest first)."""
        return (post.created_at, post.id) < (self.created_at, self.post_id)
