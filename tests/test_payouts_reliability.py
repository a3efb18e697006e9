"""Payouts when things go wrong: a worker process killed while Stripe holds its transfer request, a transfer
request that times out and is retried, and (on PostgreSQL) two requests racing for one balance. Each ends with
one payout, one ledger posting and one transfer at Stripe."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from celery import Celery
from sqlalchemy import func, select

from app.db import utcnow
from app.extensions import db
from marketplace.payments.gateway import GatewayUnavailable
from marketplace.payments.stripe_gateway import StripeGateway
from marketplace.royalties import ledger, payouts
from marketplace.royalties.models import LedgerTransaction, Payout, TransactionKind
from marketplace.royalties.parties import user_party
from tests.api_support import bearer_for
from tests.conftest import ON_POSTGRES, TEST_BROKER_URL
from tests.order_support import buy
from tests.stripe_support import (  # noqa: F401  (fixtures)
    STRIPE_TEST_SECRET_KEY,
    STRIPE_TEST_WEBHOOK_SECRET,
    fake_stripe,
    stripe_gateway_mode,
)
from tests.test_royalty_payouts import PRICE, earning_streamer

TRANSFERS = "/v1/transfers"


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout} s for {what}")


def payout_rows() -> list[Payout]:
    """The payouts as committed now, detached; the read transaction ends at once, because on SQLite an open
    one would keep a worker process from committing."""
    db.session.expire_all()
    rows = list(db.session.scalars(select(Payout).order_by(Payout.id)))
    db.session.expunge_all()
    db.session.rollback()
    return rows


def payout_postings() -> list[str]:
    return list(db.session.scalars(select(LedgerTransaction.key).where(LedgerTransaction.kind == TransactionKind.PAYOUT)))


def pending_payout(client, make, fake) -> int:
    """A streamer's 18,000 CNY taken out of the ledger as a pending Stripe payout (committed, not yet sent)."""
    streamer, _listing = earning_streamer(client, make)
    account = fake.add_account()
    now = utcnow()
    payouts.connect_account(streamer, user_party(streamer), account, now)
    payout = payouts.request_payout(streamer, user_party(streamer), "CNY", now)
    payout_id = payout.id
    db.session.commit()
    return payout_id


def test_a_transfer_that_times_out_is_retried_with_the_same_key_and_sent_once(client, make, app, stripe_gateway_mode):
    fake = stripe_gateway_mode
    payout_id = pending_payout(client, make, fake)
    # a short client timeout and no retries inside the library: the first attempt gives up while Stripe
    # is still working on it (and then makes the transfer anyway, as Stripe would)
    app.extensions["payment_gateway"] = StripeGateway(
        STRIPE_TEST_SECRET_KEY, api_base=fake.url, timeout=0.5, max_network_retries=0)
    fake.hang_next(1.5)

    with pytest.raises(GatewayUnavailable):
        payouts.send_payout(payout_id, utcnow())
    (payout,) = payout_rows()
    assert (payout.status, payout.attempts) == ("pending", 1) and payout.last_error
    wait_for(lambda: fake.transfer_count() == 1, 5, "Stripe to finish the abandoned transfer")

    # the retry sweep (beat, every 5 minutes) sends it again with the same idempotency key
    assert payouts.retry_pending_payouts(utcnow() + timedelta(minutes=5)) == {"paid": 1}
    (payout,) = payout_rows()
    (transfer,) = fake.transfers.values()
    assert (payout.status, payout.provider_reference, payout.attempts) == ("paid", transfer["id"], 2)
    keys = [request.idempotency_key for request in fake.requests_to(TRANSFERS)]
    assert keys == [f"encore-payout-{payout_id}"] * 2
    assert payout_postings() == [f"payout:{payout_id}"]
    assert ledger.check_ledger().sums_to_zero
    # once paid, the sweep leaves it alone
    assert payouts.retry_pending_payouts(utcnow() + timedelta(minutes=10)) == {}
    assert len(fake.requests_to(TRANSFERS)) == 2


def test_the_sweep_leaves_payouts_being_sent_now_or_older_than_stripes_key_memory_alone(
        client, make, stripe_gateway_mode):
    fake = stripe_gateway_mode
    pending_payout(client, make, fake)
    assert payouts.retry_pending_payouts(utcnow()) == {}
    # a day later Stripe has forgotten the idempotency key: sending again could pay twice, a person checks it
    assert payouts.retry_pending_payouts(utcnow() + timedelta(hours=24)) == {}
    assert fake.requests_to(TRANSFERS) == []
    (payout,) = payout_rows()
    assert payout.status == "pending"


def test_stripe_unreachable_leaves_the_payout_pending_with_the_error(client, make, stripe_gateway_mode):
    fake = stripe_gateway_mode
    payout_id = pending_payout(client, make, fake)
    fake.fail_next(503, count=3)  # the library's own retries see Stripe down too
    with pytest.raises(GatewayUnavailable):
        payouts.send_payout(payout_id, utcnow())
    (payout,) = payout_rows()
    assert payout.status == "pending" and payout.attempts == 1 and fake.transfers == {}
    assert ledger.party_balances(user_id=payout.user_id)[0].amount == 0  # still taken out: never offered twice
    assert payouts.send_payout(payout_id, utcnow()) == "paid"
    assert fake.transfer_count() == 1


# ---------------------------------------------------------------- a real worker process, killed mid-send

def _worker_environment(app, fake, broker_url: str, instance) -> dict:
    env = dict(os.environ)
    env.update(
        ENCORE_ENV="development",
        ENCORE_INSTANCE_PATH=str(instance),
        ENCORE_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        ENCORE_BROKER_URL=broker_url,
        ENCORE_PAYMENT_GATEWAY="stripe",
        ENCORE_STRIPE_SECRET_KEY=STRIPE_TEST_SECRET_KEY,
        ENCORE_STRIPE_WEBHOOK_SECRET=STRIPE_TEST_WEBHOOK_SECRET,
        ENCORE_STRIPE_API_BASE=fake.url,
        PYTHONUNBUFFERED="1",
    )
    return env


def _start_worker(env, log_path, cwd):
    encore = os.path.join(os.path.dirname(sys.executable), "encore")
    with open(log_path, "ab") as log:
        return subprocess.Popen([encore, "worker", "--loglevel=INFO"], env=env, cwd=cwd, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _kill(process) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_a_worker_killed_while_stripe_holds_its_transfer_pays_once_when_run_again(
        client, make, app, stripe_gateway_mode, tmp_path):
    fake = stripe_gateway_mode
    payout_id = pending_payout(client, make, fake)
    broker_url = TEST_BROKER_URL or f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    producer = Celery("payouts-test", broker=broker_url)
    producer.conf.broker_connection_retry_on_startup = True
    producer.control.purge()
    env = _worker_environment(app, fake, broker_url, tmp_path / "worker-instance")
    log_path = tmp_path / "worker.log"
    cwd = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    fake.hang_next(4)  # Stripe takes its time: the worker is killed while it waits for the answer
    worker = _start_worker(env, log_path, cwd)
    try:
        producer.send_task("royalties.send_payout", args=[payout_id])
        wait_for(lambda: fake.requests_to(TRANSFERS), 60, "the worker to send the transfer\n" + _tail(log_path))
        _kill(worker)
    finally:
        _kill(worker)
    (payout,) = payout_rows()
    assert payout.status == "pending"  # the answer never came back
    wait_for(lambda: fake.transfer_count() == 1, 10, "Stripe to finish the transfer the dead worker asked for")

    # run the task again, in a fresh worker process
    worker = _start_worker(env, log_path, cwd)
    try:
        producer.send_task("royalties.send_payout", args=[payout_id])
        wait_for(lambda: payout_rows()[0].status == "paid", 60, "the second worker to record the payout\n" + _tail(log_path))
    finally:
        _kill(worker)
        producer.close()

    (payout,) = payout_rows()
    (transfer,) = fake.transfers.values()
    assert payout.provider_reference == transfer["id"] and transfer["amount"] == PRICE * 9 // 10
    keys = [request.idempotency_key for request in fake.requests_to(TRANSFERS)]
    assert keys == [f"encore-payout-{payout_id}"] * 2
    assert payout_postings() == [f"payout:{payout_id}"]
    assert ledger.check_ledger().sums_to_zero


def _tail(path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------- two requests for one balance

@pytest.mark.postgres_only
@pytest.mark.skipif(not ON_POSTGRES, reason="row locks under concurrency: set ENCORE_TEST_DATABASE_URL to PostgreSQL")
def test_two_requests_racing_for_one_balance_make_one_payout(client, make, live_server):
    import json
    import urllib.error
    import urllib.request

    streamer, listing = earning_streamer(client, make)
    streamer_id = streamer.id
    headers = bearer_for(make, streamer)
    assert client.put("/api/v1/payouts/account", json={"external_id": "my bank"}, headers=headers).status_code == 200

    def post():
        request = urllib.request.Request(f"{live_server}/api/v1/payouts", data=json.dumps({"currency": "CNY"}).encode(),
                                         method="POST", headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    for _round in range(5):
        barrier = threading.Barrier(4)
        statuses: list[int] = []

        def run():
            barrier.wait(timeout=10)
            statuses.append(post())

        threads = [threading.Thread(target=run) for _n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(statuses) == [201, 409, 409, 409], statuses
        # earn again for the next round
        if _round < 4:
            buy(client, bearer_for(make, make.user()), listing)

    rows = payout_rows()
    assert len(rows) == 5 and {row.amount for row in rows} == {18_000}
    assert db.session.scalar(select(func.count(LedgerTransaction.id)).where(
        LedgerTransaction.kind == TransactionKind.PAYOUT)) == 5
    assert ledger.party_balances(user_id=streamer_id)[0].amount == 0 and ledger.check_ledger().sums_to_zero
