"""A local HTTP server that answers like Stripe's API, for driving the real `stripe` library in tests.

It speaks the parts Encore uses: Checkout Sessions and refunds, form-encoded nested params, `Bearer sk_test_`
keys, Stripe's error shape, and idempotency keys (a repeated key on the same path replays the stored answer,
and a repeated key with different params is refused as Stripe does). Switches make the next requests fail
(`fail_next`) or hang past the client's timeout (`hang_next`); `complete_session` plays the buyer paying, so
refunds have a PaymentIntent to refer to. Connect: transfers to connected accounts (`add_account` makes one
Stripe knows), account look-ups, and balance transactions with a fee (`add_balance_transaction`).
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest

ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 402: "card_error",
               404: "invalid_request_error", 409: "idempotency_error", 429: "invalid_request_error"}
ERROR_MESSAGES = {
    400: "Invalid request.",
    401: "Invalid API Key provided.",
    402: "Your card was declined.",
    404: "Unrecognized request URL.",
    409: "Another request with this idempotency key is in progress.",
    429: "Too many requests.",
}
CHECKOUT_SESSION_LIFETIME = 24 * 3600


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def parse_form(body: str) -> dict:
    """Stripe's nested form encoding (`a[b][0][c]=v`) as dicts, with lists where every key is an index."""
    root: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head, _, rest = key.partition("[")
        parts = [head] + (rest[:-1].split("][") if rest else [])
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def stripe_error(status: int, message: str | None = None, *, code: str | None = None,
                 param: str | None = None) -> dict:
    error = {
        "type": ERROR_TYPES.get(status, "api_error"),
        "message": message or ERROR_MESSAGES.get(status, "Something went wrong on Stripe's end."),
    }
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    if status == 402:
        error.setdefault("code", "card_declined")
        error["decline_code"] = "generic_decline"
    return {"error": error}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  #: names in lower case
    params: dict

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class FakeStripe:
    url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    sessions: dict[str, dict] = field(default_factory=dict)
    refunds: dict[str, dict] = field(default_factory=dict)
    payment_intents: dict[str, dict] = field(default_factory=dict)
    transfers: dict[str, dict] = field(default_factory=dict)
    accounts: dict[str, dict] = field(default_factory=dict)
    balance_transactions: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self):
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._idempotent: dict[tuple[str, str], tuple[dict, int, dict]] = {}
        self._failures: list[int] = []
        self._hangs: list[float] = []

    # switches

    def fail_next(self, status: int, count: int = 1) -> None:
        """Answer the next `count` requests with `status` and Stripe's error body; nothing is created."""
        with self.lock:
            self._failures.extend([status] * count)

    def hang_next(self, seconds: float, count: int = 1) -> None:
        """Hold the next `count` requests for `seconds` before handling them (as a slow Stripe still would)."""
        with self.lock:
            self._hangs.extend([seconds] * count)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.sessions.clear()
            self.refunds.clear()
            self.payment_intents.clear()
            self.transfers.clear()
            self.accounts.clear()
            self.balance_transactions.clear()
            self._idempotent.clear()
            self._failures.clear()
            self._hangs.clear()

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == path]

    # the buyer's side

    def complete_session(self, session_id: str) -> str:
        """The buyer pays a session: it becomes complete/paid with a new PaymentIntent; answers the PI id."""
        with self.lock:
            session = self.sessions[session_id]
            intent = {
                "id": new_id("pi"),
                "object": "payment_intent",
                "amount": session["amount_total"],
                "amount_received": session["amount_total"],
                "currency": session["currency"],
                "status": "succeeded",
                "metadata": dict(session["payment_intent_data_metadata"]),
                "amount_refunded": 0,
            }
            self.payment_intents[intent["id"]] = intent
            session.update(status="complete", payment_status="paid", payment_intent=intent["id"])
            return intent["id"]

    # Connect's side

    def add_account(self, account_id: str | None = None, payouts_enabled: bool = True) -> str:
        """A connected account Stripe knows; answers its id."""
        account_id = account_id or f"acct_1{secrets.token_hex(8)}"  # Stripe's shape: letters and digits only
        with self.lock:
            self.accounts[account_id] = {"id": account_id, "object": "account", "country": "CN",
                                         "payouts_enabled": payouts_enabled, "charges_enabled": True}
        return account_id

    def add_balance_transaction(self, fee: int, amount: int = 0, currency: str = "cny") -> str:
        """A balance transaction (what a charge left in the platform's balance) with the fee Stripe kept."""
        transaction_id = new_id("txn")
        with self.lock:
            self.balance_transactions[transaction_id] = {
                "id": transaction_id, "object": "balance_transaction", "amount": amount, "fee": fee,
                "net": amount - fee, "currency": currency, "type": "charge", "status": "available"}
        return transaction_id

    # endpoints: each answers (status, body)

    def _create_checkout_session(self, params: dict) -> tuple[int, dict]:
        lines = params.get("line_items") or []
        if params.get("mode") != "payment" or not lines:
            return 400, stripe_error(400, "Missing required param: line_items.", param="line_items")
        try:
            amounts = [(int(line["price_data"]["unit_amount"]), int(line.get("quantity", 1))) for line in lines]
            currencies = {line["price_data"]["currency"] for line in lines}
        except (KeyError, TypeError, ValueError):
            return 400, stripe_error(400, "Invalid line_items.", param="line_items")
        if len(currencies) != 1 or any(c != c.lower() for c in currencies):
            return 400, stripe_error(400, "Line items need one lower-case currency.", param="line_items")
        session_id = new_id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "amount_total": sum(unit * quantity for unit, quantity in amounts),
            "currency": currencies.pop(),
            "client_reference_id": params.get("client_reference_id"),
            "customer_email": params.get("customer_email"),
            "metadata": {k: v for k, v in (params.get("metadata") or {}).items() if v != ""},
            "payment_intent_data_metadata": (params.get("payment_intent_data") or {}).get("metadata") or {},
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "expires_at": int(time.time()) + CHECKOUT_SESSION_LIFETIME,
            "mode": params["mode"],
            "locale": params.get("locale"),
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "livemode": False,
        }
        self.sessions[session_id] = session
        return 200, {k: v for k, v in session.items() if k != "payment_intent_data_metadata"}

    def _create_refund(self, params: dict) -> tuple[int, dict]:
        intent = self.payment_intents.get(params.get("payment_intent", ""))
        if intent is None:
            return 400, stripe_error(400, f"No such payment_intent: '{params.get('payment_intent')}'",
                                     code="resource_missing", param="payment_intent")
        remaining = intent["amount_received"] - intent["amount_refunded"]
        amount = int(params.get("amount") or remaining)
        if remaining <= 0:
            return 400, stripe_error(400, "Charge has already been refunded.", code="charge_already_refunded")
        if amount > remaining:
            return 400, stripe_error(
                400, f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                param="amount")
        reason = params.get("reason")
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            return 400, stripe_error(400, "Invalid reason.", param="reason")
        intent["amount_refunded"] += amount
        refund = {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "reason": reason,
            "status": "succeeded",
            "metadata": params.get("metadata") or {},
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        return 200, refund

    def _create_transfer(self, params: dict) -> tuple[int, dict]:
        try:
            amount = int(params.get("amount", ""))
        except ValueError:
            return 400, stripe_error(400, "Invalid integer: amount.", param="amount")
        if amount <= 0:
            return 400, stripe_error(400, "Amount must be at least 1.", param="amount")
        currency = params.get("currency") or ""
        if not currency or currency != currency.lower():
            return 400, stripe_error(400, "Invalid currency.", param="currency")
        destination = params.get("destination", "")
        account = self.accounts.get(destination)
        if account is None:
            return 400, stripe_error(400, f"No such destination: '{destination}'", code="resource_missing",
                                     param="destination")
        if not account["payouts_enabled"]:
            return 400, stripe_error(400, "The destination account cannot receive transfers.",
                                     code="account_invalid", param="destination")
        transfer = {
            "id": new_id("tr"),
            "object": "transfer",
            "amount": amount,
            "currency": currency,
            "destination": destination,
            "metadata": params.get("metadata") or {},
            "transfer_group": params.get("transfer_group"),
            "reversed": False,
            "created": int(time.time()),
        }
        self.transfers[transfer["id"]] = transfer
        return 200, transfer

    def _retrieve(self, collection: dict, kind: str, object_id: str) -> tuple[int, dict]:
        found = collection.get(object_id)
        if found is None:
            return 404, stripe_error(404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id")
        return 200, found

    def _retrieve_account(self, _params: dict, account_id: str) -> tuple[int, dict]:
        return self._retrieve(self.accounts, "account", account_id)

    def _retrieve_balance_transaction(self, _params: dict, transaction_id: str) -> tuple[int, dict]:
        return self._retrieve(self.balance_transactions, "balance transaction", transaction_id)

    ROUTES = {
        ("POST", "/v1/checkout/sessions"): "_create_checkout_session",
        ("POST", "/v1/refunds"): "_create_refund",
        ("POST", "/v1/transfers"): "_create_transfer",
    }
    #: routes ending in an object's id: (method, path prefix) -> handler taking (params, id)
    OBJECT_ROUTES = {
        ("GET", "/v1/accounts/"): "_retrieve_account",
        ("GET", "/v1/balance_transactions/"): "_retrieve_balance_transaction",
    }

    def _route(self, method: str, path: str):
        route = self.ROUTES.get((method, path))
        if route is not None:
            return getattr(self, route), ()
        for (route_method, prefix), name in self.OBJECT_ROUTES.items():
            object_id = path[len(prefix):]
            if method == route_method and path.startswith(prefix) and object_id and "/" not in object_id:
                return getattr(self, name), (object_id,)
        return None, ()

    def transfer_count(self) -> int:
        with self.lock:
            return len(self.transfers)

    def handle(self, method: str, path: str, headers: dict[str, str], body: str) -> tuple[int, dict, dict]:
        """Answers (status, JSON body, extra headers) the way Stripe would."""
        params = parse_form(body)
        with self.lock:
            self.requests.append(RecordedRequest(method, path, headers, params))
            hang = self._hangs.pop(0) if self._hangs else 0
        if hang:
            self.stopping.wait(hang)
        with self.lock:
            if self._failures:
                status = self._failures.pop(0)
                return status, stripe_error(status), {}
            authorization = headers.get("authorization", "")
            if not authorization.startswith("Bearer sk_test_"):
                return 401, stripe_error(401, "Invalid API Key provided."), {}
            route, args = self._route(method, path)
            if route is None:
                return 404, stripe_error(404, f"Unrecognized request URL ({method}: {path})."), {}
            key = headers.get("idempotency-key")
            if key and (path, key) in self._idempotent:
                stored_params, status, stored = self._idempotent[(path, key)]
                if stored_params != params:
                    return 400, stripe_error(
                        400, "Keys for idempotent requests can only be used with the same parameters they were "
                        "first used with.", code="idempotency_key_in_use"), {}
                return status, stored, {"Idempotent-Replayed": "true"}
            status, answer = route(params, *args)
            if key:
                self._idempotent[(path, key)] = (params, status, answer)
            return status, answer, {}


def _serve(fake: FakeStripe) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self._answer()

        def do_POST(self):
            self._answer()

        def do_DELETE(self):
            self._answer()

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8") if length else ""
            path, _, query = self.path.partition("?")
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, answer, extra = fake.handle(self.command, path, headers, body or query)
            if fake.stopping.is_set():
                return
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout) before the answer came

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


@pytest.fixture
def fake_stripe():
    fake = FakeStripe()
    server = _serve(fake)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    # a short poll lets shutdown() return quickly at the end of each test
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-stripe", daemon=True)
    thread.start()
    yield fake
    fake.stopping.set()
    server.shutdown()
    server.server_close()


STRIPE_TEST_SECRET_KEY = "sk_test_encore_payouts"
STRIPE_TEST_WEBHOOK_SECRET = "whsec_test_encore_payouts"
_STRIPE_SETTINGS = ("ENCORE_PAYMENT_GATEWAY", "ENCORE_STRIPE_SECRET_KEY", "ENCORE_STRIPE_WEBHOOK_SECRET",
                    "ENCORE_STRIPE_API_BASE")


@pytest.fixture
def stripe_gateway_mode(app, fake_stripe):
    """The session app switched to the Stripe gateway (and Stripe payouts) talking to the local fake."""
    from marketplace.payments import reset_gateway

    saved = {key: app.config.get(key) for key in _STRIPE_SETTINGS}
    app.config.update(ENCORE_PAYMENT_GATEWAY="stripe", ENCORE_STRIPE_SECRET_KEY=STRIPE_TEST_SECRET_KEY,
                      ENCORE_STRIPE_WEBHOOK_SECRET=STRIPE_TEST_WEBHOOK_SECRET, ENCORE_STRIPE_API_BASE=fake_stripe.url)
    reset_gateway(app)
    yield fake_stripe
    app.config.update(saved)
    reset_gateway(app)
