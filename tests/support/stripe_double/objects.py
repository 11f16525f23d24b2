"""Stripe objects shaped on Stripe's published fixtures (``fixtures.json``, MIT, see the LICENSE
file beside it): each builder starts from the fixture of its resource, so every field Stripe sends
is there with Stripe's name and nesting, then sets what the double models and clears the
fixture's example values for what it does not."""

from __future__ import annotations

import calendar
import copy
import json
import secrets
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from pathlib import Path
from typing import Any

Obj = dict[str, Any]

#: The API version stripe-python 16 speaks; events are rendered in it.
API_VERSION = "2026-10-28.endive"


@cache
def _fixtures() -> dict[str, Obj]:
    loaded = json.loads((Path(__file__).parent / "fixtures.json").read_text(encoding="utf-8"))
    resources: dict[str, Obj] = loaded["resources"]
    return resources


def template(resource: str, **fields: Any) -> Obj:
    """A deep copy of Stripe's example ``resource`` with ``fields`` set."""
    obj = copy.deepcopy(_fixtures()[resource])
    obj.update(fields)
    return obj


def new_id(prefix: str, length: int = 24) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return f"{prefix}_" + "".join(secrets.choice(alphabet) for _ in range(length))


def stripe_list(data: list[Obj], url: str) -> Obj:
    return {"object": "list", "data": data, "has_more": False, "url": url}


def add_months(timestamp: int, months: int, anchor_day: int | None = None) -> int:
    """Stripe's monthly cycle: the anchor's day of month, or the month's last day if shorter."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(anchor_day or moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def percent_of(amount: int, percent: Decimal) -> int:
    """``amount * percent / 100`` rounded half-even to the minor unit."""
    return int((Decimal(amount) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def processing_fee(amount: int) -> int:
    """Stripe's standard card pricing: 2.9 % + 30 minor units."""
    return percent_of(amount, Decimal("2.9")) + 30 if amount > 0 else 0


# --- builders --------------------------------------------------------------------------------


def customer(*, now: int, email: str | None, name: str | None, metadata: dict[str, str]) -> Obj:
    obj = template(
        "customer",
        id=new_id("cus", 14),
        created=now,
        email=email,
        name=name,
        metadata=metadata,
        discount=None,
        currency=None,
        description=None,
    )
    obj["invoice_settings"]["default_payment_method"] = None
    return obj


def product(*, product_id: str, now: int, name: str, metadata: dict[str, str]) -> Obj:
    return template(
        "product",
        id=product_id,
        created=now,
        updated=now,
        name=name,
        metadata=metadata,
        description=None,
        default_price=None,
        package_dimensions=None,
        type="service",
    )


def price(
    *,
    now: int,
    product_id: str,
    currency: str,
    unit_amount: int,
    interval: str,
    lookup_key: str | None,
    nickname: str | None,
    metadata: dict[str, str],
) -> Obj:
    return template(
        "price",
        id=new_id("price"),
        created=now,
        product=product_id,
        currency=currency,
        unit_amount=unit_amount,
        unit_amount_decimal=str(unit_amount),
        lookup_key=lookup_key,
        nickname=nickname,
        metadata=metadata,
        custom_unit_amount=None,
        transform_quantity=None,
        recurring={
            "interval": interval,
            "interval_count": 1,
            "meter": None,
            "usage_type": "licensed",
            "trial_period_days": None,
        },
        type="recurring",
    )


def payment_method(*, now: int, customer_id: str, last4: str) -> Obj:
    obj = template("payment_method", id=new_id("pm"), created=now, customer=customer_id, metadata={})
    obj["card"]["last4"] = last4
    return obj


def account(*, now: int, country: str, email: str | None, kind: str, metadata: dict[str, str]) -> Obj:
    obj = template(
        "account",
        id=new_id("acct", 16),
        created=now,
        country=country,
        email=email,
        type=kind,
        metadata=metadata,
        capabilities={"transfers": "inactive"},
        charges_enabled=False,
        payouts_enabled=False,
        details_submitted=False,
        controller={"type": "application", "is_controller": True},
    )
    obj["external_accounts"]["url"] = f"/v1/accounts/{obj['id']}/external_accounts"
    return obj


def onboarded(obj: Obj) -> None:
    obj["capabilities"] = dict.fromkeys(obj["capabilities"], "active") | {"transfers": "active"}
    obj["charges_enabled"] = True
    obj["payouts_enabled"] = True
    obj["details_submitted"] = True
    for requirements in ("requirements", "future_requirements"):
        obj[requirements].update(currently_due=[], eventually_due=[], past_due=[], disabled_reason=None)


def account_link(*, now: int, url: str) -> Obj:
    return template("account_link", created=now, expires_at=now + 300, url=url)


def checkout_session(
    *,
    now: int,
    base_url: str,
    customer_id: str,
    email: str | None,
    currency: str,
    amount: int,
    success_url: str,
    cancel_url: str,
    client_reference_id: str | None,
    metadata: dict[str, str],
) -> Obj:
    session_id = new_id("cs_test", 58)
    obj = template(
        "checkout.session",
        id=session_id,
        created=now,
        expires_at=now + 24 * 3600,
        customer=customer_id,
        customer_email=None,
        mode="subscription",
        status="open",
        payment_status="unpaid",
        payment_intent=None,
        subscription=None,
        invoice=None,
        url=f"{base_url}/_double/checkout/{session_id}",
        success_url=success_url,
        cancel_url=cancel_url,
        client_reference_id=client_reference_id,
        metadata=metadata,
        currency=currency,
        amount_subtotal=amount,
        amount_total=amount,
        total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        after_expiration=None,
        shipping_address_collection=None,
        shipping_cost=None,
        currency_conversion=None,
        collected_information=None,
        invoice_creation=None,
        payment_method_collection="always",
    )
    obj["customer_details"]["email"] = email
    return obj


def subscription_item(*, now: int, subscription_id: str, price_obj: Obj, start: int, end: int) -> Obj:
    obj = template(
        "subscription_item",
        id=new_id("si", 14),
        created=now,
        subscription=subscription_id,
        price=copy.deepcopy(price_obj),
        quantity=1,
        current_period_start=start,
        current_period_end=end,
        billing_thresholds=None,
    )
    obj.pop("plan", None)
    return obj


def subscription(
    *,
    now: int,
    customer_id: str,
    currency: str,
    metadata: dict[str, str],
    fee_percent: float | None,
    destination: str | None,
    payment_method_id: str | None,
) -> Obj:
    sub_id = new_id("sub")
    return template(
        "subscription",
        id=sub_id,
        created=now,
        start_date=now,
        billing_cycle_anchor=now,
        billing_cycle_anchor_config=None,
        customer=customer_id,
        currency=currency,
        metadata=metadata,
        status="incomplete",
        items=stripe_list([], f"/v1/subscription_items?subscription={sub_id}"),
        latest_invoice=None,
        application_fee_percent=fee_percent,
        transfer_data={"amount_percent": None, "destination": destination} if destination else None,
        default_payment_method=payment_method_id,
        cancel_at_period_end=False,
        cancel_at=None,
        canceled_at=None,
        ended_at=None,
        trial_start=None,
        trial_end=None,
        schedule=None,
        pending_update=None,
        pause_collection=None,
        next_pending_invoice_item_invoice=None,
        pending_invoice_item_interval=None,
        billing_thresholds=None,
        billing_schedules=[],
    )


def invoice(
    *,
    now: int,
    customer_id: str,
    email: str | None,
    subscription_obj: Obj,
    reason: str,
    period_start: int,
    period_end: int,
) -> Obj:
    invoice_id = new_id("in")
    return template(
        "invoice",
        id=invoice_id,
        created=now,
        effective_at=None,
        customer=customer_id,
        customer_email=email,
        currency=subscription_obj["currency"],
        status="draft",
        billing_reason=reason,
        amount_due=0,
        amount_paid=0,
        amount_remaining=0,
        amount_overpaid=0,
        subtotal=0,
        subtotal_excluding_tax=0,
        total=0,
        total_excluding_tax=0,
        attempt_count=0,
        attempted=False,
        auto_advance=True,
        next_payment_attempt=None,
        due_date=None,
        period_start=period_start,
        period_end=period_end,
        subscription=None,
        lines=stripe_list([], f"/v1/invoices/{invoice_id}/lines"),
        payments=stripe_list([], f"/v1/invoice_payments?invoice={invoice_id}"),
        parent={
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "subscription": subscription_obj["id"],
                "metadata": dict(subscription_obj["metadata"]),
                "subscription_proration_date": None,
            },
        },
        status_transitions={
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        last_finalization_error=None,
        from_invoice=None,
        shipping_cost=None,
        webhooks_delivered_at=None,
        hosted_invoice_url=None,
        number=None,
    )


def invoice_line(
    *,
    invoice_id: str,
    subscription_id: str,
    item_id: str,
    price_obj: Obj,
    amount: int,
    description: str,
    start: int,
    end: int,
    proration: bool,
) -> Obj:
    return template(
        "line_item",
        id=new_id("il"),
        invoice=invoice_id,
        amount=amount,
        subtotal=amount,
        currency=price_obj["currency"],
        description=description,
        period={"start": start, "end": end},
        quantity=1,
        metadata={},
        parent={
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": subscription_id,
                "subscription_item": item_id,
            },
        },
        pricing={
            "type": "price_details",
            "price_details": {"price": price_obj["id"], "product": price_obj["product"]},
            "unit_amount_decimal": str(price_obj["unit_amount"]),
        },
    )


def invoice_payment(*, now: int, invoice_id: str, intent: Obj) -> Obj:
    paid = intent["status"] == "succeeded"
    return template(
        "invoice_payment",
        id=new_id("inpay"),
        created=now,
        invoice=invoice_id,
        currency=intent["currency"],
        amount_requested=intent["amount"],
        amount_paid=intent["amount"] if paid else None,
        is_default=True,
        status="paid" if paid else "open",
        payment={"type": "payment_intent", "payment_intent": intent["id"]},
        status_transitions={"canceled_at": None, "paid_at": now if paid else None},
        livemode=False,
    )


def payment_intent(
    *,
    now: int,
    amount: int,
    currency: str,
    customer_id: str | None,
    payment_method_id: str | None,
    fee_amount: int | None,
    destination: str | None,
    description: str | None,
    metadata: dict[str, str],
) -> Obj:
    intent_id = new_id("pi")
    return template(
        "payment_intent",
        id=intent_id,
        created=now,
        amount=amount,
        amount_received=0,
        amount_capturable=0,
        amount_details=None,
        currency=currency,
        customer=customer_id,
        payment_method=payment_method_id,
        application_fee_amount=fee_amount,
        transfer_data={"destination": destination} if destination else None,
        description=description,
        metadata=metadata,
        status="requires_confirmation",
        latest_charge=None,
        last_payment_error=None,
        next_action=None,
        canceled_at=None,
        client_secret=f"{intent_id}_secret_{new_id('s', 16)[2:]}",
        processing=None,
        payment_method_configuration_details=None,
        shipping=None,
    )


def charge(
    *,
    now: int,
    intent: Obj,
    transaction_id: str | None,
    fee_id: str | None,
    destination: str | None,
    failure: tuple[str, str] | None,
) -> Obj:
    charge_id = new_id("ch")
    obj = template(
        "charge",
        id=charge_id,
        created=now,
        amount=intent["amount"],
        amount_captured=0 if failure else intent["amount"],
        amount_refunded=0,
        currency=intent["currency"],
        customer=intent["customer"],
        description=intent["description"],
        metadata=dict(intent["metadata"]),
        payment_intent=intent["id"],
        payment_method=intent["payment_method"],
        balance_transaction=transaction_id,
        application_fee=fee_id,
        application_fee_amount=intent["application_fee_amount"],
        transfer_data={"amount": None, "destination": destination} if destination else None,
        status="failed" if failure else "succeeded",
        paid=failure is None,
        captured=failure is None,
        refunded=False,
        refunds=stripe_list([], f"/v1/charges/{charge_id}/refunds"),
        failure_code=failure[0] if failure else None,
        failure_message=failure[1] if failure else None,
        outcome={
            "type": "issuer_declined" if failure else "authorized",
            "reason": "generic_decline" if failure else None,
            "seller_message": "The bank did not return any further details."
            if failure
            else "Payment complete.",
            "network_status": "declined_by_network" if failure else "approved_by_network",
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
        },
        source=None,
        shipping=None,
        receipt_url=None,
        review=None,
    )
    obj["payment_method_details"]["card"]["overcapture"]["maximum_amount_capturable"] = intent["amount"]
    return obj


def balance_transaction(*, now: int, amount: int, fee: int, currency: str, source: str) -> Obj:
    return template(
        "balance_transaction",
        id=new_id("txn"),
        created=now,
        available_on=now,
        amount=amount,
        fee=fee,
        net=amount - fee,
        currency=currency,
        source=source,
        type="charge",
        reporting_category="charge",
        status="available",
        description=None,
        fee_details=[
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ],
    )


def application_fee(*, now: int, amount: int, currency: str, account_id: str, charge_id: str) -> Obj:
    fee_id = new_id("fee")
    return template(
        "application_fee",
        id=fee_id,
        created=now,
        amount=amount,
        currency=currency,
        account=account_id,
        charge=charge_id,
        application="ca_stripedouble",
        balance_transaction=None,
        fee_source={"charge": charge_id, "type": "charge"},
        originating_transaction=None,
        refunds=stripe_list([], f"/v1/application_fees/{fee_id}/refunds"),
    )


def refund(*, now: int, charge_obj: Obj, amount: int, reason: str | None) -> Obj:
    return template(
        "refund",
        id=new_id("re"),
        created=now,
        amount=amount,
        charge=charge_obj["id"],
        payment_intent=charge_obj["payment_intent"],
        currency=charge_obj["currency"],
        customer=charge_obj["customer"],
        payment_method=charge_obj["payment_method"],
        reason=reason,
        status="succeeded",
        metadata={},
        balance_transaction=None,
    )


def payout(*, now: int, amount: int, currency: str, metadata: dict[str, str], description: str | None) -> Obj:
    return template(
        "payout",
        id=new_id("po"),
        created=now,
        amount=amount,
        currency=currency,
        arrival_date=now + 2 * 24 * 3600,
        automatic=False,
        status="pending",
        metadata=metadata,
        description=description,
        destination="ba_stripedouble",
        balance_transaction=None,
        reconciliation_status="not_applicable",
        trace_id=None,
    )


def schedule(*, now: int, sub: Obj) -> Obj:
    item = sub["items"]["data"][0]
    transfer = sub["transfer_data"]
    phase = template("subscription_schedule")["phases"][0]
    phase.update(
        start_date=item["current_period_start"],
        end_date=item["current_period_end"],
        currency=sub["currency"],
        application_fee_percent=sub["application_fee_percent"],
        transfer_data=copy.deepcopy(transfer),
        items=[
            {
                "price": item["price"]["id"],
                "quantity": 1,
                "metadata": {},
                "discounts": [],
                "tax_rates": [],
                "billing_thresholds": None,
            }
        ],
        invoice_settings=None,
        billing_thresholds=None,
    )
    obj = template(
        "subscription_schedule",
        id=new_id("sub_sched"),
        created=now,
        customer=sub["customer"],
        subscription=sub["id"],
        status="active",
        end_behavior="release",
        canceled_at=None,
        completed_at=None,
        released_at=None,
        released_subscription=None,
        metadata={},
        phases=[phase],
        current_phase={"start_date": phase["start_date"], "end_date": phase["end_date"]},
    )
    obj["default_settings"]["application_fee_percent"] = sub["application_fee_percent"]
    obj["default_settings"]["transfer_data"] = copy.deepcopy(transfer)
    obj["default_settings"]["billing_thresholds"] = None
    return obj


def event(
    *,
    now: int,
    kind: str,
    obj: Obj,
    account_id: str | None,
    previous: Obj | None,
    request_key: str | None,
) -> Obj:
    data: Obj = {"object": obj}
    if previous:
        data["previous_attributes"] = previous
    created = template(
        "event",
        id=new_id("evt"),
        created=now,
        type=kind,
        api_version=API_VERSION,
        data=data,
        pending_webhooks=1,
        request={"id": new_id("req", 14) if request_key else None, "idempotency_key": request_key},
    )
    if account_id:
        created["account"] = account_id
    return created
