"""Order emails: the confirmation once per paid order and a notice per refund, in the buyer's language, written to
the outbox folder or delivered to a real SMTP server on 127.0.0.1; the last test runs them on a real worker."""
from __future__ import annotations

import email
import email.policy
import socket
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app.extensions import db
from app.mail import deliver_email
from marketplace.orders import tasks
from marketplace.orders.models import Order, OrderEmail, Refund
from tests.api_support import bearer_for
from tests.order_support import add
from tests.shipping_support import ADDRESS, ships_free
from tests.worker_support import worker  # noqa: F401  (fixture; used by the last test only)

ENGLISH_SUBJECT = "Your Encore order {number} is paid"


@pytest.fixture
def outbox(app, tmp_path):
    """A fresh outbox folder for this test."""
    saved = app.config["ENCORE_OUTBOX_PATH"]
    app.config["ENCORE_OUTBOX_PATH"] = str(tmp_path / "outbox")
    yield tmp_path / "outbox"
    app.config["ENCORE_OUTBOX_PATH"] = saved


@pytest.fixture
def fan(make):
    return make.user(email="mei@example.com", display_name="Mei")


@pytest.fixture
def headers(make, fan):
    return bearer_for(make, fan)


def published(make, owner=None, kind="course", amount=1200, **data):
    listing = make.listing(owner or make.streamer(), status="published", kind=kind,
                           prices=[{"currency": "CNY", "amount": amount}], **data)
    return ships_free(listing) if kind == "merch" else listing


def place(client, headers, language: str | None = None, **body) -> dict:
    sent = {**headers, "Accept-Language": language} if language else headers
    response = client.post("/api/v1/orders", json={"currency": "CNY", "shipping_address": ADDRESS, **body}, headers=sent)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def pay(client, order: dict) -> None:
    """The buyer presses Pay on the local test-mode pay page."""
    paid = client.post(order["payment_url"], data={"action": "pay"})
    assert paid.status_code == 302


def messages_in(folder: Path) -> list[email.message.EmailMessage]:
    files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in files]


def wait_for_messages(folder: Path, count: int, timeout: float = 10.0) -> list[email.message.EmailMessage]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = messages_in(folder)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"expected {count} message(s) in {folder} within {timeout}s, found {len(messages_in(folder))}")


def order_link(app, number: str) -> str:
    return f"{app.config['ENCORE_PUBLIC_URL']}/orders/{number}"


# ---------------------------------------------------------------- the confirmation

def test_paying_writes_one_confirmation_with_the_lines_total_and_a_link(client, make, headers, app, outbox):
    seller = make.streamer()
    coupon = client.post("/api/v1/coupons", headers=bearer_for(make, seller),
                         json={"code": "MEI10", "kind": "percent", "percent_bp": 1000})
    assert coupon.status_code == 201, coupon.get_json()
    add(client, headers, published(make, seller, title="Lighting 101"))
    add(client, headers, published(make, seller, kind="merch", title="Glow hoodie", amount=2500), quantity=2)
    order = place(client, headers, coupon="MEI10")
    assert messages_in(outbox) == []  # nothing before the money arrives

    pay(client, order)

    [message] = messages_in(outbox)
    assert message["To"] == "mei@example.com"
    assert message["Subject"] == ENGLISH_SUBJECT.format(number=order["number"])
    body = message.get_content()
    assert "Hello Mei," in body
    assert "- Lighting 101 x 1: CN¥10.80" in body
    assert "- Glow hoodie x 2: CN¥45.00" in body
    assert "Subtotal: CN¥62.00" in body
    assert "Discount (MEI10): -CN¥6.20" in body
    assert "Total paid: CN¥55.80" in body
    assert order_link(app, order["number"]) in body
    assert db.session.scalars(select(OrderEmail.key)).all() == ["confirmation"]

    # a retried or duplicated task sends nothing more
    assert tasks.send_order_email(order["id"], "confirmation") is False
    # (a real worker started earlier in this process, tests/worker_support.py, leaves Celery refusing a plain get())
    assert tasks.send_order_email.delay(order["id"], "confirmation").get(disable_sync_subtasks=False) is False
    # nor does the same payment reported again
    client.post(order["payment_url"], data={"action": "pay"})
    assert len(messages_in(outbox)) == 1
    assert db.session.scalars(select(OrderEmail.key)).all() == ["confirmation"]


def test_a_digital_orders_delivery_and_confirmation_happen_once_however_often_the_task_runs(
        client, make, headers, fan, outbox):
    """Two digital kinds in one order: both lines delivered and the confirmation recorded and sent by the payment's
    fulfilment (on PostgreSQL in the order's move to fulfilled); running the task again delivers and sends nothing."""
    from marketplace.downloads.models import Entitlement

    course, setup = published(make, kind="course"), published(make, kind="studio_setup")
    add(client, headers, course)
    add(client, headers, setup)
    order = place(client, headers)
    pay(client, order)

    assert db.session.get(Order, order["id"]).status == "fulfilled"
    granted = db.session.scalars(select(Entitlement.listing_id).where(Entitlement.user_id == fan.id)).all()
    assert sorted(granted) == sorted([course.id, setup.id])
    assert len(messages_in(outbox)) == 1
    db.session.rollback()  # the task's own session writes: this one must not hold SQLite's read lock
    assert tasks.fulfil_order(order["id"], "confirmation") == 0
    assert len(messages_in(outbox)) == 1
    assert db.session.scalars(select(OrderEmail.key)).all() == ["confirmation"]


def test_a_confirmation_recorded_before_the_delivery_is_not_sent_again_by_it(client, make, headers, fan, outbox):
    from marketplace.downloads.models import Entitlement

    add(client, headers, published(make))
    order = place(client, headers)
    db.session.add(OrderEmail(order_id=order["id"], key="confirmation"))  # as if a sweep had sent it already
    db.session.commit()

    pay(client, order)

    assert db.session.get(Order, order["id"]).status == "fulfilled"
    assert db.session.scalar(select(Entitlement.id).where(Entitlement.user_id == fan.id)) is not None
    assert messages_in(outbox) == []
    assert db.session.scalars(select(OrderEmail.key)).all() == ["confirmation"]


def test_an_unpaid_or_cancelled_order_gets_no_email(client, make, headers, outbox):
    add(client, headers, published(make))
    order = place(client, headers)
    client.post(order["payment_url"], data={"action": "decline"})
    client.post(f"/api/v1/orders/{order['id']}/cancel", headers=headers)
    assert messages_in(outbox) == []
    assert tasks.send_order_email(987654, "confirmation") is False  # an order that does not exist


def test_a_refund_writes_a_notice_with_the_amount_and_the_reason(client, make, headers, app, outbox):
    seller = make.streamer()
    add(client, headers, published(make, seller, title="Lighting 101"))
    add(client, headers, published(make, seller, title="Color grading", amount=3000))
    order = place(client, headers)
    pay(client, order)
    line_id = next(line["id"] for line in order["lines"] if line["title"] == "Color grading")

    refunded = client.post(f"/api/v1/orders/{order['id']}/refunds", headers=bearer_for(make, seller),
                           json={"line_ids": [line_id], "reason": "The course was cancelled"})

    assert refunded.status_code == 201, refunded.get_json()
    # file names start with the second they were written, so two from one second sort either way
    by_subject = {m["Subject"]: m for m in wait_for_messages(outbox, 2)}
    confirmation = by_subject[ENGLISH_SUBJECT.format(number=order["number"])]
    notice = by_subject[f"Refund for your Encore order {order['number']}"]
    assert confirmation["To"] == notice["To"] == "mei@example.com"
    body = notice.get_content()
    assert f"we refunded CN¥30.00 for Color grading in order {order['number']}." in body
    assert "Reason: The course was cancelled" in body
    assert order_link(app, order["number"]) in body
    [refund] = db.session.scalars(select(Refund)).all()
    assert sorted(db.session.scalars(select(OrderEmail.key))) == ["confirmation", f"refund:{refund.id}"]
    # each refund is told once
    assert tasks.send_order_email(order["id"], f"refund:{refund.id}") is False
    # a refund key naming another order's refund sends nothing
    assert tasks.send_order_email(order["id"] + 1000, f"refund:{refund.id}") is False
    assert len(messages_in(outbox)) == 2


# ---------------------------------------------------------------- the buyer's language

def test_a_buyer_who_checked_out_in_chinese_gets_the_confirmation_in_chinese(client, make, headers, outbox):
    add(client, headers, published(make, title="Lighting 101"))
    order = place(client, headers, language="zh-CN,zh;q=0.9")
    assert db.session.get(Order, order["id"]).locale.startswith("zh")

    pay(client, order)  # the pay page itself is visited with the test client's English

    [message] = messages_in(outbox)
    assert order["number"] in message["Subject"]
    body = message.get_content()
    # the money is written the Chinese way (¥12.00), not the English one (CN¥12.00)
    assert "- Lighting 101 x 1: " in body and "¥12.00" in body and "CN¥" not in body


def test_the_chinese_emails_use_the_chinese_texts(client, make, headers, outbox):
    seller = make.streamer()
    add(client, headers, published(make, seller, title="Lighting 101"))
    order = place(client, headers, language="zh-CN")
    pay(client, order)
    # the operator refunding works in English; the buyer is still written to in Chinese
    refunded = client.post(f"/api/v1/orders/{order['id']}/refunds", headers=bearer_for(make, seller),
                           json={"reason": "Stream cancelled"})
    assert refunded.status_code == 201, refunded.get_json()

    by_subject = {m["Subject"]: m.get_content() for m in wait_for_messages(outbox, 2)}
    number = order["number"]
    assert set(by_subject) == {f"你的 Encore 订单 {number} 已付款", f"你的 Encore 订单 {number} 已退款"}
    confirmation = by_subject[f"你的 Encore 订单 {number} 已付款"]
    assert "Mei，你好：" in confirmation and "实付：¥12.00" in confirmation
    notice = by_subject[f"你的 Encore 订单 {number} 已退款"]
    assert f"我们已为订单 {number} 中的 Lighting 101 退款 ¥12.00。" in notice
    assert "原因：Stream cancelled" in notice
    for english in ("Total paid", "Hello ", "Your order:", "The Encore team", "we refunded", "Reason:"):
        assert english not in confirmation + notice


def test_the_language_comes_from_the_order_not_from_who_triggers_the_email(client, make, headers, outbox):
    add(client, headers, published(make))
    english = place(client, headers, language="en")
    pay(client, english)
    [message] = messages_in(outbox)
    assert message["Subject"] == ENGLISH_SUBJECT.format(number=english["number"])


# ---------------------------------------------------------------- SMTP

class CollectingHandler:
    """An SMTP server's DATA handler that keeps every message it accepts."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on 127.0.0.1 that the app sends through for this test."""
    handler = CollectingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    saved = {key: app.config.get(key) for key in ("ENCORE_SMTP_HOST", "ENCORE_SMTP_PORT")}
    app.config.update(ENCORE_SMTP_HOST="127.0.0.1", ENCORE_SMTP_PORT=controller.port)
    try:
        yield handler
    finally:
        app.config.update(saved)
        controller.stop()


def test_paying_delivers_the_confirmation_over_smtp_and_writes_no_file(client, make, headers, app, outbox, smtp_server):
    add(client, headers, published(make, title="Lighting 101"))
    order = place(client, headers)

    pay(client, order)

    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == ["mei@example.com"]
    assert envelope.mail_from == "no-reply@encore.example"
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["To"] == "mei@example.com"
    assert message["Subject"] == ENGLISH_SUBJECT.format(number=order["number"])
    body = message.get_content()
    assert "- Lighting 101 x 1: CN¥12.00" in body and "Total paid: CN¥12.00" in body
    assert order_link(app, order["number"]) in body
    assert messages_in(outbox) == [] and not outbox.exists()
    assert db.session.scalars(select(OrderEmail.key)).all() == ["confirmation"]


def test_an_smtp_server_that_is_down_leaves_the_email_unsent_for_a_retry(client, make, headers, app, outbox):
    saved = {key: app.config.get(key) for key in ("ENCORE_SMTP_HOST", "ENCORE_SMTP_PORT")}
    app.config.update(ENCORE_SMTP_HOST="127.0.0.1", ENCORE_SMTP_PORT=free_port())  # nobody listens there
    try:
        add(client, headers, published(make))
        order = place(client, headers)
        pay_response = client.post(order["payment_url"], data={"action": "pay"})
        # the payment stands even though the email could not go out
        assert pay_response.status_code == 302
        assert db.session.get(Order, order["id"]).status == "fulfilled"
        assert db.session.scalars(select(OrderEmail.key)).all() == []
    finally:
        app.config.update(saved)
    db.session.commit()  # the test's read transaction would keep SQLite from committing the task's write
    # with mail working again the retry sends it, once
    assert tasks.send_order_email(order["id"], "confirmation") is True
    assert len(messages_in(outbox)) == 1
    assert tasks.send_order_email(order["id"], "confirmation") is False


# ---------------------------------------------------------------- on a real worker (keep last: the module-scoped
# worker switches the app's Celery out of eager mode until the module ends)

def test_a_real_worker_sends_the_confirmation_once(client, make, headers, app, outbox, worker):
    add(client, headers, published(make, title="Lighting 101"))
    order = place(client, headers)

    pay(client, order)

    [message] = wait_for_messages(outbox, 1)
    assert message["Subject"] == ENGLISH_SUBJECT.format(number=order["number"])
    assert "Total paid: CN¥12.00" in message.get_content()
    # the same task queued again, then a marker message: the solo worker runs tasks in order, so once the
    # marker is written the repeated confirmation task has run, and it must have sent nothing
    tasks.send_order_email.delay(order["id"], "confirmation")
    deliver_email.delay("marker@example.com", "marker", "after the repeat")
    messages = wait_for_messages(outbox, 2)
    assert sorted(m["To"] for m in messages) == ["marker@example.com", "mei@example.com"]
    time.sleep(0.2)
    assert len(messages_in(outbox)) == 2
    db.session.rollback()
    assert db.session.scalars(select(OrderEmail.key)).all() == ["confirmation"]
    assert db.session.get(Order, order["id"]).status == "fulfilled"
