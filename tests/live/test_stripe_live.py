"""StripePaymentGateway against Stripe's test mode: the calls that need no human in the loop.

Onboarding an Express account and paying on a Checkout page need a person; the double covers
those flows. Every id here is fresh per run, so reruns never collide with earlier objects.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Final

import pytest
import stripe

from musicconnect.adapters.stripe import StripePaymentGateway
from musicconnect.domain.errors import Conflict, NotFound, SignatureInvalid
from musicconnect.domain.money import Money
from musicconnect.domain.tiers import Tier, default_plans, revise_plan
from musicconnect.ports.payments import GatewayEventKind

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

RUN: Final = uuid.uuid4().hex[:12]
SECRET: Final = "whsec_live_smoke_" + RUN
PLANS: Final = {plan.tier: plan for plan in default_plans()}


def _gateway() -> StripePaymentGateway:
    return StripePaymentGateway(os.environ["STRIPE_API_KEY"], webhook_secret=SECRET)


def test_a_fan_has_one_customer_even_across_processes() -> None:
    """A fresh gateway (an empty cache) gets the same customer: through Stripe's search, or while
    search still lags, through the replay of the create call's idempotency key."""
    fan_id = f"live-fan-{RUN}"
    email = f"{fan_id}@example.com"
    customer = _gateway().ensure_customer(fan_id=fan_id, email=email)
    assert _gateway().ensure_customer(fan_id=fan_id, email=email) == customer


def test_each_price_version_is_one_price() -> None:
    """The lookup key finds a version's price again; a revised version gets its own."""
    artist_id = f"live-artist-{RUN}"
    first = _gateway().ensure_price(artist_id=artist_id, artist_name="Live", plan=PLANS[Tier.SUPPORTER])
    again = _gateway().ensure_price(artist_id=artist_id, artist_name="Live", plan=PLANS[Tier.SUPPORTER])
    revised = revise_plan(PLANS[Tier.SUPPORTER], price=Money(600, "USD"), features=(), now=datetime.now(UTC))
    newer = _gateway().ensure_price(artist_id=artist_id, artist_name="Live", plan=revised)
    assert first == again
    assert newer != first
    price = _gateway().client.v1.prices.retrieve(newer)
    assert (price.unit_amount, price.lookup_key) == (600, f"{artist_id}:supporter:v2")


def test_an_artist_gets_an_express_account_and_an_onboarding_link() -> None:
    """Needs Connect enabled on the test account. Until onboarding is done nobody can pay them."""
    artist_id = f"live-artist-{RUN}"
    gateway = _gateway()
    account = gateway.create_connected_account(artist_id=artist_id, email=f"{artist_id}@example.com")
    assert gateway.create_connected_account(artist_id=artist_id, email="x@example.com") == account
    assert not account.transfers_enabled
    link = gateway.onboarding_link(
        artist_id=artist_id,
        refresh_url="https://example.com/again",
        return_url="https://example.com/done",
        idempotency_key=f"onboarding:{artist_id}:{RUN}",
    )
    assert link.url.startswith("https://")
    with pytest.raises(Conflict):
        gateway.start_checkout(
            fan_id=f"live-fan-{RUN}",
            fan_email="fan@example.com",
            artist_id=artist_id,
            artist_name="Live",
            plan=PLANS[Tier.SUPPORTER],
            success_url="https://example.com/ok",
            cancel_url="https://example.com/no",
            idempotency_key=f"checkout:{RUN}",
        )


def test_unknown_objects_are_not_found() -> None:
    """Stripe's 404s arrive as NotFound."""
    with pytest.raises(NotFound):
        _gateway().fetch_subscription(f"sub_missing{RUN}")
    with pytest.raises(NotFound):
        _gateway().fetch_invoice(f"in_missing{RUN}")


def test_signatures_made_by_stripes_own_code_verify_and_others_do_not() -> None:
    """The header stripe-python makes for a payload verifies; another secret's does not."""
    event = {
        "id": f"evt_{RUN}",
        "object": "event",
        "type": "invoice.paid",
        "created": int(time.time()),
        "data": {"object": {"id": f"in_{RUN}", "object": "invoice"}},
    }
    payload = json.dumps(event)
    good = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
    bad = stripe.WebhookSignature.generate_signature_header(payload, "whsec_other")
    verified = _gateway().verify_event(payload.encode(), good)
    assert (verified.id, verified.kind) == (f"evt_{RUN}", GatewayEventKind.INVOICE_PAID)
    with pytest.raises(SignatureInvalid):
        _gateway().verify_event(payload.encode(), bad)
