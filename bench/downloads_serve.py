"""Serving downloads through Encore against gunicorn serving the same files with no checks, in one run.

Encore: gunicorn (`wsgi:app`, gthread) on PostgreSQL; every request is a real signed link of a buyer's entitlement,
checked (signature, expiry, account by bearer token, entitlement, per-file limit raised by a guarded UPDATE), logged
(an INSERT committed before the answer) and sent from the local storage folder. Bare: the same gunicorn settings
running a WSGI app that sends the same file through `wsgi.file_wrapper`, which is what Flask's send_file uses too.
Files: 50 MB and 100 KB of random bytes (not PDFs or images, so nothing is stamped). Client threads on keep-alive
connections read each answer in 1 MB chunks and throw it away.

Prints throughput (MB/s and requests/s) for both and the ratio Encore / bare per file (target >= 0.7 for the large
file), and the peak resident memory of each Encore worker after the small-file run and after the large-file run
(target: no growth with file size: files are streamed, never read whole).

    .venv/bin/python bench/downloads_serve.py [--large-requests 200] [--small-requests 1500] [--clients 4]

Needs PostgreSQL (ENCORE_BENCH_DATABASE_URL, default .../encore_bench_downloads); prints "skipped" without it.
"""
from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent

from bench.support import Processes, free_port, postgres_unreachable, recreate_database  # noqa: E402

DATABASE_URL = os.environ.get("ENCORE_BENCH_DATABASE_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/encore_bench_downloads")
LARGE_SIZE = 50 * 1024 * 1024
SMALL_SIZE = 100 * 1024
TARGET_LARGE_RATIO = 0.7
GUNICORN_SHAPE = ["--workers", "2", "--worker-class", "gthread", "--threads", "4", "--keep-alive", "30",
                  "--log-level", "warning"]


# ---------------------------------------------------------------- the bare file server (no checks)

def bare_app(environ, start_response):
    """Sends the file named by the path from BENCH_FILES_DIR, as plainly as WSGI allows."""
    path = Path(os.environ["BENCH_FILES_DIR"]) / environ["PATH_INFO"].strip("/")
    handle = open(path, "rb")
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(path.stat().st_size)),
                              ("Content-Disposition", f'attachment; filename="{path.name}"')])
    return environ["wsgi.file_wrapper"](handle, 1024 * 1024)


# ---------------------------------------------------------------- processes and services

def wait_until_up(port: int, server: subprocess.Popen, path: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}; see its log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("HEAD" if path != "/healthz" else "GET", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer in time")


def worker_pids(master: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- setup (not timed)

def seed(env: dict, files_dir: Path) -> dict:
    """A streamer's course with both files attached, bought and paid by a fan through the real checkout and the
    local gateway's webhook; answers the fan's token and each file's signed link path."""
    os.environ.update(env)
    from app.accounts import services as accounts
    from app.extensions import db
    from app.factory import create_app
    from app.storage import get_storage
    from marketplace.catalog import services as catalog
    from marketplace.downloads import services as downloads
    from marketplace.downloads.models import Entitlement
    from marketplace.payments import local_gateway, webhook_secret
    from app.config import load_config

    # fulfilment runs inline here (no worker needed for setup); cheap password hashing for accounts nobody logs into
    celery = {**load_config()["CELERY"], "task_always_eager": True}
    app = create_app({"PASSWORD_HASH_PARAMS": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}, "CELERY": celery})
    paths = {}
    with app.app_context():
        operator = accounts.create_account("bench-operator@example.com", "correct horse battery", "operator")
        streamer = accounts.register_user("bench-streamer@example.com", "correct horse battery")
        accounts.become_streamer(streamer, "bench_streamer", "Bench streamer", "")
        fan = accounts.register_user("bench-fan@example.com", "correct horse battery")
        token = accounts.create_api_token(fan, "bench")[1]
        db.session.commit()
        listing = catalog.create_listing(streamer, {"kind": "course", "title": "Bench course", "description": "Files.",
                                                    "prices": [{"currency": "CNY", "amount": 1200}]})
        catalog.submit_listing(streamer, listing)
        catalog.approve_listing(operator, listing)
        catalog.publish_listing(streamer, listing)
        refs = {}
        for label in ("large", "small"):
            with open(files_dir / f"{label}.bin", "rb") as stream:
                refs[label] = downloads.add_listing_file(streamer, listing, f"{label}.bin", stream, get_storage()).ref
        db.session.commit()
        listing_id = listing.id

    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/cart/lines", json={"listing_id": listing_id, "quantity": 1}, headers=auth).status_code == 201
    order = client.post("/api/v1/orders", json={"currency": "CNY"}, headers=auth).get_json()
    with app.app_context():
        from marketplace.orders.models import Order

        event = local_gateway.completed_event(db.session.get(Order, order["id"]))
        payload, signature = local_gateway.signed(event, webhook_secret(app))
    assert client.post("/webhooks/stripe", data=payload, headers={"Stripe-Signature": signature,
                                                                   "Content-Type": "application/json"}).status_code == 200
    with app.app_context():
        entitlement = db.session.query(Entitlement).one()
        for label, ref in refs.items():
            token_for_link = downloads.link_token(entitlement.user_id, entitlement.id, ref)
            paths[label] = f"/downloads/{entitlement.id}/{ref}?t={token_for_link}"
        db.session.remove()
        db.engine.dispose()
    return {"token": token, "paths": paths}


# ---------------------------------------------------------------- the timed part

def hammer(port: int, path: str, requests: int, clients: int, headers: dict, expected_size: int) -> tuple[float, int, list[str]]:
    """Seconds taken for `requests` full downloads over `clients` keep-alive connections, bytes read, failures."""
    claim = threading.Lock()
    remaining = [requests]
    total = [0]
    failures: list[str] = []

    def take() -> bool:
        with claim:
            if remaining[0] <= 0:
                return False
            remaining[0] -= 1
            return True

    def loop() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        buffer = bytearray(1024 * 1024)
        read = 0
        try:
            while take():
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                size = 0
                while chunk := response.readinto(buffer):
                    size += chunk
                if response.status != 200 or size != expected_size:
                    failures.append(f"{response.status}, {size} bytes")
                read += size
        except Exception as exc:  # reported with the figures
            failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()
            with claim:
                total[0] += read

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, total[0], failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large-requests", type=int, default=200)
    parser.add_argument("--small-requests", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    reason = postgres_unreachable(DATABASE_URL)
    if reason:
        print(f"downloads: skipped ({reason})")
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="encore-bench-downloads-"))
    files_dir = workdir / "files"
    files_dir.mkdir()
    with open(files_dir / "large.bin", "wb") as out:
        for _ in range(LARGE_SIZE // (1024 * 1024)):
            out.write(os.urandom(1024 * 1024))
    (files_dir / "small.bin").write_bytes(os.urandom(SMALL_SIZE))
    env = {
        **os.environ,
        "ENCORE_ENV": "development",
        "ENCORE_DATABASE_URL": DATABASE_URL,
        "ENCORE_BROKER_URL": "memory://",
        "ENCORE_SECRET_KEY": secrets.token_urlsafe(48),
        "ENCORE_INSTANCE_PATH": str(workdir / "instance"),
        "ENCORE_STORAGE_URL": "",
        # room for every timed and warm-up request of both files: the limit is checked, never reached
        "ENCORE_DOWNLOADS_PER_FILE": str(2 * (args.large_requests + args.small_requests) + 100),
        "BENCH_FILES_DIR": str(files_dir),
    }
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    processes = Processes()
    try:
        recreate_database(DATABASE_URL)
        subprocess.run([str(VENV_BIN / "encore"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seeded = seed(env, files_dir)
        auth = {"Authorization": f"Bearer {seeded['token']}"}
        cases = (("small", SMALL_SIZE, args.small_requests), ("large", LARGE_SIZE, args.large_requests))
        figures: dict[tuple[str, str], tuple[float, float]] = {}
        memory: dict[str, list[float]] = {}
        problems: list[str] = []
        for server_name, target in (("bare", "bench.downloads_serve:bare_app"), ("encore", "wsgi:app")):
            port = free_port()
            server = processes.start([str(VENV_BIN / "gunicorn"), target, "--bind", f"127.0.0.1:{port}", *GUNICORN_SHAPE],
                                     env, workdir / f"{server_name}.log")
            wait_until_up(port, server, "/small.bin" if server_name == "bare" else "/healthz")
            for label, size, requests in cases:
                path = f"/{label}.bin" if server_name == "bare" else seeded["paths"][label]
                hammer(port, path, max(2, requests // 20), args.clients, auth, size)  # warm up both the same way
                seconds, read, failures = hammer(port, path, requests, args.clients, auth, size)
                problems += [f"{server_name} {label}: {failure}" for failure in failures[:3]]
                figures[(server_name, label)] = (read / seconds / 1e6, requests / seconds)
                if server_name == "encore":
                    memory[label] = [peak_rss_mb(pid) for pid in worker_pids(server)]
            processes.stop(server)

        print(f"downloads: gunicorn {' '.join(GUNICORN_SHAPE[:6])}, {args.clients} client threads, "
              f"PostgreSQL, {os.cpu_count()} CPUs")
        for label, size, requests in cases:
            bare_mb, bare_rps = figures[("bare", label)]
            app_mb, app_rps = figures[("encore", label)]
            target = f"  (target >= {TARGET_LARGE_RATIO})" if label == "large" else ""
            print(f"{label:>5} file {size / 1024 / 1024:6.2f} MB x {requests}: bare {bare_mb:8.1f} MB/s {bare_rps:7.1f} req/s | "
                  f"encore {app_mb:8.1f} MB/s {app_rps:7.1f} req/s | ratio {app_mb / bare_mb:.2f}{target}")
        small_peak, large_peak = max(memory["small"]), max(memory["large"])
        print(f"encore worker peak RSS: {small_peak:.1f} MB after the 100 KB run, {large_peak:.1f} MB after the 50 MB run "
              f"(growth {large_peak - small_peak:+.1f} MB for a file 500x larger)")
        if problems:
            print("PROBLEMS: " + "; ".join(problems))
            return 1
        return 0
    finally:
        processes.stop()
        try:
            recreate_database(DATABASE_URL, drop_only=True)
        except Exception as exc:  # a database still busy must not hide the figures
            print(f"could not drop the bench database: {exc}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
