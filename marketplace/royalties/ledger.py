"""The double-entry ledger: accounts, balanced postings that happen once, balances and the whole-ledger check.

`post` is the only way entries are written. It refuses a transaction whose entries do not add up to zero,
and its unique key makes posting the same event twice a no-op. Entries are never updated or deleted: the
session refuses it here, and PostgreSQL refuses it with a trigger (see models.IMMUTABLE_FUNCTION).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ARRAY, BigInteger, Integer, String, any_, bindparam, event, func, insert, select, true
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.orm import Session

from app.db import DirectStatement
from app.extensions import db
from app.money import Money
from marketplace.royalties.models import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)


class LedgerError(RuntimeError):
    """A posting that would break the ledger's rules: a programming error, never the user's."""


class ImmutableLedger(LedgerError):
    pass


# ---------------------------------------------------------------- immutability in the model layer

@event.listens_for(Session, "before_flush")
def refuse_ledger_changes(session, _flush_context, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, (LedgerEntry, LedgerTransaction)) and (obj in session.deleted or session.is_modified(obj)):
            raise ImmutableLedger(f"{type(obj).__name__} {obj.id} is immutable: post a correcting transaction")


@event.listens_for(Session, "do_orm_execute")
def refuse_bulk_ledger_changes(state) -> None:
    if state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if table is not None and table.name in ("ledger_entries", "ledger_transactions"):
            raise ImmutableLedger(f"{table.name} rows are immutable: post a correcting transaction")


# ---------------------------------------------------------------- accounts

@dataclass(frozen=True, slots=True)
class AccountRef:
    """An account by what it is; `key` is its unique name in ledger_accounts."""

    kind: str
    currency: str
    user_id: int | None = None
    brand_id: int | None = None

    @property
    def key(self) -> str:
        if self.kind == AccountKind.PAYABLE:
            owner = f"brand:{self.brand_id}" if self.brand_id is not None else f"user:{self.user_id}"
            return f"payable:{owner}:{self.currency}"
        return f"{self.kind}:{self.currency}"


def payable(currency: str, user_id: int | None = None, brand_id: int | None = None) -> AccountRef:
    if (user_id is None) == (brand_id is None):
        raise LedgerError("a payable account belongs to exactly one user or brand")
    return AccountRef(AccountKind.PAYABLE, currency, user_id, brand_id)


def platform_revenue(currency: str) -> AccountRef:
    return AccountRef(AccountKind.PLATFORM_REVENUE, currency)


def gateway_clearing(currency: str) -> AccountRef:
    return AccountRef(AccountKind.GATEWAY_CLEARING, currency)


def refunds(currency: str) -> AccountRef:
    return AccountRef(AccountKind.REFUNDS, currency)


def payouts(currency: str) -> AccountRef:
    return AccountRef(AccountKind.PAYOUTS, currency)


def account_ids(refs) -> dict[AccountRef, int]:
    """The ids of these accounts, creating the missing ones (concurrent creators agree on one row)."""
    from marketplace.orders.services import insert_once

    refs = set(refs)
    by_key = {ref.key: ref for ref in refs}
    found = dict(db.session.execute(select(LedgerAccount.key, LedgerAccount.id).where(LedgerAccount.key.in_(by_key))).all())
    # in key order: two first sales creating the same accounts then wait for each other instead of deadlocking
    for key, ref in sorted(by_key.items()):
        if key in found:
            continue
        new_id = insert_once(LedgerAccount, ("key",), key=key, kind=str(ref.kind), currency=ref.currency,
                             user_id=ref.user_id, brand_id=ref.brand_id, created_at=_now())
        found[key] = new_id if new_id is not None else db.session.scalar(select(LedgerAccount.id).where(LedgerAccount.key == key))
    return {ref: found[ref.key] for ref in refs}


def find_account(ref: AccountRef) -> int | None:
    return db.session.scalar(select(LedgerAccount.id).where(LedgerAccount.key == ref.key))


def _now() -> datetime:
    from app.db import utcnow

    return utcnow()


# ---------------------------------------------------------------- posting

@dataclass(frozen=True, slots=True)
class Posting:
    """One entry to post: an account and a signed amount, with what a statement shows about it."""

    account: AccountRef
    amount: int
    order_line_id: int | None = None
    listing_id: int | None = None
    gross: int | None = None
    bp: int | None = None
    split_id: int | None = None


def post(key: str, kind: str, currency: str, postings: list[Posting], now: datetime, *, order_id: int | None = None,
         order_number: str | None = None, refund_id: int | None = None, payout_id: int | None = None,
         memo: str | None = None) -> int | None:
    """Post one balanced transaction; answers its id, or None when `key` was posted before (nothing changes).

    Zero amounts are left out. Each entry carries the transaction's order (and its number) and payout, so a
    statement reads entries alone. :raise LedgerError: the entries do not add up to zero, or use another currency
    """
    return post_prepared(prepare(key, kind, currency, postings, now, order_id=order_id, order_number=order_number,
                                 refund_id=refund_id, payout_id=payout_id, memo=memo))


def post_prepared(prepared: PreparedPosting) -> int | None:
    """`post` a transaction `prepare` checked."""
    if prepared.postings and db.session.get_bind().dialect.name == "postgresql":
        return _post_in_one_statement(prepared)
    from marketplace.orders.services import insert_once

    params, postings = prepared.params, prepared.postings
    transaction_id = insert_once(LedgerTransaction, ("key",), **{name: params[name] for name in _HEADER_COLUMNS})
    if transaction_id is None or not postings:
        return transaction_id
    ids = account_ids(p.account for p in postings)
    same_for_all = {name: params[name] for name in ("currency", "created_at", "kind", "order_id", "order_number",
                                                     "payout_id")}
    db.session.execute(insert(LedgerEntry), [
        {"transaction_id": transaction_id, "account_id": ids[p.account], "amount": p.amount,
         "order_line_id": p.order_line_id, "listing_id": p.listing_id, "gross": p.gross, "bp": p.bp,
         "split_id": p.split_id, **same_for_all}
        for p in postings
    ])
    return transaction_id


_TRANSACTIONS, _ENTRIES, _ACCOUNTS = LedgerTransaction.__table__, LedgerEntry.__table__, LedgerAccount.__table__
_HEADER_COLUMNS = ("key", "kind", "currency", "order_id", "refund_id", "payout_id", "memo", "created_at")
#: the entries' columns that come from the postings, as arrays (unnest): the arrays keep the SQL text the same for
#: any number of entries, so the server reuses one prepared plan
_ENTRY_ARRAYS = (("key", "keys", String), ("amount", "amounts", BigInteger), ("order_line_id", "order_line_ids", Integer),
                 ("listing_id", "listing_ids", Integer), ("gross", "grosses", BigInteger), ("bp", "bps", Integer),
                 ("split_id", "split_ids", Integer))


def posting_ctes(prefix: str = ""):
    """PostgreSQL: a transaction and its entries written in one round trip, as two CTEs (the transaction's INSERT
    and the entries' INSERT, which answers the transaction's id once per entry), the accounts found by key inside
    the statement. It inserts nothing unless every account exists (then `post` creates the missing ones and sends
    it again: a party's first sale) and nothing when the key was posted before. Its parameters (see
    posting_params) are named with `prefix`, so it can ride in another statement."""
    def param(name, type_):
        return bindparam(prefix + name, type_=type_)

    header = {name: param(name, _TRANSACTIONS.c[name].type) for name in _HEADER_COLUMNS}
    accounts_found = (select(func.count()).select_from(_ACCOUNTS)
                      .where(_ACCOUNTS.c.key == any_(param("account_keys", ARRAY(String))))
                      .scalar_subquery())
    transaction = (
        postgresql_insert(_TRANSACTIONS).from_select(
            list(_HEADER_COLUMNS),
            select(*header.values()).where(accounts_found == param("account_count", Integer)))
        .on_conflict_do_nothing(index_elements=["key"]).returning(_TRANSACTIONS.c.id).cte(prefix + "tx")
    )
    entry = (func.unnest(*(param(array, ARRAY(type_)) for _column, array, type_ in _ENTRY_ARRAYS))
             .table_valued(*(column for column, _array, _type in _ENTRY_ARRAYS), with_ordinality="position")
             .render_derived(name=prefix + "entry"))
    account = _ACCOUNTS.alias(prefix + "account")
    entries = insert(_ENTRIES).from_select(
        ["transaction_id", "account_id", "amount", "currency", "created_at", "kind", "order_line_id", "listing_id",
         "gross", "bp", "split_id", "order_id", "order_number", "payout_id"],
        select(transaction.c.id, account.c.id, entry.c.amount, header["currency"], header["created_at"], header["kind"],
               entry.c.order_line_id, entry.c.listing_id, entry.c.gross, entry.c.bp, entry.c.split_id,
               header["order_id"], param("order_number", _ENTRIES.c.order_number.type), header["payout_id"])
        .select_from(transaction).join(entry, true()).join(account, account.c.key == entry.c.key)
        .order_by(entry.c.position),
    ).returning(_ENTRIES.c.transaction_id)
    return transaction, entries


def _post_statement() -> DirectStatement:
    transaction, entries = posting_ctes()
    return DirectStatement(entries.add_cte(transaction))


#: built once; see posting_ctes
_POST_SQL = _post_statement()


@dataclass(frozen=True)
class PreparedPosting:
    """A transaction checked by `prepare` and ready to post: posting_ctes's parameters (unprefixed), and what
    `post` needs to post it on its own."""

    key: str
    params: dict
    postings: tuple[Posting, ...]

    def prefixed(self, prefix: str) -> dict:
        return {prefix + name: value for name, value in self.params.items()}


def prepare(key: str, kind: str, currency: str, postings: list[Posting], now: datetime, *, order_id: int | None = None,
            order_number: str | None = None, refund_id: int | None = None, payout_id: int | None = None,
            memo: str | None = None) -> PreparedPosting:
    """Check a transaction as `post` does (zero amounts left out) and answer it ready to post.
    :raise LedgerError: the entries do not add up to zero, are not integers, or use another currency"""
    postings = [p for p in postings if p.amount != 0]
    if any(isinstance(p.amount, bool) or not isinstance(p.amount, int) for p in postings):
        raise LedgerError("ledger amounts are integers in minor units")
    if sum(p.amount for p in postings) != 0:
        raise LedgerError(f"transaction {key} does not balance: {sum(p.amount for p in postings)}")
    if any(p.account.currency != currency for p in postings):
        raise LedgerError(f"transaction {key} mixes currencies")
    keys = [p.account.key for p in postings]
    params = {
        "key": key, "kind": str(kind), "currency": currency, "order_id": order_id, "refund_id": refund_id,
        "payout_id": payout_id, "memo": memo, "created_at": now, "order_number": order_number,
        "account_keys": sorted(set(keys)), "account_count": len(set(keys)),
        "keys": keys, "amounts": [p.amount for p in postings], "order_line_ids": [p.order_line_id for p in postings],
        "listing_ids": [p.listing_id for p in postings], "grosses": [p.gross for p in postings],
        "bps": [p.bp for p in postings], "split_ids": [p.split_id for p in postings],
    }
    return PreparedPosting(key, params, tuple(postings))


def _post_in_one_statement(prepared: PreparedPosting) -> int | None:
    for attempt in range(2):
        transaction_id = _POST_SQL.run(db.session, prepared.params).scalar()
        if transaction_id is not None:
            return transaction_id
        if is_posted(prepared.key):
            return None
        if attempt == 0:
            account_ids(p.account for p in prepared.postings)
    raise LedgerError(f"transaction {prepared.key} found no accounts to post to")


def is_posted(key: str) -> bool:
    return db.session.scalar(select(LedgerTransaction.id).where(LedgerTransaction.key == key)) is not None


# ---------------------------------------------------------------- reading

def account_balance(account_id: int, before: datetime | None = None) -> int:
    query = select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.account_id == account_id)
    if before is not None:
        query = query.where(LedgerEntry.created_at < before)
    return int(db.session.scalar(query))


def party_accounts(user_id: int | None = None, brand_id: int | None = None) -> list[LedgerAccount]:
    """A user's or a brand's payable accounts, one per currency it has ever earned in."""
    owner = LedgerAccount.brand_id == brand_id if brand_id is not None else LedgerAccount.user_id == user_id
    return list(db.session.scalars(
        select(LedgerAccount).where(LedgerAccount.kind == AccountKind.PAYABLE, owner).order_by(LedgerAccount.currency)
    ))


def party_balances(user_id: int | None = None, brand_id: int | None = None) -> list[Money]:
    """What Encore owes the user or brand, per currency (negative after a refund of money already paid out)."""
    owner = LedgerAccount.brand_id == brand_id if brand_id is not None else LedgerAccount.user_id == user_id
    rows = db.session.execute(
        select(LedgerAccount.currency, func.coalesce(func.sum(LedgerEntry.amount), 0))
        .select_from(LedgerAccount).outerjoin(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .where(LedgerAccount.kind == AccountKind.PAYABLE, owner)
        .group_by(LedgerAccount.currency).order_by(LedgerAccount.currency)
    ).all()
    return [Money(int(amount), currency) for currency, amount in rows]


@dataclass
class LedgerCheck:
    """The whole ledger at a glance: per currency, every account kind's total and whether all adds up."""

    #: currency -> account kind -> total
    totals: dict[str, dict[str, int]]
    #: transactions whose entries do not add up to zero (each as (id, key, currency, sum)); must be empty
    unbalanced: list[tuple[int, str, str, int]]

    @property
    def sums_to_zero(self) -> bool:
        return not self.unbalanced and all(sum(kinds.values()) == 0 for kinds in self.totals.values())

    def total(self, currency: str, kind: str) -> int:
        return self.totals.get(currency, {}).get(kind, 0)


def check_ledger() -> LedgerCheck:
    totals: dict[str, dict[str, int]] = defaultdict(dict)
    for currency, kind, amount in db.session.execute(
        select(LedgerEntry.currency, LedgerAccount.kind, func.sum(LedgerEntry.amount))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .group_by(LedgerEntry.currency, LedgerAccount.kind)
    ):
        totals[currency][kind] = int(amount)
    unbalanced = [
        (row[0], row[1], row[2], int(row[3])) for row in db.session.execute(
            select(LedgerTransaction.id, LedgerTransaction.key, LedgerEntry.currency, func.sum(LedgerEntry.amount))
            .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
            .group_by(LedgerTransaction.id, LedgerTransaction.key, LedgerEntry.currency)
            .having(func.sum(LedgerEntry.amount) != 0)
            .limit(100)
        )
    ]
    return LedgerCheck(dict(totals), unbalanced)
