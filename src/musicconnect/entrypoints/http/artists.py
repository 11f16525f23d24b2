"""An artist's public profile and the artist's own tier prices."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Controller, Request, get, patch, put
from litestar.params import FromPath, JSONBody, QueryParameter

from musicconnect.domain.money import Money
from musicconnect.domain.tiers import Tier
from musicconnect.entrypoints.http.auth import BEARER, OPTIONAL_BEARER
from musicconnect.entrypoints.http.deps import ArtistsDep, CallerDep, LibraryDep, ViewerDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.hardening import refuse_unknown_query
from musicconnect.entrypoints.http.schemas import (
    ArtistListOut,
    ArtistOut,
    ProfileIn,
    TierPlanIn,
    TierPlanOut,
    TierPlansIn,
)
from musicconnect.usecases.artists import TierTerms

#: How many artists one page of ``GET /artists`` lists, unless asked for fewer.
DEFAULT_PAGE: Final = 20
MAX_PAGE: Final = 100


@get("/artists", sync_to_thread=True, tags=["artists"], responses=error_responses(400, 422))
def search_artists(
    *,
    request: Request[Any, Any, Any],
    artists: ArtistsDep,
    q: Annotated[str, QueryParameter(max_length=100, description="Part of the name; blank lists all")] = "",
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, QueryParameter(max_length=100)] = None,
) -> ArtistListOut:
    """Artists whose name contains ``q`` (case-insensitive), by name: the search the web's
    discover page runs. Erased artists are never listed; ``next_cursor`` pages on."""
    refuse_unknown_query(request, "q", "limit", "cursor")
    page = artists.discover_page(q, limit=limit, after=cursor)
    return ArtistListOut(artists=[ArtistOut.of(a) for a in page.artists], next_cursor=page.next_cursor)


class ArtistController(Controller):
    path = "/artists/{artist_id:str}"
    tags = ("artists",)

    @get("/", sync_to_thread=True, security=OPTIONAL_BEARER, responses=error_responses(401, 404))
    def profile(
        self, *, artist_id: FromPath[str], viewer: ViewerDep, artists: ArtistsDep, library: LibraryDep
    ) -> ArtistOut:
        """The artist's profile and tiers; a signed-in visitor counts towards the conversion funnel."""
        artist = artists.view(artist_id, visitor_id=viewer.id if viewer else None)
        return ArtistOut.of(artist, followers=library.followers(artist_id))

    @patch("/", sync_to_thread=True, security=BEARER, responses=error_responses(401, 403, 404))
    def edit_profile(
        self,
        *,
        artist_id: FromPath[str],
        data: JSONBody[ProfileIn],
        caller: CallerDep,
        artists: ArtistsDep,
        library: LibraryDep,
    ) -> ArtistOut:
        """The artist's own bio and links, shown on their page."""
        edited = artists.edit_profile(artist_id, bio=data.bio, links=data.links, caller=caller)
        return ArtistOut.of(edited, followers=library.followers(artist_id))

    @put("/tiers", sync_to_thread=True, security=BEARER, responses=error_responses(401, 403, 404, 409))
    def set_tiers(
        self, *, artist_id: FromPath[str], data: JSONBody[TierPlansIn], caller: CallerDep, artists: ArtistsDep
    ) -> list[TierPlanOut]:
        """New price versions of several tiers at once: the paid tiers share one currency, so a
        new currency is set here for every paid tier together. Existing subscribers keep theirs."""
        terms = {
            Tier.parse(name): TierTerms(Money(plan.price_minor, plan.currency), tuple(plan.features))
            for name, plan in data.tiers.items()
        }
        return [TierPlanOut.of(plan) for plan in artists.set_tiers(artist_id, terms, caller=caller)]

    @put(
        "/tiers/{tier:str}",
        sync_to_thread=True,
        security=BEARER,
        responses=error_responses(401, 403, 404, 409),
    )
    def set_tier(
        self,
        *,
        artist_id: FromPath[str],
        tier: FromPath[str],
        data: JSONBody[TierPlanIn],
        caller: CallerDep,
        artists: ArtistsDep,
    ) -> TierPlanOut:
        """A new price version of one of the artist's tiers; existing subscribers keep theirs. Its
        currency must be the other paid tiers' (409 otherwise: change it with ``PUT .../tiers``)."""
        plan = artists.set_tier(
            artist_id,
            Tier.parse(tier),
            price=Money(data.price_minor, data.currency),
            features=data.features,
            caller=caller,
        )
        return TierPlanOut.of(plan)
