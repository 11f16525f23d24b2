"""``StripePaymentGateway``: Stripe Billing, Checkout and Connect, behind the payment roles
(``Charges``, ``PayoutSender``, ``ConnectedAccounts``, ``ProcessorReads``; ``SubscriptionBilling``
through ``StripeSubscriptionBilling``).

- A product per artist (its id derived from ours) and a price per tier version, found again by
  ``lookup_key = "{artist}:{tier}:v{version}"``; a customer per fan; an Express connected
  account per artist.
- Money moves as destination charges: the artist's connected account receives the payment and
  the platform keeps its fee as an application fee (``application_fee_percent`` on subscriptions,
  ``application_fee_amount`` on one-off charges). Stripe's processing fee is the platform's.
- Upgrades take effect at once with ``proration_behavior="always_invoice"``; downgrades go through
  a subscription schedule whose next phase starts at period end; cancellations set
  ``cancel_at_period_end``.
- Every mutating call sends a deterministic idempotency key: the caller's, or one derived from
  our ids. stripe-python's own retries (timeouts, 409, 5xx) resend the same key.

Ids Stripe gave us (customers, accounts) are remembered in memory and looked up at Stripe when a
fresh process has not seen them yet.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import stripe

from musicconnect.adapters.stripe import convert
from musicconnect.adapters.stripe.errors import translated
from musicconnect.adapters.stripe.webhooks import StripeWebhookVerifier
from musicconnect.domain.errors import Conflict, NotFound, PaymentFailed, ServiceUnavailable
from musicconnect.domain.money import PLATFORM_FEE_PERCENT, Money, split_revenue
from musicconnect.domain.payments import ChargeResult, PayoutResult, PayoutStatus, ProcessorLink
from musicconnect.domain.tiers import TierPlan
from musicconnect.ports.payments import (
    ApplicationFeeSnapshot,
    ChargeSnapshot,
    CheckoutSession,
    ConnectedAccount,
    ForeignObject,
    GatewayEvent,
    InvoiceSnapshot,
    OnboardingLink,
    PayoutSnapshot,
    SubscriptionSnapshot,
)

if TYPE_CHECKING:
    # Typed request params: mypy checks every call's names and literals against Stripe's schema.
    # Only for the checker: at run time they are plain dicts, and importing them costs a second.
    from stripe.params import (
        AccountCreateParams,
        CustomerCreateParams,
        PaymentIntentCreateParams,
        PriceCreateParams,
        ProductCreateParams,
        SubscriptionScheduleUpdateParamsPhase,
        SubscriptionUpdateParams,
    )
    from stripe.params.checkout import SessionCreateParams

Json = Mapping[str, Any]

#: What fetch_subscription asks Stripe to embed: the schedule's next phase names the next price.
_SUBSCRIPTION_EXPAND: Final = ["schedule.phases.items.price"]
_INVOICE_EXPAND: Final = ["payments.data.payment.payment_intent"]
_CHARGE_EXPAND: Final = [
    "balance_transaction",
    "application_fee",
    "refunds",
    "customer",
    "transfer_data.destination",
]


def _json(obj: stripe.StripeObject) -> dict[str, Any]:
    return obj.to_dict()


def _options(idempotency_key: str, *, account: str | None = None) -> stripe.RequestOptions:
    options: stripe.RequestOptions = {"idempotency_key": idempotency_key}
    if account is not None:
        options["stripe_account"] = account
    return options


class StripePaymentGateway:
    """Stripe's side of every payment role. ``api_base`` points it at a test double."""

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        webhook_secret: str | Sequence[str] | None = None,
        platform_fee_percent: int = PLATFORM_FEE_PERCENT,
        account_country: str = "US",
        timeout_s: float = 30.0,
        max_network_retries: int = 2,
    ) -> None:
        # Built here, not at import: nothing connects until a call is made.
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base, "connect": api_base, "files": api_base} if api_base else None,
            http_client=stripe.RequestsClient(timeout=timeout_s),
            max_network_retries=max_network_retries,
        )
        self._fee_percent = platform_fee_percent
        self._country = account_country
        self._verifier = StripeWebhookVerifier(webhook_secret) if webhook_secret else None
        self._lock = threading.Lock()
        self._customers: dict[str, str] = {}
        self._prices: dict[str, str] = {}
        self._products: set[str] = set()
        self._accounts: dict[str, ConnectedAccount] = {}
        self._artists_by_account: dict[str, str] = {}

    @property
    def client(self) -> stripe.StripeClient:
        """The underlying client, for what the port does not cover (smoke tests, scripts)."""
        return self._client

    # --- webhooks ---------------------------------------------------------------------------------

    @property
    def verifies_webhooks(self) -> bool:
        return self._verifier is not None

    def verify_event(self, payload: bytes, signature_header: str | None) -> GatewayEvent:
        """The event a webhook delivered, if Stripe signed it; SignatureInvalid otherwise."""
        if self._verifier is None:
            raise RuntimeError("no webhook secret configured")
        return self._verifier.verify(payload, signature_header)

    # --- parties ----------------------------------------------------------------------------------

    def ensure_customer(self, *, fan_id: str, email: str) -> str:
        found = self._customer_of(fan_id)
        if found is not None:
            return found
        params: CustomerCreateParams = {"email": email, "metadata": {convert.FAN_ID: fan_id}}
        with translated("creating the fan's customer"):
            customer = self._client.v1.customers.create(params, _options(f"customer:{fan_id}"))
        with self._lock:
            self._customers[fan_id] = customer.id
        return customer.id

    def remember_account(self, link: ProcessorLink) -> None:
        """The artist's connected account as we stored it; one not ready yet is re-read when used."""
        with self._lock:
            known = link.owner_id in self._accounts
        if not known:
            self._remember(
                ConnectedAccount(
                    artist_id=link.owner_id,
                    external_ref=link.external_ref,
                    transfers_enabled=link.ready,
                    payouts_enabled=link.ready,
                    details_submitted=link.ready,
                )
            )

    def remember_customer(self, *, fan_id: str, customer_ref: str) -> None:
        """The fan's customer as we stored it, so this process need not search Stripe for it."""
        with self._lock:
            self._customers.setdefault(fan_id, customer_ref)

    def _customer_of(self, fan_id: str) -> str | None:
        with self._lock:
            if fan_id in self._customers:
                return self._customers[fan_id]
        quoted = fan_id.replace("\\", "\\\\").replace("'", "\\'")
        with translated("looking up the fan's customer"):
            found = self._client.v1.customers.search(
                {"query": f"metadata['{convert.FAN_ID}']:'{quoted}'", "limit": 1}
            )
        if not found.data:
            return None
        with self._lock:
            self._customers[fan_id] = found.data[0].id
        return found.data[0].id

    def _ensure_product(self, artist_id: str, artist_name: str) -> str:
        product_id = f"mc_artist_{artist_id}"
        with self._lock:
            if product_id in self._products:
                return product_id
        try:
            with translated("reading the artist's product"):
                self._client.v1.products.retrieve(product_id)
        except NotFound:
            params: ProductCreateParams = {
                "id": product_id,
                "name": f"{artist_name} on Music Connect",
                "metadata": {convert.ARTIST_ID: artist_id},
            }
            with translated("creating the artist's product"):
                self._client.v1.products.create(params, _options(f"product:{artist_id}"))
        with self._lock:
            self._products.add(product_id)
        return product_id

    def ensure_price(self, *, artist_id: str, artist_name: str, plan: TierPlan) -> str:
        key = convert.lookup_key(artist_id, plan.tier, plan.version)
        with self._lock:
            if key in self._prices:
                return self._prices[key]
        with translated("looking up the tier's price"):
            found = self._client.v1.prices.list({"lookup_keys": [key], "limit": 1})
        if found.data:
            price_id = found.data[0].id
        else:
            params: PriceCreateParams = {
                "product": self._ensure_product(artist_id, artist_name),
                "currency": plan.price.currency.lower(),
                "unit_amount": plan.price.amount_minor,
                "recurring": {"interval": "month"},
                "lookup_key": key,
                "nickname": f"{plan.tier} v{plan.version}",
                "metadata": {
                    convert.ARTIST_ID: artist_id,
                    convert.TIER: str(plan.tier),
                    convert.PLAN_VERSION: str(plan.version),
                },
            }
            with translated("creating the tier's price"):
                price_id = self._client.v1.prices.create(params, _options(f"price:{key}")).id
        with self._lock:
            self._prices[key] = price_id
        return price_id

    def _remember(self, account: ConnectedAccount) -> ConnectedAccount:
        with self._lock:
            self._accounts[account.artist_id] = account
            self._artists_by_account[account.external_ref] = account.artist_id
        return account

    def create_connected_account(self, *, artist_id: str, email: str) -> ConnectedAccount:
        found = self.connected_account(artist_id)
        if found is not None:
            return found
        params: AccountCreateParams = {
            "type": "express",
            "country": self._country,
            "email": email,
            "capabilities": {"transfers": {"requested": True}},
            # Our monthly payout run decides when money leaves: Stripe must not sweep it daily.
            "settings": {"payouts": {"schedule": {"interval": "manual"}}},
            "metadata": {convert.ARTIST_ID: artist_id},
        }
        with translated("creating the artist's connected account"):
            account = self._client.v1.accounts.create(params, _options(f"account:{artist_id}"))
        return self._remember(convert.connected_account(_json(account)))

    def connected_account(self, artist_id: str) -> ConnectedAccount | None:
        with self._lock:
            if artist_id in self._accounts:
                return self._accounts[artist_id]
        # Accounts cannot be searched by metadata: a fresh process pages through them once.
        with translated("looking up the artist's connected account"):
            for account in self._client.v1.accounts.list({"limit": 100}).auto_paging_iter():
                if convert.metadata(_json(account)).get(convert.ARTIST_ID) == artist_id:
                    return self._remember(convert.connected_account(_json(account)))
        return None

    def _artist_of_account(self, account_ref: str) -> str:
        with self._lock:
            if account_ref in self._artists_by_account:
                return self._artists_by_account[account_ref]
        return self.refresh_account(account_ref).artist_id

    def onboarding_link(
        self, *, artist_id: str, refresh_url: str, return_url: str, idempotency_key: str
    ) -> OnboardingLink:
        account = self.connected_account(artist_id)
        if account is None:
            raise NotFound(f"artist {artist_id} has no connected account")
        with translated("creating the onboarding link"):
            link = self._client.v1.account_links.create(
                {
                    "account": account.external_ref,
                    "refresh_url": refresh_url,
                    "return_url": return_url,
                    "type": "account_onboarding",
                },
                _options(idempotency_key),
            )
        return OnboardingLink(url=link.url, expires_at=convert.moment(link.expires_at))

    def refresh_account(self, account_ref: str) -> ConnectedAccount:
        with translated("reading the connected account"):
            account = self._client.v1.accounts.retrieve(account_ref)
        return self._remember(convert.connected_account(_json(account)))

    def _receiving_account(self, artist_id: str) -> ConnectedAccount | None:
        """The artist's account if Stripe may route money to it now, else None."""
        account = self.connected_account(artist_id)
        if account is not None and not account.transfers_enabled:
            # A remembered "not yet" is re-read: onboarding may have finished since.
            account = self.refresh_account(account.external_ref)
        return account if account is not None and account.transfers_enabled else None

    # --- one-off money ----------------------------------------------------------------------------

    def _payment_method_of(self, customer: str) -> str | None:
        with translated("reading the fan's payment method"):
            found = self._client.v1.customers.retrieve(customer)
            default = convert.ref((_json(found).get("invoice_settings") or {}).get("default_payment_method"))
            if default:
                return default
            cards = self._client.v1.payment_methods.list({"customer": customer, "type": "card", "limit": 1})
        return cards.data[0].id if cards.data else None

    def charge(
        self,
        *,
        fan_id: str,
        artist_id: str,
        amount: Money,
        description: str,
        idempotency_key: str,
    ) -> ChargeResult:
        customer = self._customer_of(fan_id)
        payment_method = self._payment_method_of(customer) if customer else None
        if customer is None or payment_method is None:
            raise PaymentFailed("the fan has no card on file")
        account = self._receiving_account(artist_id)
        if account is None:
            raise PaymentFailed("the artist has not finished setting up payouts yet")
        fee = split_revenue(amount, self._fee_percent).platform
        params: PaymentIntentCreateParams = {
            "amount": amount.amount_minor,
            "currency": amount.currency.lower(),
            "customer": customer,
            "payment_method": payment_method,
            "confirm": True,
            "off_session": True,
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "application_fee_amount": fee.amount_minor,
            "transfer_data": {"destination": account.external_ref},
            "description": description,
            "metadata": {convert.FAN_ID: fan_id, convert.ARTIST_ID: artist_id},
            "expand": ["latest_charge.balance_transaction"],
        }
        with translated("charging the fan"):
            intent = _json(self._client.v1.payment_intents.create(params, _options(idempotency_key)))
        charge = convert.expanded(intent.get("latest_charge"))
        if intent.get("status") != "succeeded" or charge is None:
            raise PaymentFailed(f"the payment needs the fan's action ({intent.get('status')})")
        transaction = convert.expanded(charge.get("balance_transaction")) or {}
        return ChargeResult(
            charge_id=str(charge["id"]),
            gross=amount,
            processor_fee=convert.money(transaction.get("fee", 0), amount.currency),
        )

    def pay_out(
        self, *, artist_id: str, amount: Money, idempotency_key: str, account_ref: str | None = None
    ) -> PayoutResult:
        destination = account_ref
        if destination is None:
            account = self.connected_account(artist_id)
            if account is None:
                raise PaymentFailed("the artist has no connected account to pay out to")
            destination = account.external_ref
        with translated("paying the artist out"):
            payout = self._client.v1.payouts.create(
                {
                    "amount": amount.amount_minor,
                    "currency": amount.currency.lower(),
                    "metadata": {convert.ARTIST_ID: artist_id},
                },
                _options(idempotency_key, account=destination),
            )
        return PayoutResult(
            payout_id=payout.id,
            amount=convert.money(payout.amount, payout.currency),
            status=PayoutStatus.parse(payout.status),
        )

    # --- subscriptions ----------------------------------------------------------------------------

    def start_checkout(
        self,
        *,
        fan_id: str,
        fan_email: str,
        artist_id: str,
        artist_name: str,
        plan: TierPlan,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
        subscription_id: str | None = None,
    ) -> CheckoutSession:
        account = self._receiving_account(artist_id)
        if account is None:
            raise Conflict("the artist cannot take payments until they finish setting up payouts")
        price = self.ensure_price(artist_id=artist_id, artist_name=artist_name, plan=plan)
        customer = self.ensure_customer(fan_id=fan_id, email=fan_email)
        parties = {convert.FAN_ID: fan_id, convert.ARTIST_ID: artist_id}
        if subscription_id is not None:
            parties[convert.SUBSCRIPTION_ID] = subscription_id
        params: SessionCreateParams = {
            "mode": "subscription",
            "customer": customer,
            "line_items": [{"price": price, "quantity": 1}],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": fan_id,
            "metadata": parties,
            "subscription_data": {
                "application_fee_percent": float(self._fee_percent),
                "transfer_data": {"destination": account.external_ref},
                "metadata": parties,
            },
        }
        with translated("starting checkout"):
            session = self._client.v1.checkout.sessions.create(params, _options(idempotency_key))
        if not session.url:
            raise ServiceUnavailable("Stripe returned a checkout session without a payment page")
        return CheckoutSession(id=session.id, url=session.url)

    def _subscription_json(self, external_ref: str, expand: list[str]) -> dict[str, Any]:
        with translated("reading the subscription"):
            return _json(self._client.v1.subscriptions.retrieve(external_ref, {"expand": expand}))

    def _release_schedule(self, subscription: Json, key: str) -> None:
        schedule = subscription.get("schedule")
        status = (convert.expanded(schedule) or {}).get("status", "active")
        schedule_id = convert.ref(schedule)
        if schedule_id and status in {"active", "not_started"}:
            with translated("releasing the subscription's schedule"):
                self._client.v1.subscription_schedules.release(
                    schedule_id, options=_options(f"{key}:release")
                )

    def change_subscription_tier(
        self,
        *,
        external_ref: str,
        artist_id: str,
        artist_name: str,
        plan: TierPlan,
        at_period_end: bool,
        idempotency_key: str,
    ) -> SubscriptionSnapshot:
        price = self.ensure_price(artist_id=artist_id, artist_name=artist_name, plan=plan)
        subscription = self._subscription_json(external_ref, ["schedule"])
        item = subscription["items"]["data"][0]
        # A schedule owns the subscription's items and cancellation: let go of it before any change.
        self._release_schedule(subscription, idempotency_key)
        if not at_period_end:
            update: SubscriptionUpdateParams = {
                "items": [{"id": item["id"], "price": price}],
                "proration_behavior": "always_invoice",
                # Declined means not upgraded: the change and its invoice are undone together.
                "payment_behavior": "error_if_incomplete",
                "cancel_at_period_end": False,
            }
            with translated("upgrading the subscription"):
                self._client.v1.subscriptions.update(external_ref, update, _options(idempotency_key))
        else:
            if subscription.get("cancel_at_period_end"):
                with translated("keeping the subscription"):
                    self._client.v1.subscriptions.update(
                        external_ref, {"cancel_at_period_end": False}, _options(f"{idempotency_key}:keep")
                    )
            if item["price"]["id"] != price:
                self._schedule_price(subscription, price, idempotency_key)
        return self.fetch_subscription(external_ref)

    def _schedule_price(self, subscription: Json, price: str, key: str) -> None:
        """The current price until period end, then ``price``; the schedule releases itself after."""
        with translated("scheduling the tier change"):
            schedule = _json(
                self._client.v1.subscription_schedules.create(
                    {"from_subscription": str(subscription["id"])}, _options(f"{key}:schedule")
                )
            )
        current = schedule["phases"][0]
        fee = float(self._fee_percent)
        until_period_end: SubscriptionScheduleUpdateParamsPhase = {
            "items": [{"price": convert.ref(current["items"][0]["price"]) or price, "quantity": 1}],
            "start_date": int(current["start_date"]),
            "end_date": int(current["end_date"]),
            "application_fee_percent": fee,
        }
        after: SubscriptionScheduleUpdateParamsPhase = {
            "items": [{"price": price, "quantity": 1}],
            "duration": {"interval": "month", "interval_count": 1},
            "proration_behavior": "none",
            "application_fee_percent": fee,
        }
        destination = convert.ref((subscription.get("transfer_data") or {}).get("destination"))
        if destination:
            until_period_end["transfer_data"] = {"destination": destination}
            after["transfer_data"] = {"destination": destination}
        phases = [until_period_end, after]
        with translated("scheduling the tier change"):
            self._client.v1.subscription_schedules.update(
                str(schedule["id"]),
                {"end_behavior": "release", "phases": phases},
                _options(f"{key}:phases"),
            )

    def cancel_at_period_end(self, *, external_ref: str, idempotency_key: str) -> SubscriptionSnapshot:
        subscription = self._subscription_json(external_ref, ["schedule"])
        self._release_schedule(subscription, idempotency_key)
        with translated("cancelling the subscription"):
            self._client.v1.subscriptions.update(
                external_ref, {"cancel_at_period_end": True}, _options(idempotency_key)
            )
        return self.fetch_subscription(external_ref)

    def fetch_subscription(self, external_ref: str) -> SubscriptionSnapshot:
        return convert.subscription_snapshot(
            self._subscription_json(external_ref, list(_SUBSCRIPTION_EXPAND))
        )

    def fetch_invoice(self, external_ref: str) -> InvoiceSnapshot:
        with translated("reading the invoice"):
            invoice = _json(
                self._client.v1.invoices.retrieve(external_ref, {"expand": list(_INVOICE_EXPAND)})
            )
        fan, artist = convert.invoice_parties(invoice)
        subscription_ref = convert.invoice_subscription_ref(invoice)
        if (fan is None or artist is None) and subscription_ref:
            subscription = self.fetch_subscription(subscription_ref)
            fan, artist = subscription.fan_id, subscription.artist_id
        if fan is None or artist is None:
            raise ForeignObject(f"invoice {external_ref} is not for a Music Connect subscription")
        return convert.invoice_snapshot(invoice, fan_id=fan, artist_id=artist)

    def fetch_charge(self, external_ref: str) -> ChargeSnapshot:
        with translated("reading the charge"):
            charge = _json(self._client.v1.charges.retrieve(external_ref, {"expand": list(_CHARGE_EXPAND)}))
        fan, artist = convert.charge_parties(charge)
        if fan is None or artist is None:
            raise ForeignObject(f"charge {external_ref} is not a Music Connect payment")
        return convert.charge_snapshot(charge, fan_id=fan, artist_id=artist)

    def fetch_application_fee(self, external_ref: str) -> ApplicationFeeSnapshot:
        with translated("reading the application fee"):
            fee = self._client.v1.application_fees.retrieve(external_ref)
        return convert.application_fee_snapshot(_json(fee))

    def fetch_payout(self, external_ref: str, *, account_ref: str | None = None) -> PayoutSnapshot:
        options: stripe.RequestOptions = {"stripe_account": account_ref} if account_ref else {}
        with translated("reading the payout"):
            payout = _json(self._client.v1.payouts.retrieve(external_ref, options=options))
        artist = convert.metadata(payout).get(convert.ARTIST_ID)
        if artist is None and account_ref:
            artist = self._artist_of_account(account_ref)
        if artist is None:
            raise ForeignObject(f"payout {external_ref} is not a Music Connect payout")
        return convert.payout_snapshot(payout, artist_id=artist)
