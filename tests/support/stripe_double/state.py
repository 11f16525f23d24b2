"""What the Stripe double remembers and how its objects behave: customers, products and prices,
Checkout, Billing subscriptions (proration, schedules, renewals on its own clock), invoices and
their payments, Connect destination charges, application fees, refunds, connected accounts and
their payouts. Exactly the subset the adapter uses; anything else is a 404 like an unknown route.

Callers hold ``lock`` around every call: one request at a time changes the state.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.support.stripe_double import objects as o
from tests.support.stripe_double.forms import as_bool, as_int, as_list

Obj = dict[str, Any]

#: Test-mode payment method tokens: attaching one makes a fresh card that behaves as named.
DECLINING_TOKENS = frozenset(
    {"pm_card_chargeCustomerFail", "pm_card_visa_chargeDeclined", "pm_card_chargeDeclined"}
)
TEST_TOKENS = frozenset({"pm_card_visa", "pm_card_mastercard", "pm_card_bypassPending"}) | DECLINING_TOKENS

#: Fields Stripe leaves out unless asked for with ``expand``.
_INCLUDABLE = {"invoice": ("payments",), "charge": ("refunds",)}


class DoubleError(Exception):
    """An API error, answered as Stripe answers it: ``{"error": {...}}`` with an HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        extra: Obj | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: Obj = {"type": kind, "message": message}
        if code:
            self.body["code"] = code
        if param:
            self.body["param"] = param
        self.body.update(extra or {})


def missing(kind: str, object_id: str, param: str = "id") -> DoubleError:
    return DoubleError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def _meta(params: Obj, key: str = "metadata") -> dict[str, str]:
    value = params.get(key) or {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


class StripeState:
    """Every object by kind and id, the balances of connected accounts, the double's own clock."""

    def __init__(self, *, base_url: str, now: int, emit: Callable[[Obj], None]) -> None:
        self.lock = threading.RLock()
        self.base_url = base_url
        self.now = now
        self._emit_to = emit
        self.objects: dict[str, dict[str, Obj]] = {}
        self.declining_cards: set[str] = set()
        #: Available balance per connected account and currency.
        self.balances: dict[tuple[str, str], int] = {}
        self.payout_accounts: dict[str, str] = {}
        self.session_lines: dict[str, tuple[str, Obj]] = {}
        self.events: list[Obj] = []
        #: The idempotency key of the request being served, stamped on the events it causes.
        self.request_key: str | None = None

    # --- storage and rendering ---------------------------------------------------------------

    def put(self, kind: str, obj: Obj) -> Obj:
        self.objects.setdefault(kind, {})[obj["id"]] = obj
        return obj

    def get(self, kind: str, object_id: str, param: str = "id") -> Obj:
        found = self.objects.get(kind, {}).get(object_id)
        if found is None:
            raise missing(kind.replace("_", " "), object_id, param)
        return found

    def find(self, object_id: str) -> Obj | None:
        for table in self.objects.values():
            if object_id in table:
                return table[object_id]
        return None

    def render(self, obj: Obj, expand: list[str] | None = None) -> Obj:
        """A copy as Stripe would send it: includable fields only if expanded, ids expanded."""
        paths = [p.split(".") for p in expand or []]
        shown = copy.deepcopy(obj)
        for field in _INCLUDABLE.get(str(obj.get("object")), ()):
            if not any(p[0] == field for p in paths):
                shown.pop(field, None)
        for path in paths:
            shown = self._expand(shown, path)
        return shown

    def _expand(self, node: Any, path: list[str]) -> Any:
        if isinstance(node, list):
            return [self._expand(item, path) for item in node]
        if not isinstance(node, dict) or not path or path[0] not in node:
            return node
        head, rest = path[0], path[1:]
        value = node[head]
        if isinstance(value, str) and (found := self.find(value)) is not None:
            value = self.render(found, [".".join(rest)] if rest else None)
        elif rest:
            value = self._expand(value, rest)
        node[head] = value
        return node

    def emit(self, kind: str, obj: Obj, *, account: str | None = None, previous: Obj | None = None) -> None:
        event = o.event(
            now=self.now,
            kind=kind,
            obj=self.render(obj),
            account_id=account,
            previous=previous,
            request_key=self.request_key,
        )
        self.events.append(event)
        self._emit_to(event)

    def listing(self, kind: str, params: Obj, keep: Callable[[Obj], bool], url: str) -> Obj:
        """Newest first, ``limit`` and ``starting_after`` paging, as Stripe lists."""
        rows = sorted(
            (obj for obj in self.objects.get(kind, {}).values() if keep(obj)),
            key=lambda obj: obj.get("created", 0),
            reverse=True,
        )
        after = params.get("starting_after")
        if after:
            ids = [row["id"] for row in rows]
            rows = rows[ids.index(after) + 1 :] if after in ids else []
        limit = as_int(params.get("limit", 10))
        page = rows[:limit]
        expand = [p.removeprefix("data.") for p in as_list(params.get("expand")) if p.startswith("data.")]
        listed = o.stripe_list([self.render(row, expand) for row in page], url)
        listed["has_more"] = len(rows) > limit
        return listed

    # --- customers, payment methods -----------------------------------------------------------

    def create_customer(self, params: Obj) -> Obj:
        obj = o.customer(
            now=self.now, email=params.get("email"), name=params.get("name"), metadata=_meta(params)
        )
        default = (params.get("invoice_settings") or {}).get("default_payment_method")
        if default:
            obj["invoice_settings"]["default_payment_method"] = default
        return self.put("customer", obj)

    def update_customer(self, customer_id: str, params: Obj) -> Obj:
        obj = self.get("customer", customer_id)
        obj["metadata"].update(_meta(params))
        if "email" in params:
            obj["email"] = params["email"]
        default = (params.get("invoice_settings") or {}).get("default_payment_method")
        if default is not None:
            self.get("payment_method", default, "invoice_settings[default_payment_method]")
            obj["invoice_settings"]["default_payment_method"] = default or None
        return obj

    def search_customers(self, params: Obj) -> Obj:
        query = str(params.get("query", ""))
        field, _, value = query.partition(":")
        value = value.strip().strip("'\"").replace("\\'", "'").replace("\\\\", "\\")
        field = field.strip()
        if field.startswith("metadata["):
            key = field[len("metadata[") : -1].strip("'\"")

            def keep(obj: Obj) -> bool:
                return bool(obj["metadata"].get(key) == value)
        elif field == "email":

            def keep(obj: Obj) -> bool:
                return bool(obj.get("email") == value)
        else:
            raise DoubleError(400, f"the double cannot search by {field!r}", param="query")
        found = self.listing("customer", params, keep, "/v1/customers/search")
        found.update(object="search_result", next_page=None)
        return found

    def attach_payment_method(self, token: str, params: Obj) -> Obj:
        customer_id = str(params.get("customer", ""))
        self.get("customer", customer_id, "customer")
        if token in TEST_TOKENS:
            last4 = "0341" if token in DECLINING_TOKENS else "4242"
            obj = self.put(
                "payment_method", o.payment_method(now=self.now, customer_id=customer_id, last4=last4)
            )
            if token in DECLINING_TOKENS:
                self.declining_cards.add(obj["id"])
            return obj
        obj = self.get("payment_method", token)
        obj["customer"] = customer_id
        return obj

    def list_payment_methods(self, params: Obj) -> Obj:
        customer_id = params.get("customer")
        return self.listing(
            "payment_method", params, lambda pm: pm["customer"] == customer_id, "/v1/payment_methods"
        )

    def _card_of(self, customer_id: str | None, preferred: str | None) -> str | None:
        if preferred:
            return preferred
        if customer_id is None:
            return None
        default = self.get("customer", customer_id)["invoice_settings"]["default_payment_method"]
        if default:
            return str(default)
        cards = [
            pm for pm in self.objects.get("payment_method", {}).values() if pm["customer"] == customer_id
        ]
        return str(cards[0]["id"]) if cards else None

    # --- products and prices ------------------------------------------------------------------

    def create_product(self, params: Obj) -> Obj:
        product_id = str(params.get("id") or o.new_id("prod", 14))
        if product_id in self.objects.get("product", {}):
            raise DoubleError(400, f"Product already exists: {product_id}", code="resource_already_exists")
        if not params.get("name"):
            raise DoubleError(400, "Missing required param: name.", param="name")
        obj = o.product(product_id=product_id, now=self.now, name=str(params["name"]), metadata=_meta(params))
        return self.put("product", obj)

    def create_price(self, params: Obj) -> Obj:
        product_id = str(params.get("product", ""))
        self.get("product", product_id, "product")
        lookup_key = params.get("lookup_key")
        if lookup_key and not as_bool(params.get("transfer_lookup_key", False)):
            taken = [p for p in self.objects.get("price", {}).values() if p["lookup_key"] == lookup_key]
            if taken:
                message = f"A price ({taken[0]['id']}) already uses that lookup key."
                raise DoubleError(400, message, param="lookup_key")
        recurring = params.get("recurring") or {}
        if recurring.get("interval") not in {"day", "week", "month", "year"}:
            raise DoubleError(400, "The double only sells recurring prices.", param="recurring[interval]")
        obj = o.price(
            now=self.now,
            product_id=product_id,
            currency=str(params["currency"]).lower(),
            unit_amount=as_int(params["unit_amount"]),
            interval=str(recurring["interval"]),
            lookup_key=lookup_key,
            nickname=params.get("nickname"),
            metadata=_meta(params),
        )
        return self.put("price", obj)

    def list_prices(self, params: Obj) -> Obj:
        keys = set(as_list(params.get("lookup_keys")))
        active = params.get("active")

        def keep(price: Obj) -> bool:
            if keys and price["lookup_key"] not in keys:
                return False
            return active is None or price["active"] == as_bool(active)

        return self.listing("price", params, keep, "/v1/prices")

    # --- connected accounts -------------------------------------------------------------------

    def create_account(self, params: Obj) -> Obj:
        obj = o.account(
            now=self.now,
            country=str(params.get("country", "US")),
            email=params.get("email"),
            kind=str(params.get("type", "express")),
            metadata=_meta(params),
        )
        interval = (((params.get("settings") or {}).get("payouts") or {}).get("schedule") or {}).get(
            "interval"
        )
        if interval:
            obj["settings"]["payouts"]["schedule"]["interval"] = interval
        for capability, wanted in (params.get("capabilities") or {}).items():
            if as_bool((wanted or {}).get("requested", False)):
                obj["capabilities"][capability] = "inactive"
        return self.put("account", obj)

    def create_account_link(self, params: Obj) -> Obj:
        account_id = str(params.get("account", ""))
        self.get("account", account_id, "account")
        for required in ("refresh_url", "return_url", "type"):
            if not params.get(required):
                raise DoubleError(400, f"Missing required param: {required}.", param=required)
        return o.account_link(now=self.now, url=f"{self.base_url}/_double/onboarding/{account_id}")

    def onboard(self, account_id: str) -> Obj:
        obj = self.get("account", account_id)
        previous = {"charges_enabled": obj["charges_enabled"], "payouts_enabled": obj["payouts_enabled"]}
        o.onboarded(obj)
        self.emit("account.updated", obj, account=account_id, previous=previous)
        return obj

    def fund(self, account_id: str, amount: int, currency: str) -> None:
        self.get("account", account_id)
        key = (account_id, currency.lower())
        self.balances[key] = self.balances.get(key, 0) + amount

    def _destination(self, account_id: str, param: str) -> Obj:
        obj = self.get("account", account_id, param)
        if obj["capabilities"].get("transfers") != "active":
            message = (
                f"Your destination account needs to have at least one of the following capabilities "
                f"enabled: transfers, crypto_transfers, legacy_payments ({account_id})"
            )
            raise DoubleError(400, message, param=param)
        return obj

    # --- payments ----------------------------------------------------------------------------

    def _pay(
        self,
        *,
        amount: int,
        currency: str,
        customer_id: str | None,
        card: str | None,
        destination: str | None,
        fee_amount: int | None,
        description: str | None,
        metadata: dict[str, str],
    ) -> Obj:
        """A confirmed PaymentIntent: its charge, Stripe's fee, the application fee and the
        transfer to the destination, with their events. Returns the intent (failed if declined)."""
        intent = o.payment_intent(
            now=self.now,
            amount=amount,
            currency=currency,
            customer_id=customer_id,
            payment_method_id=card,
            fee_amount=fee_amount,
            destination=destination,
            description=description,
            metadata=metadata,
        )
        self.put("payment_intent", intent)
        if card is None or card in self.declining_cards:
            failure = ("card_declined", "Your card was declined.")
            failed = self.put(
                "charge",
                o.charge(
                    now=self.now,
                    intent=intent,
                    transaction_id=None,
                    fee_id=None,
                    destination=destination,
                    failure=failure,
                ),
            )
            intent.update(
                status="requires_payment_method",
                latest_charge=failed["id"],
                last_payment_error={
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "generic_decline",
                    "message": failure[1],
                    "charge": failed["id"],
                },
            )
            self.emit("charge.failed", failed)
            self.emit("payment_intent.payment_failed", intent)
            return intent
        transaction = o.balance_transaction(
            now=self.now, amount=amount, fee=o.processing_fee(amount), currency=currency, source="pending"
        )
        charge = o.charge(
            now=self.now,
            intent=intent,
            transaction_id=transaction["id"],
            fee_id=None,
            destination=destination,
            failure=None,
        )
        transaction["source"] = charge["id"]
        self.put("balance_transaction", transaction)
        self.put("charge", charge)
        intent.update(status="succeeded", amount_received=amount, latest_charge=charge["id"])
        fee = None
        if destination:
            fee_value = fee_amount or 0
            key = (destination, currency)
            self.balances[key] = self.balances.get(key, 0) + amount - fee_value
            if fee_value:
                fee = self.put(
                    "application_fee",
                    o.application_fee(
                        now=self.now,
                        amount=fee_value,
                        currency=currency,
                        account_id=destination,
                        charge_id=charge["id"],
                    ),
                )
                charge["application_fee"] = fee["id"]
        self.emit("charge.succeeded", charge)
        self.emit("payment_intent.succeeded", intent)
        if fee is not None:
            self.emit("application_fee.created", fee)
        return intent

    def create_payment_intent(self, params: Obj) -> Obj:
        customer_id = params.get("customer")
        if customer_id:
            self.get("customer", customer_id, "customer")
        destination = (params.get("transfer_data") or {}).get("destination")
        if destination:
            self._destination(destination, "transfer_data[destination]")
        amount = as_int(params["amount"])
        if amount < 50:
            raise DoubleError(
                400, "Amount must be at least $0.50 usd", code="amount_too_small", param="amount"
            )
        if not as_bool(params.get("confirm", False)):
            raise DoubleError(400, "The double only confirms PaymentIntents at once.", param="confirm")
        fee = params.get("application_fee_amount")
        intent = self._pay(
            amount=amount,
            currency=str(params["currency"]).lower(),
            customer_id=customer_id,
            card=self._card_of(customer_id, params.get("payment_method")),
            destination=destination,
            fee_amount=as_int(fee) if fee is not None else None,
            description=params.get("description"),
            metadata=_meta(params),
        )
        if intent["status"] != "succeeded":
            error = dict(intent["last_payment_error"])
            error["payment_intent"] = self.render(intent)
            raise DoubleError(
                402, error.pop("message"), kind="card_error", code=error.pop("code"), extra=error
            )
        return intent

    def create_refund(self, params: Obj) -> Obj:
        if params.get("charge"):
            charge = self.get("charge", str(params["charge"]), "charge")
        else:
            intent = self.get("payment_intent", str(params.get("payment_intent", "")), "payment_intent")
            charge = self.get("charge", str(intent["latest_charge"]), "payment_intent")
        left = charge["amount"] - charge["amount_refunded"]
        amount = as_int(params.get("amount", left))
        if amount <= 0 or amount > left:
            raise DoubleError(
                400, f"Refund amount ({amount}) is greater than unrefunded amount ({left}).", param="amount"
            )
        refund = self.put(
            "refund", o.refund(now=self.now, charge_obj=charge, amount=amount, reason=params.get("reason"))
        )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        charge["refunds"]["data"].insert(0, refund)
        destination = (charge.get("transfer_data") or {}).get("destination")
        if destination and as_bool(params.get("reverse_transfer", False)):
            transferred = charge["amount"] - (charge["application_fee_amount"] or 0)
            key = (destination, charge["currency"])
            self.balances[key] -= transferred * amount // charge["amount"]
        self.emit("refund.created", refund)
        self.emit("charge.refunded", charge)
        return refund

    def create_payout(self, params: Obj, account_id: str | None) -> Obj:
        if account_id is None:
            raise DoubleError(400, "The double pays out connected accounts only (Stripe-Account header).")
        self.get("account", account_id)
        amount, currency = as_int(params["amount"]), str(params["currency"]).lower()
        available = self.balances.get((account_id, currency), 0)
        if amount > available:
            message = "You have insufficient funds in your Stripe account for this transfer."
            raise DoubleError(400, message, code="balance_insufficient")
        self.balances[(account_id, currency)] = available - amount
        obj = o.payout(
            now=self.now,
            amount=amount,
            currency=currency,
            metadata=_meta(params),
            description=params.get("description"),
        )
        self.payout_accounts[obj["id"]] = account_id
        self.put("payout", obj)
        self.emit("payout.created", obj, account=account_id)
        return obj

    def payout_of(self, payout_id: str, account_id: str | None) -> Obj:
        obj = self.get("payout", payout_id)
        if self.payout_accounts.get(payout_id) != account_id:
            raise missing("payout", payout_id)
        return obj

    # --- checkout ----------------------------------------------------------------------------

    def create_checkout_session(self, params: Obj) -> Obj:
        if params.get("mode") != "subscription":
            raise DoubleError(400, "The double hosts subscription checkouts only.", param="mode")
        customer = self.get("customer", str(params.get("customer", "")), "customer")
        lines = as_list(params.get("line_items"))
        if len(lines) != 1 or as_int(lines[0].get("quantity", 1)) != 1:
            raise DoubleError(400, "The double sells one price at a time.", param="line_items")
        price = self.get("price", str(lines[0].get("price", "")), "line_items[0][price]")
        data = params.get("subscription_data") or {}
        destination = (data.get("transfer_data") or {}).get("destination")
        if destination:
            self._destination(destination, "subscription_data[transfer_data][destination]")
        for required in ("success_url", "cancel_url"):
            if not params.get(required):
                raise DoubleError(400, f"Missing required param: {required}.", param=required)
        session = o.checkout_session(
            now=self.now,
            base_url=self.base_url,
            customer_id=customer["id"],
            email=customer["email"],
            currency=price["currency"],
            amount=price["unit_amount"],
            success_url=str(params["success_url"]),
            cancel_url=str(params["cancel_url"]),
            client_reference_id=params.get("client_reference_id"),
            metadata=_meta(params),
        )
        self.session_lines[session["id"]] = (price["id"], data)
        return self.put("checkout.session", session)

    def complete_checkout(self, session_id: str, card_token: str) -> Obj:
        """The fan pays on the hosted page: the card is saved, the subscription starts and its first
        invoice is paid; a declined card leaves the session open and starts nothing (402)."""
        session = self.get("checkout.session", session_id)
        if session["status"] != "open":
            raise DoubleError(400, f"Checkout session {session_id} is {session['status']}.")
        price_id, data = self.session_lines[session_id]
        card = self.attach_payment_method(card_token, {"customer": session["customer"]})["id"]
        percent = data.get("application_fee_percent")
        sub = self._start_subscription(
            customer_id=session["customer"],
            price=self.get("price", price_id),
            metadata=_meta(data),
            fee_percent=float(percent) if percent is not None else None,
            destination=(data.get("transfer_data") or {}).get("destination"),
            card=card,
        )
        if sub["status"] != "active":
            raise DoubleError(402, "Your card was declined.", kind="card_error", code="card_declined")
        session.update(
            status="complete", payment_status="paid", subscription=sub["id"], invoice=sub["latest_invoice"]
        )
        self.emit("checkout.session.completed", session)
        return session

    # --- subscriptions -------------------------------------------------------------------------

    def _start_subscription(
        self,
        *,
        customer_id: str,
        price: Obj,
        metadata: dict[str, str],
        fee_percent: float | None,
        destination: str | None,
        card: str,
    ) -> Obj:
        sub = o.subscription(
            now=self.now,
            customer_id=customer_id,
            currency=price["currency"],
            metadata=metadata,
            fee_percent=fee_percent,
            destination=destination,
            payment_method_id=card,
        )
        end = o.add_months(self.now, 1)
        item = o.subscription_item(
            now=self.now, subscription_id=sub["id"], price_obj=price, start=self.now, end=end
        )
        sub["items"]["data"].append(item)
        invoice = self._invoice(
            sub,
            "subscription_create",
            [(price, price["unit_amount"], f"1 x {price['id']}", False)],
            self.now,
            end,
        )
        paid = self._collect(invoice, sub)
        if not paid:
            # Checkout never starts a subscription whose first payment failed: nothing remains.
            del self.objects["invoice"][invoice["id"]]
            return sub
        sub["status"] = "active"
        self.put("subscription", sub)
        self.emit("customer.subscription.created", sub)
        self._emit_invoice(invoice)
        return sub

    def _invoice(
        self, sub: Obj, reason: str, lines: list[tuple[Obj, int, str, bool]], start: int, end: int
    ) -> Obj:
        customer = self.get("customer", sub["customer"])
        invoice = o.invoice(
            now=self.now,
            customer_id=customer["id"],
            email=customer["email"],
            subscription_obj=sub,
            reason=reason,
            period_start=start,
            period_end=end,
        )
        item = sub["items"]["data"][0]
        for price, amount, description, proration in lines:
            invoice["lines"]["data"].append(
                o.invoice_line(
                    invoice_id=invoice["id"],
                    subscription_id=sub["id"],
                    item_id=item["id"],
                    price_obj=price,
                    amount=amount,
                    description=description,
                    start=start,
                    end=end,
                    proration=proration,
                )
            )
        total = sum(line["amount"] for line in invoice["lines"]["data"])
        invoice.update(
            status="open",
            amount_due=max(total, 0),
            amount_remaining=max(total, 0),
            subtotal=total,
            subtotal_excluding_tax=total,
            total=total,
            total_excluding_tax=total,
            effective_at=self.now,
        )
        invoice["status_transitions"]["finalized_at"] = self.now
        sub["latest_invoice"] = invoice["id"]
        return self.put("invoice", invoice)

    def _collect(self, invoice: Obj, sub: Obj) -> bool:
        """Charge the invoice to the subscription's card; the destination gets the rest after
        the application fee (``application_fee_percent`` of the invoice total)."""
        amount = invoice["amount_due"]
        invoice.update(attempted=True, attempt_count=invoice["attempt_count"] + 1)
        if amount == 0:
            self._mark_paid(invoice, 0)
            return True
        destination = (sub.get("transfer_data") or {}).get("destination")
        percent = sub.get("application_fee_percent")
        fee = o.percent_of(amount, Decimal(str(percent))) if destination and percent is not None else None
        intent = self._pay(
            amount=amount,
            currency=invoice["currency"],
            customer_id=sub["customer"],
            card=self._card_of(sub["customer"], sub.get("default_payment_method")),
            destination=destination,
            fee_amount=fee,
            description=f"Subscription update for {invoice['id']}",
            metadata={},
        )
        invoice["payments"]["data"].append(
            o.invoice_payment(now=self.now, invoice_id=invoice["id"], intent=intent)
        )
        if intent["status"] != "succeeded":
            invoice["next_payment_attempt"] = self.now + 3 * 24 * 3600
            return False
        self._mark_paid(invoice, amount)
        return True

    def _mark_paid(self, invoice: Obj, amount: int) -> None:
        invoice.update(status="paid", amount_paid=amount, amount_remaining=0, next_payment_attempt=None)
        invoice["status_transitions"]["paid_at"] = self.now

    def _emit_invoice(self, invoice: Obj) -> None:
        self.emit("invoice.created", invoice)
        self.emit("invoice.finalized", invoice)
        if invoice["status"] == "paid":
            self.emit("invoice.paid", invoice)
            self.emit("invoice.payment_succeeded", invoice)
        else:
            self.emit("invoice.payment_failed", invoice)

    def _live_subscription(self, subscription_id: str) -> Obj:
        sub = self.get("subscription", subscription_id)
        if sub["status"] == "canceled":
            raise DoubleError(
                400, "A canceled subscription can only update its cancellation_details and metadata."
            )
        return sub

    def update_subscription(self, subscription_id: str, params: Obj) -> Obj:
        sub = self._live_subscription(subscription_id)
        changes_items = bool(params.get("items"))
        if sub["schedule"] and (changes_items or "cancel_at_period_end" in params):
            raise DoubleError(
                400,
                f"The subscription is managed by the subscription schedule `{sub['schedule']}`, and updating "
                "any cancelation behavior directly is not allowed. Please update the schedule instead.",
            )
        before = copy.deepcopy(sub)
        previous: Obj = {}
        if params.get("metadata") is not None:
            previous["metadata"] = dict(sub["metadata"])
            sub["metadata"].update(_meta(params))
        if params.get("default_payment_method"):
            self.get("payment_method", params["default_payment_method"], "default_payment_method")
            sub["default_payment_method"] = params["default_payment_method"]
        if "cancel_at_period_end" in params:
            self._cancel_at_period_end(sub, as_bool(params["cancel_at_period_end"]), previous)
        invoice = None
        if changes_items:
            invoice = self._change_price(sub, params)
            if invoice is not None and invoice["status"] != "paid":
                if params.get("payment_behavior") == "error_if_incomplete":
                    # The change is undone with its invoice: the fan stays where they were.
                    self.objects["subscription"][subscription_id] = before
                    invoice.update(status="void")
                    invoice["status_transitions"]["voided_at"] = self.now
                    raise DoubleError(402, "Your card was declined.", kind="card_error", code="card_declined")
                sub["status"] = "past_due"
            previous["items"] = before["items"]
        if previous:
            self.emit("customer.subscription.updated", sub, previous=previous)
        if invoice is not None:
            self._emit_invoice(invoice)
        return sub

    @staticmethod
    def _cancel_at_period_end(sub: Obj, wanted: bool, previous: Obj) -> None:  # noqa: FBT001
        if wanted != sub["cancel_at_period_end"]:
            previous["cancel_at_period_end"] = sub["cancel_at_period_end"]
            sub["cancel_at_period_end"] = wanted
            sub["cancel_at"] = sub["items"]["data"][0]["current_period_end"] if wanted else None

    def _change_price(self, sub: Obj, params: Obj) -> Obj | None:
        wanted = as_list(params["items"])
        item = sub["items"]["data"][0]
        if len(wanted) != 1 or wanted[0].get("id") != item["id"] or not wanted[0].get("price"):
            raise DoubleError(400, "The double changes the one item's price.", param="items")
        new_price = self.get("price", str(wanted[0]["price"]), "items[0][price]")
        old_price = item["price"]
        item["price"] = copy.deepcopy(new_price)
        behaviour = params.get("proration_behavior", "create_prorations")
        if behaviour not in {"always_invoice", "none", "create_prorations"}:
            raise DoubleError(400, f"Invalid proration_behavior: {behaviour}", param="proration_behavior")
        if behaviour != "always_invoice":
            return None  # no invoice now; pending prorations are not modelled
        start, end = item["current_period_start"], item["current_period_end"]
        left, total = max(end - self.now, 0), end - start
        unused = -o.percent_of(old_price["unit_amount"] * left, Decimal(100) / total) if total else 0
        remaining = o.percent_of(new_price["unit_amount"] * left, Decimal(100) / total) if total else 0
        invoice = self._invoice(
            sub,
            "subscription_update",
            [
                (old_price, unused, f"Unused time on {old_price['id']}", True),
                (new_price, remaining, f"Remaining time on {new_price['id']}", True),
            ],
            self.now,
            end,
        )
        self._collect(invoice, sub)
        return invoice

    def cancel_subscription(self, subscription_id: str) -> Obj:
        sub = self._live_subscription(subscription_id)
        if sub["schedule"]:
            self.release_schedule(sub["schedule"])
        self._end(sub)
        return sub

    def _end(self, sub: Obj) -> None:
        previous = {"status": sub["status"]}
        sub.update(status="canceled", canceled_at=self.now, ended_at=self.now, cancel_at_period_end=False)
        self.emit("customer.subscription.deleted", sub, previous=previous)

    # --- schedules ---------------------------------------------------------------------------

    def create_schedule(self, params: Obj) -> Obj:
        subscription_id = str(params.get("from_subscription", ""))
        sub = self._live_subscription(subscription_id)
        if sub["schedule"]:
            raise DoubleError(400, f"Subscription {subscription_id} already has a schedule attached.")
        obj = self.put("subscription_schedule", o.schedule(now=self.now, sub=sub))
        sub["schedule"] = obj["id"]
        self.emit("subscription_schedule.created", obj)
        return obj

    def update_schedule(self, schedule_id: str, params: Obj) -> Obj:
        obj = self.get("subscription_schedule", schedule_id)
        if obj["status"] not in {"active", "not_started"}:
            raise DoubleError(400, f"You cannot update a subscription schedule that is {obj['status']}.")
        if params.get("end_behavior"):
            obj["end_behavior"] = params["end_behavior"]
        if params.get("phases") is not None:
            obj["phases"] = self._phases(obj, as_list(params["phases"]))
        self.emit("subscription_schedule.updated", obj)
        return obj

    def _phases(self, schedule: Obj, wanted: list[Obj]) -> list[Obj]:
        current_start = schedule["phases"][0]["start_date"]
        template = schedule["phases"][0]
        phases: list[Obj] = []
        start = as_int(wanted[0].get("start_date", current_start)) if wanted else current_start
        if start != current_start:
            raise DoubleError(
                400, "You can not modify the start date of the current phase.", param="phases[0]"
            )
        for index, phase in enumerate(wanted):
            items = as_list(phase.get("items"))
            if len(items) != 1:
                raise DoubleError(
                    400, "The double schedules one item per phase.", param=f"phases[{index}][items]"
                )
            self.get("price", str(items[0].get("price", "")), f"phases[{index}][items][0][price]")
            if phase.get("end_date"):
                end = as_int(phase["end_date"])
            elif phase.get("duration"):
                duration = phase["duration"]
                if duration.get("interval") != "month":
                    raise DoubleError(
                        400, "The double counts phases in months.", param=f"phases[{index}][duration]"
                    )
                end = o.add_months(start, as_int(duration.get("interval_count", 1)))
            elif phase.get("iterations"):
                end = o.add_months(start, as_int(phase["iterations"]))
            else:
                raise DoubleError(
                    400, "Every phase needs an end_date, a duration or iterations.", param=f"phases[{index}]"
                )
            built = copy.deepcopy(template)
            built.update(
                start_date=start,
                end_date=end,
                items=[
                    {
                        "price": items[0]["price"],
                        "quantity": as_int(items[0].get("quantity", 1)),
                        "metadata": {},
                        "discounts": [],
                        "tax_rates": [],
                        "billing_thresholds": None,
                    }
                ],
                proration_behavior=phase.get("proration_behavior", "create_prorations"),
            )
            if phase.get("application_fee_percent") is not None:
                built["application_fee_percent"] = float(phase["application_fee_percent"])
            destination = (phase.get("transfer_data") or {}).get("destination")
            if destination:
                built["transfer_data"] = {"amount_percent": None, "destination": destination}
            phases.append(built)
            start = end
        return phases

    def release_schedule(self, schedule_id: str) -> Obj:
        obj = self.get("subscription_schedule", schedule_id)
        if obj["status"] not in {"active", "not_started"}:
            raise DoubleError(
                400, f"You cannot release a subscription schedule that is currently {obj['status']}."
            )
        sub = self.get("subscription", obj["subscription"])
        obj.update(
            status="released",
            released_at=self.now,
            released_subscription=sub["id"],
            subscription=None,
            current_phase=None,
        )
        sub["schedule"] = None
        self.emit("subscription_schedule.released", obj)
        return obj

    # --- the clock ---------------------------------------------------------------------------

    def advance_to(self, target: int) -> None:
        """Move the clock, renewing subscriptions and paying out payouts at their own moments."""
        while True:
            due = self._next_due(target)
            if due is None:
                break
            moment, action = due
            self.now = max(self.now, moment)
            action()
        self.now = max(self.now, target)

    def _next_due(self, target: int) -> tuple[int, Callable[[], None]] | None:
        found: list[tuple[int, str, Callable[[], None]]] = []
        for sub in self.objects.get("subscription", {}).values():
            end = sub["items"]["data"][0]["current_period_end"]
            if sub["status"] != "canceled" and end <= target:
                found.append((end, sub["id"], functools.partial(self._renew, sub)))
        found.extend(
            (payout["arrival_date"], payout["id"], functools.partial(self._arrive, payout))
            for payout in self.objects.get("payout", {}).values()
            if payout["status"] == "pending" and payout["arrival_date"] <= target
        )
        if not found:
            return None
        moment, _, action = min(found, key=lambda row: (row[0], row[1]))
        return moment, action

    def _renew(self, sub: Obj) -> None:
        item = sub["items"]["data"][0]
        start = item["current_period_end"]
        if sub["cancel_at_period_end"]:
            self._end(sub)
            return
        previous = {"items": copy.deepcopy(sub["items"]), "status": sub["status"]}
        self._enter_next_phase(sub, start)
        # Periods count whole months from the anchor, keeping its day where the month has it.
        anchor, months = sub["billing_cycle_anchor"], 1
        while o.add_months(anchor, months) <= start:
            months += 1
        end = o.add_months(anchor, months)
        item.update(current_period_start=start, current_period_end=end)
        price = item["price"]
        invoice = self._invoice(
            sub,
            "subscription_cycle",
            [(price, price["unit_amount"], f"1 x {price['id']}", False)],
            start,
            end,
        )
        sub["status"] = "active" if self._collect(invoice, sub) else "past_due"
        self.emit("customer.subscription.updated", sub, previous=previous)
        self._emit_invoice(invoice)

    def _enter_next_phase(self, sub: Obj, moment: int) -> None:
        if not sub["schedule"]:
            return
        schedule = self.get("subscription_schedule", sub["schedule"])
        upcoming = [p for p in schedule["phases"] if p["start_date"] == moment]
        if upcoming:
            phase = upcoming[0]
            sub["items"]["data"][0]["price"] = copy.deepcopy(self.get("price", phase["items"][0]["price"]))
            if phase.get("application_fee_percent") is not None:
                sub["application_fee_percent"] = phase["application_fee_percent"]
            if phase.get("transfer_data"):
                sub["transfer_data"] = copy.deepcopy(phase["transfer_data"])
            schedule["current_phase"] = {"start_date": phase["start_date"], "end_date": phase["end_date"]}
            self.emit("subscription_schedule.updated", schedule)
        elif all(p["end_date"] <= moment for p in schedule["phases"]):
            if schedule["end_behavior"] == "cancel":
                self._end(sub)
            else:
                self.release_schedule(schedule["id"])

    def _arrive(self, payout: Obj) -> None:
        payout["status"] = "paid"
        self.emit("payout.paid", payout, account=self.payout_accounts[payout["id"]])
