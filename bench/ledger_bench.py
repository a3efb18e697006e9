"""The royalty ledger at size: a party's balance and statements over 1,000,000 entries, and posting speed.

Loads a throwaway PostgreSQL database (tables from the models, immutability trigger included) with 1,000,000 ledger
entries: 200,000 paid one-line orders over the last 365 days, each split among three of 1,000 parties and the
platform against the gateway clearing account (5 entries per sale). One party ("the big party") is in every other
sale: 100,000 entries spread over the year. Then, through the project's own code on that database, it times
(best of several runs):

- the big party's balance (`ledger.account_balance`);
- its statement (`statements.statement_for`) for the last 30 days and for the whole year, and prints the top
  node of the statement query's plan and the scan it uses on ledger_entries (it must be an index scan);
- posting 10,000 order transactions with `ledger.post` (a sale of 2 lines x 3 parties + platform + clearing,
  split with `app.money.allocate`), committing every 100.

Targets (issue 6): a statement of 100,000 entries in under 200 ms; posting >= 1,000 transactions/s. Each is printed
with its ratio to the target (time: measured / target, at most 1 is on target; rate: measured / target, at least
1 is on target).

    .venv/bin/python bench/ledger_bench.py [--keep]

Needs PostgreSQL (ENCORE_BENCH_DATABASE_URL, default .../encore_bench_ledger); prints "skipped" without it. The
database is dropped at the end unless --keep.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import postgres_unreachable, recreate_database  # noqa: E402

DATABASE_URL = os.environ.get("ENCORE_BENCH_DATABASE_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/encore_bench_ledger")
PARTIES = 1_000
SALES = 200_000
ENTRIES_PER_SALE = 5
BIG_PARTY = 1  # user id and payable account id of the party in every other sale
PLATFORM_ACCOUNT, CLEARING_ACCOUNT = PARTIES + 1, PARTIES + 2
BUYER = PARTIES + 1  # the user id buying every loaded order
LISTINGS = 10
POSTED = 10_000
COMMIT_EVERY = 100
STATEMENT_TARGET_MS = 200
POSTING_TARGET_PER_S = 1_000


# ---------------------------------------------------------------- loading

LOAD_SQL = [
    # the parties and one buyer
    f"""INSERT INTO users (id, email, password_hash, display_name, is_operator, is_active_account, session_version,
                           created_at, updated_at)
        SELECT i, 'party' || i || '@bench.example', 'not-a-hash', 'Party ' || i, false, true, 0, now(), now()
        FROM generate_series(1, {PARTIES + 1}) AS i""",
    f"""INSERT INTO creator_profiles (id, user_id, handle, display_name, bio, created_at, updated_at)
        VALUES (1, {BIG_PARTY}, 'bench_big', 'Big party', '', now(), now())""",
    f"""INSERT INTO listings (id, creator_id, kind, title, slug, description, status, featured, created_at, updated_at)
        SELECT i, 1, 'course', 'Bench course ' || i, 'bench-course-' || i, '', 'published', false, now(), now()
        FROM generate_series(1, {LISTINGS}) AS i""",
    # one paid one-line order per sale; line totals 10.00 to 59.99
    f"""INSERT INTO orders (id, number, buyer_id, status, currency, subtotal, discount, total, refunded_amount, gateway,
                            expires_at, needs_attention, created_at, updated_at)
        SELECT i, 'B' || lpad(i::text, 10, '0'), {BUYER}, 'paid', 'CNY', 1000 + i % 5000, 0, 1000 + i % 5000, 0,
               'local', now(), false, now(), now()
        FROM generate_series(1, {SALES}) AS i""",
    f"""INSERT INTO order_lines (id, order_id, listing_id, creator_id, kind, title, quantity, unit_price, subtotal,
                                 discount, total)
        SELECT i, i, 1 + i % {LISTINGS}, 1, 'course', 'Bench course ' || (1 + i % {LISTINGS}), 1, 1000 + i % 5000,
               1000 + i % 5000, 0, 1000 + i % 5000
        FROM generate_series(1, {SALES}) AS i""",
    f"""INSERT INTO ledger_accounts (id, key, kind, currency, user_id, created_at)
        SELECT i, 'payable:user:' || i || '\\:CNY', 'payable', 'CNY', i, now() FROM generate_series(1, {PARTIES}) AS i""",
    f"""INSERT INTO ledger_accounts (id, key, kind, currency, created_at) VALUES
        ({PLATFORM_ACCOUNT}, 'platform_revenue:CNY', 'platform_revenue', 'CNY', now()),
        ({CLEARING_ACCOUNT}, 'gateway_clearing:CNY', 'gateway_clearing', 'CNY', now())""",
    # sales evenly over the last 365 days, oldest first
    f"""INSERT INTO ledger_transactions (id, key, kind, currency, order_id, created_at)
        SELECT i, 'sale:order:' || i, 'sale', 'CNY', i,
               now() - interval '365 days' + (i - 1) * (interval '365 days' / {SALES})
        FROM generate_series(1, {SALES}) AS i""",
    # 60 / 20 / 10 % to three different parties (the big party first in every even sale), the rest to the
    # platform, the whole line against the clearing account: each sale sums to zero
    f"""INSERT INTO ledger_entries (transaction_id, account_id, amount, currency, created_at, kind, order_line_id,
                                    listing_id, gross, bp, order_id, order_number)
        SELECT t.id, share.account_id, share.amount, 'CNY', t.created_at, 'sale', share.line_id, share.listing_id,
               share.gross, share.bp, t.id, 'B' || lpad(t.id::text, 10, '0')
        FROM ledger_transactions t
        CROSS JOIN LATERAL (SELECT 1000 + t.id % 5000 AS total) AS line
        CROSS JOIN LATERAL (VALUES
            (CASE WHEN t.id % 2 = 0 THEN {BIG_PARTY} ELSE 2 + t.id % {PARTIES - 1} END, line.total * 6000 / 10000, 6000),
            (2 + (t.id + 333) % {PARTIES - 1}, line.total * 2000 / 10000, 2000),
            (2 + (t.id + 666) % {PARTIES - 1}, line.total * 1000 / 10000, 1000),
            ({PLATFORM_ACCOUNT}, line.total - line.total * 6000 / 10000 - line.total * 2000 / 10000
                                 - line.total * 1000 / 10000, 1000),
            ({CLEARING_ACCOUNT}, -line.total, NULL)
        ) AS v(account_id, amount, bp)
        CROSS JOIN LATERAL (SELECT v.account_id, v.amount, v.bp,
                                   CASE WHEN v.bp IS NULL THEN NULL ELSE t.id END AS line_id,
                                   CASE WHEN v.bp IS NULL THEN NULL ELSE 1 + t.id % {LISTINGS} END AS listing_id,
                                   CASE WHEN v.bp IS NULL THEN NULL ELSE line.total END AS gross) AS share
        ORDER BY t.id""",
]

SEQUENCED = ("users", "creator_profiles", "listings", "orders", "order_lines", "ledger_accounts", "ledger_transactions")


def load(app) -> float:
    from sqlalchemy import text

    from app.extensions import db

    started = time.perf_counter()
    with app.app_context():
        db.create_all()
        with db.engine.begin() as conn:
            for statement in LOAD_SQL:
                conn.execute(text(statement))
            for table in SEQUENCED:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


# ---------------------------------------------------------------- timing

def best_ms(action, runs: int = 5) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return min(timings)


def plan_of(query) -> dict:
    """PostgreSQL's plan (JSON) for a SQLAlchemy select, with its parameters."""
    from app.extensions import db

    compiled = query.compile(dialect=db.engine.dialect)
    with db.engine.connect() as conn:
        return conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar()[0]["Plan"]


def scans_on(plan: dict, table: str) -> list[str]:
    """How the plan reads `table`: each scan node on it, with the index it uses (a bitmap heap scan's is in the
    bitmap index scan below it)."""
    found = []
    if plan.get("Relation Name") == table:
        index = plan.get("Index Name") or next(
            (child.get("Index Name") for child in plan.get("Plans", []) if child.get("Index Name")), None)
        found.append(plan["Node Type"] + (f" using {index}" if index else ""))
    for child in plan.get("Plans", []):
        found.extend(scans_on(child, table))
    return found


def ratio_line(label: str, measured: float, unit: str, target: str, ratio: float) -> str:
    return f"{label}: {measured:,.1f} {unit} (target {target}, ratio {ratio:.2f})"


def time_reads(app) -> None:
    from datetime import datetime, timezone

    from sqlalchemy import func, select

    from app.db import utcnow
    from marketplace.royalties import ledger, statements
    from marketplace.royalties.models import LedgerEntry
    from marketplace.royalties.parties import Party

    with app.app_context():
        party = Party(BIG_PARTY, None, "Big party")
        today = utcnow().date()
        balance_ms = best_ms(lambda: ledger.account_balance(BIG_PARTY))
        print(f"balance of a party with 100,000 entries: {balance_ms:.1f} ms "
              f"(= {ledger.account_balance(BIG_PARTY) / 100:,.2f} CNY)")
        for label, days in (("last 30 days", 30), ("whole year", 366)):
            date_from = today - timedelta(days=days - 1)
            statement = statements.statement_for(party, "CNY", date_from, today)
            elapsed = best_ms(lambda: statements.statement_for(party, "CNY", date_from, today))
            print(ratio_line(f"statement {label} ({len(statement.lines):,} entries)", elapsed, "ms",
                             f"< {STATEMENT_TARGET_MS} ms", elapsed / STATEMENT_TARGET_MS))
            start = datetime.combine(date_from, datetime.min.time(), tzinfo=timezone.utc)
            end = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
            plan = plan_of(statements._lines_query(BIG_PARTY, start, end))
            print(f"  plan: {plan['Node Type']} (rows ~{plan['Plan Rows']:,}); ledger_entries read by "
                  f"{', '.join(scans_on(plan, 'ledger_entries')) or 'nothing?'}")
        # the query account_balance runs
        plan = plan_of(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.account_id == BIG_PARTY))
        print(f"  balance plan: ledger_entries read by {', '.join(scans_on(plan, 'ledger_entries'))}")


def time_posting(app) -> None:
    from app.db import utcnow
    from app.extensions import db
    from app.money import Money, allocate
    from marketplace.royalties import ledger
    from marketplace.royalties.ledger import Posting
    from marketplace.royalties.models import TransactionKind

    rng = random.Random(6)
    shares = [6000, 2000, 1000, 1000]  # three parties and the platform
    with app.app_context():
        started = time.perf_counter()
        for n in range(1, POSTED + 1):
            postings = []
            paid = 0
            for line in range(2):
                total = rng.randint(100, 100_000)
                paid += total
                parties = rng.sample(range(1, PARTIES + 1), 3)
                parts = allocate(Money(total, "CNY"), shares)
                for user_id, part, bp in zip(parties, parts, shares):
                    postings.append(Posting(ledger.payable("CNY", user_id), part.amount, listing_id=1 + line,
                                            gross=total, bp=bp))
                postings.append(Posting(ledger.platform_revenue("CNY"), parts[-1].amount, listing_id=1 + line,
                                        gross=total, bp=shares[-1]))
            postings.append(Posting(ledger.gateway_clearing("CNY"), -paid))
            assert ledger.post(f"bench:sale:{n}", TransactionKind.SALE, "CNY", postings, utcnow()) is not None
            if n % COMMIT_EVERY == 0:
                db.session.commit()
        db.session.commit()
        elapsed = time.perf_counter() - started
        rate = POSTED / elapsed
        print(ratio_line(f"posting {POSTED:,} order transactions (9 entries each, commit every {COMMIT_EVERY})",
                         rate, "tx/s", f">= {POSTING_TARGET_PER_S} tx/s", rate / POSTING_TARGET_PER_S))
        check = ledger.check_ledger()
        print(f"whole ledger sums to zero afterwards: {check.sums_to_zero}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    why = postgres_unreachable(DATABASE_URL)
    if why:
        print(f"ledger bench skipped: {why}")
        return
    from app.factory import create_app

    recreate_database(DATABASE_URL)
    try:
        app = create_app({"ENCORE_ENV": "development", "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
                          "ENCORE_INSTANCE_PATH": str(ROOT / "instance" / "bench-ledger")})
        loaded = load(app)
        print(f"loaded {SALES * ENTRIES_PER_SALE:,} ledger entries for {PARTIES:,} parties "
              f"({SALES:,} sales over 365 days) in {loaded:.1f} s")
        time_reads(app)
        time_posting(app)
    finally:
        if not args.keep:
            from app.extensions import db

            try:
                with app.app_context():
                    db.engine.dispose()
            except NameError:
                pass
            recreate_database(DATABASE_URL, drop_only=True)


if __name__ == "__main__":
    main()
