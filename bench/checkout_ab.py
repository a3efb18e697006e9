"""Two builds of the money path side by side: which one pays more orders per second on this machine, now.

The CPU speed of a shared or virtual machine drifts by a third within an hour, so two builds benchmarked one after
the other mostly measure the drift. This runs bench/checkout_flow.py for both builds at the same time, each with
its own PostgreSQL database, Redis database, gunicorn, Celery worker and 16 clients, their clients started at the
same instant and stopped after the same number of seconds: both share the same two cores through the same
moments, so the build that costs less per order pays more orders in the window. Prints both rates per round and
the ratio B/A (and its geometric mean over the rounds): above 1.0, B is cheaper.

Both runs share the machine, so each rate is about half of what the build reaches alone; compare the ratio, not
the rates, with the 100 paid orders/s target.

    .venv/bin/python bench/checkout_ab.py --a /tmp/build-a --b . [--rounds 3] [--duration 40]

--a and --b are checkouts of the project (e.g. `git worktree add /tmp/build-a <commit>`); the benchmark code is
this checkout's, the app each serves is its own (checkout_flow.py --app-dir). Needs PostgreSQL and Redis as
checkout_flow.py does; when either is unreachable it prints "skipped" and exits 0.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.checkout_flow import BROKER_URL, DATABASE_URL, unreachable  # noqa: E402

#: how long both set-ups (migrations, seed data, servers) may take before the clients start together
SETUP_SECONDS = 45.0
RATE = re.compile(r"paid orders/s:\s+([0-9.]+)")


def side_env(side: str) -> dict:
    """The environment of one side's run: its own database and Redis database, next to the defaults'."""
    database, broker = DATABASE_URL.rsplit("/", 1), BROKER_URL.rsplit("/", 1)
    return {**os.environ,
            "ENCORE_BENCH_DATABASE_URL": f"{database[0]}/{database[1]}_{side}",
            "ENCORE_BENCH_BROKER_URL": f"{broker[0]}/{10 if side == 'a' else 11}"}


def one_round(builds: dict[str, Path], duration: float, max_orders: int) -> dict[str, float]:
    start_at = time.time() + SETUP_SECONDS
    runs = {
        side: subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "checkout_flow.py"), "--app-dir", str(build),
             "--orders", str(max_orders), "--duration", str(duration), "--start-at", str(start_at)],
            env=side_env(side), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for side, build in builds.items()
    }
    rates = {}
    for side, run in runs.items():
        output, _ = run.communicate()
        found = RATE.search(output)
        if run.returncode != 0 or not found:
            raise RuntimeError(f"side {side} failed (exit {run.returncode}):\n{output}")
        if "PROBLEMS" in output:
            raise RuntimeError(f"side {side} reported problems:\n{output}")
        rates[side] = float(found.group(1))
    if time.time() < start_at:
        raise RuntimeError("the runs ended before their common start: raise SETUP_SECONDS")
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", type=Path, required=True, help="checkout of build A")
    parser.add_argument("--b", type=Path, required=True, help="checkout of build B")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=40.0, help="seconds both runs take orders")
    args = parser.parse_args()
    reason = unreachable()
    if reason:
        print(f"checkout A/B: skipped ({reason})")
        return 0
    builds = {"a": args.a.resolve(), "b": args.b.resolve()}
    print(f"checkout A/B: A = {builds['a']}, B = {builds['b']}, {args.rounds} rounds of {args.duration:.0f} s, "
          f"both at once on {os.cpu_count()} CPUs")
    ratios = []
    for n in range(1, args.rounds + 1):
        rates = one_round(builds, args.duration, max_orders=100_000)
        ratios.append(rates["b"] / rates["a"])
        print(f"round {n}: A {rates['a']:6.1f} paid orders/s, B {rates['b']:6.1f}, B/A {ratios[-1]:.3f}")
    mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"B/A paid orders/s, geometric mean of {len(ratios)} rounds: {mean:.3f}  (above 1.0: B costs less per order)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
