"""An artist's profile and tiers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs

from musicconnect.domain.accounts import Artist, Caller
from musicconnect.domain.errors import InvalidInput, NotFound
from musicconnect.domain.images import EXTENSIONS, ImagePolicy
from musicconnect.domain.money import Money
from musicconnect.domain.tiers import Tier, TierPlan, revise_plan
from musicconnect.ports.media import ImageProcessor, MediaStorage
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, IdGenerator
from musicconnect.usecases.access import require_artist, require_open_artist, require_owner
from musicconnect.usecases.media_cleanup import discard_media, picture_folder


def view_artist(artist_id: str, *, uow: UnitOfWork, clock: Clock, visitor_id: str | None = None) -> Artist:
    """The public profile; a signed-in visitor counts towards the conversion funnel."""
    with uow:
        artist = require_open_artist(uow, artist_id)
        if visitor_id is not None and visitor_id != artist_id:
            uow.fans.record_visit(visitor_id, artist_id, clock.now())
            uow.commit()
    return artist


#: The most artists one discover page lists.
DISCOVER_LIMIT = 60


def discover(
    name: str, *, uow: UnitOfWork, limit: int = DISCOVER_LIMIT, after: str | None = None
) -> Sequence[Artist]:
    """Artists whose name contains ``name`` (all of them, by name, when it is blank); ``after``
    is the id of the last artist of the previous page."""
    with uow:
        return uow.artists.search(name.strip()[:100], limit=limit, after=after)


@attrs.frozen
class ArtistPage:
    """One page of a search for artists."""

    artists: tuple[Artist, ...]
    #: What to pass as ``after`` for the next page; None on the last one.
    next_cursor: str | None


def edit_profile(
    artist_id: str, *, bio: str, links: Sequence[str], caller: Caller, uow: UnitOfWork
) -> Artist:
    """The artist's own bio and links, as fans read them on the artist's page."""
    require_owner(caller, artist_id)
    with uow:
        artist = require_artist(uow, artist_id).with_profile(bio=bio, links=tuple(links))
        uow.artists.save(artist)
        uow.commit()
    return artist


def set_tier(
    artist_id: str,
    tier: Tier,
    *,
    price: Money,
    features: Sequence[str],
    caller: Caller,
    uow: UnitOfWork,
    clock: Clock,
) -> TierPlan:
    """A new price version of a tier; existing subscribers keep their version until they change."""
    [plan] = set_tiers(
        artist_id, {tier: TierTerms(price, tuple(features))}, caller=caller, uow=uow, clock=clock
    )
    return plan


@attrs.frozen
class TierTerms:
    """What an artist asks for one tier: its monthly price and the features it lists."""

    price: Money
    features: tuple[str, ...] = ()


def set_tiers(
    artist_id: str, terms: Mapping[Tier, TierTerms], *, caller: Caller, uow: UnitOfWork, clock: Clock
) -> tuple[TierPlan, ...]:
    """New price versions of several tiers at once (the way to move the paid tiers to another
    currency); existing subscribers keep their versions until they change."""
    require_owner(caller, artist_id)
    now = clock.now()
    with uow:
        artist = require_open_artist(uow, artist_id)
        plans = tuple(
            revise_plan(artist.plan(tier), price=wanted.price, features=wanted.features, now=now)
            for tier, wanted in terms.items()
        )
        uow.artists.save(artist.with_plans(plans))
        uow.commit()
    return plans


#: A profile picture: smaller than a post's images.
PICTURE_POLICY = ImagePolicy(max_bytes=10 * 1024 * 1024, output_side=1024, max_output_bytes=2 * 1024 * 1024)
_CONTENT_TYPES = {extension: content_type for content_type, extension in EXTENSIONS.items()}


@attrs.frozen
class Picture:
    body: bytes
    content_type: str


@attrs.frozen
class Artists:
    """Artist profiles and their tiers, bound once to their ports."""

    uow: Callable[[], UnitOfWork]
    clock: Clock
    #: Where profile pictures are kept, how they are checked and named (no pictures without them).
    storage: MediaStorage | None = None
    images: ImageProcessor | None = None
    ids: IdGenerator | None = None

    def set_picture(self, artist_id: str, data: bytes, *, caller: Caller) -> Artist:
        """Replace the artist's profile picture (owner or admin): checked and re-encoded, its
        metadata stripped, stored under a new key (so caches never show the old one), the old
        one deleted once the new one is committed."""
        require_owner(caller, artist_id)
        if self.storage is None or self.images is None or self.ids is None:
            raise NotFound("this platform keeps no pictures")
        with self.uow() as uow:
            require_artist(uow, artist_id)
        picture = self.images.process(data, PICTURE_POLICY)
        # A folder per picture: storages delete by prefix, and a new picture is a new URL.
        folder = f"artists/{artist_id}/picture/{self.ids.new_id()}/"
        key = f"{folder}picture.{picture.extension}"
        self.storage.put_bytes(key, picture.data, picture.content_type)
        try:
            with self.uow() as uow:
                before = require_artist(uow, artist_id)
                artist = attrs.evolve(before, image_key=key)
                uow.artists.save(artist)
                uow.commit()
        except BaseException:
            self.storage.delete_prefix(folder)
            raise
        if before.image_key is not None:
            discard_media(self.storage, picture_folder(before.image_key))
        return artist

    def picture(self, artist_id: str) -> Picture:
        """The artist's profile picture, for anyone (it is on their public page)."""
        with self.uow() as uow:
            artist = require_artist(uow, artist_id)
        if artist.image_key is None or self.storage is None:
            raise NotFound(f"artist {artist_id} has no picture")
        extension = artist.image_key.rsplit(".", 1)[-1]
        return Picture(self.storage.get_bytes(artist.image_key), _CONTENT_TYPES.get(extension, "image/jpeg"))

    def view(self, artist_id: str, *, visitor_id: str | None = None) -> Artist:
        """The artist's profile and tiers (a visit counts in the artist's funnel)."""
        return view_artist(artist_id, uow=self.uow(), clock=self.clock, visitor_id=visitor_id)

    def discover(self, name: str, *, limit: int = DISCOVER_LIMIT) -> Sequence[Artist]:
        """Artists whose name contains ``name`` (everyone, by name, when it is blank)."""
        return discover(name, uow=self.uow(), limit=limit)

    def discover_page(self, name: str, *, limit: int, after: str | None = None) -> ArtistPage:
        """A page of the same search, by name, and where the next one starts."""
        if limit < 1:
            raise InvalidInput("a page lists at least one artist")
        found = discover(name, uow=self.uow(), limit=limit + 1, after=after)
        page = tuple(found[:limit])
        return ArtistPage(page, page[-1].id if len(found) > limit else None)

    def edit_profile(self, artist_id: str, *, bio: str, links: Sequence[str], caller: Caller) -> Artist:
        """The caller's own bio and links."""
        return edit_profile(artist_id, bio=bio, links=links, caller=caller, uow=self.uow())

    def set_tier(
        self, artist_id: str, tier: Tier, *, price: Money, features: Sequence[str], caller: Caller
    ) -> TierPlan:
        """A new price version of one of the caller's own tiers."""
        return set_tier(
            artist_id, tier, price=price, features=features, caller=caller, uow=self.uow(), clock=self.clock
        )

    def set_tiers(
        self, artist_id: str, terms: Mapping[Tier, TierTerms], *, caller: Caller
    ) -> tuple[TierPlan, ...]:
        """New price versions of several of the caller's own tiers at once (a currency change)."""
        return set_tiers(artist_id, terms, caller=caller, uow=self.uow(), clock=self.clock)
