"""Backstage upkeep: clips left processing are queued again with the tracks' backoff
(``domain.stranded``) and failed at last; media bytes go once the database no longer points at
them, and a storage that fails to delete them does not fail the request."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import attrs
import pytest

from musicconnect.adapters.pillow import PillowImageProcessor
from musicconnect.domain.backstage import BackstagePost, ClipStatus
from musicconnect.domain.errors import NotFound, ServiceUnavailable
from musicconnect.domain.stranded import GIVE_UP_AFTER, REQUEUE_AFTER, SWEEP_EVERY
from musicconnect.domain.tiers import Tier
from musicconnect.usecases.artists import Artists
from musicconnect.usecases.backstage import Backstage, NewPost
from musicconnect.usecases.backstage_media import CLIP_JOB, StrandedClips
from musicconnect.usecases.profile import Profiles
from tests.support import images
from tests.support.queues import DeadWorker, QueueDown
from tests.unit.usecases.conftest import PASSWORD, World
from tests.unit.usecases.test_backstage import backstage_of


@pytest.fixture
def backstage(world: World) -> Backstage:
    return backstage_of(world)


def clip_status(world: World, post_id: str) -> ClipStatus | None:
    with world.uow() as uow:
        post = uow.backstage_posts.get(post_id)
    assert post is not None
    return None if post.clip is None else post.clip.status


def post_with_clip(world: World, backstage: Backstage) -> BackstagePost:
    artist = world.artist()
    return backstage.post(NewPost(artist.id, "demo 🎙", clip=world.upload()), caller=artist)


def test_a_clip_whose_job_could_not_be_queued_waits_for_the_sweep_and_is_published(
    world: World, backstage: Backstage
) -> None:
    """The queue is down at the post's commit: the clip stays processing (not failed); no
    sweep queues it before REQUEUE_AFTER; the one at REQUEUE_AFTER does, and it turns ready."""
    post = post_with_clip(world, attrs.evolve(backstage, jobs=QueueDown()))
    assert clip_status(world, post.id) is ClipStatus.PROCESSING

    world.clock.advance(REQUEUE_AFTER - timedelta(seconds=1))
    early = backstage.requeue_stranded_clips()
    assert early == StrandedClips(requeued=(), given_up=())
    assert clip_status(world, post.id) is ClipStatus.PROCESSING

    world.clock.advance(timedelta(seconds=1))
    swept = backstage.requeue_stranded_clips()
    assert swept == StrandedClips(requeued=(post.id,), given_up=())
    assert clip_status(world, post.id) is ClipStatus.READY


def test_a_clip_whose_worker_died_mid_transcode_is_published_without_its_partial_output(
    world: World, backstage: Backstage
) -> None:
    """The job was taken and the worker killed: a stray half-written segment is left. The sweep
    queues the clip again; its transcode clears the stray file and publishes the clip."""
    dead = DeadWorker()
    post = post_with_clip(world, attrs.evolve(backstage, jobs=dead))
    assert [job.name for job in dead.queued] == [CLIP_JOB]
    stray = f"{post.clip_hls_prefix}/128k/half-written.ts"
    world.storage.put_bytes(stray, b"\x47" * 100, "video/mp2t")

    world.clock.advance(REQUEUE_AFTER)
    backstage.requeue_stranded_clips()

    assert clip_status(world, post.id) is ClipStatus.READY
    assert not world.storage.exists(stray)
    assert world.storage.exists(f"{post.clip_hls_prefix}/128k/index.m3u8")


def test_a_clip_that_never_finishes_is_queued_at_doubling_waits_then_failed(
    world: World, backstage: Backstage
) -> None:
    """Swept every SWEEP_EVERY for a day, a clip whose jobs never finish is queued again at 10,
    20, 40 ... minutes (one or two sweeps each, as tracks are), then failed with a reason. A
    post without a clip, a ready clip and a deleted post's clip are never swept."""
    dead = DeadWorker()
    sweeping = attrs.evolve(backstage, jobs=dead)
    stuck = post_with_clip(world, sweeping)
    ready = post_with_clip(world, backstage)
    gone = post_with_clip(world, sweeping)
    with world.uow() as uow:
        uow.backstage_posts.delete(gone.id)
        uow.commit()
    requeued_at: list[timedelta] = []
    given_up: list[str] = []
    swept_for = timedelta()
    while swept_for <= GIVE_UP_AFTER:
        swept = sweeping.requeue_stranded_clips()
        assert set(swept.requeued) <= {stuck.id}
        requeued_at += [swept_for] * len(swept.requeued)
        given_up += swept.given_up
        world.clock.advance(SWEEP_EVERY)
        swept_for += SWEEP_EVERY

    # Sweeps fall exactly on the marks here: the sweep at a mark queues it, the next (still in
    # the mark's window) finds the lease taken.
    doublings = range(1, int(GIVE_UP_AFTER / REQUEUE_AFTER).bit_length())
    marks = [REQUEUE_AFTER, *(REQUEUE_AFTER * 2**k for k in doublings)]
    assert marks[-1] < GIVE_UP_AFTER <= 2 * marks[-1]
    assert requeued_at == marks
    assert given_up == [stuck.id]
    with world.uow() as uow:
        failed = uow.backstage_posts.get(stuck.id)
    assert failed is not None
    assert failed.clip is not None
    assert failed.clip.status is ClipStatus.FAILED
    assert failed.clip.failure_reason is not None
    assert "did not finish" in failed.clip.failure_reason
    assert clip_status(world, ready.id) is ClipStatus.READY
    assert sweeping.requeue_stranded_clips() == StrandedClips(requeued=(), given_up=())


def test_processes_sweeping_side_by_side_queue_a_stranded_clip_once_a_mark(
    world: World, backstage: Backstage
) -> None:
    """Three ``serve`` processes on the embedded default, each with a thread queue of its own
    (which do not see each other's job keys), sweep the same database: one of them queues the
    clip at a mark, so it is never transcoded twice at once; at the next mark one does again."""
    post = post_with_clip(world, attrs.evolve(backstage, jobs=QueueDown()))
    queues = [DeadWorker() for _ in range(3)]
    processes = [attrs.evolve(backstage, jobs=queue) for queue in queues]

    def sweep_all() -> list[tuple[str, ...]]:
        return [process.requeue_stranded_clips().requeued for process in processes]

    world.clock.advance(REQUEUE_AFTER)
    at_the_mark = sweep_all()
    world.clock.advance(SWEEP_EVERY)
    a_sweep_later = sweep_all()
    world.clock.advance(REQUEUE_AFTER)  # the next mark: twice REQUEUE_AFTER
    at_the_next_mark = sweep_all()

    assert sorted(at_the_mark) == [(), (), (post.id,)]
    assert a_sweep_later == [(), (), ()]
    assert sorted(at_the_next_mark) == [(), (), (post.id,)]
    assert sum(len(queue.queued) for queue in queues) == 2


def test_a_sweep_that_cannot_reach_the_queue_leaves_the_mark_to_the_next_sweep(
    world: World, backstage: Backstage
) -> None:
    post = post_with_clip(world, attrs.evolve(backstage, jobs=QueueDown()))
    world.clock.advance(REQUEUE_AFTER)
    with pytest.raises(ServiceUnavailable):
        attrs.evolve(backstage, jobs=QueueDown()).requeue_stranded_clips()
    world.clock.advance(SWEEP_EVERY)  # still within the mark's window
    assert backstage.requeue_stranded_clips() == StrandedClips(requeued=(post.id,), given_up=())
    assert clip_status(world, post.id) is ClipStatus.READY


def test_a_superfan_sees_the_swept_clip_play(world: World, backstage: Backstage) -> None:
    """End to end through the feed: no clip URL while stranded, a signed one once swept."""
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    down = attrs.evolve(backstage, jobs=QueueDown())
    down.post(
        NewPost(artist.id, "voice note", images=[images.photo(40, 40)], clip=world.upload()), caller=artist
    )
    assert backstage.feed(artist.id, caller=fan).posts[0].clip_url is None
    world.clock.advance(REQUEUE_AFTER)
    backstage.requeue_stranded_clips()
    assert backstage.feed(artist.id, caller=fan).posts[0].clip_url is not None


def test_a_clip_whose_job_used_up_its_attempts_is_published_by_the_sweep(
    world: World, backstage: Backstage
) -> None:
    """The transcoder dies mid-way (a killed ffmpeg) and the queue drops the job after its one
    attempt: the clip is left processing, not failed, and the sweep publishes it."""
    world.transcoder.crash_with = RuntimeError("ffmpeg was killed")
    post = post_with_clip(world, backstage)
    assert clip_status(world, post.id) is ClipStatus.PROCESSING
    world.clock.advance(REQUEUE_AFTER)
    assert backstage.requeue_stranded_clips() == StrandedClips(requeued=(post.id,), given_up=())
    assert clip_status(world, post.id) is ClipStatus.READY


# --- media bytes once nothing points at them ----------------------------------------------------


def watch_deletes(world: World, snapshot: Callable[[], object], *, failing: bool) -> list[tuple[str, object]]:
    """From now on, each storage delete notes what the database shows at that instant (so a
    delete made inside the transaction, before the commit, is caught), and fails if ``failing``."""
    deletes: list[tuple[str, object]] = []
    world.storage.before_delete = lambda prefix: deletes.append((prefix, snapshot()))
    world.storage.fail_deletes = failing
    return deletes


def keys_under(world: World, prefix: str) -> list[str]:
    return sorted(world.storage.list_keys(prefix))


@pytest.mark.parametrize("failing", [False, True])
def test_a_deleted_posts_media_go_after_the_commit_and_a_failing_storage_is_only_logged(
    world: World, backstage: Backstage, caplog: pytest.LogCaptureFixture, *, failing: bool
) -> None:
    artist = world.artist()
    post = backstage.post(
        NewPost(artist.id, "soon gone", images=[images.photo(64, 48)], clip=world.upload()), caller=artist
    )
    assert keys_under(world, post.media_prefix + "/")  # images, original, clip playlist

    def stored_post() -> object:
        with world.uow() as uow:
            return uow.backstage_posts.get(post.id)

    deletes = watch_deletes(world, stored_post, failing=failing)
    backstage.delete(post.id, caller=artist)  # no error either way

    assert deletes == [(post.media_prefix + "/", None)]  # the post was gone by then
    with pytest.raises(NotFound):
        backstage.view(post.id, caller=artist)
    if failing:
        assert keys_under(world, post.media_prefix + "/")
        assert _logged_failure(caplog, post.media_prefix + "/")
    else:
        assert keys_under(world, post.media_prefix + "/") == []


def artists_of(world: World) -> Artists:
    return Artists(world.uow, world.clock, world.storage, PillowImageProcessor(), world.ids)


@pytest.mark.parametrize("failing", [False, True])
def test_a_replaced_picture_goes_after_the_commit_and_a_failing_storage_is_only_logged(
    world: World, caplog: pytest.LogCaptureFixture, *, failing: bool
) -> None:
    artist = world.artist()
    first = artists_of(world).set_picture(artist.id, images.photo(300, 200), caller=artist)
    assert first.image_key is not None

    def current_key() -> object:
        with world.uow() as uow:
            stored = uow.artists.get(artist.id)
        return None if stored is None else stored.image_key

    deletes = watch_deletes(world, current_key, failing=failing)
    second = artists_of(world).set_picture(artist.id, images.photo_with_gps(), caller=artist)

    assert second.image_key is not None
    assert second.image_key != first.image_key
    old_folder = first.image_key.rsplit("/", 1)[0] + "/"
    assert deletes == [(old_folder, second.image_key)]  # the new key was committed by then
    assert artists_of(world).picture(artist.id).body == world.storage.get_bytes(second.image_key)
    assert world.storage.exists(first.image_key) is failing
    if failing:
        assert _logged_failure(caplog, old_folder)


def profiles_of(world: World) -> Profiles:
    return Profiles(world.uow, world.hasher, world.mail, world.clock, world.subscriptions, world.storage)


@pytest.mark.parametrize("failing", [False, True])
def test_an_erased_artists_picture_and_backstage_media_go_after_the_commit(
    world: World, backstage: Backstage, caplog: pytest.LogCaptureFixture, *, failing: bool
) -> None:
    """The posts (with a fan's comment) and the picture are gone from the database before any
    byte is deleted; then every byte under the artist's picture and backstage goes, or, when
    the storage fails, the erasure still succeeds and each prefix is logged. Another artist's
    backstage is untouched."""
    artist, other = world.artist(), world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    picture = artists_of(world).set_picture(artist.id, images.photo(200, 200), caller=artist)
    assert picture.image_key is not None
    posts = [
        backstage.post(
            NewPost(artist.id, f"post {n}", images=[images.photo(40, 40)], clip=world.upload()), caller=artist
        )
        for n in range(2)
    ]
    backstage.comment(posts[0].id, "💜", caller=fan)
    kept = backstage.post(NewPost(other.id, "not theirs", images=[images.photo(30, 30)]), caller=other)
    kept_keys = keys_under(world, kept.media_prefix + "/")
    backstage.block(artist.id, fan.id, caller=artist)

    def what_the_database_shows() -> object:
        with world.uow() as uow:
            stored = uow.artists.get(artist.id)
            return (
                [uow.backstage_posts.get(p.id) for p in posts],
                None if stored is None else stored.image_key,
            )

    deletes = watch_deletes(world, what_the_database_shows, failing=failing)
    profiles_of(world).erase(artist, PASSWORD)

    assert sorted(prefix for prefix, _ in deletes) == sorted(
        [*(p.media_prefix + "/" for p in posts), picture.image_key.rsplit("/", 1)[0] + "/"]
    )
    assert all(seen == ([None, None], None) for _, seen in deletes)
    assert keys_under(world, kept.media_prefix + "/") == kept_keys
    with world.uow() as uow:
        assert uow.backstage_comments.by_fan(fan.id) == []
        assert uow.backstage_blocks.blocked(artist.id) == []
    if failing:
        assert all(_logged_failure(caplog, prefix) for prefix, _ in deletes)
        assert keys_under(world, f"artists/{artist.id}/")
    else:
        assert keys_under(world, f"artists/{artist.id}/") == []


def _logged_failure(caplog: pytest.LogCaptureFixture, prefix: str) -> bool:
    return any(
        record.levelno == logging.ERROR and prefix in record.getMessage() and record.exc_info
        for record in caplog.records
    )
