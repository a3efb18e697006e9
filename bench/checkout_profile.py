"""What one paid order costs per step, in one process: SQL statements and CPU time of each request of the
checkout flow (the same three requests bench/checkout_flow.py sends over HTTP) and of the Celery work after it.

The app is built on a private PostgreSQL database (dropped and recreated, migrated with `encore db upgrade`) and
seeded as bench/checkout_flow.py seeds it. Then, for each of N orders, one fan:
POST /api/v1/cart/lines -> POST /api/v1/orders -> POST the signed checkout.session.completed event to
/webhooks/stripe, all through `app.test_client()`, and the fulfilment task (with its confirmation email) is run
in this process as the worker would run it. The tasks the webhook queues go to Redis and are discarded.

Statements are counted with SQLAlchemy's `before_cursor_execute` event, CPU with `time.process_time` (this
process only: PostgreSQL's own work shows in the statement count). CPU times drift when others use the machine:
compare two runs made one after the other, or the ratios between steps, not absolute figures across days.

    .venv/bin/python bench/checkout_profile.py [--orders 200] [--warmup 10] [--sql] [--profile STEP]

--sql prints the statements of one order per step; --profile STEP (cart, order, webhook, fulfil) prints the
functions that take the most CPU time in that step (cProfile timed by process_time). Needs PostgreSQL
(ENCORE_PROFILE_DATABASE_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/perf_db) and Redis
(ENCORE_PROFILE_BROKER_URL, default redis://127.0.0.1:6379/5, flushed before and after).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
VENV_BIN = Path(sys.executable).parent

DATABASE_URL = os.environ.get("ENCORE_PROFILE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/perf_db")
BROKER_URL = os.environ.get("ENCORE_PROFILE_BROKER_URL", "redis://127.0.0.1:6379/5")
STEPS = ("cart", "order", "webhook", "fulfil")
LABELS = {"cart": "POST /api/v1/cart/lines", "order": "POST /api/v1/orders", "webhook": "POST /webhooks/stripe",
          "fulfil": "task orders.fulfil_order (+ email)"}


class Meter:
    """Statements, CPU and wall time per step; keeps the statements of one order for --sql."""

    def __init__(self, profile_step: str | None):
        self.statements: dict[str, list[int]] = defaultdict(list)
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.wall: dict[str, list[float]] = defaultdict(list)
        self.sample: dict[str, list[str]] = {}
        self.current: list[str] | None = None
        self.profile_step = profile_step
        self.profiler = cProfile.Profile(time.process_time) if profile_step else None  # CPU, not waiting
        self.recording = False

    def before_cursor_execute(self, conn, cursor, statement, parameters, context, executemany):
        if self.current is not None:
            self.current.append(statement)

    @contextmanager
    def step(self, name: str):
        self.current = []
        profiling = self.recording and self.profiler is not None and name == self.profile_step
        wall, cpu = time.perf_counter(), time.process_time()
        if profiling:
            self.profiler.enable()
        try:
            yield
        finally:
            if profiling:
                self.profiler.disable()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if self.recording:
                self.statements[name].append(len(self.current))
                self.cpu[name].append(cpu)
                self.wall[name].append(wall)
                self.sample.setdefault(name, list(self.current))
            self.current = None


def prepare(env: dict, fans: int):
    import psycopg
    import redis
    from sqlalchemy.engine import make_url

    url = make_url(DATABASE_URL)
    admin = {"host": url.host or "127.0.0.1", "port": url.port or 5432, "user": url.username or "postgres",
             "password": url.password, "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{url.database}"')
    redis.Redis.from_url(BROKER_URL).flushdb()
    subprocess.run([str(VENV_BIN / "encore"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    from checkout_flow import seed

    return seed(env, fans)


def run(args) -> None:
    import redis
    from sqlalchemy import event

    workdir = Path(tempfile.mkdtemp(prefix="encore-checkout-profile-"))
    env = {
        **os.environ,
        "ENCORE_ENV": "development",
        "ENCORE_DATABASE_URL": DATABASE_URL,
        "ENCORE_BROKER_URL": BROKER_URL,
        "ENCORE_SECRET_KEY": secrets.token_urlsafe(48),
        "ENCORE_PAYMENT_GATEWAY": "local",
        "ENCORE_INSTANCE_PATH": str(workdir / "instance"),
        "ENCORE_STRIPE_WEBHOOK_SECRET": "",
        # this checkout's code, also for `encore db upgrade` (the venv's editable install may point elsewhere)
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    try:
        tokens, listing_ids, secret = prepare(env, args.fans)
        os.environ.update(env)
        from app.extensions import db
        from app.factory import create_app
        from marketplace.orders import tasks
        from marketplace.payments import local_gateway

        app = create_app()
        meter = Meter(args.profile)
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", meter.before_cursor_execute)
        client = app.test_client()
        total = args.warmup + args.orders
        for n in range(total):
            meter.recording = n >= args.warmup
            headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}", "Accept-Language": "en"}
            with meter.step("cart"):
                answer = client.post("/api/v1/cart/lines", headers=headers,
                                     json={"listing_id": listing_ids[n % len(listing_ids)], "quantity": 1})
            assert answer.status_code == 201, answer.get_json()
            with meter.step("order"):
                answer = client.post("/api/v1/orders", headers=headers, json={"currency": "CNY"})
            assert answer.status_code == 201, answer.get_json()
            body = answer.get_json()
            order = SimpleNamespace(id=body["id"], number=body["number"], total=body["total"]["amount"],
                                    currency=body["currency"], payment_session_id=f"cs_local_{body['number']}",
                                    payment_reference=None)
            payload, signature = local_gateway.signed(local_gateway.completed_event(order), secret)
            with meter.step("webhook"):
                answer = client.post("/webhooks/stripe", data=payload,
                                     headers={"Stripe-Signature": signature, "Content-Type": "application/json"})
            assert answer.status_code == 200 and answer.get_json()["outcome"] == "paid", answer.get_json()
            with meter.step("fulfil"):
                delivered = tasks.fulfil_order(body["id"], "confirmation")  # as the worker runs it: own app context
            assert delivered == 1
        report(meter, args)
    finally:
        try:
            redis.Redis.from_url(BROKER_URL).flushdb()
        except Exception:
            pass
        shutil.rmtree(workdir, ignore_errors=True)


def report(meter: Meter, args) -> None:
    def mean(values):
        return sum(values) / len(values) if values else float("nan")

    print(f"checkout profile: {args.orders} orders after {args.warmup} warm-up, {args.fans} fans, one process, "
          f"PostgreSQL ({DATABASE_URL.rsplit('/', 1)[-1]}), test client")
    print(f"{'step':<40} {'statements':>10} {'CPU ms':>8} {'wall ms':>8}")
    for step in STEPS:
        print(f"{LABELS[step]:<40} {mean(meter.statements[step]):10.1f} {mean(meter.cpu[step]) * 1000:8.2f} "
              f"{mean(meter.wall[step]) * 1000:8.2f}")
    requests = STEPS[:3]
    print(f"{'the three requests':<40} {sum(mean(meter.statements[s]) for s in requests):10.1f} "
          f"{sum(mean(meter.cpu[s]) for s in requests) * 1000:8.2f} {sum(mean(meter.wall[s]) for s in requests) * 1000:8.2f}")
    if args.sql:
        for step in STEPS:
            print(f"\n-- {LABELS[step]}: {len(meter.sample.get(step, []))} statements")
            for statement in meter.sample.get(step, []):
                print("   " + " ".join(statement.split())[:220])
    if meter.profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(meter.profiler, stream=out)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
        if args.dump:
            stats.dump_stats(args.dump)
        by_package = defaultdict(float)
        for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
            by_package[_package(filename)] += tottime
        whole = sum(by_package.values()) or 1.0
        out.write("\n-- own CPU time by package (share of the step)\n")
        for name, seconds in sorted(by_package.items(), key=lambda item: -item[1])[:20]:
            out.write(f"   {name:<28} {seconds / whole:6.1%}  {seconds * 1000 / args.orders:6.2f} ms per order\n")
        print(f"\n-- cProfile of {LABELS[args.profile]} over {args.orders} orders")
        print(out.getvalue())


def _package(filename: str) -> str:
    """The top-level package a profiled function lives in: site-packages' distribution, this project's
    top-level folder, or the built-ins."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if filename.startswith(str(ROOT)):
        return "encore:" + Path(filename).relative_to(ROOT).parts[0]
    return "python" if filename.startswith(("~", "<")) or "/lib/python" in filename else filename


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10, help="orders run first and not counted")
    parser.add_argument("--fans", type=int, default=16)
    parser.add_argument("--sql", action="store_true", help="print one order's statements per step")
    parser.add_argument("--profile", choices=STEPS, help="cProfile this step")
    parser.add_argument("--top", type=int, default=30, help="functions shown by --profile")
    parser.add_argument("--dump", help="write the --profile statistics to this file (pstats format)")
    args = parser.parse_args()
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
