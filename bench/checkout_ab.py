"""Two builds of the money path side by side: which one pays more orders per second on this machine, now.

The CPU speed of a shared or virtual machine drifts by a third within an hour, so two builds benchmarked one after
the other mostly measure the drift. This runs bench/checkout_flow.py for both builds at the same time, each with
its own PostgreSQL database, Redis database, gunicorn, Celery worker and 16 clients, their clients started at the
same instant and stopped after the same number of seconds: both share the same two cores through the same
moments, so the build that costs less per order pays more orders in the window. Prints per round both rates and the
CPU each build's processes used per paid order (measured over the same seconds, so the drift cancels there too),
and the ratios B/A with their geometric means over the rounds. The CPU of PostgreSQL backends that exited is shown
by part but left out of each side's total: both runs share one postmaster, so neither side's share can be told.

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
import shlex
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
CPU = re.compile(r"CPU per paid order:\s+(.*?); total ([0-9.]+) ms")
#: the CPU of PostgreSQL backends that exited during the run: both runs share one postmaster, so each side sees the
#: other's exited backends too, and this part belongs to neither build alone
EXITED = re.compile(r"postgres exited ([0-9.]+) ms")


def side_env(side: str) -> dict:
    """The environment of one side's run: its own database and Redis database, next to the defaults'."""
    database, broker = DATABASE_URL.rsplit("/", 1), BROKER_URL.rsplit("/", 1)
    return {**os.environ,
            "ENCORE_BENCH_DATABASE_URL": f"{database[0]}/{database[1]}_{side}",
            "ENCORE_BENCH_BROKER_URL": f"{broker[0]}/{10 if side == 'a' else 11}"}


def one_round(builds: dict[str, Path], pythons: dict[str, Path], flow_args: dict[str, list[str]], duration: float,
              max_orders: int) -> dict[str, tuple[float, float, str]]:
    """Both builds' (paid orders/s, CPU ms per paid order without the shared exited backends, the CPU by part)
    over the same seconds."""
    start_at = time.time() + SETUP_SECONDS
    runs = {
        side: subprocess.Popen(
            [str(pythons[side]), str(ROOT / "bench" / "checkout_flow.py"), "--app-dir", str(build),
             "--orders", str(max_orders), "--duration", str(duration), "--start-at", str(start_at),
             *flow_args[side]],
            env=side_env(side), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for side, build in builds.items()
    }
    rates = {}
    for side, run in runs.items():
        output, _ = run.communicate()
        found, cpu = RATE.search(output), CPU.search(output)
        if "started late" in output:
            raise RuntimeError(f"side {side}'s set-up took more than {SETUP_SECONDS:.0f} s:\n{output}")
        if run.returncode != 0 or not found or not cpu:
            raise RuntimeError(f"side {side} failed (exit {run.returncode}):\n{output}")
        if "PROBLEMS" in output:
            raise RuntimeError(f"side {side} reported problems:\n{output}")
        exited = EXITED.search(cpu.group(1))
        own_cpu = float(cpu.group(2)) - (float(exited.group(1)) if exited else 0.0)
        rates[side] = (float(found.group(1)), own_cpu, cpu.group(1))
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", type=Path, required=True, help="checkout of build A")
    parser.add_argument("--b", type=Path, required=True, help="checkout of build B")
    parser.add_argument("--python-a", type=Path, default=Path(sys.executable),
                        help="the Python of a virtualenv that runs build A's servers (default: this one)")
    parser.add_argument("--python-b", type=Path, default=Path(sys.executable), help="the same for build B")
    parser.add_argument("--flow-args-a", default="", help='more checkout_flow.py options for side A, e.g. "--workers 3 --threads 6"')
    parser.add_argument("--flow-args-b", default="", help="the same for side B")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=40.0, help="seconds both runs take orders")
    args = parser.parse_args()
    reason = unreachable()
    if reason:
        print(f"checkout A/B: skipped ({reason})")
        return 0
    builds = {"a": args.a.resolve(), "b": args.b.resolve()}
    # not resolved: a virtualenv's python is a symlink to the interpreter it was made with
    pythons = {"a": args.python_a.absolute(), "b": args.python_b.absolute()}
    flow_args = {"a": shlex.split(args.flow_args_a), "b": shlex.split(args.flow_args_b)}
    print(f"checkout A/B: A = {builds['a']} on {pythons['a']} {args.flow_args_a}, "
          f"B = {builds['b']} on {pythons['b']} {args.flow_args_b}, "
          f"{args.rounds} rounds of {args.duration:.0f} s, "
          f"both at once on {os.cpu_count()} CPUs")
    ratios, cpu_ratios = [], []
    for n in range(1, args.rounds + 1):
        sides = one_round(builds, pythons, flow_args, args.duration, max_orders=100_000)
        (rate_a, cpu_a, parts_a), (rate_b, cpu_b, parts_b) = sides["a"], sides["b"]
        ratios.append(rate_b / rate_a)
        cpu_ratios.append(cpu_b / cpu_a)
        print(f"round {n}: A {rate_a:6.1f} paid orders/s, B {rate_b:6.1f}, B/A {ratios[-1]:.3f}; CPU per paid order "
              f"A {cpu_a:.1f} ms ({parts_a}), B {cpu_b:.1f} ms ({parts_b}), B/A {cpu_ratios[-1]:.3f}")

    def geometric_mean(values):
        return math.exp(sum(math.log(value) for value in values) / len(values))

    print(f"B/A paid orders/s, geometric mean of {len(ratios)} rounds: {geometric_mean(ratios):.3f}  "
          f"(above 1.0: B pays more orders)")
    print(f"B/A CPU per paid order (gunicorn, Celery, live PostgreSQL backends, clients; not the exited backends, "
          f"which both runs share), geometric mean: "
          f"{geometric_mean(cpu_ratios):.3f}  (below 1.0: B costs less per order)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
