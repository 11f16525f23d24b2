"""Stripe at the HTTP edge: the signed webhook, hosted checkout, and artists' payout onboarding.

``payment_handlers(platform)`` lists the routes; they exist only when bootstrap gave the platform
a processor that sends signed events (Stripe with a webhook secret).
"""

from __future__ import annotations

import logging
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, TypeAlias

from litestar import Controller, Response, Router, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, HeaderParameter, JSONBody, RawBody, SkipValidation
from litestar.status_codes import HTTP_201_CREATED
from litestar.types import ControllerRouterHandler
from pydantic import BaseModel, ConfigDict, Field

from musicconnect.domain.errors import Conflict, DomainError, ServiceUnavailable, SignatureInvalid
from musicconnect.domain.tiers import Tier
from musicconnect.entrypoints.http.auth import BEARER
from musicconnect.entrypoints.http.deps import BillingDep, CallerDep, PayoutsDep, WebhooksDep
from musicconnect.entrypoints.http.errors import error_response, error_responses
from musicconnect.entrypoints.http.schemas import ReturnUrl, TierName
from musicconnect.platform import Platform
from musicconnect.ports.payments import EventVerifier, ReturnUrls

log = logging.getLogger(__name__)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckoutIn(_In):
    tier: TierName
    success_url: ReturnUrl
    cancel_url: ReturnUrl


class CheckoutOut(BaseModel):
    id: str
    url: str = Field(description="Send the fan here to pay")


class OnboardingIn(_In):
    refresh_url: ReturnUrl
    return_url: ReturnUrl


class OnboardingOut(BaseModel):
    url: str = Field(description="Send the artist here to set up payouts")
    expires_at: datetime | None


class WebhookOut(BaseModel):
    received: bool = True
    applied: bool
    duplicate: bool


#: The gateway that checks webhook signatures. Name the parameter ``verifier``.
VerifierDep: TypeAlias = NamedDependency[SkipValidation[EventVerifier]]


@post(
    "/webhooks/stripe",
    status_code=HTTPStatus.OK,
    sync_to_thread=True,
    tags=["payments"],
    responses=error_responses(400, 503),
)
def stripe_webhook(
    *,
    body: RawBody,
    stripe_signature: Annotated[str | None, HeaderParameter(name="Stripe-Signature", required=False)] = None,
    verifier: VerifierDep,
    webhooks: WebhooksDep,
) -> Response[Any]:
    """Stripe's events, signature-checked on the raw body and applied at most once.

    400 (and nothing written) for any signature problem; 200 once applied or already applied;
    5xx when applying failed, so Stripe delivers it again.
    """
    try:
        event = verifier.verify_event(body, stripe_signature)
    except SignatureInvalid as refused:
        log.warning("refused a webhook: %s", refused.detail)
        return error_response(HTTPStatus.BAD_REQUEST, "invalid_signature", refused.detail)
    try:
        outcome = webhooks.handle(event)
    except ServiceUnavailable as down:
        log.warning("webhook %s (%s) must wait: %s", event.id, event.type, down.detail)
        return error_response(HTTPStatus.SERVICE_UNAVAILABLE, down.code, down.detail)
    except DomainError as failed:
        log.exception("webhook %s (%s) failed", event.id, event.type)
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, failed.code, failed.detail)
    body_out = WebhookOut(applied=outcome.applied, duplicate=outcome.duplicate)
    return Response(body_out.model_dump(), status_code=HTTPStatus.OK)


class StripeBillingController(Controller):
    path = "/artists/{artist_id:str}"
    tags = ("payments",)
    security = BEARER

    @post(
        "/checkout",
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=error_responses(401, 402, 403, 404, 409, 503),
    )
    def start_checkout(
        self,
        *,
        artist_id: FromPath[str],
        data: JSONBody[CheckoutIn],
        caller: CallerDep,
        billing: BillingDep,
    ) -> CheckoutOut:
        """A hosted payment page for a paid tier; the subscription starts when Stripe says it is paid.

        The same as `POST /artists/{artist_id}/subscription` with return pages, answering only
        the page."""
        result = billing.subscribe_or_upgrade(
            artist_id,
            Tier.parse(data.tier),
            caller=caller,
            return_urls=ReturnUrls(data.success_url, data.cancel_url),
        )
        if result.checkout is None:
            raise Conflict("nothing to pay on a checkout page: the subscription changed at once")
        return CheckoutOut(id=result.checkout.id, url=result.checkout.url)

    @post(
        "/payouts/onboarding",
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=error_responses(401, 403, 404, 503),
    )
    def start_onboarding(
        self,
        *,
        artist_id: FromPath[str],
        data: JSONBody[OnboardingIn],
        caller: CallerDep,
        payouts: PayoutsDep,
    ) -> OnboardingOut:
        """The artist's connected account and a link to finish setting up payouts."""
        link = payouts.start_onboarding(
            artist_id, caller=caller, refresh_url=data.refresh_url, return_url=data.return_url
        )
        return OnboardingOut(url=link.url, expires_at=link.expires_at)


def payment_handlers(platform: Platform) -> list[ControllerRouterHandler]:
    """The processor's routes, when its events can be verified (Stripe with a webhook secret);
    none otherwise. Which processor that is was decided in bootstrap, not here."""
    verifier = platform.services.payments.events
    if verifier is None:
        return []

    def provide_verifier() -> EventVerifier:
        return verifier

    return [
        Router(
            path="/",
            route_handlers=[stripe_webhook, StripeBillingController],
            dependencies={"verifier": Provide(provide_verifier, sync_to_thread=False)},
        )
    ]
