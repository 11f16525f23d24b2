"""A payment gateway that moves no money: the embedded default, with the ledger as the only record."""

from musicconnect.adapters.offline.payments import OfflineCharge, OfflinePaymentGateway, OfflinePayout

__all__ = ["OfflineCharge", "OfflinePaymentGateway", "OfflinePayout"]
