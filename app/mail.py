"""Outgoing email, sent by Celery tasks: by SMTP when ENCORE_SMTP_HOST is set, else written as .eml files
to the outbox folder (ENCORE_OUTBOX_PATH).

Mail leaves after the request's commit: a view commits, then calls a `queue_*` function, which only
puts a task id-carrying message on the queue. The worker renders and writes the message.
"""
from __future__ import annotations

import logging
import os
import secrets
import smtplib
from email.charset import Charset
from email.header import Header
from email.message import EmailMessage, Message
from email.utils import formatdate, make_msgid
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
    message = _compose(current_app.config.get("ENCORE_MAIL_SENDER", DEFAULT_SENDER), to, subject, body)
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


#: UTF-8 text sent as it is (8bit, or 7bit when it is ASCII), as EmailMessage.set_content sends short lines
_UTF8_AS_IS = Charset("utf-8")
_UTF8_AS_IS.body_encoding = None
#: the longest line SMTP carries, in octets; a body with a longer one is sent base64-encoded
_MAX_LINE_OCTETS = 998


def _compose(sender: str, to: str, subject: str, body: str) -> Message:
    """The plain-text message. Built as a compat32 Message, which stores headers as given: EmailMessage parses
    and folds every header, which cost more than the rest of the fulfilment task's email. Addresses that are
    not ASCII (they need SMTPUTF8) go through EmailMessage, which knows how to write and send them."""
    date, message_id = formatdate(localtime=False, usegmt=True), make_msgid(domain="encore.example")
    if not (sender.isascii() and to.isascii()):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, to, subject
        message["Date"], message["Message-ID"] = date, message_id
        message.set_content(body)
        return message
    message = Message()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    message["Date"] = date
    message["Message-ID"] = message_id
    longest = max(map(len, body.encode().splitlines()), default=0)
    message.set_payload(body, _UTF8_AS_IS if longest <= _MAX_LINE_OCTETS else "utf-8")
    return message


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
