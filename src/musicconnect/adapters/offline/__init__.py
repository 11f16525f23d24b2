"""A payment gateway that moves no money: the embedded default, with the ledger as the only record."""

from musicconnect.adapters.offline.billing import ChargingSubscriptionBilling
from musicconnect.adapters.offline.payments import OfflineCharge, OfflinePaymentGateway, OfflinePayout
from musicconnect.ports.payments import Payments


def offline_payments(gateway: OfflinePaymentGateway) -> Payments:
    """Every payment role on the offline gateway; subscriptions billed by the platform."""
    return Payments(
        billing=ChargingSubscriptionBilling(gateway),
        charges=gateway,
        payouts=gateway,
        accounts=gateway,
        reads=gateway,
    )


__all__ = [
    "ChargingSubscriptionBilling",
    "OfflineCharge",
    "OfflinePaymentGateway",
    "OfflinePayout",
    "offline_payments",
]
