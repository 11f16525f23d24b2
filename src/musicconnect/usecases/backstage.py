"""Virtual backstage: the artist posts (text, images, an audio clip) for superfans only; superfans
read the feed and comment; the artist edits and deletes posts, deletes any comment and blocks fans
from commenting (a blocked fan still reads). Every read and write by a fan asks their
entitlements at that instant: a fan who drops below superfan loses the backstage at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import attrs

from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.backstage import (
    COMMENTS_PER_HOUR,
    DEFAULT_PAGE,
    MAX_IMAGES,
    MEDIA_URL_TTL,
    BackstagePost,
    Clip,
    ClipStatus,
    Comment,
    PageCursor,
    PostImage,
    check_comment,
    check_page_size,
    check_post,
    comment_quota_key,
    comment_window_end,
)
from musicconnect.domain.errors import Forbidden, InvalidInput, NotFound, QuotaExceeded, ServiceUnavailable
from musicconnect.domain.images import ImagePolicy, ProcessedImage
from musicconnect.domain.media import VARIANT_PLAYLIST, UploadPolicy
from musicconnect.domain.notifications import Announcement, NotificationKind
from musicconnect.domain.tiers import Feature
from musicconnect.ports.media import ImageProcessor, MediaProbe, MediaStorage, Transcoder, UrlSigner
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, IdGenerator, JobQueue, QuotaCounter
from musicconnect.usecases.access import is_owner, require_artist, require_owner, require_perk
from musicconnect.usecases.backstage_media import (
    StrandedClips,
    clip_file,
    clip_job,
    clip_path,
    holder_of,
    image_file,
    image_path,
    requeue_stranded_clips,
    transcode_clip,
)
from musicconnect.usecases.media_cleanup import discard_media
from musicconnect.usecases.notifications import Notifications
from musicconnect.usecases.streaming import MediaFile, url_expiry

log = logging.getLogger(__name__)

#: Clips are demos and voice notes: smaller and shorter than a track.
CLIP_POLICY: Final = UploadPolicy(max_bytes=50 * 1024 * 1024, max_duration_s=10 * 60.0)
IMAGE_POLICY: Final = ImagePolicy()


@attrs.frozen
class NewPost:
    """What the artist posts: text, up to four images (their bytes) and an optional audio clip."""

    artist_id: str
    body: str
    images: Sequence[bytes] = ()
    clip: Path | None = None


@attrs.frozen
class PostView:
    """A post as one reader sees it: its media as URLs signed for that reader, minutes long."""

    post: BackstagePost
    image_urls: tuple[str, ...]
    #: The clip's playlist, once it is ready.
    clip_url: str | None


@attrs.frozen
class FeedPage:
    posts: Sequence[PostView]
    #: Pass it back for the next (older) page; None on the last page.
    next_cursor: str | None


@attrs.frozen
class Backstage:
    """The virtual-backstage use cases, bound once to their ports."""

    uow: Callable[[], UnitOfWork]
    storage: MediaStorage
    signer: UrlSigner
    images: ImageProcessor
    probe: MediaProbe
    transcoder: Transcoder
    jobs: JobQueue
    quota: QuotaCounter
    ids: IdGenerator
    clock: Clock
    notifications: Notifications | None = None
    image_policy: ImagePolicy = IMAGE_POLICY
    clip_policy: UploadPolicy = CLIP_POLICY
    url_ttl: timedelta = MEDIA_URL_TTL

    # --- the artist ---------------------------------------------------------------------------

    def post(self, command: NewPost, *, caller: Caller) -> BackstagePost:
        """Check everything (text, each image, the clip) before storing anything; the clip is
        then "processing" until its transcode job publishes it. Superfans are notified."""
        require_owner(caller, command.artist_id)
        body = check_post(command.body)
        if len(command.images) > MAX_IMAGES:
            raise InvalidInput(f"at most {MAX_IMAGES} images a post")
        with self.uow() as uow:
            require_artist(uow, command.artist_id)
        processed = [self.images.process(data, self.image_policy) for data in command.images]
        if command.clip is not None:
            self.probe.probe(command.clip, self.clip_policy)
        post = BackstagePost(
            id=self.ids.new_id(),
            artist_id=command.artist_id,
            body=body,
            created_at=self.clock.now(),
            images=tuple(_image(index, image) for index, image in enumerate(processed)),
            clip=Clip() if command.clip is not None else None,
        )
        try:
            for image, data in zip(post.images, processed, strict=True):
                self.storage.put_bytes(post.image_key(image.filename), data.data, image.content_type)
            if command.clip is not None:
                self.storage.put_file(post.clip_original_key, command.clip, "application/octet-stream")
            with self.uow() as uow:
                uow.backstage_posts.add(post)
                uow.commit()
        except BaseException:
            self.storage.delete_prefix(post.media_prefix + "/")  # nothing half-written stays
            raise
        if post.clip is not None:
            self._queue_clip(post.id)
        self._announce(post)
        return post

    def edit(self, post_id: str, body: str, *, caller: Caller) -> BackstagePost:
        with self.uow() as uow:
            post = self._post(uow, post_id)
            require_owner(caller, post.artist_id)
            edited = post.edited(body, self.clock.now())
            uow.backstage_posts.save(edited)
            uow.commit()
        return edited

    def delete(self, post_id: str, *, caller: Caller) -> None:
        """The post, its comments and its media go (the media after the post is gone)."""
        with self.uow() as uow:
            post = self._post(uow, post_id)
            require_owner(caller, post.artist_id)
            uow.backstage_posts.delete(post_id)
            uow.commit()
        discard_media(self.storage, post.media_prefix + "/")

    def delete_comment(self, post_id: str, comment_id: str, *, caller: Caller) -> None:
        """The artist deletes any comment on their posts; a fan their own."""
        with self.uow() as uow:
            post = self._post(uow, post_id)
            comment = uow.backstage_comments.get(comment_id)
            if comment is None or comment.post_id != post_id:
                raise NotFound(f"no comment {comment_id} on this post")
            if not (is_owner(caller, post.artist_id) or caller.id == comment.fan_id):
                raise Forbidden("only the artist moderates comments")
            uow.backstage_comments.delete(comment_id)
            uow.commit()

    def block(self, artist_id: str, fan_id: str, *, caller: Caller) -> None:
        """Stop a fan from commenting on the artist's backstage (they still read it)."""
        require_owner(caller, artist_id)
        with self.uow() as uow:
            require_artist(uow, artist_id)
            fan = uow.accounts.get(fan_id)
            if fan is None or fan.role is not Role.FAN:
                raise NotFound(f"no fan {fan_id}")
            uow.backstage_blocks.block(artist_id, fan_id, self.clock.now())
            uow.commit()

    def unblock(self, artist_id: str, fan_id: str, *, caller: Caller) -> None:
        require_owner(caller, artist_id)
        with self.uow() as uow:
            uow.backstage_blocks.unblock(artist_id, fan_id)
            uow.commit()

    def blocked(self, artist_id: str, *, caller: Caller) -> Sequence[str]:
        require_owner(caller, artist_id)
        with self.uow() as uow:
            return uow.backstage_blocks.blocked(artist_id)

    # --- superfans ----------------------------------------------------------------------------

    def comment(self, post_id: str, body: str, *, caller: Caller) -> Comment:
        """A superfan's comment (the artist's too); at most ``COMMENTS_PER_HOUR`` per fan and
        artist each hour, none from a blocked fan."""
        text = check_comment(body)
        now = self.clock.now()
        with self.uow() as uow:
            post = self._readable(uow, post_id, caller)
            if uow.backstage_blocks.is_blocked(post.artist_id, caller.id):
                raise Forbidden("the artist has blocked you from commenting")
        key = comment_quota_key(post.artist_id, caller.id, now)
        if not self.quota.acquire(key, limit=COMMENTS_PER_HOUR, resets_at=comment_window_end(now)):
            wait = int((comment_window_end(now) - now).total_seconds()) + 1
            raise QuotaExceeded(f"{COMMENTS_PER_HOUR} comments an hour", retry_after_s=wait)
        comment = Comment(self.ids.new_id(), post_id, post.artist_id, caller.id, text, now)
        try:
            with self.uow() as uow:
                self._post(uow, post_id)  # not deleted meanwhile
                uow.backstage_comments.add(comment)
                uow.commit()
        except BaseException:
            self.quota.release(key)
            raise
        return comment

    # --- reading ------------------------------------------------------------------------------

    def feed(
        self, artist_id: str, *, caller: Caller, cursor: str | None = None, limit: int = DEFAULT_PAGE
    ) -> FeedPage:
        """The artist's posts, newest first, a page at a time (``cursor`` from the last page)."""
        check_page_size(limit)
        after = PageCursor.decode(cursor) if cursor else None
        with self.uow() as uow:
            require_artist(uow, artist_id)
            self._require_reader(uow, artist_id, caller)
            posts = uow.backstage_posts.page(artist_id, after=after, limit=limit + 1)
        shown = posts[:limit]
        more = len(posts) > limit
        return FeedPage(
            [self._view(p, caller) for p in shown],
            PageCursor.after(shown[-1]).encode() if more else None,
        )

    def view(self, post_id: str, *, caller: Caller) -> PostView:
        with self.uow() as uow:
            post = self._readable(uow, post_id, caller)
        return self._view(post, caller)

    def comments(self, post_id: str, *, caller: Caller) -> Sequence[Comment]:
        """The post's comments, oldest first."""
        with self.uow() as uow:
            self._readable(uow, post_id, caller)
            return uow.backstage_comments.of_post(post_id)

    # --- media --------------------------------------------------------------------------------

    def image(
        self, artist_id: str, post_id: str, filename: str, query: Mapping[str, str], *, requester: str | None
    ) -> MediaFile:
        """An image behind a signed URL, for a holder who may read the backstage now."""
        path = f"/media/artists/{artist_id}/backstage/{post_id}/images/{filename}"
        post, _ = self._signed_post(path, artist_id, post_id, query, requester)
        return image_file(post, filename, self.storage)

    def clip(
        self,
        artist_id: str,
        post_id: str,
        rung: str,
        filename: str,
        query: Mapping[str, str],
        *,
        requester: str | None,
    ) -> MediaFile:
        """The clip's playlist or a segment behind a signed URL, for a holder who may read now."""
        path = f"/media/artists/{artist_id}/backstage/{post_id}/clip/hls/{rung}/{filename}"
        post, holder = self._signed_post(path, artist_id, post_id, query, requester)
        return clip_file(
            post,
            rung,
            filename,
            subject=holder.id,
            expires=url_expiry(self.clock.now(), self.url_ttl),
            storage=self.storage,
            signer=self.signer,
        )

    def transcode_clip(self, post_id: str) -> BackstagePost | None:
        """Encode and publish a post's clip (what the job runs)."""
        return transcode_clip(post_id, uow=self.uow, storage=self.storage, transcoder=self.transcoder)

    def run_clip_job(self, payload: Mapping[str, Any]) -> None:
        """The ``CLIP_JOB`` handler."""
        self.transcode_clip(str(payload["post_id"]))

    def requeue_stranded_clips(self) -> StrandedClips:
        """Queue again the clips left processing, fail those stuck too long (see
        ``requeue_stranded_clips``); what a process running jobs schedules every ``SWEEP_EVERY``."""
        swept = requeue_stranded_clips(uow=self.uow, jobs=self.jobs, quota=self.quota, clock=self.clock)
        for post_id in swept.requeued:
            log.warning("queued the clip transcode of stranded backstage post %s again", post_id)
        for post_id in swept.given_up:
            log.error("gave up on the clip of backstage post %s: still processing", post_id)
        return swept

    # --- helpers ------------------------------------------------------------------------------

    def _signed_post(
        self, path: str, artist_id: str, post_id: str, query: Mapping[str, str], requester: str | None
    ) -> tuple[BackstagePost, Caller]:
        now = self.clock.now()
        holder = holder_of(path, query, requester, uow=self.uow(), signer=self.signer, now=now)
        with self.uow() as uow:
            post = self._post(uow, post_id)
            if post.artist_id != artist_id:
                raise NotFound(f"no backstage post {post_id} by artist {artist_id}")
            self._require_reader(uow, artist_id, holder)
        return post, holder

    def _view(self, post: BackstagePost, caller: Caller) -> PostView:
        expires = url_expiry(self.clock.now(), self.url_ttl)

        def sign(path: str) -> str:
            return self.signer.sign(path, subject=caller.id, expires_at=expires)

        ready = post.clip is not None and post.clip.status is ClipStatus.READY
        return PostView(
            post,
            tuple(sign(image_path(post, i.filename)) for i in post.images),
            sign(clip_path(post, VARIANT_PLAYLIST)) if ready else None,
        )

    @staticmethod
    def _post(uow: UnitOfWork, post_id: str) -> BackstagePost:
        post = uow.backstage_posts.get(post_id)
        if post is None:
            raise NotFound(f"no backstage post {post_id}")
        return post

    def _readable(self, uow: UnitOfWork, post_id: str, caller: Caller) -> BackstagePost:
        post = self._post(uow, post_id)
        self._require_reader(uow, post.artist_id, caller)
        return post

    def _require_reader(self, uow: UnitOfWork, artist_id: str, caller: Caller) -> None:
        refusal = "the virtual backstage is for superfans"
        require_perk(uow, caller, artist_id, Feature.VIRTUAL_BACKSTAGE, now=self.clock.now(), refusal=refusal)

    def _queue_clip(self, post_id: str) -> None:
        try:
            self.jobs.enqueue(clip_job(post_id))
        except ServiceUnavailable as error:
            # The post and its clip are committed; the stranded-clip sweep queues it later.
            log.warning("backstage clip of %s could not be queued yet: %s", post_id, error.detail)

    def _announce(self, post: BackstagePost) -> None:
        if self.notifications is None:
            return
        with self.uow() as uow:
            artist = uow.artists.get(post.artist_id)
        name = artist.display_name if artist is not None else "An artist"
        text = f"{name} posted backstage: {post.body[:80]}"
        self.notifications.announce(
            Announcement(NotificationKind.BACKSTAGE_POST, post.artist_id, post.id, text, self.clock.now())
        )


def _image(index: int, image: ProcessedImage) -> PostImage:
    return PostImage(f"{index}.{image.extension}", image.content_type, image.width, image.height)
