"""The money path end to end over HTTP: cart -> checkout -> local payment webhook -> fulfilment, for digital orders.

Runs the production shape on this machine: gunicorn (`wsgi:app`) on PostgreSQL, a Celery worker on Redis, the
local payment gateway. A fresh database `encore_bench` is created (and dropped afterwards), migrated with
`encore db upgrade`, and filled through the services with fans, API tokens and published listings (not timed). Then
client threads each loop: POST /api/v1/cart/lines -> POST /api/v1/orders -> POST the signed
checkout.session.completed event to /webhooks/stripe, and the run waits until the worker has fulfilled every
order. The clients speak HTTP/1.1 over raw keep-alive sockets rather than http.client, to keep the load
generator's own CPU low: it shares the machine with the server. Prints paid orders/s (first request to last
webhook answer), fulfilled orders/s (until the worker is done), p50/p95 per step, the CPU each part used per paid
order in the timed run (gunicorn, the Celery worker, the PostgreSQL backends, those that exited, the client threads; from /proc, so
it holds when others load the machine too, and gives the rate the machine could reach idle), and the target
ratio: paid orders/s / 100 (target >= 1.0 on a 2-core machine). The servers' start-up (gunicorn and the Celery
worker importing the app) is not timed.

    .venv/bin/python bench/checkout_flow.py [--orders 600] [--clients 16] [--workers 2] [--threads 8]
                                            [--celery-concurrency 1] [--preload]
                                            [--duration SECONDS] [--start-at UNIX_TIME] [--app-dir CHECKOUT]

--duration stops starting orders after that many seconds; --start-at holds the clients until then (after the
set-up); --app-dir serves another checkout's app with this benchmark: bench/checkout_ab.py uses the three to run
two builds at the same time.

The server shape is sized for 2 cores, where everything (clients, gunicorn, Celery, PostgreSQL) shares the CPU:
- gunicorn runs 2 worker processes x 8 threads: a process runs Python on one core at a time (the GIL), so two
  processes can use both cores, and 8 threads each give the 16 clients a thread while others wait on PostgreSQL.
  More processes only add context switches, database connections and cache misses: in runs made one after the
  other, 4 x 4 used 28-29 ms of gunicorn CPU and 6-7 ms of PostgreSQL CPU per order, 2 x 8 mostly 21-23 and 3-5.
  gunicorn's gevent worker class (psycopg 3 cooperates with gevent) cost more, not less: on a trivial WSGI app with
  one Redis round trip per request, 16 keep-alive clients and 2 workers, alternated runs measured ~375 us of server
  CPU per request for gevent against ~320 us for gthread, and this bench showed no gain either.
- the Celery worker runs its tasks in its own process (solo pool, `--celery-concurrency 1`): a fulfilment task
  with its email takes ~2.5 ms of CPU (~4.5 ms with the worker's own handling), so one process keeps up with
  100 orders/s, while prefork x2 (a parent handing each task to a child) used 13-14.5 ms per order against
  9.5-11 for solo when a task took ~10 ms. Production on more cores raises these
  numbers; the flow and what is checked stay the same.

Needs PostgreSQL (ENCORE_BENCH_DATABASE_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/encore_bench)
and Redis (ENCORE_BENCH_BROKER_URL, default redis://127.0.0.1:6379/14, flushed at the start); when either is
unreachable it prints "skipped" and exits 0.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent

from bench import support  # noqa: E402
from bench.support import Processes, admin_params, free_port, postgres_unreachable  # noqa: E402


def _app_dir() -> Path:
    """The checkout whose app the run serves (--app-dir, read before anything imports the app), else this one."""
    for n, argument in enumerate(sys.argv):
        if argument == "--app-dir" and n + 1 < len(sys.argv):
            return Path(sys.argv[n + 1]).resolve()
        if argument.startswith("--app-dir="):
            return Path(argument.split("=", 1)[1]).resolve()
    return ROOT


APP_DIR = _app_dir()
sys.path.insert(0, str(APP_DIR))

DATABASE_URL = os.environ.get("ENCORE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/encore_bench")
BROKER_URL = os.environ.get("ENCORE_BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
TARGET_PAID_PER_SECOND = 100
LISTINGS = 24
STEPS = ("cart add", "order create", "webhook")


# ---------------------------------------------------------------- services this needs

def unreachable() -> str | None:
    """Why the bench cannot run here (PostgreSQL or Redis down), or None."""
    import redis

    reason = postgres_unreachable(DATABASE_URL)
    if reason:
        return reason
    try:
        redis.Redis.from_url(BROKER_URL, socket_connect_timeout=3).ping()
    except Exception as exc:  # any failure to connect means: not here
        return f"Redis at {BROKER_URL} is unreachable ({type(exc).__name__})"
    return None


def recreate_database(drop_only: bool = False) -> None:
    support.recreate_database(DATABASE_URL, drop_only)


def flush_broker() -> None:
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()  # leftover tasks of an interrupted run must not run here


# ---------------------------------------------------------------- setup (not timed)

def seed(env: dict, fans: int) -> tuple[list[str], list[int], str]:
    """Fans with API tokens and published course listings, made through the services; answers the token
    secrets, the listing ids and the webhook secret the server derives from the same SECRET_KEY."""
    os.environ.update(env)
    from app.accounts import services as accounts
    from app.extensions import db
    from app.factory import create_app
    from marketplace.catalog import services as catalog
    from marketplace.payments import webhook_secret

    # cheap password hashing: nobody logs in with these passwords, and default argon2 would dominate setup
    app = create_app({"PASSWORD_HASH_PARAMS": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}})
    with app.app_context():
        operator = accounts.create_account("bench-operator@example.com", "correct horse battery", "operator")
        streamers = []
        for n in range(4):
            streamer = accounts.register_user(f"bench-streamer{n}@example.com", "correct horse battery")
            accounts.become_streamer(streamer, f"bench_streamer_{n}", f"Bench streamer {n}", "")
            streamers.append(streamer)
        db.session.commit()
        listing_ids = []
        for n in range(LISTINGS):
            owner = streamers[n % len(streamers)]
            listing = catalog.create_listing(owner, {
                "kind": "course", "title": f"Bench course {n}", "description": "Lessons.",
                "prices": [{"currency": "CNY", "amount": 1200 + n}],
            })
            catalog.submit_listing(owner, listing)
            catalog.approve_listing(operator, listing)
            catalog.publish_listing(owner, listing)
            listing_ids.append(listing.id)
        tokens = []
        for n in range(fans):
            fan = accounts.register_user(f"bench-fan{n}@example.com", "correct horse battery")
            tokens.append(accounts.create_api_token(fan, "bench")[1])
        db.session.commit()
        secret = webhook_secret(app)
        db.session.remove()
        db.engine.dispose()
    return tokens, listing_ids, secret


def wait_until_up(port: int, server: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}; see its log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status in (200, 503):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz in time")


def wait_for_worker(worker: subprocess.Popen, timeout: float = 60) -> None:
    """Until the Celery worker answers a ping: its start-up (importing the app) must not fall into the timed run."""
    from app.tasks import celery_app  # configured for the bench's broker by seed()

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {worker.returncode}; see its log")
        if celery_app.control.ping(timeout=0.5):
            return
    raise RuntimeError("the Celery worker did not answer a ping in time")


# ---------------------------------------------------------------- the timed flow

_RECV_SIZE = 64 * 1024
_CONTENT_LENGTH = b"\r\ncontent-length:"
_TRANSFER_ENCODING = b"\r\ntransfer-encoding:"
_CONNECTION = b"\r\nconnection:"


class _ClosedBeforeAnswer(ConnectionError):
    """The server closed the keep-alive connection before any byte of the response: resending is safe."""


def _header(head: bytes, name: bytes) -> bytes | None:
    """The value of header `name` (b"\\r\\n" + lower-case name + b":") in a lower-cased header block, or None."""
    start = head.find(name)
    if start < 0:
        return None
    start += len(name)
    end = head.find(b"\r\n", start)
    return head[start:end if end >= 0 else len(head)].strip()


class Client:
    """One fan's keep-alive connection; answers (status, parsed body) and records each step's latency.

    HTTP/1.1 on a raw socket: http.client parses each response's headers with the email package, CPU taken from
    the server on the shared cores. Handles what a server may answer here: Content-Length, chunked or
    close-delimited bodies, `Connection: close`, and an idle connection the server dropped (sent again once).
    """

    def __init__(self, port: int, token: str, latencies: dict[str, list[float]]):
        self.port = port
        self.latencies = latencies
        self.host_line = f"Host: 127.0.0.1:{port}\r\n".encode("latin-1")
        # built once: every cart and order request carries the same fan's headers
        self.json_headers = (f"Authorization: Bearer {token}\r\nAccept-Language: en\r\n"
                             "Content-Type: application/json\r\n").encode("latin-1")
        self.sock: socket.socket | None = None  # connected by the first request, as http.client did
        self.buffer = bytearray()  # bytes received but not yet consumed

    def post(self, step: str, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
        header_block = "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode("latin-1")
        return self._post(step, path, body, header_block)

    def post_json(self, step: str, path: str, payload: dict) -> tuple[int, dict]:
        return self._post(step, path, json.dumps(payload).encode(), self.json_headers)

    def _post(self, step: str, path: str, body: bytes, headers: bytes) -> tuple[int, dict]:
        request = b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n%s\r\n%s" % (
            path.encode("ascii"), self.host_line, len(body), headers, body)
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                if self.sock is None:
                    self._connect()
                status, data = self._exchange(request)
            except _ClosedBeforeAnswer:
                # the server dropped an idle keep-alive connection: it saw no request, so send it again once
                self._close()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self._close()  # a half-read response leaves the stream out of step
                raise
            self.latencies[step].append(time.perf_counter() - started)
            return status, json.loads(data or b"{}")
        raise AssertionError("unreachable")

    def _connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        # as http.client does: a request must never wait for the ACK of the previous one (Nagle)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.buffer.clear()

    def _fill(self) -> None:
        chunk = self.sock.recv(_RECV_SIZE)
        if not chunk:
            raise ConnectionError("the server closed the connection in the middle of a response")
        self.buffer += chunk

    def _exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send one request and read its response: (status, body)."""
        try:
            self.sock.sendall(request)
            if not self.buffer:
                chunk = self.sock.recv(_RECV_SIZE)
                if not chunk:
                    raise _ClosedBeforeAnswer("the server closed the keep-alive connection")
                self.buffer += chunk
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise _ClosedBeforeAnswer(str(exc)) from exc
        buffer = self.buffer
        while True:
            while (end := buffer.find(b"\r\n\r\n")) < 0:
                self._fill()
            head = bytes(buffer[:end]).lower()
            del buffer[:end + 4]
            if not head.startswith(b"http/1.") or head[8:9] != b" ":
                raise ValueError(f"not an HTTP/1.x response: {head[:80]!r}")
            status = int(head[9:12])
            if status >= 200:
                break
            # an interim 1xx response (none is expected, no Expect is sent): the real one follows

        connection = _header(head, _CONNECTION) or b""
        # HTTP/1.0 closes after each response unless it says keep-alive
        closes = b"close" in connection or (head.startswith(b"http/1.0") and b"keep-alive" not in connection)
        encoding = _header(head, _TRANSFER_ENCODING)
        length = _header(head, _CONTENT_LENGTH)
        if status in (204, 304):
            body = b""
        elif encoding is not None and encoding.endswith(b"chunked"):  # takes precedence over Content-Length
            body = self._read_chunked()
        elif length is not None:
            body = self._read_exactly(int(length))
        else:  # neither: the body runs until the server closes the connection
            while chunk := self.sock.recv(_RECV_SIZE):
                buffer += chunk
            body = bytes(buffer)
            closes = True
        if closes:
            self._close()  # the next request opens a fresh connection
        return status, body

    def _read_exactly(self, size: int) -> bytes:
        buffer = self.buffer
        while len(buffer) < size:
            self._fill()
        data = bytes(buffer[:size])
        del buffer[:size]
        return data

    def _read_line(self) -> bytes:
        buffer = self.buffer
        while (end := buffer.find(b"\r\n")) < 0:
            self._fill()
        line = bytes(buffer[:end])
        del buffer[:end + 2]
        return line

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self._read_line().split(b";", 1)[0], 16):  # hex size, then optional extensions
            parts.append(self._read_exactly(size))
            if self._read_exactly(2) != b"\r\n":
                raise ValueError("a chunk did not end with CRLF")
        while self._read_line():  # trailer fields up to the empty line
            pass
        return b"".join(parts)


def run_flow(port: int, tokens: list[str], listing_ids: list[int], secret: str, orders: int,
             duration: float | None = None) -> dict:
    from marketplace.payments import local_gateway

    numbers = itertools.count()
    claim = threading.Lock()
    latencies: dict[str, list[float]] = {step: [] for step in STEPS}
    failures: list[str] = []
    order_ids: list[int] = []
    last_webhook = [0.0]

    deadline = [float("inf")]

    def next_number() -> int | None:
        """The next order's number, or None when `orders` were started or, with `duration`, its time is up."""
        with claim:
            n = next(numbers)
        return n if n < orders and time.perf_counter() < deadline[0] else None

    def loop(token: str) -> None:
        client = Client(port, token, latencies)
        try:
            while (n := next_number()) is not None:
                status, body = client.post_json("cart add", "/api/v1/cart/lines",
                                                {"listing_id": listing_ids[n % len(listing_ids)], "quantity": 1})
                if status != 201:
                    failures.append(f"cart add {status}: {body}")
                    continue
                status, body = client.post_json("order create", "/api/v1/orders", {"currency": "CNY"})
                if status != 201:
                    failures.append(f"order create {status}: {body}")
                    continue
                order = SimpleNamespace(id=body["id"], number=body["number"], total=body["total"]["amount"],
                                        currency=body["currency"], payment_session_id=f"cs_local_{body['number']}",
                                        payment_reference=None)
                payload, signature = local_gateway.signed(local_gateway.completed_event(order), secret)
                status, answer = client.post("webhook", "/webhooks/stripe", payload,
                                             {"Stripe-Signature": signature, "Content-Type": "application/json"})
                if status != 200 or answer.get("outcome") != "paid":
                    failures.append(f"webhook {status}: {answer}")
                    continue
                with claim:
                    order_ids.append(body["id"])
                    last_webhook[0] = time.perf_counter()
        except Exception as exc:  # reported with the figures; one broken client must not hang the run
            failures.append(f"client stopped: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=loop, args=(token,), name=f"client-{n}", daemon=True) for n, token in enumerate(tokens)]
    started = time.perf_counter()
    if duration is not None:
        deadline[0] = started + duration
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"started": started, "last_webhook": last_webhook[0], "latencies": latencies,
            "failures": failures, "order_ids": order_ids}


def wait_for_fulfilment(expected: int, timeout: float) -> tuple[float | None, int]:
    """When every paid order had become fulfilled (perf_counter), or None at the timeout, and how many were;
    returns once the confirmation emails (a separate task) are recorded too, so the ledger check is final."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(DATABASE_URL)
    params = {**admin_params(url), "dbname": url.database}
    deadline = time.perf_counter() + timeout
    fulfilled_at = None
    with psycopg.connect(**params) as conn:
        while True:
            done = conn.execute("SELECT count(*) FROM orders WHERE status = 'fulfilled'").fetchone()[0]
            if done >= expected and fulfilled_at is None:
                fulfilled_at = time.perf_counter()
            emailed = conn.execute("SELECT count(*) FROM order_emails WHERE key = 'confirmation'").fetchone()[0]
            if fulfilled_at is not None and emailed >= expected:
                return fulfilled_at, done
            if time.perf_counter() > deadline:
                return fulfilled_at, done
            time.sleep(0.05)


def check_ledger(expected: int) -> list[str]:
    """What the database says went wrong: events, orders and emails each counted once per order."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(DATABASE_URL)
    with psycopg.connect(**{**admin_params(url), "dbname": url.database}) as conn:
        counts = {
            "paid events": conn.execute("SELECT count(*) FROM payment_events WHERE outcome = 'paid'").fetchone()[0],
            "orders": conn.execute("SELECT count(*) FROM orders").fetchone()[0],
            "unfulfilled lines": conn.execute("SELECT count(*) FROM order_lines WHERE fulfilled_at IS NULL").fetchone()[0],
            "confirmation emails": conn.execute("SELECT count(*) FROM order_emails WHERE key = 'confirmation'").fetchone()[0],
        }
    wanted = {"paid events": expected, "orders": expected, "unfulfilled lines": 0, "confirmation emails": expected}
    return [f"{name}: {counts[name]} (expected {wanted[name]})" for name in wanted if counts[name] != wanted[name]]


# ---------------------------------------------------------------- CPU per order (Linux /proc)

def _process_table() -> dict[int, tuple[int, float, float]]:
    """pid -> (parent pid, CPU seconds used so far, CPU seconds of its children that exited and were waited for)
    of every process, from /proc; empty where there is none."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    table = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it exited meanwhile
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks,
                                  (int(fields[13]) + int(fields[14])) / ticks)
    return table


def _tree(table: dict, root: int) -> set[int]:
    members, grew = {root}, True
    while grew:
        grew = False
        for pid, (parent, *_cpu) in table.items():
            if parent in members and pid not in members:
                members.add(pid)
                grew = True
    return members


def cpu_snapshot(server: subprocess.Popen, worker: subprocess.Popen) -> dict[str, dict[int, float]]:
    """CPU seconds used so far by each part of the run: gunicorn and the Celery worker (with their children),
    the PostgreSQL backends serving the bench database, the backends that exited (a connection the app's pool
    closed: their CPU is added to the postmaster's children's time, for every database of the server; with
    bench/checkout_ab.py both runs see both runs' exited backends) and this process (the client threads)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(DATABASE_URL)
    with psycopg.connect(**{**admin_params(url), "dbname": url.database}) as conn:
        backends = {row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (url.database,))}
        table = _process_table()  # while this backend lives: its parent is the postmaster
        postmaster = table[conn.info.backend_pid][0] if conn.info.backend_pid in table else None
    own = os.times()
    groups = {"gunicorn": _tree(table, server.pid), "celery": _tree(table, worker.pid), "postgres": backends}
    snapshot = {name: {pid: table[pid][1] for pid in pids if pid in table} for name, pids in groups.items()}
    snapshot["postgres exited"] = {postmaster: table[postmaster][2]} if postmaster in table else {}
    snapshot["client"] = {os.getpid(): own.user + own.system}
    return snapshot


def cpu_per_order(before: dict, after: dict, orders: int) -> dict[str, float]:
    """Milliseconds of CPU per order for each part between two snapshots (a process born meanwhile from 0)."""
    return {name: sum(cpu - before[name].get(pid, 0.0) for pid, cpu in after[name].items()) * 1000 / max(orders, 1)
            for name in after}


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


# ---------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--clients", type=int, default=16, help="client threads, one fan each")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--celery-concurrency", type=int, default=1,
                        help="Celery worker processes (prefork); 1 runs tasks in the worker's own process (solo pool)")
    parser.add_argument("--preload", action="store_true", help="gunicorn --preload: import the app once, then fork")
    parser.add_argument("--keep", action="store_true", help="keep the database and logs for a look afterwards")
    parser.add_argument("--duration", type=float, default=None,
                        help="stop starting orders after this many seconds (--orders is then the most it starts)")
    parser.add_argument("--start-at", type=float, default=None,
                        help="start the clients at this Unix time, after the set-up (bench/checkout_ab.py starts two runs together)")
    parser.add_argument("--app-dir", type=Path, default=ROOT,
                        help="the checkout whose app to serve (default: this one); the bench itself runs from this one")
    args = parser.parse_args()

    reason = unreachable()
    if reason:
        print(f"checkout flow: skipped ({reason})")
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="encore-bench-checkout-"))
    env = {
        **os.environ,
        "ENCORE_ENV": "development",
        "ENCORE_DATABASE_URL": DATABASE_URL,
        "ENCORE_BROKER_URL": BROKER_URL,
        "ENCORE_SECRET_KEY": secrets.token_urlsafe(48),
        "ENCORE_PAYMENT_GATEWAY": "local",
        "ENCORE_INSTANCE_PATH": str(workdir / "instance"),
        "ENCORE_STRIPE_WEBHOOK_SECRET": "",
    }
    if APP_DIR != ROOT:  # the subprocesses import the app from the other checkout, as this process does
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(APP_DIR), os.environ.get("PYTHONPATH")]))
    processes = Processes(cwd=APP_DIR)
    keep_logs = args.keep
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))  # run the finally below
    try:
        recreate_database()
        flush_broker()
        subprocess.run([str(VENV_BIN / "encore"), "db", "upgrade"], cwd=APP_DIR, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        tokens, listing_ids, secret = seed(env, args.clients)

        port = free_port()
        server = processes.start([
            str(VENV_BIN / "gunicorn"), "wsgi:app", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
            "--worker-class", "gthread", "--threads", str(args.threads), "--keep-alive", "30", "--log-level", "warning",
            *(["--preload"] if args.preload else []),
        ], env, workdir / "gunicorn.log")
        worker = processes.start([str(VENV_BIN / "encore"), "worker", "--concurrency", str(args.celery_concurrency),
                                  "--loglevel", "warning"], env, workdir / "worker.log")
        wait_until_up(port, server)
        wait_for_worker(worker)

        if args.start_at is not None:
            late = time.time() - args.start_at
            if late > 1.0:  # the set-up overran: a run started with it would not overlap the other one
                print(f"started late: the set-up ended {late:.1f} s after --start-at")
                return 1
            time.sleep(max(0.0, -late))
        cpu_before = cpu_snapshot(server, worker) if Path("/proc/self/stat").exists() else None
        result = run_flow(port, tokens, listing_ids, secret, args.orders, args.duration)
        paid = len(result["order_ids"])
        fulfilled_at, fulfilled = wait_for_fulfilment(paid, timeout=max(60.0, paid / 5))
        cpu = cpu_per_order(cpu_before, cpu_snapshot(server, worker), paid) if cpu_before else None
        expected = paid if args.duration is not None else args.orders
        problems = result["failures"][:5] + (check_ledger(expected) if fulfilled_at else [])

        paid_seconds = result["last_webhook"] - result["started"]
        paid_rate = paid / paid_seconds if paid_seconds > 0 else 0.0
        print(f"checkout flow: {paid} digital orders, {args.clients} client threads, "
              f"gunicorn {args.workers} workers x {args.threads} threads (gthread{', preload' if args.preload else ''}), "
              f"Celery worker {'solo' if args.celery_concurrency == 1 else f'prefork x{args.celery_concurrency}'}, "
              f"PostgreSQL + Redis, {os.cpu_count()} CPUs")
        print(f"paid orders/s:      {paid_rate:7.1f}  ({paid} paid in {paid_seconds:.2f} s, first request to last webhook 200)")
        if fulfilled_at:
            fulfil_seconds = fulfilled_at - result["started"]
            print(f"fulfilled orders/s: {fulfilled / fulfil_seconds:7.1f}  (all {fulfilled} fulfilled {fulfil_seconds:.2f} s "
                  f"after the first request, {fulfilled_at - result['last_webhook']:.2f} s after the last webhook)")
        else:
            print(f"fulfilled orders/s: n/a  (only {fulfilled} of {paid} fulfilled before the timeout)")
        for step in STEPS:
            values = result["latencies"][step]
            print(f"{step:>13} latency: p50 {percentile(values, 0.5) * 1000:6.1f} ms  "
                  f"p95 {percentile(values, 0.95) * 1000:6.1f} ms  (n={len(values)})")
        if cpu:
            total = sum(cpu.values())
            print("CPU per paid order:  " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in cpu.items())
                  + f"; total {total:.1f} ms -> at most {(os.cpu_count() or 1) * 1000 / total:.0f} orders/s "
                  f"on {os.cpu_count()} idle CPUs")
        print(f"target ratio (paid orders/s / {TARGET_PAID_PER_SECOND}): {paid_rate / TARGET_PAID_PER_SECOND:.2f}  (target >= 1.0)")
        if problems or len(result["failures"]) or paid != expected:
            print(f"PROBLEMS ({len(result['failures'])} failed requests): " + "; ".join(problems))
            print(f"logs: {workdir}")
            keep_logs = True
            return 1
        return 0
    finally:
        processes.stop()
        if not args.keep:
            try:
                recreate_database(drop_only=True)
            except Exception as exc:  # a database still busy must not hide the figures
                print(f"could not drop the bench database: {exc}", file=sys.stderr)
        if not keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
