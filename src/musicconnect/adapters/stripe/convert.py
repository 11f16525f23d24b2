"""Stripe's objects, as plain JSON dicts, turned into the domain's snapshots and events.

The one place that knows Stripe's field names and nesting. Newer API versions moved some fields
(periods onto subscription items, an invoice's subscription under ``parent``, its payments into
``payments``); both places are read where the older one may still be sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from musicconnect.domain.money import Money
from musicconnect.domain.subscriptions import SubscriptionStatus
from musicconnect.domain.tiers import Tier
from musicconnect.ports.payments import (
    ApplicationFeeSnapshot,
    ChargeSnapshot,
    ConnectedAccount,
    ForeignObject,
    GatewayEvent,
    GatewayEventKind,
    InvoiceSnapshot,
    PayoutSnapshot,
    RefundSnapshot,
    SubscriptionSnapshot,
)

Json = Mapping[str, Any]

#: Metadata keys we put on Stripe objects to find our own ids again.
FAN_ID: Final = "fan_id"
ARTIST_ID: Final = "artist_id"
TIER: Final = "tier"
PLAN_VERSION: Final = "plan_version"
#: Our subscription a checkout was started for (reserved before Stripe is asked).
SUBSCRIPTION_ID: Final = "subscription_id"

_STATUS: Final[dict[str, SubscriptionStatus]] = {
    "incomplete": SubscriptionStatus.INCOMPLETE,
    "incomplete_expired": SubscriptionStatus.CANCELED,
    "trialing": SubscriptionStatus.TRIALING,
    "active": SubscriptionStatus.ACTIVE,
    "past_due": SubscriptionStatus.PAST_DUE,
    "canceled": SubscriptionStatus.CANCELED,
    "unpaid": SubscriptionStatus.UNPAID,
    # A paused subscription grants nothing until it resumes, like an unpaid one.
    "paused": SubscriptionStatus.UNPAID,
}

_EVENT_KINDS: Final[dict[str, GatewayEventKind]] = {
    "checkout.session.completed": GatewayEventKind.CHECKOUT_COMPLETED,
    "customer.subscription.created": GatewayEventKind.SUBSCRIPTION_CHANGED,
    "customer.subscription.updated": GatewayEventKind.SUBSCRIPTION_CHANGED,
    "customer.subscription.deleted": GatewayEventKind.SUBSCRIPTION_CHANGED,
    "customer.subscription.paused": GatewayEventKind.SUBSCRIPTION_CHANGED,
    "customer.subscription.resumed": GatewayEventKind.SUBSCRIPTION_CHANGED,
    "subscription_schedule.updated": GatewayEventKind.SUBSCRIPTION_CHANGED,
    "subscription_schedule.released": GatewayEventKind.SUBSCRIPTION_CHANGED,
    "subscription_schedule.canceled": GatewayEventKind.SUBSCRIPTION_CHANGED,
    "subscription_schedule.completed": GatewayEventKind.SUBSCRIPTION_CHANGED,
    "invoice.paid": GatewayEventKind.INVOICE_PAID,
    "invoice.payment_failed": GatewayEventKind.INVOICE_PAYMENT_FAILED,
    "charge.refunded": GatewayEventKind.CHARGE_REFUNDED,
    "account.updated": GatewayEventKind.ACCOUNT_UPDATED,
    "application_fee.created": GatewayEventKind.APPLICATION_FEE_CREATED,
    "payout.paid": GatewayEventKind.PAYOUT_UPDATED,
    "payout.failed": GatewayEventKind.PAYOUT_UPDATED,
    "payout.canceled": GatewayEventKind.PAYOUT_UPDATED,
    "payout.updated": GatewayEventKind.PAYOUT_UPDATED,
}


def moment(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def maybe_moment(timestamp: int | None) -> datetime | None:
    return None if timestamp is None else moment(timestamp)


def money(amount: int, currency: str) -> Money:
    return Money(int(amount), currency.upper())


def ref(value: Any) -> str | None:
    """The id of an expandable field, whether Stripe sent the id or the expanded object."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        found = value.get("id")
        return found if isinstance(found, str) else None
    return None


def expanded(value: Any) -> Json | None:
    return value if isinstance(value, Mapping) else None


def metadata(obj: Json | None) -> Mapping[str, str]:
    found = obj.get("metadata") if obj is not None else None
    return found if isinstance(found, Mapping) else {}


def _require(found: str | None, what: str, obj: Json) -> str:
    if not found:
        # Not one of ours (made in the Dashboard, say): nothing here to apply it to.
        raise ForeignObject(f"{obj.get('object', 'object')} {obj.get('id')} carries no {what}")
    return found


def lookup_key(artist_id: str, tier: Tier, version: int) -> str:
    return f"{artist_id}:{tier}:v{version}"


def plan_of_price(price: Json) -> tuple[str, Tier, int]:
    """(artist, tier, version) of one of our prices, from its metadata or else its lookup key."""
    meta = metadata(price)
    if ARTIST_ID in meta and TIER in meta and PLAN_VERSION in meta:
        return meta[ARTIST_ID], Tier.parse(meta[TIER]), int(meta[PLAN_VERSION])
    key = price.get("lookup_key")
    if isinstance(key, str) and key.count(":") >= 2:  # noqa: PLR2004 - artist:tier:vN
        artist, tier, version = key.rsplit(":", 2)
        return artist, Tier.parse(tier), int(version.removeprefix("v"))
    raise ForeignObject(f"price {price.get('id')} is not one of Music Connect's")


def _period(subscription: Json, item: Json) -> tuple[datetime, datetime]:
    start = item.get("current_period_start", subscription.get("current_period_start"))
    end = item.get("current_period_end", subscription.get("current_period_end"))
    if start is None or end is None:
        raise ForeignObject(f"subscription {subscription.get('id')} has no current period")
    return moment(start), moment(end)


def _scheduled_plan(subscription: Json, period_end: int) -> tuple[Tier, int] | None:
    """The plan a live schedule moves the subscription to once its current period ends."""
    schedule = expanded(subscription.get("schedule"))
    if schedule is None or schedule.get("status") not in {"active", "not_started"}:
        return None
    for phase in schedule.get("phases") or ():
        if (phase.get("start_date") or 0) >= period_end and phase.get("items"):
            price = expanded(phase["items"][0].get("price"))
            if price is None:
                return None
            _, tier, version = plan_of_price(price)
            return tier, version
    return None


def subscription_snapshot(subscription: Json) -> SubscriptionSnapshot:
    """Expects ``items.data.price`` (always embedded) and ideally ``schedule.phases.items.price``."""
    item = subscription["items"]["data"][0]
    price = item["price"]
    price_artist, tier, version = plan_of_price(price)
    meta = metadata(subscription)
    start, end = _period(subscription, item)
    status = _STATUS.get(str(subscription["status"]), SubscriptionStatus.INCOMPLETE)
    scheduled = _scheduled_plan(subscription, int(item.get("current_period_end", end.timestamp())))
    if scheduled == (tier, version):
        scheduled = None
    cancel_at = subscription.get("cancel_at")
    cancel_at_period_end = bool(subscription.get("cancel_at_period_end")) or (
        cancel_at is not None and moment(cancel_at) == end
    )
    canceled_at = subscription.get("ended_at") or subscription.get("canceled_at")
    return SubscriptionSnapshot(
        external_ref=str(subscription["id"]),
        fan_id=_require(meta.get(FAN_ID), FAN_ID, subscription),
        artist_id=meta.get(ARTIST_ID) or price_artist,
        tier=tier,
        plan_version=version,
        price=money(price["unit_amount"], price["currency"]),
        status=status,
        created_at=moment(subscription["created"]),
        current_period_start=start,
        current_period_end=end,
        cancel_at_period_end=cancel_at_period_end and status is not SubscriptionStatus.CANCELED,
        scheduled_tier=scheduled[0] if scheduled else None,
        scheduled_version=scheduled[1] if scheduled else None,
        # Stripe does not say since when; the unpaid period began when its invoice was made.
        past_due_since=start if status is SubscriptionStatus.PAST_DUE else None,
        canceled_at=maybe_moment(canceled_at) if status is SubscriptionStatus.CANCELED else None,
        latest_invoice_ref=ref(subscription.get("latest_invoice")),
        subscription_id=meta.get(SUBSCRIPTION_ID),
    )


def invoice_subscription_ref(invoice: Json) -> str | None:
    details = (expanded(invoice.get("parent")) or {}).get("subscription_details")
    if isinstance(details, Mapping) and details.get("subscription"):
        return ref(details["subscription"])
    return ref(invoice.get("subscription"))


def invoice_parties(invoice: Json) -> tuple[str | None, str | None]:
    """(fan, artist) from the subscription metadata Stripe copies onto the invoice."""
    details = (expanded(invoice.get("parent")) or {}).get("subscription_details")
    meta = metadata(details) if isinstance(details, Mapping) else {}
    return meta.get(FAN_ID), meta.get(ARTIST_ID)


def invoice_charge_ref(invoice: Json) -> str | None:
    """The charge that paid the invoice: through its payments (expanded) or the older ``charge``."""
    payments = expanded(invoice.get("payments"))
    for payment in (payments or {}).get("data") or ():
        if payment.get("status") != "paid":
            continue
        detail = payment.get("payment") or {}
        intent = expanded(detail.get("payment_intent"))
        if intent is not None and intent.get("latest_charge"):
            return ref(intent["latest_charge"])
        if detail.get("charge"):
            return ref(detail["charge"])
    return ref(invoice.get("charge"))


def invoice_snapshot(invoice: Json, *, fan_id: str, artist_id: str) -> InvoiceSnapshot:
    paid = invoice.get("status") == "paid"
    transitions = invoice.get("status_transitions") or {}
    return InvoiceSnapshot(
        external_ref=str(invoice["id"]),
        subscription_ref=invoice_subscription_ref(invoice),
        fan_id=fan_id,
        artist_id=artist_id,
        paid=paid,
        amount_paid=money(invoice.get("amount_paid") or 0, invoice["currency"]),
        charge_ref=invoice_charge_ref(invoice) if paid else None,
        paid_at=maybe_moment(transitions.get("paid_at")),
        reason=str(invoice.get("billing_reason") or ""),
    )


def charge_parties(charge: Json) -> tuple[str | None, str | None]:
    """(fan, artist) from our metadata on the charge, else the customer's and destination's."""
    meta = metadata(charge)
    fan = meta.get(FAN_ID) or metadata(expanded(charge.get("customer"))).get(FAN_ID)
    destination = expanded((charge.get("transfer_data") or {}).get("destination"))
    artist = meta.get(ARTIST_ID) or metadata(destination).get(ARTIST_ID)
    return fan, artist


def charge_snapshot(charge: Json, *, fan_id: str, artist_id: str) -> ChargeSnapshot:
    """Expects ``balance_transaction``, ``application_fee`` and ``refunds`` expanded."""
    currency = str(charge["currency"])
    transaction = expanded(charge.get("balance_transaction"))
    fee = expanded(charge.get("application_fee"))
    if fee is not None:
        application_fee: Money | None = money(fee["amount"], fee["currency"])
    elif charge.get("application_fee_amount") is not None:
        application_fee = money(charge["application_fee_amount"], currency)
    else:
        application_fee = None
    refunds = sorted(
        (
            RefundSnapshot(
                external_ref=str(refund["id"]),
                amount=money(refund["amount"], refund["currency"]),
                created_at=moment(refund["created"]),
            )
            for refund in (expanded(charge.get("refunds")) or {}).get("data") or ()
            if refund.get("status") in {"succeeded", "pending"}
        ),
        key=lambda r: (r.created_at, r.external_ref),
    )
    return ChargeSnapshot(
        external_ref=str(charge["id"]),
        fan_id=fan_id,
        artist_id=artist_id,
        amount=money(charge["amount"], currency),
        processor_fee=money(transaction["fee"] if transaction else 0, currency),
        application_fee=application_fee,
        created_at=moment(charge["created"]),
        refunds=tuple(refunds),
    )


def application_fee_snapshot(fee: Json) -> ApplicationFeeSnapshot:
    return ApplicationFeeSnapshot(
        external_ref=str(fee["id"]),
        charge_ref=_require(ref(fee.get("charge")), "charge", fee),
        account_ref=_require(ref(fee.get("account")), "account", fee),
        amount=money(fee["amount"], fee["currency"]),
    )


def payout_snapshot(payout: Json, *, artist_id: str) -> PayoutSnapshot:
    return PayoutSnapshot(
        external_ref=str(payout["id"]),
        artist_id=artist_id,
        amount=money(payout["amount"], payout["currency"]),
        status=str(payout["status"]),
        arrival_at=maybe_moment(payout.get("arrival_date")),
    )


def connected_account(account: Json) -> ConnectedAccount:
    capabilities = account.get("capabilities") or {}
    return ConnectedAccount(
        artist_id=_require(metadata(account).get(ARTIST_ID), ARTIST_ID, account),
        external_ref=str(account["id"]),
        transfers_enabled=capabilities.get("transfers") == "active",
        payouts_enabled=bool(account.get("payouts_enabled")),
        details_submitted=bool(account.get("details_submitted")),
    )


def _event_subscription_ref(kind: GatewayEventKind, obj: Json) -> str | None:
    if obj.get("object") == "subscription":
        return ref(obj.get("id"))
    if obj.get("object") == "subscription_schedule":
        return ref(obj.get("subscription")) or ref(obj.get("released_subscription"))
    if obj.get("object") == "invoice":
        return invoice_subscription_ref(obj)
    if kind is GatewayEventKind.CHECKOUT_COMPLETED:
        return ref(obj.get("subscription"))
    return None


def gateway_event(event: Json) -> GatewayEvent:
    """Only the identities the event names: its snapshot of the object is never trusted."""
    obj = event["data"]["object"]
    kind = _EVENT_KINDS.get(str(event["type"]), GatewayEventKind.OTHER)
    subscription_ref = _event_subscription_ref(kind, obj)
    if kind is GatewayEventKind.CHECKOUT_COMPLETED and (
        obj.get("mode") != "subscription" or not subscription_ref
    ):
        kind = GatewayEventKind.OTHER
    if kind is GatewayEventKind.SUBSCRIPTION_CHANGED and not subscription_ref:
        kind = GatewayEventKind.OTHER
    account = event.get("account")
    if kind is GatewayEventKind.ACCOUNT_UPDATED:
        account = account or obj.get("id")
    return GatewayEvent(
        id=str(event["id"]),
        kind=kind,
        type=str(event["type"]),
        created=moment(event["created"]),
        object_ref=str(obj.get("id", "")),
        subscription_ref=subscription_ref,
        account_ref=account if isinstance(account, str) else None,
    )
