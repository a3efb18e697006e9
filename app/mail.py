"""Outgoing email, sent by Celery tasks: by SMTP when ENCORE_SMTP_HOST is set, else written as .eml files
to the outbox folder (ENCORE_OUTBOX_PATH).

Mail leaves after the request's commit: a view commits, then calls a `queue_*` function, which only
puts a task id-carrying message on the queue. The worker renders and writes the message.
"""
from __future__ import annotations

import email.policy
import logging
import os
import secrets
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import lru_cache
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from app.db import utcnow
from app.extensions import db
from app.tasks import celery_app

log = logging.getLogger(__name__)

DEFAULT_SENDER = "Encore <no-reply@encore.example>"


def send_email(to: str, subject: str, body: str) -> Path | str:
    """Send one plain-text message: by SMTP when configured (answers the Message-ID), else to the outbox
    folder (answers the file's path)."""
    message = EmailMessage()
    message["From"] = _sender_header(current_app.config.get("ENCORE_MAIL_SENDER", DEFAULT_SENDER))
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain="encore.example")
    message.set_content(body)
    if current_app.config.get("ENCORE_SMTP_HOST"):
        _send_smtp(message)
        return message["Message-ID"]
    outbox = Path(current_app.config["ENCORE_OUTBOX_PATH"])
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{utcnow():%Y%m%dT%H%M%S}-{secrets.token_hex(6)}.eml"
    tmp = path.with_suffix(".part")
    tmp.write_bytes(bytes(message))
    os.replace(tmp, path)  # a reader of the outbox never sees half a message
    return path


@lru_cache(maxsize=8)
def _sender_header(sender: str):
    """The From header parsed once: EmailMessage stores a header object of the same name as it is, while parsing
    the address again costs more than any other part of the message."""
    return email.policy.default.header_factory("From", sender)


def _send_smtp(message: EmailMessage) -> None:
    config = current_app.config
    with smtplib.SMTP(config["ENCORE_SMTP_HOST"], config["ENCORE_SMTP_PORT"], timeout=30) as smtp:
        if config.get("ENCORE_SMTP_STARTTLS"):
            smtp.starttls()
        if config.get("ENCORE_SMTP_USERNAME"):
            smtp.login(config["ENCORE_SMTP_USERNAME"], config.get("ENCORE_SMTP_PASSWORD") or "")
        smtp.send_message(message)


@celery_app.task(name="app.mail.deliver_email", ignore_result=True)
def deliver_email(to: str, subject: str, body: str) -> str:
    """Celery task: write a ready message to the outbox."""
    return str(send_email(to, subject, body))


@celery_app.task(name="app.mail.deliver_welcome_email", ignore_result=True)
def deliver_welcome_email(user_id: int) -> str | None:
    """Celery task: greet a new account in its own language; does nothing if the account is gone."""
    from app.accounts.models import User

    user = db.session.get(User, user_id)
    if user is None:
        return None
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = _("Welcome to Encore")
        body = _(
            "Hello %(name)s,\n\nyour Encore account %(email)s is ready. Browse sticker packs, merch, courses "
            "and studio setups from the streamers you follow.\n\nThe Encore team",
            name=user.display_name,
            email=user.email,
        )
    return str(send_email(user.email, subject, body))


def queue_welcome_email(user_id: int) -> bool:
    """Queue the welcome email; call after the registration is committed.

    A broker outage must not undo a registration that already happened, so a failure is logged
    and reported as False instead of raised.
    """
    try:
        deliver_welcome_email.delay(user_id)
    except Exception:  # the broker is down or refused the message
        log.exception("could not queue the welcome email for user %s", user_id)
        return False
    return True
