"""What every backstage repository adapter must do (posts, comments, blocked fans), checked
through its unit of work. Subclass with a ``make_uow`` as in ``repositories_contract``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from musicconnect.domain.accounts import Artist
from musicconnect.domain.backstage import BackstagePost, Clip, ClipStatus, Comment, PageCursor, PostImage
from musicconnect.domain.tiers import default_plans
from tests.contract.repositories_contract import UnitOfWorkFactory

T0: Final = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def a_post(
    post_id: str = "post-1", *, artist_id: str = "artist-1", at: datetime = T0, clip: Clip | None = None
) -> BackstagePost:
    return BackstagePost(
        id=post_id,
        artist_id=artist_id,
        body="Demo of « Été » — first take 🎙\nmore soon",
        created_at=at,
        images=(PostImage("0.jpg", "image/jpeg", 2048, 1536), PostImage("1.png", "image/png", 640, 640)),
        clip=clip,
    )


def a_comment(
    comment_id: str, *, post_id: str = "post-1", fan_id: str = "fan-1", at: datetime = T0
) -> Comment:
    return Comment(comment_id, post_id, "artist-1", fan_id, "Chills 🔥", at)


class BackstagePostRepositoryContract(UnitOfWorkFactory):
    def test_a_post_round_trips_every_field(self) -> None:
        """Images, clip, body with unicode and line breaks: all read back equal."""
        post = a_post(clip=Clip())
        self.committed(lambda uow: uow.backstage_posts.add(post))
        assert self.read(lambda uow: uow.backstage_posts.get("post-1")) == post
        assert self.read(lambda uow: uow.backstage_posts.get("nothing")) is None
        plain = a_post("post-2")
        self.committed(lambda uow: uow.backstage_posts.add(plain))
        assert self.read(lambda uow: uow.backstage_posts.get("post-2")) == plain

    def test_edits_and_clip_outcomes_are_stored_apart(self) -> None:
        """save keeps a clip that save_clip changed meanwhile, and save_clip keeps the text."""
        post = a_post(clip=Clip())
        self.committed(lambda uow: uow.backstage_posts.add(post))
        ready = Clip(ClipStatus.READY, duration_s=12.5)
        self.committed(lambda uow: uow.backstage_posts.save_clip("post-1", ready))
        edited = post.edited("Take two", T0 + timedelta(minutes=5))  # made from the stale copy
        self.committed(lambda uow: uow.backstage_posts.save(edited))
        assert self.read(lambda uow: uow.backstage_posts.get("post-1")) == attrs.evolve(edited, clip=ready)
        failed = Clip().failed("cannot decode")
        self.committed(lambda uow: uow.backstage_posts.save_clip("post-1", failed))
        assert self.read(lambda uow: uow.backstage_posts.get("post-1")) == attrs.evolve(edited, clip=failed)

    def test_pages_are_newest_first_and_resume_after_a_cursor(self) -> None:
        """Posts sharing an instant are ordered by id; pages neither skip nor repeat a post."""
        posts = [a_post(f"post-{n}", at=T0 + timedelta(minutes=n // 2)) for n in range(7)]
        self.each_committed(
            [*posts, a_post("other", artist_id="artist-2")], lambda uow, p: uow.backstage_posts.add(p)
        )
        seen: list[str] = []
        cursor: PageCursor | None = None
        while page := self._page_after(cursor):
            seen += [p.id for p in page]
            cursor = PageCursor.after(page[-1])
        expected = [p.id for p in sorted(posts, key=lambda p: (p.created_at, p.id), reverse=True)]
        assert seen == expected

    def _page_after(self, cursor: PageCursor | None) -> list[BackstagePost]:
        with self.make_uow() as uow:
            return list(uow.backstage_posts.page("artist-1", after=cursor, limit=3))

    def test_deleting_a_post_deletes_its_comments(self) -> None:
        """The post and its comments are gone; another post's comments stay; again is harmless."""
        self.each_committed([a_post(), a_post("post-2")], lambda uow, p: uow.backstage_posts.add(p))
        comments = [a_comment("c-1"), a_comment("c-2"), a_comment("c-3", post_id="post-2")]
        self.each_committed(comments, lambda uow, c: uow.backstage_comments.add(c))
        self.committed(lambda uow: uow.backstage_posts.delete("post-1"))
        self.committed(lambda uow: uow.backstage_posts.delete("post-1"))
        assert self.read(lambda uow: uow.backstage_posts.get("post-1")) is None
        assert self.read(lambda uow: list(uow.backstage_comments.of_post("post-1"))) == []
        assert self.read(lambda uow: uow.backstage_comments.get("c-1")) is None
        assert self.read(lambda uow: [c.id for c in uow.backstage_comments.of_post("post-2")]) == ["c-3"]
        assert self.read(
            lambda uow: [p.id for p in uow.backstage_posts.page("artist-1", after=None, limit=9)]
        ) == ["post-2"]

    def test_nothing_is_visible_before_commit(self) -> None:
        """A post added and not committed is not there for the next unit of work."""
        with self.make_uow() as uow:
            uow.backstage_posts.add(a_post())
        assert self.read(lambda uow: uow.backstage_posts.get("post-1")) is None


class BackstageCommentRepositoryContract(UnitOfWorkFactory):
    def test_comments_read_oldest_first_and_delete(self) -> None:
        """of_post lists one post's comments in time order; a deleted one is gone (idempotent)."""
        comments = [
            a_comment("c-late", at=T0 + timedelta(minutes=3)),
            a_comment("c-early", fan_id="fan-2"),
            a_comment("c-other", post_id="post-2"),
        ]
        self.each_committed(comments, lambda uow, c: uow.backstage_comments.add(c))
        assert self.read(lambda uow: list(uow.backstage_comments.of_post("post-1"))) == [
            comments[1],
            comments[0],
        ]
        assert self.read(lambda uow: uow.backstage_comments.get("c-late")) == comments[0]
        self.committed(lambda uow: uow.backstage_comments.delete("c-early"))
        self.committed(lambda uow: uow.backstage_comments.delete("c-early"))
        assert self.read(lambda uow: [c.id for c in uow.backstage_comments.of_post("post-1")]) == ["c-late"]
        assert self.read(lambda uow: uow.backstage_comments.get("c-early")) is None

    def test_a_fans_comments_across_posts_oldest_first(self) -> None:
        """by_fan lists what one fan wrote on every post, and forgets deleted ones."""
        comments = [
            a_comment("c-2", post_id="post-2", at=T0 + timedelta(minutes=2)),
            a_comment("c-1", at=T0 + timedelta(minutes=1)),
            a_comment("c-other", fan_id="fan-2"),
        ]
        self.each_committed(comments, lambda uow, c: uow.backstage_comments.add(c))
        assert self.read(lambda uow: [c.id for c in uow.backstage_comments.by_fan("fan-1")]) == ["c-1", "c-2"]
        self.committed(lambda uow: uow.backstage_comments.delete("c-1"))
        assert self.read(lambda uow: [c.id for c in uow.backstage_comments.by_fan("fan-1")]) == ["c-2"]


class BackstageBlockRepositoryContract(UnitOfWorkFactory):
    def test_block_and_unblock_are_idempotent_and_per_artist(self) -> None:
        """Blocking twice is once (the first time kept); unblocking lifts it for that artist only."""
        self.committed(lambda uow: uow.backstage_blocks.block("artist-1", "fan-1", T0))
        self.committed(lambda uow: uow.backstage_blocks.block("artist-1", "fan-2", T0 + timedelta(minutes=1)))
        self.committed(lambda uow: uow.backstage_blocks.block("artist-1", "fan-1", T0 + timedelta(minutes=2)))
        self.committed(lambda uow: uow.backstage_blocks.block("artist-2", "fan-1", T0))
        assert self.read(lambda uow: list(uow.backstage_blocks.blocked("artist-1"))) == ["fan-2", "fan-1"]
        assert self.read(lambda uow: uow.backstage_blocks.is_blocked("artist-1", "fan-1")) is True
        assert self.read(lambda uow: uow.backstage_blocks.is_blocked("artist-1", "fan-3")) is False

        self.committed(lambda uow: uow.backstage_blocks.unblock("artist-1", "fan-1"))
        self.committed(lambda uow: uow.backstage_blocks.unblock("artist-1", "fan-1"))
        assert self.read(lambda uow: uow.backstage_blocks.is_blocked("artist-1", "fan-1")) is False
        assert self.read(lambda uow: uow.backstage_blocks.is_blocked("artist-2", "fan-1")) is True
        assert self.read(lambda uow: list(uow.backstage_blocks.blocked("artist-1"))) == ["fan-2"]
        self.committed(lambda uow: uow.backstage_blocks.block("artist-1", "fan-1", T0 + timedelta(hours=1)))
        assert self.read(lambda uow: list(uow.backstage_blocks.blocked("artist-1"))) == ["fan-1", "fan-2"]


class ArtistPictureContract(UnitOfWorkFactory):
    def test_the_picture_key_is_kept_with_the_profile(self) -> None:
        """An artist saved with a picture reads it back; a later profile edit keeps it."""
        artist = Artist("artist-1", "Nadia", default_plans())
        self.committed(lambda uow: uow.artists.add(artist))
        assert self.read(lambda uow: uow.artists.get("artist-1")) == artist
        pictured = attrs.evolve(artist, image_key="artists/artist-1/picture/p1/picture.jpg")
        self.committed(lambda uow: uow.artists.save(pictured))
        assert self.read(lambda uow: uow.artists.get("artist-1")) == pictured
        edited = pictured.with_profile(bio="Songs from Lyon", links=())
        self.committed(lambda uow: uow.artists.save(edited))
        found = self.read(lambda uow: uow.artists.get("artist-1"))
        assert found is not None
        assert found.image_key == "artists/artist-1/picture/p1/picture.jpg"
        assert found.bio == "Songs from Lyon"
