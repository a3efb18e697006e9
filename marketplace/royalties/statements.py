"""A party's statement for a period: the opening balance, every ledger line of its payable account in the period
(sales, fees, refunds, chargebacks, payouts), the closing balance; as data, CSV and PDF in the party's language.

Four statements whatever the number of lines: the account's id, the opening balance (one SUM over the index
ix_ledger_entries_statement, entries before the period), the lines (one Core select of the period's entries,
which carry their order number and payout) and the titles of the listings they name. The closing balance is
the opening plus the lines.
"""
from __future__ import annotations

import csv
import gc
import io
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import cache, lru_cache
from xml.sax.saxutils import escape

from flask import current_app
from flask_babel import force_locale, format_date, format_decimal
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import func, select

from app.errors import Errors, ValidationFailed
from app.extensions import db
from app.money import Money, MoneyError, check_currency
from marketplace.catalog.models import Listing
from marketplace.royalties import ledger
from marketplace.royalties.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction, TransactionKind
from marketplace.royalties.parties import Party

#: the longest period one statement covers (a leap year, inclusive)
MAX_PERIOD_DAYS = 366
#: the earliest date a statement may start: nothing was posted before, and it keeps dates far from date.min
EARLIEST_DATE = date(2000, 1, 1)


@dataclass(slots=True)
class StatementLine:
    """One entry of the party's payable account, with what it was for."""

    at: datetime
    kind: str
    order_id: int | None
    order_number: str | None
    listing_id: int | None
    listing_title: str | None
    #: the line's net amount the share was taken from (sales, fees, refunds)
    gross: Money | None
    #: the party's share of `gross` in basis points
    bp: int | None
    #: signed: positive earned, negative refunded or paid out
    amount: Money
    payout_id: int | None
    #: the seller (creator profile) of the order line, so a page can link only orders the reader may open
    creator_id: int | None = None

    @property
    def share_percent(self) -> str:
        """The share as the reader's language writes a percentage with up to two decimals ("60%", "33.33%")."""
        if self.bp is None:
            return ""
        return format_decimal(self.bp / 100, format="#,##0.##") + "%"


@dataclass
class Statement:
    party: Party
    currency: str
    date_from: date
    date_to: date
    opening: Money
    lines: list[StatementLine]
    closing: Money
    #: per transaction kind, the sum of the period's lines of that kind
    totals: dict[str, Money] = field(default_factory=dict)

    @property
    def payouts(self) -> list[StatementLine]:
        return [line for line in self.lines if line.kind in (TransactionKind.PAYOUT, TransactionKind.PAYOUT_REVERSAL)]


def kind_label(kind: str) -> str:
    """What a transaction kind is called on a statement, in the current language."""
    labels = {
        TransactionKind.SALE: _("Sale"),
        TransactionKind.GATEWAY_FEE: _("Payment fee"),
        TransactionKind.REFUND: _("Refund"),
        TransactionKind.CHARGEBACK: _("Chargeback"),
        TransactionKind.PAYOUT: _("Payout"),
        TransactionKind.PAYOUT_REVERSAL: _("Payout returned"),
        TransactionKind.ADJUSTMENT: _("Adjustment"),
    }
    return labels.get(kind, kind)


# ---------------------------------------------------------------- the period and the currency

def _parse_date(value: str, name: str, errors: Errors) -> date | None:
    try:
        parsed = datetime.strptime(value.strip(), "%Y-%m-%d").date()
    except ValueError:
        errors.add(name, _("Enter a real date as YYYY-MM-DD."))
        return None
    if parsed < EARLIEST_DATE or parsed.year > 2999:
        errors.add(name, _("Enter a date between %(first)s and 2999-12-31.", first=EARLIEST_DATE.isoformat()))
        return None
    return parsed


def parse_period(date_from: str | None, date_to: str | None, today: date) -> tuple[date, date]:
    """The statement's first and last day (inclusive, UTC) from the query's texts. Without them: the current
    month up to today; only a last day: its month up to it; only a first day: up to today (or a year on).
    :raise 422: a date that is not YYYY-MM-DD, `from` after `to`, or more than 366 days"""
    errors = Errors()
    start = _parse_date(date_from, "from", errors) if date_from else None
    end = _parse_date(date_to, "to", errors) if date_to else None
    errors.raise_if_any()
    if start is None:
        start = (end or today).replace(day=1)
    if end is None:
        end = min(max(today, start), start + timedelta(days=MAX_PERIOD_DAYS - 1))
    if start > end:
        raise ValidationFailed.one("from", _("The first day comes after the last day."))
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise ValidationFailed.one("to", _("A statement covers at most %(days)d days.", days=MAX_PERIOD_DAYS))
    return start, end


def statement_currencies(party: Party) -> list[str]:
    """The currencies the party has a payable account in, alphabetically."""
    owner = LedgerAccount.brand_id == party.brand_id if party.is_brand else LedgerAccount.user_id == party.user_id
    return list(db.session.scalars(
        select(LedgerAccount.currency).where(LedgerAccount.kind == AccountKind.PAYABLE, owner)
        .order_by(LedgerAccount.currency)
    ))


def choose_currency(party: Party, requested: str | None) -> str:
    """The currency asked for, else the party's only one, else the site's default (when the party has it or has
    none), else the party's first. :raise 422: a currency Encore does not handle"""
    if requested:
        try:
            return check_currency(requested.strip())
        except MoneyError:
            raise ValidationFailed.one("currency", _("Encore does not handle this currency.")) from None
    currencies = statement_currencies(party)
    default = current_app.config["ENCORE_DEFAULT_CURRENCY"]
    if len(currencies) == 1:
        return currencies[0]
    if not currencies or default in currencies:
        return default
    return currencies[0]


# ---------------------------------------------------------------- the statement

def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def _lines_query(account_id: int, start: datetime, end: datetime):
    """The period's entries in time order, each with what its line shows, from ledger_entries alone: on
    PostgreSQL an index-only scan of ix_ledger_entries_statement, in the index's order (no sort)."""
    return (
        select(
            LedgerEntry.created_at, LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.gross, LedgerEntry.bp,
            LedgerEntry.listing_id, LedgerEntry.order_id, LedgerEntry.order_number, LedgerEntry.payout_id,
        )
        .where(LedgerEntry.account_id == account_id, LedgerEntry.created_at >= start, LedgerEntry.created_at < end)
        .order_by(LedgerEntry.account_id, LedgerEntry.created_at, LedgerEntry.id)
    )


@contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector while a statement's lines are built. 100,000 new rows and lines
    would trigger it again and again to scan a growing list that holds no cycles (half the build time);
    reference counting still frees everything, and the collector runs again afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _plain_rows(query) -> list[tuple]:
    """The query's rows as plain tuples, in the session's transaction. On PostgreSQL straight from the driver in
    binary form: a year of a busy party is 100,000 rows, and building SQLAlchemy rows and parsing text would
    cost more than the index scan itself (the session runs in UTC, so timestamps arrive in UTC)."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return connection.execute(query).all()
    compiled = query.compile(dialect=connection.dialect)
    with connection.connection.driver_connection.cursor(binary=True) as cursor:
        cursor.execute(str(compiled), compiled.params)
        return cursor.fetchall()


def _listings_named(listing_ids) -> dict[int, tuple[str, int]]:
    """listing id -> (title, seller's creator profile id) for the few listings a statement names."""
    if not listing_ids:
        return {}
    rows = db.session.execute(select(Listing.id, Listing.title, Listing.creator_id).where(Listing.id.in_(listing_ids)))
    return {listing_id: (title, creator_id) for listing_id, title, creator_id in rows}


def statement_for(party: Party, currency: str, date_from: date, date_to: date) -> Statement:
    """The party's statement in `currency` from the start of `date_from` to the end of `date_to` (UTC days)."""
    currency = check_currency(currency)
    account_id = ledger.find_account(ledger.payable(currency, party.user_id, party.brand_id))
    zero = Money(0, currency)
    if account_id is None:
        return Statement(party, currency, date_from, date_to, zero, [], zero, {})
    start, end = _day_start(date_from), _day_start(date_to + timedelta(days=1))
    opening = Money(ledger.account_balance(account_id, before=start), currency)
    # Money objects are immutable and a party's amounts repeat (the same prices and shares): one object per
    # amount keeps a statement of 100,000 lines from validating the currency 200,000 times
    money_of: dict[int, Money] = {}

    def money(amount) -> Money:
        found = money_of[amount] = Money(int(amount), currency)
        return found

    with _collector_paused():
        rows = _plain_rows(_lines_query(account_id, start, end))
        listings = _listings_named({row[5] for row in rows if row[5] is not None})
        unnamed = (None, None)
        totals: dict[str, int] = {}
        lines = []
        append = lines.append
        for at, kind, amount, gross, bp, listing_id, order_id, number, payout_id in rows:
            title, creator_id = listings.get(listing_id, unnamed)
            gross_money = None if gross is None else money_of.get(gross) or money(gross)
            append(StatementLine(at, kind, order_id, number, listing_id, title, gross_money, bp,
                                 money_of.get(amount) or money(amount), payout_id, creator_id))
            totals[kind] = totals.get(kind, 0) + amount
    closing = Money(opening.amount + sum(totals.values()), currency)
    return Statement(party, currency, date_from, date_to, opening, lines, closing,
                     {kind: Money(total, currency) for kind, total in totals.items()})


# ---------------------------------------------------------------- files

def statement_filename(statement: Statement, extension: str) -> str:
    return (f"encore-statement-{statement.date_from.isoformat()}-{statement.date_to.isoformat()}-"
            f"{statement.currency}.{extension}")


def _headers() -> list[str]:
    return [_("Date"), _("Type"), _("Order"), _("Listing"), _("Gross"), _("Share"), _("Amount"), _("Currency"),
            _("Payout")]


@lru_cache(maxsize=4096)
def _major(money: Money) -> str:
    return money.major_str()


def statement_csv(statement: Statement, locale: str) -> str:
    """The statement as CSV in `locale`: a header row, the opening balance, one row per line, the closing
    balance. Amounts are plain decimals in major units ("12.50", "-3.00") so spreadsheets add them up."""
    currency = statement.currency
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    with force_locale(locale):
        writer.writerow(_headers())
        writer.writerow([statement.date_from.isoformat(), _("Opening balance"), "", "", "", "",
                         statement.opening.major_str(), currency, ""])
        labels = {kind: kind_label(kind) for kind in {line.kind for line in statement.lines}}
        for line in statement.lines:
            writer.writerow([
                line.at.strftime("%Y-%m-%d %H:%M:%S"), labels[line.kind], line.order_number or "",
                line.listing_title or "", _major(line.gross) if line.gross is not None else "",
                f"{line.bp / 100:.2f}%" if line.bp is not None else "", _major(line.amount), currency,
                line.payout_id if line.payout_id is not None else "",
            ])
        writer.writerow([statement.date_to.isoformat(), _("Closing balance"), "", "", "", "",
                         statement.closing.major_str(), currency, ""])
    return out.getvalue()


def statement_pdf(statement: Statement, locale: str) -> bytes:
    """The statement as an A4 PDF in `locale`: the party, the period, the balances, a table of the lines (its
    header repeated on every page) and a page number at the foot of every page."""
    with force_locale(locale):
        return _render_pdf(statement, locale)


#: a standard Adobe CID font: reportlab needs no font file, and it draws Chinese and Latin alike
CJK_FONT = "STSong-Light"
LATIN_FONT, LATIN_BOLD = "Helvetica", "Helvetica-Bold"


@cache
def _register_cjk_font() -> None:
    pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _needs_cjk(texts) -> bool:
    return any(ord(char) > 0xFF for text in texts if text for char in text)


def _in_font(text: str) -> str:
    """The CID font's Unicode map covers the Basic Multilingual Plane only: anything past it (emoji) becomes '?'."""
    return "".join(char if ord(char) <= 0xFFFF else "?" for char in text)


def _drawable(text: str) -> str:
    """Text for a reportlab Paragraph, which reads a little markup: escaped, and within the font."""
    return escape(_in_font(text))


def _line_reference(line: StatementLine) -> str:
    if line.order_number:
        return line.order_number
    return _("Payout #%(id)d", id=line.payout_id) if line.payout_id is not None else ""


def _render_pdf(statement: Statement, locale: str) -> bytes:
    headers = [_("Date"), _("Type"), _("Order"), _("Listing"), _("Gross"), _("Share"), _("Amount")]
    words = headers + [statement.party.name] + [line.listing_title for line in statement.lines]
    if locale.startswith("zh") or _needs_cjk(words):
        _register_cjk_font()
        font = bold = CJK_FONT
    else:
        font, bold = LATIN_FONT, LATIN_BOLD
    styles = {
        "title": ParagraphStyle("title", fontName=bold, fontSize=16, leading=20, spaceAfter=6),
        "meta": ParagraphStyle("meta", fontName=font, fontSize=10, leading=14),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=8, leading=10),
        "head": ParagraphStyle("head", fontName=bold, fontSize=8, leading=10),
        "num": ParagraphStyle("num", fontName=font, fontSize=8, leading=10, alignment=TA_RIGHT),
        "total": ParagraphStyle("total", fontName=bold, fontSize=10, leading=14, alignment=TA_RIGHT),
    }

    def cell(text, style="cell"):
        return Paragraph(_drawable(text or ""), styles[style])

    story = [
        cell(_("Statement"), "title"),
        cell(statement.party.name, "meta"),
        cell(_("%(first)s to %(last)s", first=format_date(statement.date_from, "long"),
               last=format_date(statement.date_to, "long")), "meta"),
        cell(_("Currency: %(currency)s", currency=statement.currency), "meta"),
        Spacer(1, 8),
        cell(f"{_('Opening balance')}: {statement.opening.format(locale)}", "total"),
        Spacer(1, 6),
    ]
    if statement.lines:
        rows = [[cell(text, "head") for text in headers]]
        for line in statement.lines:
            rows.append([
                cell(format_date(line.at, "short")), cell(kind_label(line.kind)), cell(_line_reference(line)),
                cell(line.listing_title), cell(line.gross.format(locale) if line.gross is not None else "", "num"),
                cell(line.share_percent, "num"), cell(line.amount.format(locale), "num"),
            ])
        table = Table(rows, colWidths=[52, 54, 100, 127, 62, 38, 66], repeatRows=1)
        table.setStyle(TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.lightgrey),
            ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]))
        story.append(table)
    else:
        story.append(cell(_("Nothing was posted in this period."), "meta"))
    story += [Spacer(1, 8), cell(f"{_('Closing balance')}: {statement.closing.format(locale)}", "total")]

    def page_number(canvas, document):
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawRightString(A4[0] - document.rightMargin, 20, _("Page %(page)d", page=canvas.getPageNumber()))
        canvas.drawString(document.leftMargin, 20, _in_font(statement.party.name)[:80])
        canvas.restoreState()

    out = io.BytesIO()
    document = SimpleDocTemplate(out, pagesize=A4, leftMargin=40, rightMargin=40, topMargin=40, bottomMargin=40,
                                 title=_("Statement"), author="Encore")
    document.build(story, onFirstPage=page_number, onLaterPages=page_number)
    return out.getvalue()
