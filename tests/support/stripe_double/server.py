"""The Stripe double's HTTP side: Stripe's wire format, idempotency keys, injected faults, signed
webhook deliveries, and its own control endpoints under ``/_double/``.

- Requests are form-encoded with nested keys, as stripe-python sends them; answers are JSON, and
  errors are ``{"error": {"type", "message", "code", "param"}}`` with Stripe's statuses.
- ``Idempotency-Key``: the same key with the same parameters answers the first response again
  (``Idempotent-Replayed: true``) and makes nothing new; with other parameters it is a 400
  ``idempotency_error``. Keys are scoped per connected account, like Stripe's.
- Faults (``POST /_double/faults``): ``delay`` serves the request (the object exists, the answer is
  stored under its key) and then holds the answer past the client's timeout; ``error`` answers 500
  without doing anything.
- Webhooks: every event is signed like Stripe signs (``t=<unix>,v1=HMAC-SHA256(secret, "t.body")``)
  and POSTed to the configured URL in order, from a thread of its own; or captured for a test to
  deliver itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

import attrs
import httpx

from tests.support.stripe_double import objects as o
from tests.support.stripe_double.forms import as_bool, as_int, as_list, parse_form
from tests.support.stripe_double.state import DoubleError, StripeState

Obj = dict[str, Any]
DEFAULT_API_KEY = "sk_test_stripedouble"
DEFAULT_WEBHOOK_SECRET = "whsec_stripedouble"


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload``, computed as Stripe does."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


@attrs.define
class Fault:
    method: str
    path: str
    mode: str
    delay_s: float = 0.0
    remaining: int = 1


@attrs.frozen
class Delivery:
    event_id: str
    event_type: str
    status: int | None
    error: str = ""


class WebhookSender:
    """Delivers events one by one, in the order they happened; remembers what failed."""

    def __init__(self, url: str | None, secret: str, *, capture: bool) -> None:
        self.url = url
        self.secret = secret
        self.capture = capture or url is None
        self.captured: list[Obj] = []
        self.deliveries: list[Delivery] = []
        self.failed: list[Obj] = []
        self._queue: queue.Queue[Obj | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="stripe-double-webhooks", daemon=True)
        self._thread.start()

    def send(self, event: Obj) -> None:
        self._queue.put(event)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every event sent so far was delivered (or failed)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TimeoutError("webhook deliveries still pending")
            time.sleep(0.01)

    def redeliver_failed(self) -> int:
        again, self.failed = self.failed, []
        for event in again:
            self.send(event)
        return len(again)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with httpx.Client(timeout=30.0) as http:
            while True:
                event = self._queue.get()
                try:
                    if event is None:
                        return
                    self._deliver(http, event)
                finally:
                    self._queue.task_done()

    def _deliver(self, http: httpx.Client, event: Obj) -> None:
        if self.capture or self.url is None:
            self.captured.append(event)
            return
        payload = json.dumps(event, indent=2)
        headers = {"Content-Type": "application/json", "Stripe-Signature": sign(payload, self.secret)}
        try:
            response = http.post(self.url, content=payload.encode(), headers=headers)
        except httpx.HTTPError as error:
            self.deliveries.append(Delivery(event["id"], event["type"], None, str(error)))
            self.failed.append(event)
            return
        self.deliveries.append(
            Delivery(event["id"], event["type"], response.status_code, response.text[:500])
        )
        if not 200 <= response.status_code < 300:
            self.failed.append(event)


@attrs.define
class Call:
    method: str
    path: str
    params: Obj
    account: str | None
    match: re.Match[str]

    def arg(self, index: int = 1) -> str:
        return self.match.group(index)

    @property
    def expand(self) -> list[str]:
        return [str(p) for p in as_list(self.params.get("expand"))]


Handler = Callable[[StripeState, Call], Obj]


def _routes() -> list[tuple[str, re.Pattern[str], Handler]]:
    def show(kind: str) -> Handler:
        return lambda s, c: s.render(s.get(kind, c.arg()), c.expand)

    def made(create: Callable[[StripeState, Call], Obj]) -> Handler:
        return lambda s, c: s.render(create(s, c), c.expand)

    table: list[tuple[str, str, Handler]] = [
        ("POST", r"/v1/customers", made(lambda s, c: s.create_customer(c.params))),
        ("GET", r"/v1/customers/search", lambda s, c: s.search_customers(c.params)),
        (
            "GET",
            r"/v1/customers",
            lambda s, c: s.listing(
                "customer",
                c.params,
                lambda x: "email" not in c.params or x["email"] == c.params["email"],
                "/v1/customers",
            ),
        ),
        ("GET", r"/v1/customers/([^/]+)", show("customer")),
        ("POST", r"/v1/customers/([^/]+)", made(lambda s, c: s.update_customer(c.arg(), c.params))),
        (
            "POST",
            r"/v1/payment_methods/([^/]+)/attach",
            made(lambda s, c: s.attach_payment_method(c.arg(), c.params)),
        ),
        ("GET", r"/v1/payment_methods", lambda s, c: s.list_payment_methods(c.params)),
        ("GET", r"/v1/payment_methods/([^/]+)", show("payment_method")),
        ("POST", r"/v1/products", made(lambda s, c: s.create_product(c.params))),
        ("GET", r"/v1/products/([^/]+)", show("product")),
        ("POST", r"/v1/prices", made(lambda s, c: s.create_price(c.params))),
        ("GET", r"/v1/prices", lambda s, c: s.list_prices(c.params)),
        ("GET", r"/v1/prices/([^/]+)", show("price")),
        ("POST", r"/v1/accounts", made(lambda s, c: s.create_account(c.params))),
        ("GET", r"/v1/accounts", lambda s, c: s.listing("account", c.params, lambda _: True, "/v1/accounts")),
        ("GET", r"/v1/accounts/([^/]+)", show("account")),
        ("POST", r"/v1/account_links", lambda s, c: s.create_account_link(c.params)),
        ("POST", r"/v1/checkout/sessions", made(lambda s, c: s.create_checkout_session(c.params))),
        ("GET", r"/v1/checkout/sessions/([^/]+)", show("checkout.session")),
        ("GET", r"/v1/subscriptions/([^/]+)", show("subscription")),
        ("POST", r"/v1/subscriptions/([^/]+)", made(lambda s, c: s.update_subscription(c.arg(), c.params))),
        ("DELETE", r"/v1/subscriptions/([^/]+)", made(lambda s, c: s.cancel_subscription(c.arg()))),
        ("POST", r"/v1/subscription_schedules", made(lambda s, c: s.create_schedule(c.params))),
        ("GET", r"/v1/subscription_schedules/([^/]+)", show("subscription_schedule")),
        (
            "POST",
            r"/v1/subscription_schedules/([^/]+)",
            made(lambda s, c: s.update_schedule(c.arg(), c.params)),
        ),
        (
            "POST",
            r"/v1/subscription_schedules/([^/]+)/release",
            made(lambda s, c: s.release_schedule(c.arg())),
        ),
        ("GET", r"/v1/invoices/([^/]+)", show("invoice")),
        (
            "GET",
            r"/v1/invoices",
            lambda s, c: s.listing(
                "invoice",
                c.params,
                lambda x: (
                    x["parent"]["subscription_details"]["subscription"]
                    == c.params.get("subscription", x["parent"]["subscription_details"]["subscription"])
                ),
                "/v1/invoices",
            ),
        ),
        ("POST", r"/v1/payment_intents", made(lambda s, c: s.create_payment_intent(c.params))),
        ("GET", r"/v1/payment_intents/([^/]+)", show("payment_intent")),
        ("GET", r"/v1/charges/([^/]+)", show("charge")),
        ("POST", r"/v1/refunds", made(lambda s, c: s.create_refund(c.params))),
        ("GET", r"/v1/refunds/([^/]+)", show("refund")),
        ("GET", r"/v1/application_fees/([^/]+)", show("application_fee")),
        (
            "GET",
            r"/v1/application_fees",
            lambda s, c: s.listing(
                "application_fee",
                c.params,
                lambda x: x["charge"] == c.params.get("charge", x["charge"]),
                "/v1/application_fees",
            ),
        ),
        ("GET", r"/v1/balance_transactions/([^/]+)", show("balance_transaction")),
        ("POST", r"/v1/payouts", made(lambda s, c: s.create_payout(c.params, c.account))),
        ("GET", r"/v1/payouts/([^/]+)", lambda s, c: s.render(s.payout_of(c.arg(), c.account), c.expand)),
        (
            "GET",
            r"/v1/events/([^/]+)",
            lambda s, c: (
                next((e for e in s.events if e["id"] == c.arg()), None)
                or _raise(DoubleError(404, "No such event"))
            ),
        ),
        (
            "GET",
            r"/v1/events",
            lambda s, c: o.stripe_list(
                list(reversed(s.events))[: as_int(c.params.get("limit", 10))], "/v1/events"
            ),
        ),
    ]
    return [(method, re.compile(pattern + r"/?"), handler) for method, pattern, handler in table]


def _raise(error: Exception) -> Obj:
    raise error


_ROUTES = _routes()


@attrs.define
class _Stored:
    fingerprint: str
    status: int
    body: bytes


class StripeDouble:
    """The double on a free loopback port, in threads of this process. Use as a context manager."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        webhook_url: str | None = None,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        capture_webhooks: bool = False,
        now: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.webhooks = WebhookSender(webhook_url, webhook_secret, capture=capture_webhooks)
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self.state = StripeState(
            base_url=self.url, now=int(time.time()) if now is None else now, emit=self.webhooks.send
        )
        self.faults: list[Fault] = []
        self._stored: dict[tuple[str | None, str], _Stored] = {}
        #: (method, path, status, idempotency key) of every API request served, in order.
        self.requests: list[tuple[str, str, int, str | None]] = []
        self._thread = threading.Thread(target=self._server.serve_forever, name="stripe-double", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.webhooks.close()

    # --- serving -------------------------------------------------------------------------------

    def serve(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Obj, dict[str, str]]:
        """One API request: (status, JSON body, extra headers), and a delay to hold it, if any."""
        split = urlsplit(target)
        path = split.path
        if path.startswith("/_double/"):
            return self._control(method, path, json.loads(body or b"{}"))
        if headers.get("authorization") != f"Bearer {self.api_key}":
            error = DoubleError(401, "Invalid API Key provided", kind="invalid_request_error")
            return error.status, {"error": error.body}, {}
        encoded = body.decode() if method == "POST" else split.query
        try:
            params = parse_form(encoded)
        except ValueError as bad:
            return 400, {"error": DoubleError(400, str(bad)).body}, {}
        account = headers.get("stripe-account")
        key = headers.get("idempotency-key")
        fault = self._fault(method, path)
        if fault is not None and fault.mode == "error":
            return (
                500,
                {"error": {"type": "api_error", "message": "An unexpected error occurred (injected)."}},
                {},
            )
        status, answer, extra = self._idempotent(method, path, params, account, key)
        if fault is not None and fault.mode == "delay":
            extra["x-double-delay"] = str(fault.delay_s)
        if fault is not None and fault.mode == "drop":
            # Done, but the answer is lost: the connection closes before a byte of it is sent.
            extra["x-double-drop"] = "1"
        return status, answer, extra

    def _fault(self, method: str, path: str) -> Fault | None:
        with self.state.lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.method == method and path.startswith(fault.path):
                    fault.remaining -= 1
                    return fault
        return None

    def _idempotent(
        self, method: str, path: str, params: Obj, account: str | None, key: str | None
    ) -> tuple[int, Obj, dict[str, str]]:
        fingerprint = json.dumps([method, path, params], sort_keys=True)
        with self.state.lock:
            stored = self._stored.get((account, key)) if key and method != "GET" else None
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    message = (
                        "Keys for idempotent requests can only be used with the same parameters they were "
                        f"first used with. Try using a key other than '{key}' if you meant to execute a "
                        "different request."
                    )
                    return 400, {"error": {"type": "idempotency_error", "message": message}}, {}
                self.requests.append((method, path, stored.status, key))
                return stored.status, json.loads(stored.body), {"idempotent-replayed": "true"}
            self.state.request_key = key
            try:
                status, answer = 200, self._route(method, path, params, account)
            except DoubleError as error:
                status, answer = error.status, {"error": error.body}
            finally:
                self.state.request_key = None
            self.requests.append((method, path, status, key))
            if key and method != "GET" and status < 500:
                self._stored[(account, key)] = _Stored(fingerprint, status, json.dumps(answer).encode())
            return status, answer, {}

    def _route(self, method: str, path: str, params: Obj, account: str | None) -> Obj:
        for route_method, pattern, handler in _ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return handler(self.state, Call(method, path, params, account, match))
        raise DoubleError(404, f"Unrecognized request URL ({method}: {path}).")

    # --- control -------------------------------------------------------------------------------

    def _control(self, method: str, path: str, body: Obj) -> tuple[int, Obj, dict[str, str]]:
        parts = path.strip("/").split("/")[1:]
        try:
            if parts == ["webhooks", "flush"]:
                self.webhooks.flush(float(body.get("timeout_s", 30)))
                return 200, {"failed": [e["id"] for e in self.webhooks.failed]}, {}
            with self.state.lock:
                return 200, self._control_locked(method, parts, body), {}
        except DoubleError as error:
            return error.status, {"error": error.body}, {}

    def _control_locked(self, method: str, parts: list[str], body: Obj) -> Obj:  # noqa: C901, PLR0911, PLR0912
        state = self.state
        match method, parts:
            case "GET", ["health"]:
                return {"ok": True, "now": state.now}
            case "POST", ["clock"]:
                target = (
                    as_int(body["now"]) if "now" in body else state.now + as_int(body.get("advance_s", 0))
                )
                state.advance_to(target)
                return {"now": state.now}
            case "POST", ["checkout", "sessions", session_id, "complete"]:
                return state.render(
                    state.complete_checkout(session_id, str(body.get("payment_method", "pm_card_visa")))
                )
            case "POST", ["accounts", account_id, "onboard"]:
                return state.render(state.onboard(account_id))
            case "POST", ["accounts", account_id, "fund"]:
                state.fund(account_id, as_int(body["amount"]), str(body.get("currency", "usd")))
                return {"ok": True}
            case "GET", ["balances", account_id]:
                return {
                    currency: amount
                    for (acct, currency), amount in state.balances.items()
                    if acct == account_id
                }
            case "POST", ["customers", customer_id, "decline"]:
                cards = [
                    pm["id"]
                    for pm in state.objects.get("payment_method", {}).values()
                    if pm["customer"] == customer_id
                ]
                if as_bool(body.get("decline", True)):
                    state.declining_cards.update(cards)
                else:
                    state.declining_cards.difference_update(cards)
                return {"cards": cards}
            case "POST", ["faults"]:
                self.faults.append(
                    Fault(
                        str(body.get("method", "POST")),
                        str(body["path"]),
                        str(body["mode"]),
                        float(body.get("delay_s", 0)),
                        as_int(body.get("count", 1)),
                    )
                )
                return {"faults": len(self.faults)}
            case "DELETE", ["faults"]:
                self.faults.clear()
                return {"faults": 0}
            case "GET", ["objects", kind]:
                return {"data": list(state.objects.get(kind, {}).values())}
            case "GET", ["events"]:
                return {"data": state.events}
            case "POST", ["webhooks"]:
                if "url" in body:
                    self.webhooks.url = body["url"]
                if "secret" in body:
                    self.webhooks.secret = str(body["secret"])
                self.webhooks.capture = as_bool(body.get("capture", self.webhooks.url is None))
                return {"url": self.webhooks.url, "capture": self.webhooks.capture}
            case "POST", ["webhooks", "redeliver"]:
                return {"requeued": self.webhooks.redeliver_failed()}
        raise DoubleError(404, f"no control endpoint {method} /_double/{'/'.join(parts)}")


def _handler_for(double: StripeDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One write per answer, sent at once: split writes meet delayed ACKs (40 ms a request).
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer, extra = double.serve(self.command, self.path, headers, body)
            delay = float(extra.pop("x-double-delay", 0))
            if delay:
                time.sleep(delay)  # the client has given up by now; what it asked for exists
            if extra.pop("x-double-drop", None):
                self.close_connection = True
                with suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            payload = json.dumps(answer).encode()
            with suppress(OSError):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Request-Id", o.new_id("req", 14))
                self.send_header("Stripe-Version", o.API_VERSION)
                if "idempotency-key" in headers:
                    self.send_header("Idempotency-Key", headers["idempotency-key"])
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _serve  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            return

    return Handler


@contextmanager
def running_stripe_double(**options: Any) -> Iterator[StripeDouble]:
    with StripeDouble(**options) as double:
        yield double


class DoubleControl:
    """The double's control endpoints over HTTP, so a double in another process works the same."""

    def __init__(self, url: str) -> None:
        self._http = httpx.Client(base_url=f"{url}/_double", timeout=60.0)

    def _post(self, path: str, body: Obj | None = None) -> Obj:
        response = self._http.post(path, json=body or {})
        if response.status_code >= 400:
            raise DoubleControlError(response.status_code, response.json())
        answer: Obj = response.json()
        return answer

    def _get(self, path: str) -> Obj:
        response = self._http.get(path)
        response.raise_for_status()
        answer: Obj = response.json()
        return answer

    def complete_checkout(self, session_id: str, payment_method: str = "pm_card_visa") -> Obj:
        return self._post(f"/checkout/sessions/{session_id}/complete", {"payment_method": payment_method})

    def onboard(self, account_id: str) -> Obj:
        return self._post(f"/accounts/{account_id}/onboard")

    def fund(self, account_id: str, amount: int, currency: str = "usd") -> None:
        self._post(f"/accounts/{account_id}/fund", {"amount": amount, "currency": currency})

    def balance(self, account_id: str) -> dict[str, int]:
        return {k: int(v) for k, v in self._get(f"/balances/{account_id}").items()}

    def decline_cards_of(self, customer_id: str, *, decline: bool = True) -> None:
        self._post(f"/customers/{customer_id}/decline", {"decline": decline})

    def advance(self, seconds: int) -> int:
        return int(self._post("/clock", {"advance_s": seconds})["now"])

    def set_clock(self, now: int) -> int:
        return int(self._post("/clock", {"now": now})["now"])

    def fault(
        self, path: str, mode: str, *, method: str = "POST", delay_s: float = 0.0, count: int = 1
    ) -> None:
        self._post(
            "/faults", {"path": path, "mode": mode, "method": method, "delay_s": delay_s, "count": count}
        )

    def objects(self, kind: str) -> list[Obj]:
        return list(self._get(f"/objects/{kind}")["data"])

    def events(self) -> list[Obj]:
        return list(self._get("/events")["data"])

    def deliver_webhooks_to(self, url: str, secret: str | None = None) -> None:
        """POST every event from now on to ``url`` (signed with ``secret``, if given)."""
        body: Obj = {"url": url, "capture": False}
        if secret is not None:
            body["secret"] = secret
        self._post("/webhooks", body)

    def flush_webhooks(self) -> list[str]:
        return list(self._post("/webhooks/flush")["failed"])

    def redeliver_failed(self) -> int:
        return int(self._post("/webhooks/redeliver")["requeued"])

    def close(self) -> None:
        self._http.close()


class DoubleControlError(Exception):
    def __init__(self, status: int, body: Obj) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
