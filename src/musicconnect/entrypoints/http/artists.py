"""An artist's public profile and the artist's own tier prices."""

from __future__ import annotations

from litestar import Controller, get, put
from litestar.params import FromPath, JSONBody

from musicconnect.domain.money import Money
from musicconnect.domain.tiers import Tier
from musicconnect.entrypoints.http.auth import BEARER, OPTIONAL_BEARER
from musicconnect.entrypoints.http.deps import ArtistsDep, CallerDep, ViewerDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.schemas import ArtistOut, TierPlanIn, TierPlanOut


class ArtistController(Controller):
    path = "/artists/{artist_id:str}"
    tags = ("artists",)

    @get("/", sync_to_thread=True, security=OPTIONAL_BEARER, responses=error_responses(401, 404))
    def profile(self, *, artist_id: FromPath[str], viewer: ViewerDep, artists: ArtistsDep) -> ArtistOut:
        """The artist's profile and tiers; a signed-in visitor counts towards the conversion funnel."""
        artist = artists.view(artist_id, visitor_id=viewer.id if viewer else None)
        return ArtistOut.of(artist)

    @put("/tiers/{tier:str}", sync_to_thread=True, security=BEARER, responses=error_responses(401, 403, 404))
    def set_tier(
        self,
        *,
        artist_id: FromPath[str],
        tier: FromPath[str],
        data: JSONBody[TierPlanIn],
        caller: CallerDep,
        artists: ArtistsDep,
    ) -> TierPlanOut:
        """A new price version of one of the artist's tiers; existing subscribers keep theirs."""
        plan = artists.set_tier(
            artist_id,
            Tier.parse(tier),
            price=Money(data.price_minor, data.currency),
            features=data.features,
            caller=caller,
        )
        return TierPlanOut.of(plan)
