"""Stripe: Billing subscriptions, Checkout, Connect destination charges and payouts (stripe-python)."""

from musicconnect.adapters.stripe.billing import StripeSubscriptionBilling
from musicconnect.adapters.stripe.gateway import StripePaymentGateway
from musicconnect.adapters.stripe.webhooks import StripeWebhookVerifier
from musicconnect.ports.payments import Payments


def stripe_payments(gateway: StripePaymentGateway) -> Payments:
    """Every payment role on Stripe; subscriptions billed by Stripe Billing."""
    return Payments(
        billing=StripeSubscriptionBilling(gateway),
        charges=gateway,
        payouts=gateway,
        accounts=gateway,
        reads=gateway,
    )


__all__ = ["StripePaymentGateway", "StripeSubscriptionBilling", "StripeWebhookVerifier", "stripe_payments"]
