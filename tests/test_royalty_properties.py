"""Properties of the royalty money path, checked by Hypothesis.

1. Splitting: `app.money.allocate` (basis points) and `posting.allocate_by_weights` (any weights) over at
   least 100,000 random (amount, shares) pairs: the parts add up to the amount exactly, each part is within
   one minor unit of its exact share, negative amounts split like positive ones, and the same input always
   gives the same parts.
2. The ledger under a random mix of purchases (split listings, quantities, a coupon), partial, full and
   provider-side refunds, chargebacks, payment fees and payouts, driven through the real services: after
   every step each transaction sums to zero, each party's balance is the sum of its entries, no order gives
   back more than it took, and no entry ever changes.
"""
from __future__ import annotations

import itertools
import random
from datetime import timedelta
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import select, text

from app.db import utcnow
from app.extensions import db
from app.money import Money, allocate
from marketplace.royalties.posting import allocate_by_weights
from tests.conftest import ON_POSTGRES
from tests.shipping_support import ADDRESS

# ---------------------------------------------------------------- 1. splitting amounts exactly

#: the issue asks for at least this many (amount, shares) pairs, for each of the two functions
REQUIRED_PAIRS = 100_000
EXAMPLES = 1000
#: pairs per example: a few drawn by Hypothesis itself (so a failure shrinks to a small case) and the rest
#: from a seeded generator Hypothesis also draws (100 drawn pairs per example would take ten times as long)
DRAWN_PAIRS, SEEDED_PAIRS = 10, 90

amounts = st.integers(min_value=-10**12, max_value=10**12) | st.integers(min_value=-1000, max_value=1000)


@st.composite
def basis_points(draw) -> list[int]:
    """1 to 8 non-negative shares adding up to 10,000 (cut points on 0..10000, so zeros and 10000 occur)."""
    count = draw(st.integers(min_value=1, max_value=8))
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=10_000), min_size=count - 1, max_size=count - 1)))
    edges = [0, *cuts, 10_000]
    return [high - low for low, high in itertools.pairwise(edges)]


weights = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=8).filter(lambda ws: sum(ws) > 0)


def seeded_amount(rng: random.Random) -> int:
    """Any magnitude from 0 to 10^13 minor units is as likely as any other, either sign."""
    return rng.choice((-1, 1)) * rng.randrange(10 ** rng.randint(0, 13))


def seeded_basis_points(rng: random.Random) -> list[int]:
    cuts = sorted(rng.randint(0, 10_000) for _ in range(rng.randint(0, 7)))
    return [high - low for low, high in itertools.pairwise([0, *cuts, 10_000])]


def seeded_weights(rng: random.Random) -> list[int]:
    scale = 10 ** rng.randint(0, 9)
    drawn = [rng.randint(0, scale) for _ in range(rng.randint(1, 8))]
    return drawn if sum(drawn) > 0 else [*drawn[:-1], 1]


def check_parts(amount: int, shares: list[int], parts: list[int]) -> None:
    total = sum(shares)
    assert len(parts) == len(shares), (amount, shares, parts)
    assert sum(parts) == amount, (amount, shares, parts)
    for share, part in zip(shares, parts):
        exact = Fraction(amount * share, total)
        assert abs(part - exact) < 1, (amount, shares, parts)
        # a part never has the opposite sign of the amount (nobody pays into a sale split)
        assert part * amount >= 0, (amount, shares, parts)


pairs_checked = {"allocate": 0, "allocate_by_weights": 0}

split_settings = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.skipif(ON_POSTGRES, reason="pure arithmetic, no database: checked once, in the SQLite run")
@split_settings
@given(st.lists(st.tuples(amounts, basis_points()), min_size=DRAWN_PAIRS, max_size=DRAWN_PAIRS),
       st.integers(min_value=0, max_value=2**64))
def test_allocate_splits_every_amount_exactly_by_basis_points(drawn, seed):
    rng = random.Random(seed)
    pairs = drawn + [(seeded_amount(rng), seeded_basis_points(rng)) for _ in range(SEEDED_PAIRS)]
    for amount, shares in pairs:
        parts = [money.amount for money in allocate(Money(amount, "CNY"), shares)]
        check_parts(amount, shares, parts)
        assert [m.amount for m in allocate(Money(amount, "CNY"), shares)] == parts
        # a refund splits like the sale it reverses: the same parts, negated
        assert [m.amount for m in allocate(Money(-amount, "CNY"), shares)] == [-part for part in parts]
    pairs_checked["allocate"] += len(pairs)


@pytest.mark.skipif(ON_POSTGRES, reason="pure arithmetic, no database: checked once, in the SQLite run")
@split_settings
@given(st.lists(st.tuples(amounts, weights), min_size=DRAWN_PAIRS, max_size=DRAWN_PAIRS),
       st.integers(min_value=0, max_value=2**64))
def test_allocate_by_weights_splits_every_amount_exactly(drawn, seed):
    rng = random.Random(seed)
    pairs = drawn + [(seeded_amount(rng), seeded_weights(rng)) for _ in range(SEEDED_PAIRS)]
    for amount, shares in pairs:
        parts = allocate_by_weights(amount, shares)
        check_parts(amount, shares, parts)
        assert allocate_by_weights(amount, shares) == parts
        assert allocate_by_weights(-amount, shares) == [-part for part in parts]
    pairs_checked["allocate_by_weights"] += len(pairs)


@pytest.mark.skipif(ON_POSTGRES, reason="pure arithmetic, no database: checked once, in the SQLite run")
def test_at_least_100000_pairs_were_checked():
    """Runs after the two properties above (pytest keeps file order); alone, it runs them first."""
    if pairs_checked["allocate"] == 0:
        test_allocate_splits_every_amount_exactly_by_basis_points()
    if pairs_checked["allocate_by_weights"] == 0:
        test_allocate_by_weights_splits_every_amount_exactly()
    assert pairs_checked["allocate"] >= REQUIRED_PAIRS
    assert pairs_checked["allocate_by_weights"] >= REQUIRED_PAIRS


@pytest.mark.parametrize("shares", [[10_001], [-1, 10_001], [], [5000, 4999]])
def test_allocate_refuses_shares_that_do_not_make_a_whole(shares):
    from app.money import MoneyError

    with pytest.raises(MoneyError):
        allocate(Money(100, "CNY"), shares)


@pytest.mark.parametrize("shares", [[0, 0], [], [3, -1]])
def test_allocate_by_weights_refuses_weights_that_share_nothing(shares):
    with pytest.raises(ValueError):
        allocate_by_weights(100, shares)


# ---------------------------------------------------------------- 2. the ledger under a random money path

#: the state machine's examples and steps per example. CI runs the suite twice: the SQLite run (`make test`)
#: takes the 1,000 examples the issue asks for; the PostgreSQL run, whose ledger differs by its trigger and
#: its one-statement posting, takes 300 of the same derandomized sequence, to keep CI within its time
MACHINE_EXAMPLES = 300 if ON_POSTGRES else 1000
MACHINE_STEPS = 5
REVERSIBLE_KINDS = ("sale", "refund", "chargeback")
#: the order states that took money and can still give some back
PAID = ("paid", "fulfilled", "partially_refunded")


class World:
    """What every example shares, made once through the real services and committed: two streamers, a
    co-brand, two designers, fans, an operator, five published listings (merch and courses; the store's
    default split and accepted multi-party splits, one with shared payment fees, one priced at 7 fen so
    rounding bites) and two coupons. Each example runs in one database transaction that its teardown rolls
    back, so the next one starts from this state again (on PostgreSQL the ledger's trigger refuses the
    DELETEs that emptying tables would need)."""

    def __init__(self, make):
        from marketplace.catalog import services as catalog
        from marketplace.discounts import services as discounts
        from marketplace.merch import shipping
        from marketplace.merch.models import Variant
        from marketplace.royalties import splits

        now = utcnow()
        self.streamer_a, self.streamer_b = make.streamer(), make.streamer()
        profiles: dict[int, int] = {}

        def shipping_profile(owner) -> int:
            if owner.id not in profiles:
                profiles[owner.id] = shipping.create_profile(owner, {"name": "Standard", "rates": [
                    {"countries": ["CN"], "currency": "CNY", "amount": 1000}]}).id
            return profiles[owner.id]
        brand_member = make.brand_member("Glow Co")
        self.brand = brand_member.memberships[0].brand
        self.designer, self.designer_2 = make.user(), make.user()
        self.fans = [make.user() for _ in range(3)]
        self.operator = make.operator()

        def listing(owner, kind, amount, parties=None, bearer=None):
            created = make.listing(owner, kind=kind, prices=[{"currency": "CNY", "amount": amount}])
            if kind == "merch":  # one unlimited variant, shipped to China for 10.00 by its streamer
                created.shipping_profile_id = shipping_profile(owner)
                db.session.add(Variant(listing_id=created.id, sku=f"SKU-{created.id}", options={"size": "M"},
                                       position=0, is_active=True))
                db.session.flush()
            if parties:
                split = splits.set_split(owner, created, parties, now, bearer)
                for party in split.waiting_for:
                    splits.accept_share(brand_member if party.brand_id else db.session.get(type(owner), party.user_id),
                                        party.id, now)
                assert split.is_active
            catalog.submit_listing(owner, created)
            catalog.approve_listing(self.operator, created)
            catalog.publish_listing(owner, created)
            db.session.commit()
            return created

        a, b = self.streamer_a, self.streamer_b
        self.listings = [
            listing(a, "merch", 999),
            listing(a, "merch", 1001, [{"user_id": a.id, "role": "creator", "bp": 6000},
                                       {"brand_id": self.brand.id, "role": "co_brand", "bp": 2000},
                                       {"user_id": self.designer.id, "role": "designer", "bp": 1000}], "shared"),
            listing(b, "course", 1299),
            listing(b, "course", 777, [{"user_id": b.id, "role": "creator", "bp": 5000},
                                       {"brand_id": self.brand.id, "role": "co_brand", "bp": 2500},
                                       {"user_id": self.designer_2.id, "role": "designer", "bp": 1500}]),
            listing(a, "merch", 7, [{"user_id": a.id, "role": "creator", "bp": 3000},
                                    {"user_id": self.designer.id, "role": "designer", "bp": 3000},
                                    {"brand_id": self.brand.id, "role": "co_brand", "bp": 3000}]),
        ]
        #: listing id -> its variant, for the merch listings
        self.variants = {variant.listing_id: variant.id for variant in db.session.scalars(
            select(Variant).where(Variant.listing_id.in_([listing.id for listing in self.listings])))}
        discounts.create_coupon(a, {"code": "SPRING", "kind": "percent", "percent_bp": 1500})
        discounts.create_coupon(b, {"code": "TENOFF", "kind": "fixed", "amount": 500, "currency": "CNY"})
        self.coupon_owner = {"SPRING": a.creator_profile.id, "TENOFF": b.creator_profile.id}
        db.session.commit()
        #: (user_id, brand_id) of everyone who holds a share somewhere
        self.parties = [(a.id, None), (b.id, None), (self.designer.id, None), (self.designer_2.id, None),
                        (None, self.brand.id)]
        self.entries: dict[int, tuple] = {}
        self.transactions: dict[int, tuple] = {}
        self.summed: dict[tuple, tuple] = {}

    def check_and_commit(self, machine: LedgerMachine) -> None:
        """Commit what `machine` did, check it like a step, and make it the state every example starts from."""
        db.session.commit()
        machine.steps, machine.summed = 1, {}
        for name in ("every_transaction_balances_and_so_does_the_ledger", "each_balance_is_the_sum_of_its_entries",
                     "no_order_gives_back_more_than_it_took", "no_entry_ever_changes"):
            getattr(machine, name)()
        self.entries, self.transactions, self.summed = machine.entries, machine.transactions, machine.summed


class LedgerMachine(RuleBasedStateMachine):
    counter = itertools.count(1)

    def __init__(self, world: World):
        super().__init__()
        self.world = world
        self.order_ids: list[int] = []
        #: entry id -> (account_id, amount, transaction_id, created_at) as first seen; must never change
        self.entries: dict[int, tuple] = {}
        self.transactions: dict[int, tuple] = {}
        self.charged_back: set[int] = set()
        #: orders the provider reported a partial refund of that Encore did not make
        self.refunded_outside: set[int] = set()
        self.fee_posted: set[int] = set()
        self.loaded: list | None = None
        #: the committed ledger every example starts from, checked once by the test itself
        self.entries, self.transactions = dict(world.entries), dict(world.transactions)
        self.summed: dict[tuple, tuple] = dict(world.summed)
        self.steps = 0

    def teardown(self):
        db.session.rollback()

    # ------------------------------------------------------------ helpers

    @staticmethod
    def now():
        return utcnow()

    def orders(self, *statuses):
        """This example's orders as the database has them (read once per step: every rule's precondition asks)."""
        from sqlalchemy.orm import selectinload

        from marketplace.orders.models import Order

        if self.loaded is None:
            query = select(Order).where(Order.id.in_(self.order_ids)).options(selectinload(Order.lines)).order_by(Order.id)
            self.loaded = list(db.session.scalars(query)) if self.order_ids else []
        return [order for order in self.loaded if not statuses or order.status in statuses]

    def refundable(self) -> list:
        """Paid orders an operator can refund lines of."""
        return self.orders(*PAID)

    def locked(self, orders, pick: int):
        from marketplace.orders import services as order_services

        return order_services.lock_order(orders[pick % len(orders)].id)

    def after_step(self):
        db.session.flush()
        self.steps += 1
        self.loaded = None
        db.session.expire_all()  # the next step and the checks read what the database holds, as after a commit

    def remember_ledger(self):
        rows = db.session.execute(text("SELECT id, account_id, amount, transaction_id, created_at FROM ledger_entries"))
        current = {row[0]: tuple(row[1:]) for row in rows}
        for entry_id, seen in self.entries.items():
            assert current.get(entry_id) == seen, f"ledger entry {entry_id} changed or vanished"
        self.entries = current
        rows = db.session.execute(text("SELECT id, key, kind, currency, order_id FROM ledger_transactions"))
        current = {row[0]: tuple(row[1:]) for row in rows}
        for transaction_id, seen in self.transactions.items():
            assert current.get(transaction_id) == seen, f"ledger transaction {transaction_id} changed or vanished"
        self.transactions = current

    # ------------------------------------------------------------ rules

    @rule(fan=st.integers(0, 2),
          items=st.lists(st.tuples(st.integers(0, 4), st.integers(1, 3)), min_size=1, max_size=3,
                         unique_by=lambda item: item[0]),
          coupon=st.sampled_from([None, "SPRING", "TENOFF"]))
    def purchase(self, fan, items, coupon):
        from marketplace.cart import services as cart_services
        from marketplace.orders import services as order_services

        buyer = self.world.fans[fan]
        cart = cart_services.user_cart(buyer)
        listings = [self.world.listings[index] for index, _quantity in items]
        for listing, (_index, quantity) in zip(listings, items):
            cart_services.add_line(cart, listing.id, quantity, variant_id=self.world.variants.get(listing.id))
        if coupon and self.world.coupon_owner[coupon] not in {listing.creator_id for listing in listings}:
            coupon = None  # a code for another seller's items is refused at checkout (tested elsewhere)
        now = self.now()
        order = order_services.place_order(buyer, "CNY", coupon, now, "local", timedelta(hours=1),
                                           shipping_address=ADDRESS)
        order.payment_reference = f"pi_local_{order.number}"
        order_id = order.id
        order = order_services.lock_order(order_id)
        outcome = order_services.mark_paid(order, order.payment_reference, order.total, "CNY", now)
        assert outcome.outcome == "paid"
        self.order_ids.append(order_id)
        self.after_step()

    @precondition(lambda self: any(len([l for l in o.lines if l.refunded_at is None]) >= 2 for o in self.refundable()))
    @rule(pick=st.integers(0, 10**6), mask=st.integers(1, 6))
    def refund_some_lines(self, pick, mask):
        from marketplace.orders import services as order_services
        from marketplace.payments import get_gateway

        candidates = [o for o in self.refundable() if len([l for l in o.lines if l.refunded_at is None]) >= 2]
        order = self.locked(candidates, pick)
        open_lines = [line for line in order.lines if line.refunded_at is None]
        chosen = [line.id for i, line in enumerate(open_lines) if mask >> i & 1][: len(open_lines) - 1]
        chosen = chosen or [open_lines[0].id]
        refund = order_services.refund_order(self.world.operator, order.id, chosen, "Arrived damaged", get_gateway(),
                                             self.now())
        whole = sum(line.total + line.shipping for line in order.lines if line.id in chosen)
        if order.id in self.refunded_outside:
            # part of these lines went back already through the provider: only the rest is sent now
            assert 0 <= refund.amount <= whole
        else:
            assert refund.amount == whole
        assert refund.amount == sum(line.amount for line in refund.lines)
        self.after_step()

    @precondition(lambda self: self.refundable())
    @rule(pick=st.integers(0, 10**6))
    def refund_everything(self, pick):
        from marketplace.orders import services as order_services
        from marketplace.orders.models import OrderStatus
        from marketplace.payments import get_gateway

        order = self.locked(self.refundable(), pick)
        order_services.refund_order(self.world.operator, order.id, None, "Changed my mind", get_gateway(), self.now())
        self.after_step()
        assert next(o for o in self.orders() if o.id == order.id).status == OrderStatus.REFUNDED

    @precondition(lambda self: any(o.total > o.refunded_amount for o in self.orders(*PAID)))
    @rule(pick=st.integers(0, 10**6), fraction=st.integers(1, 100))
    def refund_outside_encore(self, pick, fraction):
        from marketplace.orders import services as order_services

        order = self.locked([o for o in self.orders(*PAID) if o.total > o.refunded_amount], pick)
        missing = max(1, (order.total - order.refunded_amount) * fraction // 100)
        order_services.record_external_refund(order, order.refunded_amount + missing, f"re_dash_{next(self.counter)}",
                                              self.now())
        self.refunded_outside.add(order.id)
        self.after_step()

    @precondition(lambda self: self.orders(*PAID, "refunded"))
    @rule(pick=st.integers(0, 10**6), fraction=st.integers(1, 100))
    def chargeback(self, pick, fraction):
        from marketplace.orders import services as order_services

        order = self.locked(self.orders(*PAID, "refunded"), pick)
        amount = max(1, order.total * fraction // 100)
        order_services.record_chargeback(order, f"dp_{next(self.counter)}", amount, "cny", self.now())
        self.charged_back.add(order.id)
        self.after_step()

    @precondition(lambda self: any(o.id not in self.fee_posted and o.total > 0 for o in self.orders(*PAID)))
    @rule(pick=st.integers(0, 10**6), fee=st.integers(1, 60))
    def gateway_fee(self, pick, fee):
        from marketplace.orders import services as order_services

        order = self.locked([o for o in self.orders(*PAID) if o.id not in self.fee_posted and o.total > 0], pick)
        outcome = order_services.record_gateway_fee(order, fee, f"txn_{order.id}", self.now())
        assert outcome.outcome == "fee_recorded"
        # reported again (a replayed event): nothing more is posted
        assert order_services.record_gateway_fee(order, fee, f"txn_{order.id}", self.now()).outcome == "ignored"
        self.fee_posted.add(order.id)
        self.after_step()

    @precondition(lambda self: self.order_ids)
    @rule(pick=st.integers(0, 10**6))
    def payout(self, pick):
        """Pay out one party's whole positive balance, as the payout service posts it."""
        from marketplace.royalties import ledger
        from marketplace.royalties.ledger import Posting
        from marketplace.royalties.models import TransactionKind

        owed = [(party, sums[0]) for party, sums in self.summed_entries().items() if sums[0] > 0]
        if not owed:
            return  # everything was refunded or paid out already
        (user_id, brand_id), amount = owed[pick % len(owed)]
        posted = ledger.post(f"payout:{next(self.counter)}", TransactionKind.PAYOUT, "CNY",
                             [Posting(ledger.payable("CNY", user_id, brand_id), -amount),
                              Posting(ledger.payouts("CNY"), amount)], self.now())
        assert posted is not None
        self.after_step()
        assert self.balances()[(user_id, brand_id)] == 0

    # ------------------------------------------------------------ invariants

    def balances(self, parties=None) -> dict[tuple, int]:
        """Each party's (or these parties') CNY balance as the ledger module reports it."""
        from marketplace.royalties import ledger

        found = {}
        for user_id, brand_id in self.world.parties if parties is None else parties:
            monies = ledger.party_balances(user_id=user_id, brand_id=brand_id)
            found[(user_id, brand_id)] = sum(m.amount for m in monies if m.currency == "CNY")
        return found

    @staticmethod
    def summed_entries() -> dict[tuple, tuple[int, int, int]]:
        """(user_id, brand_id) -> (all its CNY entries, its sale entries, its payout entries), summed by a raw
        SELECT that shares no code with the ledger module."""
        rows = db.session.execute(text(
            "SELECT a.user_id, a.brand_id, SUM(e.amount), "
            "       SUM(CASE WHEN e.kind = 'sale' THEN e.amount ELSE 0 END), "
            "       SUM(CASE WHEN e.kind = 'payout' THEN e.amount ELSE 0 END) "
            "FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id "
            "WHERE a.kind = 'payable' AND e.currency = 'CNY' GROUP BY a.user_id, a.brand_id"
        )).all()
        return {(row[0], row[1]): (int(row[2]), int(row[3]), int(row[4])) for row in rows}

    # Every invariant runs after each step; the state an example starts from is the committed world, checked
    # once by the test (checking it again before each of the 1,000 examples would only cost time).

    @precondition(lambda self: self.steps)
    @invariant()
    def every_transaction_balances_and_so_does_the_ledger(self):
        from marketplace.royalties import ledger

        check = ledger.check_ledger()
        assert check.unbalanced == []
        assert check.sums_to_zero

    @precondition(lambda self: self.steps)
    @invariant()
    def each_balance_is_the_sum_of_its_entries(self):
        summed = self.summed_entries()
        # the ledger module is asked about each party whose entries' sums moved in this step (the others' rows
        # are unchanged: see no_entry_ever_changes), so each balance is compared after every change to it
        moved = [party for party in self.world.parties if summed.get(party) != self.summed.get(party)]
        for party, balance in self.balances(moved).items():
            total, sold, paid_out = summed.get(party, (0, 0, 0))
            assert balance == total, party
            # nobody holds more than their sales gave them, less what was paid out
            assert balance <= sold + paid_out, party
        self.summed = summed

    @precondition(lambda self: self.steps)
    @invariant()
    def no_order_gives_back_more_than_it_took(self):
        if not self.order_ids:
            return
        rows = db.session.execute(text(
            "SELECT t.order_id, a.kind, e.account_id, t.kind, SUM(e.amount) "
            "FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id "
            "JOIN ledger_accounts a ON a.id = e.account_id "
            "WHERE t.order_id IN (" + ", ".join(str(int(i)) for i in self.order_ids) + ") "
            "GROUP BY t.order_id, a.kind, e.account_id, t.kind"
        )).all()
        for order in self.orders():
            mine = [row for row in rows if row[0] == order.id]
            sale = {row[2]: int(row[4]) for row in mine if row[3] == "sale" and row[1] != "gateway_clearing"}
            clearing = sum(int(row[4]) for row in mine if row[3] == "sale" and row[1] == "gateway_clearing")
            assert clearing == -order.total
            assert sum(sale.values()) == order.total
            given_back = sum(int(row[4]) for row in mine if row[1] == "refunds")
            assert 0 <= given_back <= order.total
            if order.id not in self.charged_back:
                assert given_back == order.refunded_amount
            for account_id, got in sale.items():
                still_held = sum(int(row[4]) for row in mine if row[2] == account_id and row[3] in REVERSIBLE_KINDS)
                assert 0 <= still_held <= got, (order.id, account_id)
                if order.status == "refunded":
                    assert still_held == 0, (order.id, account_id)

    @precondition(lambda self: self.steps)
    @invariant()
    def no_entry_ever_changes(self):
        self.remember_ledger()


def test_the_ledger_stays_balanced_exact_and_unchanged_under_any_money_path(make):
    world = World(make)
    # a committed sale, refund and payout before the machine starts: their entries must survive every
    # example untouched
    machine = LedgerMachine(world)
    machine.purchase(0, [(1, 2), (3, 1)], "SPRING")
    machine.refund_everything(0)
    machine.purchase(1, [(0, 3), (2, 1), (4, 2)], "TENOFF")
    machine.payout(0)
    world.check_and_commit(machine)
    assert len(world.entries) > 20
    run_state_machine_as_test(
        lambda: LedgerMachine(world),
        settings=settings(max_examples=MACHINE_EXAMPLES, stateful_step_count=MACHINE_STEPS, deadline=None,
                          derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
    )
    machine = LedgerMachine(world)
    machine.steps = 1
    machine.no_entry_ever_changes()
    assert machine.entries == world.entries
