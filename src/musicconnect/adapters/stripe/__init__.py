"""Stripe: Billing subscriptions, Checkout, Connect destination charges and payouts (stripe-python)."""

from musicconnect.adapters.stripe.billing import StripeSubscriptionBilling
from musicconnect.adapters.stripe.gateway import StripePaymentGateway
from musicconnect.adapters.stripe.webhooks import StripeWebhookVerifier
from musicconnect.ports.payments import Payments, ReturnUrls


def stripe_payments(gateway: StripePaymentGateway, *, return_urls: ReturnUrls | None = None) -> Payments:
    """Every payment role on Stripe; subscriptions billed by Stripe Billing, whose Checkout sends
    fans back to ``return_urls`` unless a client names its own pages."""
    return Payments(
        billing=StripeSubscriptionBilling(gateway, return_urls=return_urls),
        charges=gateway,
        payouts=gateway,
        accounts=gateway,
        reads=gateway,
        events=gateway if gateway.verifies_webhooks else None,
    )


__all__ = ["StripePaymentGateway", "StripeSubscriptionBilling", "StripeWebhookVerifier", "stripe_payments"]
