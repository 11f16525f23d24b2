"""A stateful Stripe test double: the API subset the Stripe adapter uses, on a loopback port.

Objects are shaped on Stripe's published fixtures (``fixtures.json``: a subset of
``openapi/fixtures3.json`` from Stripe's public OpenAPI repository, MIT licensed, see
``LICENSE.stripe-fixtures``). localstripe cannot serve here: it has no prices, no
``proration_behavior`` and no Connect.

    with StripeDouble(webhook_url=..., webhook_secret=...) as double:
        gateway = StripePaymentGateway(double.api_key, api_base=double.url, ...)
        control = DoubleControl(double.url)   # /_double/: clock, checkout, onboarding, faults

``python -m tests.support.stripe_double --port N`` runs one as a process.
"""

from tests.support.stripe_double.server import (
    DEFAULT_API_KEY,
    DEFAULT_WEBHOOK_SECRET,
    DoubleControl,
    DoubleControlError,
    StripeDouble,
    running_stripe_double,
    sign,
)

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_WEBHOOK_SECRET",
    "DoubleControl",
    "DoubleControlError",
    "StripeDouble",
    "running_stripe_double",
    "sign",
]
