"""DirectStatement runs a Core statement on the session's connection through the driver, and gives what
session.execute gives: the same rows and values (column types' processors applied), defaults, errors, events."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, event, exc, func, insert, select, update

from app.db import DirectStatement, utcnow
from app.extensions import db
from marketplace.orders.models import PaymentEvent

from tests import factories

_EVENTS = PaymentEvent.__table__
_INSERT_EVENT = DirectStatement(insert(_EVENTS).returning(_EVENTS.c.id, _EVENTS.c.received_at))
_EVENTS_BY_GATEWAY = DirectStatement(
    select(_EVENTS.c.id, _EVENTS.c.event_id, _EVENTS.c.received_at.label("when"))
    .where(_EVENTS.c.gateway == bindparam("gateway")).order_by(_EVENTS.c.id)
)
_EVENTS_IN = DirectStatement(select(_EVENTS.c.event_id).where(_EVENTS.c.id.in_(bindparam("ids"))).order_by(_EVENTS.c.id))
_SET_OUTCOME = DirectStatement(update(_EVENTS).where(_EVENTS.c.gateway == bindparam("of_gateway")).values(outcome=bindparam("outcome")))
_COUNT_EVENTS = DirectStatement(select(func.count()).select_from(_EVENTS))


def _event(event_id: str, gateway: str = "local", **values) -> dict:
    return {"gateway": gateway, "event_id": event_id, "type": "checkout.session.completed", "outcome": "received", **values}


def test_rows_read_as_session_execute_reads_them(app):
    when = datetime(2026, 11, 25, 12, 30, tzinfo=timezone(timedelta(hours=8)))
    first = _INSERT_EVENT.run(db.session, _event("evt_1", received_at=when)).one()
    _INSERT_EVENT.run(db.session, _event("evt_2"))
    _INSERT_EVENT.run(db.session, _event("evt_3", gateway="stripe"))
    db.session.commit()

    direct = _EVENTS_BY_GATEWAY.run(db.session, {"gateway": "local"}).all()
    through_sqlalchemy = db.session.execute(_EVENTS_BY_GATEWAY.statement, {"gateway": "local"}).all()
    assert [tuple(row) for row in direct] == [tuple(row) for row in through_sqlalchemy]
    assert [row.event_id for row in direct] == ["evt_1", "evt_2"]
    # UTCDateTime stores UTC and reads it back timezone-aware, on SQLite as on PostgreSQL
    assert direct[0].when == when and direct[0].when.tzinfo == timezone.utc
    assert first.received_at == when
    assert direct[0]._mapping["event_id"] == "evt_1"


def test_a_python_side_default_is_filled_in_when_the_parameters_leave_it_out(app):
    before = utcnow()
    row = _INSERT_EVENT.run(db.session, _event("evt_default")).one()
    assert before <= row.received_at <= utcnow()


def test_expanding_in_renders_for_each_number_of_values(app):
    ids = [_INSERT_EVENT.run(db.session, _event(f"evt_{n}")).scalar() for n in range(4)]
    assert _EVENTS_IN.run(db.session, {"ids": ids[1:3]}).scalars() == ["evt_1", "evt_2"]
    assert _EVENTS_IN.run(db.session, {"ids": ids}).scalars() == ["evt_0", "evt_1", "evt_2", "evt_3"]
    assert _EVENTS_IN.run(db.session, {"ids": []}).all() == []


def test_an_update_answers_its_rowcount(app):
    for n in range(3):
        _INSERT_EVENT.run(db.session, _event(f"evt_{n}"))
    _INSERT_EVENT.run(db.session, _event("evt_other", gateway="stripe"))
    assert _SET_OUTCOME.run(db.session, {"of_gateway": "local", "outcome": "paid"}).rowcount == 3
    assert db.session.scalars(select(_EVENTS.c.outcome).order_by(_EVENTS.c.id)).all() == ["paid"] * 3 + ["received"]


def test_it_runs_in_the_sessions_transaction(app):
    _INSERT_EVENT.run(db.session, _event("evt_rolled_back"))
    assert _COUNT_EVENTS.run(db.session).scalar() == 1
    db.session.rollback()
    assert _COUNT_EVENTS.run(db.session).scalar() == 0


def test_pending_orm_objects_are_flushed_first(app):
    db.session.add(PaymentEvent(**_event("evt_pending")))
    assert _COUNT_EVENTS.run(db.session).scalar() == 1
    with db.session.no_autoflush:
        db.session.add(PaymentEvent(**_event("evt_not_yet")))
        assert _COUNT_EVENTS.run(db.session).scalar() == 1


def test_a_unique_violation_is_sqlalchemys_integrity_error_and_the_session_recovers(app):
    _INSERT_EVENT.run(db.session, _event("evt_once"))
    db.session.commit()
    with pytest.raises(exc.IntegrityError):
        _INSERT_EVENT.run(db.session, _event("evt_once"))
    db.session.rollback()
    assert _COUNT_EVENTS.run(db.session).scalar() == 1


def test_a_naive_datetime_is_refused_before_anything_is_sent(app):
    with pytest.raises(exc.StatementError, match="naive datetime"):
        _INSERT_EVENT.run(db.session, _event("evt_naive", received_at=datetime(2026, 11, 25, 12, 0)))
    assert _COUNT_EVENTS.run(db.session).scalar() == 0


def test_one_and_one_or_none_refuse_several_rows(app):
    for n in range(2):
        _INSERT_EVENT.run(db.session, _event(f"evt_{n}"))
    result = _EVENTS_BY_GATEWAY.run(db.session, {"gateway": "local"})
    with pytest.raises(exc.MultipleResultsFound):
        result.one_or_none()
    with pytest.raises(exc.NoResultFound):
        _EVENTS_BY_GATEWAY.run(db.session, {"gateway": "nowhere"}).one()
    assert _EVENTS_BY_GATEWAY.run(db.session, {"gateway": "nowhere"}).first() is None


def test_cursor_execute_listeners_see_each_statement(app):
    seen = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        _COUNT_EVENTS.run(db.session)
        _INSERT_EVENT.run(db.session, _event("evt_seen"))
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    statements = [statement for statement in seen if not statement.startswith("BEGIN")]  # SQLite's BEGIN IMMEDIATE
    assert len(statements) == 2 and statements[1].lstrip().upper().startswith("INSERT INTO PAYMENT_EVENTS")


def test_a_required_parameter_left_out_is_refused(app):
    with pytest.raises(exc.StatementError):
        _EVENTS_BY_GATEWAY.run(db.session, {})


def test_ledger_rows_cannot_be_changed_through_it():
    from marketplace.royalties.models import LedgerEntry

    with pytest.raises(ValueError, match="immutable"):
        DirectStatement(update(LedgerEntry.__table__).values(amount=0))


def test_it_serves_a_users_row_as_the_orm_reads_it(app):
    user = factories.user(display_name="Ann 安")
    db.session.commit()
    users = user.__table__
    row = DirectStatement(select(users).where(users.c.id == bindparam("id"))).run(db.session, {"id": user.id}).one()
    assert (row.email, row.display_name, row.created_at) == (user.email, "Ann 安", user.created_at)
