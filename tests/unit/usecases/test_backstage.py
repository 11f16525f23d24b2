"""Virtual backstage: the artist posts, superfans (at that instant) read and comment, the artist
moderates; media behind short-lived signed URLs; hostile uploads refused with nothing stored."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from musicconnect import Register
from musicconnect.adapters.inprocess import InlineJobQueue
from musicconnect.adapters.pillow import PillowImageProcessor
from musicconnect.adapters.s3 import CloudFrontUrlSigner, PlaylistsHereSegmentsOnCdn
from musicconnect.domain.backstage import COMMENTS_PER_HOUR, ClipStatus
from musicconnect.domain.errors import (
    Forbidden,
    InvalidInput,
    MediaRejected,
    MediaTooLarge,
    NotFound,
    QuotaExceeded,
    SignatureInvalid,
)
from musicconnect.domain.tiers import Tier
from musicconnect.testing import in_memory
from musicconnect.usecases.backstage import Backstage, NewPost
from musicconnect.usecases.backstage_media import CLIP_JOB
from musicconnect.usecases.notifications import NOTIFY_JOB, Notifications
from tests.support import images
from tests.unit.usecases.conftest import SEGMENTS, World


def backstage_of(world: World, *, with_notifications: bool = False) -> Backstage:
    built: list[Backstage] = []

    def clip(payload: Mapping[str, Any]) -> None:
        built[0].run_clip_job(payload)

    def notify(payload: Mapping[str, Any]) -> None:
        assert notifications is not None
        notifications.fan_out(payload)

    jobs = InlineJobQueue({CLIP_JOB: clip, NOTIFY_JOB: notify}, max_attempts=1)
    notifications = Notifications(world.uow, jobs, world.outbox, world.clock) if with_notifications else None
    built.append(
        Backstage(
            world.uow,
            world.storage,
            world.signer,
            PillowImageProcessor(),
            world.probe,
            world.transcoder,
            jobs,
            world.quota,
            world.ids,
            world.clock,
            notifications,
        )
    )
    return built[0]


@pytest.fixture
def backstage(world: World) -> Backstage:
    return backstage_of(world)


def split(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, dict(parse_qsl(parts.query))


def test_a_superfan_reads_the_post_its_image_and_its_clip(world: World, backstage: Backstage) -> None:
    """The clip is transcoded at one rung on the queue; image and playlist URLs are signed for
    the reader; the playlist's segment URIs are signed too and serve the segment."""
    artist = world.artist()
    superfan = world.fan_on(artist, Tier.SUPERFAN)
    post = backstage.post(
        NewPost(artist.id, "New demo — « Été » 🎙", images=[images.photo_with_gps()], clip=world.upload()),
        caller=artist,
    )
    assert post.clip is not None
    assert post.clip.status is ClipStatus.PROCESSING  # as posted; the inline queue then ran the job
    view = backstage.feed(artist.id, caller=superfan).posts[0]
    assert view.post.clip is not None
    assert view.post.clip.status is ClipStatus.READY
    assert view.post.images[0].content_type == "image/jpeg"

    path, query = split(view.image_urls[0])
    image = backstage.image(artist.id, post.id, path.rsplit("/", 1)[1], query, requester=superfan.id)
    assert image.content_type == "image/jpeg"
    assert b"Exif" not in image.body

    assert view.clip_url is not None
    path, query = split(view.clip_url)
    assert query["sub"] == superfan.id
    playlist = backstage.clip(artist.id, post.id, "128k", "index.m3u8", query, requester=None)
    segment_url = next(line for line in playlist.body.decode().splitlines() if SEGMENTS[0] in line)
    seg_path, seg_query = split(segment_url)
    segment = backstage.clip(
        artist.id, post.id, "128k", seg_path.rsplit("/", 1)[1], seg_query, requester=None
    )
    assert segment.body == f"{SEGMENTS[0]}-128".encode()


def test_a_fan_who_drops_below_superfan_loses_the_backstage_at_once(
    world: World, backstage: Backstage
) -> None:
    """The feed, comments and even a URL minted while they were a superfan are refused from
    the instant the downgrade takes effect, with no job in between."""
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    post = backstage.post(NewPost(artist.id, "Soundcheck", images=[images.photo(200, 100)]), caller=artist)
    subscription = world.subscriptions.change_tier(artist.id, Tier.SUPPORTER, caller=fan).subscription
    world.clock.set(subscription.current_period_end - timedelta(seconds=1))
    backstage.comment(post.id, "still in", caller=fan)
    path, query = split(backstage.feed(artist.id, caller=fan).posts[0].image_urls[0])

    world.clock.set(subscription.current_period_end + timedelta(seconds=1))
    with pytest.raises(Forbidden):
        backstage.feed(artist.id, caller=fan)
    with pytest.raises(Forbidden):
        backstage.comment(post.id, "let me in", caller=fan)
    with pytest.raises(Forbidden):
        backstage.view(post.id, caller=fan)
    with pytest.raises(Forbidden):
        backstage.image(artist.id, post.id, path.rsplit("/", 1)[1], query, requester=fan.id)


def test_supporters_free_fans_and_other_artists_are_refused(world: World, backstage: Backstage) -> None:
    artist, other = world.artist(), world.artist()
    post = backstage.post(NewPost(artist.id, "Members only"), caller=artist)
    for caller in (world.fan_on(artist, Tier.SUPPORTER), world.fan_on(artist, Tier.FREE), other):
        with pytest.raises(Forbidden):
            backstage.feed(artist.id, caller=caller)
        with pytest.raises(Forbidden):
            backstage.comment(post.id, "hi", caller=caller)
    with pytest.raises(Forbidden):
        backstage.post(NewPost(artist.id, "not mine"), caller=other)
    with pytest.raises(Forbidden):
        backstage.edit(post.id, "not mine", caller=other)
    with pytest.raises(Forbidden):
        backstage.delete(post.id, caller=other)


def test_a_superfans_url_is_refused_to_a_supporter_and_a_guessed_one_to_anyone(
    world: World, backstage: Backstage
) -> None:
    """A supporter presenting the superfan's URL (with their own identity) is Forbidden; an
    unsigned or re-pointed path fails its signature."""
    artist = world.artist()
    superfan, supporter = world.fan_on(artist, Tier.SUPERFAN), world.fan_on(artist, Tier.SUPPORTER)
    post = backstage.post(
        NewPost(artist.id, "Demo", images=[images.photo(300, 200)], clip=world.upload()), caller=artist
    )
    view = backstage.feed(artist.id, caller=superfan).posts[0]
    assert view.clip_url is not None
    _, query = split(view.clip_url)
    with pytest.raises(Forbidden):
        backstage.clip(artist.id, post.id, "128k", "index.m3u8", query, requester=supporter.id)
    with pytest.raises(SignatureInvalid):
        backstage.clip(artist.id, post.id, "128k", "index.m3u8", {}, requester=supporter.id)
    with pytest.raises(SignatureInvalid):  # the signature is for the playlist, not a segment
        backstage.clip(artist.id, post.id, "128k", SEGMENTS[0], query, requester=None)
    forged = {**query, "sub": supporter.id}
    with pytest.raises(SignatureInvalid):
        backstage.image(artist.id, post.id, "0.jpg", forged, requester=supporter.id)
    world.clock.advance(minutes=16)  # backstage URLs live 15 minutes
    with pytest.raises(SignatureInvalid):
        backstage.clip(artist.id, post.id, "128k", "index.m3u8", query, requester=superfan.id)


def test_blocked_fans_read_but_cannot_comment_until_unblocked(world: World, backstage: Backstage) -> None:
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    post = backstage.post(NewPost(artist.id, "Tour diary"), caller=artist)
    backstage.block(artist.id, fan.id, caller=artist)
    assert backstage.blocked(artist.id, caller=artist) == [fan.id]
    with pytest.raises(Forbidden):
        backstage.comment(post.id, "spam", caller=fan)
    assert [v.post.id for v in backstage.feed(artist.id, caller=fan).posts] == [post.id]
    with pytest.raises(Forbidden):
        backstage.block(artist.id, fan.id, caller=fan)
    backstage.unblock(artist.id, fan.id, caller=artist)
    assert backstage.comment(post.id, "thanks 🙏", caller=fan).body == "thanks 🙏"


def test_only_the_artist_moderates_other_fans_comments(world: World, backstage: Backstage) -> None:
    artist = world.artist()
    alice, bob = world.fan_on(artist, Tier.SUPERFAN), world.fan_on(artist, Tier.SUPERFAN)
    post = backstage.post(NewPost(artist.id, "Lyrics draft"), caller=artist)
    rude = backstage.comment(post.id, "rude", caller=alice)
    kind = backstage.comment(post.id, "kind", caller=alice)
    with pytest.raises(Forbidden):
        backstage.delete_comment(post.id, rude.id, caller=bob)
    backstage.delete_comment(post.id, rude.id, caller=artist)
    backstage.delete_comment(post.id, kind.id, caller=alice)  # one's own
    assert backstage.comments(post.id, caller=bob) == []
    with pytest.raises(NotFound):
        backstage.delete_comment(post.id, rude.id, caller=artist)


def test_comments_are_throttled_per_hour(world: World, backstage: Backstage) -> None:
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    post = backstage.post(NewPost(artist.id, "Ask me anything"), caller=artist)
    for n in range(COMMENTS_PER_HOUR):
        backstage.comment(post.id, f"comment {n}", caller=fan)
    with pytest.raises(QuotaExceeded) as refused:
        backstage.comment(post.id, "one too many", caller=fan)
    assert refused.value.retry_after_s is not None
    assert 0 < refused.value.retry_after_s <= 3601
    world.clock.advance(hours=1)
    backstage.comment(post.id, "next hour", caller=fan)
    assert len(backstage.comments(post.id, caller=fan)) == COMMENTS_PER_HOUR + 1


@pytest.mark.parametrize(
    ("upload", "error"),
    [
        (images.truncated_jpeg(), MediaRejected),
        (images.png_bomb(), MediaTooLarge),
        (images.text_named_png(), MediaRejected),
        (images.huge_dimensions(), MediaTooLarge),
    ],
    ids=["truncated jpeg", "png bomb", "text named png", "huge dimensions"],
)
def test_hostile_images_store_nothing(
    world: World, backstage: Backstage, upload: bytes, error: type[Exception]
) -> None:
    """Even next to a good image and a good clip: nothing written, no post, no notification."""
    artist = world.artist()
    with pytest.raises(error):
        backstage.post(
            NewPost(artist.id, "look", images=[images.photo(100, 100), upload], clip=world.upload()),
            caller=artist,
        )
    assert world.storage.puts == []
    assert backstage.feed(artist.id, caller=artist).posts == []


def test_a_clip_that_is_not_audio_stores_nothing_and_one_that_does_not_decode_fails(
    world: World, backstage: Backstage
) -> None:
    artist = world.artist()
    with pytest.raises(MediaRejected):
        backstage.post(
            NewPost(artist.id, "voice note", clip=world.upload(b"%PDF-1.7 not audio")), caller=artist
        )
    assert world.storage.puts == []
    world.transcoder.crash_with = MediaRejected("cannot decode the source")
    post = backstage.post(NewPost(artist.id, "voice note", clip=world.upload()), caller=artist)
    view = backstage.view(post.id, caller=artist)
    assert view.post.clip is not None
    assert view.post.clip.status is ClipStatus.FAILED
    assert view.clip_url is None


@pytest.mark.parametrize(
    "body",
    ["", "   ", "x" * 5001, "flip \u202e gpj.exe", "bell \x07", "<script>\x1b[31m</script>"],
    ids=["empty", "blank", "too long", "bidi override", "control", "ansi escape"],
)
def test_hostile_text_is_refused_and_nothing_stored(world: World, backstage: Backstage, body: str) -> None:
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    with pytest.raises(InvalidInput):
        backstage.post(NewPost(artist.id, body, images=[images.photo(50, 50)]), caller=artist)
    assert world.storage.puts == []
    post = backstage.post(NewPost(artist.id, "e\u0301t\u00e9 <b>bold</b>"), caller=artist)
    assert post.body == "\u00e9t\u00e9 <b>bold</b>"  # NFC; HTML is text, escaped where shown
    with pytest.raises(InvalidInput):
        backstage.comment(post.id, body if body.strip() else "", caller=fan)
    assert backstage.comments(post.id, caller=fan) == []


def test_editing_and_deleting_a_post(world: World, backstage: Backstage) -> None:
    """An edit keeps the clip and images; a delete removes post, comments and media."""
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    post = backstage.post(
        NewPost(artist.id, "v1", images=[images.photo(80, 80)], clip=world.upload()), caller=artist
    )
    backstage.comment(post.id, "nice", caller=fan)
    edited = backstage.edit(post.id, "v2", caller=artist)
    assert edited.edited_at == world.clock.now()
    view = backstage.view(post.id, caller=fan)
    assert (view.post.body, view.post.images, view.post.clip) == ("v2", post.images, view.post.clip)
    assert view.post.clip is not None
    assert view.post.clip.status is ClipStatus.READY
    backstage.delete(post.id, caller=artist)
    assert list(world.storage.list_keys(post.media_prefix + "/")) == []
    with pytest.raises(NotFound):
        backstage.view(post.id, caller=fan)


def test_a_post_notifies_the_artists_superfans_only(world: World) -> None:
    backstage = backstage_of(world, with_notifications=True)
    artist = world.artist()
    superfan, supporter = world.fan_on(artist, Tier.SUPERFAN), world.fan_on(artist, Tier.SUPPORTER)
    post = backstage.post(NewPost(artist.id, "Studio day"), caller=artist)
    feeds = {}
    for fan in (superfan, supporter):
        with world.uow() as uow:
            feeds[fan.id] = [(n.kind.value, n.subject_id) for n in uow.notifications.of_fan(fan.id, 10)]
    assert feeds == {superfan.id: [("backstage_post", post.id)], supporter.id: []}


@settings(max_examples=25, deadline=None)
@given(count=st.integers(0, 12), limit=st.integers(1, 5), same_instant=st.booleans())
def test_paging_shows_every_post_once_newest_first(count: int, limit: int, *, same_instant: bool) -> None:
    """Whatever the page size, and even when posts share an instant, the pages together are
    every post exactly once, newest first."""
    with in_memory() as platform:
        platform.accounts.register(Register("a@example.com", "correct horse battery", "artist", "A"))
        artist = platform.accounts.sign_in("a@example.com", "correct horse battery")
        clock = platform.services.clock
        posted = []
        for n in range(count):
            posted.append(platform.backstage.post(NewPost(artist.id, f"post {n}"), caller=artist).id)
            if not same_instant:
                clock.advance(seconds=1)  # type: ignore[attr-defined]
        seen: list[str] = []
        cursor = None
        while True:
            page = platform.backstage.feed(artist.id, caller=artist, cursor=cursor, limit=limit)
            seen += [v.post.id for v in page.posts]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert sorted(seen) == sorted(posted)
        assert len(seen) == len(set(seen))
        if not same_instant:
            assert seen == posted[::-1]


def test_a_bad_cursor_or_limit_is_invalid_input(world: World, backstage: Backstage) -> None:
    artist = world.artist()
    for cursor in ("not-a-cursor", "!!", "MjAyNQ"):
        with pytest.raises(InvalidInput):
            backstage.feed(artist.id, caller=artist, cursor=cursor)
    for limit in (0, 51):
        with pytest.raises(InvalidInput):
            backstage.feed(artist.id, caller=artist, limit=limit)


def test_on_cloudfront_images_and_segments_are_cdn_urls_bound_to_their_post(world: World) -> None:
    """Behind a CDN the clip playlist is the API's (it re-checks the reader) and images and
    segments are CloudFront URLs whose policy covers that post's files only."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cdn = CloudFrontUrlSigner("d111111abcdef8.cloudfront.net", "K2JCJMDEHXQW5F", pem)
    on_cdn = attrs.evolve(
        backstage_of(world), signer=PlaylistsHereSegmentsOnCdn(playlists=world.signer, segments=cdn)
    )
    artist = world.artist()
    superfan = world.fan_on(artist, Tier.SUPERFAN)
    first = on_cdn.post(
        NewPost(artist.id, "one", images=[images.photo(64, 64)], clip=world.upload()), caller=artist
    )
    second = on_cdn.post(
        NewPost(artist.id, "two", images=[images.photo(64, 64)], clip=world.upload()), caller=artist
    )
    view = on_cdn.view(first.id, caller=superfan)
    now = world.clock.now()

    image_url = urlsplit(view.image_urls[0])
    assert image_url.hostname == "d111111abcdef8.cloudfront.net"
    query = dict(parse_qsl(image_url.query))
    assert cdn.verify(image_url.path, query, now=now) == superfan.id
    with pytest.raises(SignatureInvalid):
        cdn.verify(image_url.path.replace(first.id, second.id), query, now=now)

    assert view.clip_url is not None
    assert view.clip_url.startswith("/media/")  # the playlist comes from the API, which checks the tier
    _, playlist_query = split(view.clip_url)
    playlist = on_cdn.clip(artist.id, first.id, "128k", "index.m3u8", playlist_query, requester=None)
    segment = urlsplit(next(line for line in playlist.body.decode().splitlines() if SEGMENTS[0] in line))
    assert segment.hostname == "d111111abcdef8.cloudfront.net"
    segment_query = dict(parse_qsl(segment.query))
    assert cdn.verify(segment.path, segment_query, now=now) == superfan.id
    with pytest.raises(SignatureInvalid):
        cdn.verify(segment.path.replace(first.id, second.id), segment_query, now=now)
    with pytest.raises(SignatureInvalid):
        cdn.verify(segment.path, segment_query, now=now + timedelta(minutes=16))
