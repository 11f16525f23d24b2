"""A fan's subscriptions: subscribe, change tier, cancel at period end, list."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from musicconnect.domain.accounts import Caller
from musicconnect.domain.errors import InvalidInput
from musicconnect.domain.tiers import Tier
from musicconnect.entrypoints.http.auth import BEARER
from musicconnect.entrypoints.http.deps import BillingDep, CallerDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.schemas import SubscriptionOut, TierChangeOut, TierIn
from musicconnect.ports.payments import ReturnUrls
from musicconnect.usecases.subscriptions import TierChangeResult


def return_urls(data: TierIn) -> ReturnUrls | None:
    """The client's own pages for a processor's checkout to return to, if it names them."""
    if data.success_url is None and data.cancel_url is None:
        return None
    if data.success_url is None or data.cancel_url is None:
        raise InvalidInput("send both success_url and cancel_url, or neither")
    return ReturnUrls(data.success_url, data.cancel_url)


def _change(
    use: Callable[..., TierChangeResult], artist_id: str, data: TierIn, caller: Caller
) -> TierChangeOut:
    """Run a subscribe or tier change for the body's tier, answering the subscription and its money."""
    result = use(artist_id, Tier.parse(data.tier), caller=caller, return_urls=return_urls(data))
    return TierChangeOut.model_validate(
        {
            **SubscriptionOut.fields_of(result.subscription),
            "charged_minor": result.charged.amount_minor,
            "checkout_url": result.checkout.url if result.checkout else None,
        }
    )


class SubscriptionController(Controller):
    path = "/artists/{artist_id:str}/subscription"
    tags = ("subscriptions",)
    security = BEARER

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=error_responses(401, 402, 403, 404, 409, 422, 503),
    )
    def subscribe(
        self,
        *,
        artist_id: FromPath[str],
        data: JSONBody[TierIn],
        caller: CallerDep,
        billing: BillingDep,
    ) -> TierChangeOut:
        """Subscribe to the artist. A paid tier is charged for its first month at once, or, where
        the processor hosts payment, answers with a `checkout_url` to send the fan to."""
        return _change(billing.subscribe, artist_id, data, caller)

    @patch(
        "/",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=error_responses(401, 402, 403, 404, 409, 422, 503),
    )
    def change_tier(
        self,
        *,
        artist_id: FromPath[str],
        data: JSONBody[TierIn],
        caller: CallerDep,
        billing: BillingDep,
    ) -> TierChangeOut:
        """Upgrade at once with a prorated charge, or downgrade at the end of the paid period."""
        return _change(billing.change_tier, artist_id, data, caller)

    @delete(
        "/", status_code=HTTP_200_OK, sync_to_thread=True, responses=error_responses(401, 403, 404, 409, 503)
    )
    def cancel(self, *, artist_id: FromPath[str], caller: CallerDep, billing: BillingDep) -> SubscriptionOut:
        """Cancel at the end of the paid period; access stays until then."""
        return SubscriptionOut.of(billing.cancel(artist_id, caller=caller))


class MySubscriptionsController(Controller):
    path = "/me/subscriptions"
    tags = ("subscriptions",)
    security = BEARER

    @get("/", sync_to_thread=True, responses=error_responses(401))
    def mine(self, *, caller: CallerDep, billing: BillingDep) -> list[SubscriptionOut]:
        """The caller's subscriptions, live and ended."""
        return [SubscriptionOut.of(s) for s in billing.of_fan(caller)]
