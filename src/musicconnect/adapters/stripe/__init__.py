"""Stripe: Billing subscriptions, Checkout, Connect destination charges and payouts (stripe-python)."""

from musicconnect.adapters.stripe.gateway import StripePaymentGateway
from musicconnect.adapters.stripe.webhooks import StripeWebhookVerifier

__all__ = ["StripePaymentGateway", "StripeWebhookVerifier"]
