"""Verifying Stripe's webhook signatures with stripe's own code, and reading the event's ids."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Final

import stripe

from musicconnect.adapters.stripe import convert
from musicconnect.domain.errors import SignatureInvalid
from musicconnect.ports.payments import GatewayEvent

#: Stripe's default: a signature older than this is a replay.
TOLERANCE_S: Final = 300


def signed_at(header: str) -> int:
    """The ``t=`` timestamp of a ``Stripe-Signature`` header (stripe verified the header's shape)."""
    for part in header.split(","):
        name, _, value = part.partition("=")
        if name.strip() == "t":
            return int(value)
    raise SignatureInvalid("the signature header carries no timestamp")


class StripeWebhookVerifier:
    """Accepts an event signed with any of ``secrets`` (an endpoint's, a Connect endpoint's, or
    the old and new one while rolling) within ``tolerance_s`` of now, in either direction.

    stripe's check refuses old timestamps only; a timestamp from the future is refused here too,
    since a signature made ahead of time would otherwise stay replayable for longer.
    """

    def __init__(self, secrets: str | Sequence[str], *, tolerance_s: int = TOLERANCE_S) -> None:
        listed = [secrets] if isinstance(secrets, str) else list(secrets)
        self._secrets = [s.strip() for item in listed for s in item.split(",") if s.strip()]
        if not self._secrets:
            raise ValueError("a webhook secret is needed to verify Stripe's signatures")
        self._tolerance_s = tolerance_s

    def verify(self, payload: bytes, signature_header: str | None) -> GatewayEvent:
        """The event in ``payload``; SignatureInvalid for any problem with its signature or shape."""
        if not signature_header:
            raise SignatureInvalid("missing Stripe-Signature header")
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise SignatureInvalid("the payload is not UTF-8") from None
        if not any(self._verified(text, signature_header, secret) for secret in self._secrets):
            raise SignatureInvalid("no valid signature for this payload within the tolerance")
        if signed_at(signature_header) > time.time() + self._tolerance_s:
            raise SignatureInvalid("the signature's timestamp is in the future")
        try:
            event = json.loads(text)
            if not isinstance(event, dict) or event.get("object") != "event":
                raise SignatureInvalid("the payload is not a Stripe event")
            return convert.gateway_event(event)
        except (ValueError, KeyError, TypeError) as error:
            raise SignatureInvalid(f"the payload is not a Stripe event: {error}") from None

    def _verified(self, payload: str, header: str, secret: str) -> bool:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, self._tolerance_s)
        except stripe.SignatureVerificationError:
            return False
        return True
