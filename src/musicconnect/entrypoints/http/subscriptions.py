"""A fan's subscriptions: subscribe, change tier, cancel at period end, list."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from musicconnect.domain.tiers import Tier
from musicconnect.entrypoints.http.auth import BEARER
from musicconnect.entrypoints.http.deps import CallerDep, ServicesDep, UowDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.schemas import SubscriptionOut, TierChangeOut, TierIn
from musicconnect.ports.payments import BillingGateway
from musicconnect.usecases import checkout, subscriptions


class SubscriptionController(Controller):
    path = "/artists/{artist_id:str}/subscription"
    tags = ("subscriptions",)
    security = BEARER

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=error_responses(401, 402, 403, 404, 409),
    )
    def subscribe(
        self,
        *,
        artist_id: FromPath[str],
        data: JSONBody[TierIn],
        caller: CallerDep,
        services: ServicesDep,
        uow: UowDep,
    ) -> SubscriptionOut:
        """Subscribe to the artist; a paid tier is charged for its first month at once."""
        subscription = subscriptions.subscribe(
            artist_id,
            Tier.parse(data.tier),
            caller=caller,
            uow=uow,
            gateway=services.gateway,
            ids=services.ids,
            clock=services.clock,
        )
        return SubscriptionOut.of(subscription)

    @patch(
        "/", status_code=HTTP_200_OK, sync_to_thread=True, responses=error_responses(401, 402, 403, 404, 409)
    )
    def change_tier(
        self,
        *,
        artist_id: FromPath[str],
        data: JSONBody[TierIn],
        caller: CallerDep,
        services: ServicesDep,
        uow: UowDep,
    ) -> TierChangeOut:
        """Upgrade at once with a prorated charge, or downgrade at the end of the paid period."""
        # A processor-billed subscription changes at the processor; one billed here changes here.
        gateway = services.gateway
        tier = Tier.parse(data.tier)
        ids, clock = services.ids, services.clock
        result = (
            checkout.change_tier(
                artist_id, tier, caller=caller, uow=uow, gateway=gateway, ids=ids, clock=clock
            )
            if isinstance(gateway, BillingGateway)
            else subscriptions.change_tier(
                artist_id, tier, caller=caller, uow=uow, gateway=gateway, ids=ids, clock=clock
            )
        )
        return TierChangeOut.model_validate(
            {**SubscriptionOut.fields_of(result.subscription), "charged_minor": result.charged.amount_minor}
        )

    @delete("/", status_code=HTTP_200_OK, sync_to_thread=True, responses=error_responses(401, 403, 404, 409))
    def cancel(
        self, *, artist_id: FromPath[str], caller: CallerDep, services: ServicesDep, uow: UowDep
    ) -> SubscriptionOut:
        """Cancel at the end of the paid period; access stays until then."""
        gateway = services.gateway
        if isinstance(gateway, BillingGateway):
            return SubscriptionOut.of(
                checkout.cancel(
                    artist_id, caller=caller, uow=uow, gateway=gateway, ids=services.ids, clock=services.clock
                )
            )
        return SubscriptionOut.of(subscriptions.cancel(artist_id, caller=caller, uow=uow))


class MySubscriptionsController(Controller):
    path = "/me/subscriptions"
    tags = ("subscriptions",)
    security = BEARER

    @get("/", sync_to_thread=True, responses=error_responses(401))
    def mine(self, *, caller: CallerDep, uow: UowDep) -> list[SubscriptionOut]:
        """The caller's subscriptions, live and ended."""
        return [SubscriptionOut.of(s) for s in subscriptions.subscriptions_of(caller, uow=uow)]
