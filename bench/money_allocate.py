"""How allocate() scales with the number of parties: the per-party cost at 1000 parties over that at 10.

A largest-remainder split sorts the remainders, so the per-party cost should grow slowly
(about log n); a ratio far above ~2 means something quadratic crept in.

    .venv/bin/python bench/money_allocate.py
"""
from __future__ import annotations

import timeit

from app.money import Money, allocate


def shares(n: int) -> list[int]:
    """n basis-point shares adding up to 10,000, uneven so remainders need sorting."""
    weights = [i % 7 + 1 for i in range(n)]
    base = [10_000 * w // sum(weights) for w in weights]
    for i in range(10_000 - sum(base)):
        base[i % n] += 1
    return base


def per_party_seconds(n: int, total: Money) -> float:
    parts = shares(n)
    calls = max(1, 20_000 // n)
    best = min(timeit.repeat(lambda: allocate(total, parts), number=calls, repeat=5))
    return best / calls / n


def main() -> None:
    total = Money(1_234_567_89, "CNY")
    small, large = per_party_seconds(10, total), per_party_seconds(1000, total)
    print(f"allocate per party:   10 parties {small * 1e9:8.1f} ns   1000 parties {large * 1e9:8.1f} ns")
    print(f"per-party cost ratio (1000 / 10): {large / small:.2f}")


if __name__ == "__main__":
    main()
