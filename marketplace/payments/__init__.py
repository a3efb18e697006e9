"""Payments: the gateway checkout talks to (local or Stripe), and the one webhook handler both report to."""
from __future__ import annotations

import hashlib
import hmac

from flask import Flask, current_app

from app.config import ConfigError

GATEWAYS = ("local", "stripe")


def webhook_secret(app: Flask | None = None) -> str:
    """The secret webhook events are signed with: Stripe's endpoint secret, or for the local gateway one
    derived from the app's secret key (so `make run` needs no setting)."""
    app = app or current_app
    secret = app.config.get("ENCORE_STRIPE_WEBHOOK_SECRET")
    if secret:
        return secret
    derived = hmac.new(app.config["SECRET_KEY"].encode(), b"encore-local-webhooks", hashlib.sha256).hexdigest()
    return f"whsec_local_{derived}"


def check_payment_config(config: dict) -> None:
    """Refuse a gateway that cannot work: an unknown name, Stripe without keys, the test gateway in production."""
    name = config.get("ENCORE_PAYMENT_GATEWAY")
    if name not in GATEWAYS:
        raise ConfigError(f"ENCORE_PAYMENT_GATEWAY is {name!r}: use one of {', '.join(GATEWAYS)}.")
    if name == "local" and config.get("ENCORE_ENV") == "production":
        raise ConfigError("ENCORE_PAYMENT_GATEWAY is local, a test-mode gateway that takes no money: "
                          "production needs ENCORE_PAYMENT_GATEWAY=stripe.")
    if name == "stripe":
        for key in ("ENCORE_STRIPE_SECRET_KEY", "ENCORE_STRIPE_WEBHOOK_SECRET"):
            if not config.get(key):
                raise ConfigError(f"ENCORE_PAYMENT_GATEWAY is stripe but {key} is not set.")


def build_gateway(app: Flask):
    name = app.config["ENCORE_PAYMENT_GATEWAY"]
    if name == "stripe":
        from marketplace.payments.stripe_gateway import StripeGateway

        return StripeGateway(app.config["ENCORE_STRIPE_SECRET_KEY"], app.config.get("ENCORE_STRIPE_API_BASE"))
    from marketplace.payments.local_gateway import LocalGateway

    return LocalGateway(app)


def get_gateway(app: Flask | None = None):
    """The configured gateway (built once per app; tests may swap app.config and call reset_gateway)."""
    app = app or current_app
    gateway = app.extensions.get("payment_gateway")
    if gateway is None or gateway.name != app.config["ENCORE_PAYMENT_GATEWAY"]:
        check_payment_config(app.config)
        gateway = app.extensions["payment_gateway"] = build_gateway(app)
    return gateway


def reset_gateway(app: Flask) -> None:
    app.extensions.pop("payment_gateway", None)


def init_app(app: Flask) -> None:
    from marketplace.payments import views

    check_payment_config(app.config)
    app.register_blueprint(views.bp)
