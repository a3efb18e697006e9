"""Public pages load a page of listings with a fixed number of queries, however many listings it shows."""
from contextlib import contextmanager

from sqlalchemy import event

from app.extensions import db
from marketplace.catalog.models import ListingStatus


@contextmanager
def count_queries():
    counted = []

    def before_execute(conn, cursor, statement, parameters, context, executemany):
        counted.append(statement)

    event.listen(db.engine, "before_cursor_execute", before_execute)
    try:
        yield counted
    finally:
        event.remove(db.engine, "before_cursor_execute", before_execute)


def _queries_for(client, path: str) -> int:
    with count_queries() as counted:
        assert client.get(path).status_code == 200
    return len(counted)


def test_browse_home_and_storefront_do_not_query_per_listing(client, make):
    make.brand_member(brand_name="Lumen Gear")
    owner = make.streamer(handle="mia")
    make.live_room(owner)
    make.listing(owner, status=ListingStatus.PUBLISHED, partners=["lumen-gear"])
    few = {path: _queries_for(client, path) for path in ("/", "/browse", "/@mia")}
    for _ in range(8):
        make.listing(owner, status=ListingStatus.PUBLISHED, partners=["lumen-gear"])
    many = {path: _queries_for(client, path) for path in ("/", "/browse", "/@mia")}
    assert many == few


# ---------------------------------------------------------------- the checkout money path

#: statements per request of the checkout flow (bench/checkout_flow.py sends these at 100 orders/s): the
#: token and its user (1); the cart with its lines, the added listing and those of the lines with their prices (1),
#: the new line (1)
CART_ADD_STATEMENTS = 3
#: token (1), cart and lines locked and read with their listings and prices (1), the order, its lines and its history
#: inserted with the cart emptied (a one-line order: 1 statement on PostgreSQL; else the order (1), its lines (1,
#: one statement for all), its history (1), the cart emptied (1)), the payment session stored (1)
ONE_LINE_ORDER_CREATE_STATEMENTS = {"postgresql": 4, "sqlite": 7}
#: an order's status change with its history row: one statement on PostgreSQL (the UPDATE's RETURNING feeds the
#: INSERT), an UPDATE and an INSERT elsewhere
STATUS_CHANGE_STATEMENTS = {"postgresql": 1, "sqlite": 2}
#: the event stored unless seen (1), order and its lines locked (1), order paid with its history, the event's
#: outcome (1) (on PostgreSQL the event is stored and the order locked in one statement, and the outcome rides with
#: the order's change)
WEBHOOK_STATEMENTS = {"postgresql": 1, "sqlite": 3}
#: the eagerly run fulfilment task adds its own: order and lines locked with the buyer (1), each line claimed (1),
#: the download entitlement granted (1: one INSERT ... SELECT that reads the buyer from the order, so it names the
#: orders table and counts here), the email recorded (1); on PostgreSQL the claim, the grant and the email ride with
#: the order's move to fulfilled (a status change, counted below)
FULFILMENT_STATEMENTS = {"postgresql": 1, "sqlite": 4}
#: the royalty split posted when the order is paid, here the first sale of all three accounts: the lines' split rules
#: (each listing's active version or the default rule with any fee override, in one select; on PostgreSQL read by the
#: statement that stores the event and locks the order, which names the split tables and counts here too), the
#: transaction, the accounts (read, and here created) and the entries. On PostgreSQL the transaction and its entries
#: ride with the order's move to paid (counted here too): that finds an account missing and posts nothing, and the
#: sale is posted on its own once the accounts exist
LEDGER_POSTING_STATEMENTS = {"postgresql": 9, "sqlite": 8}
#: every statement of the webhook with the eager fulfilment task: the money path's and the ledger's (a statement
#: naming both counted once) and the kind's entitlement; the first sale of its accounts, then the next one
WEBHOOK_ALL_STATEMENTS = {"postgresql": 11, "sqlite": 19}
WEBHOOK_NEXT_SALE_STATEMENTS = {"postgresql": 4, "sqlite": 16}


def _fan_and_two_courses(make):
    """A fan's API headers and the ids of two published courses from two streamers."""
    from tests.api_support import bearer_for

    prices = [{"currency": "CNY", "amount": 1200}]
    first, second = (make.listing(make.streamer(), status=ListingStatus.PUBLISHED, kind="course", prices=prices).id
                     for _ in range(2))
    return bearer_for(make, make.user()), first, second


def test_adding_to_a_cart_with_lines_reads_their_listings_once(client, make):
    headers, first, second = _fan_and_two_courses(make)
    assert client.post("/api/v1/cart/lines", json={"listing_id": first}, headers=headers).status_code == 201
    with count_queries() as cart_add:
        answer = client.post("/api/v1/cart/lines", json={"listing_id": second}, headers=headers)
    assert answer.status_code == 201
    assert [line["listing"]["id"] for line in answer.get_json()["lines"]] == [first, second]
    # the line's listing comes with the added one, and the summary reads neither again
    assert len([s for s in cart_add if not s.startswith("BEGIN")]) == CART_ADD_STATEMENTS, cart_add


def test_the_checkout_requests_run_a_fixed_small_number_of_statements(client, make):
    from marketplace.payments import local_gateway
    from tests.api_support import bearer_for
    from tests.order_support import deliver, order_row

    headers, first, second = _fan_and_two_courses(make)
    # a returning fan: the cart row exists and the token's use this minute is recorded
    assert client.post("/api/v1/cart/lines", json={"listing_id": first}, headers=headers).status_code == 201
    assert client.post("/api/v1/orders", json={"currency": "CNY"}, headers=headers).status_code == 201

    with count_queries() as cart_add:
        assert client.post("/api/v1/cart/lines", json={"listing_id": second}, headers=headers).status_code == 201
    with count_queries() as order_create:
        answer = client.post("/api/v1/orders", json={"currency": "CNY"}, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    event = local_gateway.completed_event(order_row(answer.get_json()["id"]))
    db.session.commit()
    with count_queries() as webhook:
        assert deliver(client, event).status_code == 200
    assert order_row(answer.get_json()["id"]).status == "fulfilled"

    def counted(statements, tables=None):
        # SQLite's BEGIN is a statement of its own (PostgreSQL's rides with the first one); a product kind's
        # own statements to deliver a line (entitlements, enrollments) are its business, not the money path's
        return [s for s in statements if not s.startswith("BEGIN")
                and (tables is None or any(f" {table} " in f" {s} ".replace("\n", " ") for table in tables))]

    money_path = ("payment_events", "orders", "order_lines", "order_status_changes", "order_emails", "users")
    assert len(counted(cart_add)) == CART_ADD_STATEMENTS, cart_add
    assert len(counted(order_create)) == ONE_LINE_ORDER_CREATE_STATEMENTS[db.engine.dialect.name], order_create
    dialect = db.engine.dialect.name
    expected = WEBHOOK_STATEMENTS[dialect] + FULFILMENT_STATEMENTS[dialect] + 2 * STATUS_CHANGE_STATEMENTS[dialect]
    assert len(counted(webhook, money_path)) == expected, webhook
    ledger = ("royalty_splits", "royalty_split_parties", "royalty_listing_fees", "ledger_accounts",
              "ledger_transactions", "ledger_entries")
    assert len(counted(webhook, ledger)) == LEDGER_POSTING_STATEMENTS[dialect], counted(webhook, ledger)
    assert len(counted(webhook)) == WEBHOOK_ALL_STATEMENTS[dialect], webhook

    # another fan buys the same course: every account of its split exists now
    other = bearer_for(make, make.user())
    assert client.post("/api/v1/cart/lines", json={"listing_id": second}, headers=other).status_code == 201
    answer = client.post("/api/v1/orders", json={"currency": "CNY"}, headers=other)
    event = local_gateway.completed_event(order_row(answer.get_json()["id"]))
    db.session.commit()
    with count_queries() as next_sale:
        assert deliver(client, event).status_code == 200
    assert order_row(answer.get_json()["id"]).status == "fulfilled"
    assert len(counted(next_sale)) == WEBHOOK_NEXT_SALE_STATEMENTS[dialect], next_sale
