"""A backstage post's media: its clip's single-rung transcode, and its files behind signed URLs.

Every media URL is the storage key under ``/media`` (as for tracks), signed for one reader and
short-lived (``MEDIA_URL_TTL``). Serving checks, at that instant, that the signature's holder may
read the artist's backstage, and that a request which says who it is (a bearer token) comes from
that holder: a supporter holding a superfan's URL is refused. A URL without any such header is a
bearer credential, as CloudFront's are, and lives minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

import attrs

from musicconnect.domain.accounts import Caller
from musicconnect.domain.backstage import CLIP_KBPS, BackstagePost, Clip, ClipStatus
from musicconnect.domain.errors import Forbidden, MediaRejected, NotFound
from musicconnect.domain.media import VARIANT_PLAYLIST, content_type_for, rung_folder
from musicconnect.domain.stranded import GIVE_UP_AFTER, SWEEP_EVERY, Verdict, verdict
from musicconnect.ports.media import MediaStorage, Transcoder, UrlSigner
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, Job, JobQueue, QuotaCounter
from musicconnect.usecases.encoding import encode_stored
from musicconnect.usecases.streaming import MediaFile, parse_rung, sign_playlist, verified_listener

log = logging.getLogger(__name__)

CLIP_JOB = "transcode_backstage_clip"


def clip_job(post_id: str) -> Job:
    return Job(name=CLIP_JOB, payload={"post_id": post_id}, key=f"backstage-clip:{post_id}")


def image_path(post: BackstagePost, filename: str) -> str:
    return f"/media/{post.image_key(filename)}"


def clip_path(post: BackstagePost, filename: str) -> str:
    return f"/media/{post.clip_hls_prefix}/{rung_folder(CLIP_KBPS)}/{filename}"


def transcode_clip(
    post_id: str, *, uow: Callable[[], UnitOfWork], storage: MediaStorage, transcoder: Transcoder
) -> BackstagePost | None:
    """Encode a post's clip at its one rung and publish it (segments, then the playlist); the
    clip turns ready last. Again after a crash: the partial output is cleared first. A clip that
    does not decode is marked failed."""
    with uow() as work:
        post = work.backstage_posts.get(post_id)
    if post is None or post.clip is None or post.clip.status is ClipStatus.READY:
        return None
    try:
        ladder = encode_stored(
            post.clip_original_key,
            post.clip_hls_prefix,
            (CLIP_KBPS,),
            storage=storage,
            transcoder=transcoder,
            only_under=rung_folder(CLIP_KBPS) + "/",  # one rung: its own playlist is what readers open
        )
    except MediaRejected as error:
        _save_clip(uow, post, post.clip.failed(error.detail))
        log.warning("backstage clip of %s failed: %s", post_id, error.detail)
        return None
    _save_clip(uow, post, post.clip.ready(ladder.duration_s))
    with uow() as work:
        if work.backstage_posts.get(post_id) is None:  # deleted while it was encoded
            storage.delete_prefix(post.media_prefix + "/")
            return None
    return post


def _save_clip(uow: Callable[[], UnitOfWork], post: BackstagePost, clip: Clip) -> None:
    with uow() as work:
        work.backstage_posts.save_clip(post.id, clip)
        work.commit()


@attrs.frozen
class StrandedClips:
    """What one sweep did: the posts whose clip job it queued again, and those it gave up on."""

    requeued: tuple[str, ...]
    given_up: tuple[str, ...]


def requeue_stranded_clips(
    *, uow: Callable[[], UnitOfWork], jobs: JobQueue, quota: QuotaCounter, clock: Clock
) -> StrandedClips:
    """Queue again the transcodes of clips left processing (the process died between the post's
    commit and its job, or while the job ran); fail those processing for ``GIVE_UP_AFTER``.

    The rule and timings of ``domain.stranded`` (as for tracks), run every ``SWEEP_EVERY``: a clip
    is queued again when the wait since its post reaches ``REQUEUE_AFTER``, twice that, four
    times that ..., so one that keeps failing is tried a handful of times a day.

    Every process that runs jobs sweeps, and on the embedded default each ``serve`` process has a
    thread queue of its own that does not see the others' job keys: two of them queuing the clip
    at one mark would transcode it twice at once, one clearing the files the other just wrote.
    So a clip is queued once a mark, by the first sweep to take its lease (``quota``, atomic
    across processes, held for the two sweep intervals a mark lasts).
    """
    now = clock.now()
    with uow() as work:
        verdicts = {
            post.id: verdict(now - post.created_at) for post in work.backstage_posts.clips_processing()
        }
    overdue = [post_id for post_id, said in verdicts.items() if said is Verdict.GIVE_UP]
    due = [post_id for post_id, said in verdicts.items() if said is Verdict.REQUEUE]
    lease_ends = now + 2 * SWEEP_EVERY
    requeued = [post_id for post_id in due if _queue_once(post_id, jobs=jobs, quota=quota, until=lease_ends)]
    reason = f"the clip's transcode did not finish within {GIVE_UP_AFTER}"
    given_up = [post_id for post_id in overdue if _fail_processing_clip(uow, post_id, reason)]
    return StrandedClips(requeued=tuple(requeued), given_up=tuple(given_up))


def _queue_once(post_id: str, *, jobs: JobQueue, quota: QuotaCounter, until: datetime) -> bool:
    """Queue the clip's job unless another sweep did within this mark; the lease is given back
    when the queue cannot be reached, so the next sweep tries again."""
    lease = f"backstage-clip-requeue:{post_id}"
    if not quota.acquire(lease, limit=1, resets_at=until):
        return False
    try:
        jobs.enqueue(clip_job(post_id))
    except BaseException:
        quota.release(lease)
        raise
    return True


def _fail_processing_clip(uow: Callable[[], UnitOfWork], post_id: str, reason: str) -> bool:
    """Fail the post's clip if it is still processing (one published meanwhile stays published)."""
    with uow() as work:
        post = work.backstage_posts.get(post_id)
        if post is None or post.clip is None or post.clip.status is not ClipStatus.PROCESSING:
            return False
        work.backstage_posts.save_clip(post_id, post.clip.failed(reason))
        work.commit()
    return True


def holder_of(
    path: str,
    query: Mapping[str, str],
    requester: str | None,
    *,
    uow: UnitOfWork,
    signer: UrlSigner,
    now: datetime,
) -> Caller:
    """Whom a signed backstage URL was made for; Forbidden when the request says it is someone else."""
    holder = verified_listener(path, query, uow=uow, signer=signer, now=now)
    if requester is not None and requester != holder.id:
        raise Forbidden("this URL was signed for someone else")
    return holder


def image_file(post: BackstagePost, filename: str, storage: MediaStorage) -> MediaFile:
    image = next((i for i in post.images if i.filename == filename), None)
    if image is None:
        raise NotFound(f"no image {filename}")
    return MediaFile(body=storage.get_bytes(post.image_key(filename)), content_type=image.content_type)


def clip_file(
    post: BackstagePost,
    rung: str,
    filename: str,
    *,
    subject: str,
    expires: datetime,
    storage: MediaStorage,
    signer: UrlSigner,
) -> MediaFile:
    """The clip's playlist (each segment URI signed for ``subject``) or one of its segments."""
    if parse_rung(rung) != CLIP_KBPS or "/" in filename or filename.startswith("."):
        raise NotFound(f"no clip file {rung}/{filename}")
    if post.clip is None or post.clip.status is not ClipStatus.READY:
        raise NotFound("this post has no playable clip")
    body = storage.get_bytes(f"{post.clip_hls_prefix}/{rung_folder(CLIP_KBPS)}/{filename}")
    if filename == VARIANT_PLAYLIST:
        body = sign_playlist(
            body, lambda uri: clip_path(post, uri), subject=subject, expires=expires, signer=signer
        )
    return MediaFile(body=body, content_type=content_type_for(filename))
