"""Server-rendered bar charts as inline SVG: no script, no library, readable on a phone and by a screen reader.

The SVG scales to its container (viewBox, width 100%). Text would shrink with it, so a page that must be read
on a phone renders a narrow chart for small screens beside the wide one (see `width`): a narrow chart keeps
its text size and shows fewer x labels.
"""
from __future__ import annotations

import math
from decimal import Decimal

from babel.numbers import format_currency
from flask_babel import force_locale, gettext as _
from markupsafe import Markup, escape

from app.money import Money

EARNED_COLOUR = "#6d3df2"
REFUNDED_COLOUR = "#e8407a"
GRID_COLOUR = "#e2e0ec"
TEXT_COLOUR = "#6b6880"
FONT_SIZE = 12
#: the least room an x label takes, in SVG units at FONT_SIZE
LABEL_ROOM = 40


def nice_step(span: int, steps: int = 4) -> int:
    """A round gridline step (1, 2 or 5 times a power of ten, in minor units) so `steps` of them cover `span`."""
    if span <= 0:
        return 1
    raw = span / steps
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return int(factor * power) or 1
    return int(10 * power)


def axis_label(amount: int, currency: str, locale: str) -> str:
    """A gridline's money label in the reader's locale, without cents when it is whole (¥1,000, US$2.50)."""
    money = Money(amount, currency)
    value = money.as_decimal()
    if value == value.to_integral_value():
        return format_currency(Decimal(int(value)), currency, format="¤#,##0", currency_digits=False, locale=locale)
    return money.format(locale)


def text_width(text: str) -> float:
    """Roughly how wide `text` draws at FONT_SIZE: CJK characters are square, Latin ones about 0.6 as wide."""
    return sum(FONT_SIZE if ord(char) > 0x2E80 else FONT_SIZE * 0.6 for char in text)


def _label_step(labels: list[str], plot_width: float) -> int:
    """Show every n-th x label so that labels never touch: n from the widest label and the room per bar."""
    widest = max(text_width(label) for label in labels)
    room = max(LABEL_ROOM, widest + 16)
    # the last label may be pushed left by up to half its width to stay inside the chart
    fits = max(1, int((plot_width - widest / 2) // room))
    return max(1, math.ceil(len(labels) / fits))


def bar_chart_svg(series, *, labels, width: int = 640, height: int = 220, locale: str = "en",
                  title: str | None = None, legend: tuple[str, str] | None = None) -> Markup:
    """Bars of what was earned per period (up) and what refunds took back (down, in another colour).

    `series` is a list of (period start, earned Money, refunded Money) in one currency, oldest first; `labels`
    the x label of each period; `legend` names the two kinds of bar (default: Earned, Refunded). Every bar has
    a <title> for hover; the aria-label sums the whole chart up. Words and amounts are in `locale`.
    """
    with force_locale(locale):
        return _bar_chart_svg(series, labels, width, height, locale, title, legend)


def _bar_chart_svg(series, labels, width, height, locale, title, legend) -> Markup:
    series = list(series)
    labels = [str(label) for label in labels]
    if len(labels) != len(series):
        raise ValueError("one label per period")
    if not series:
        raise ValueError("a chart needs at least one period")
    currency = series[0][1].currency
    earned = [row[1].amount for row in series]
    refunded = [row[2].amount for row in series]

    step = nice_step(max(max(earned), 0) + max(max(refunded), 0) or 100)
    top = max(1, math.ceil(max(max(earned), 0) / step)) * step
    # refunds are usually small: room just below their deepest bar rather than a whole gridline step
    bottom = math.ceil(max(max(refunded), 0) * 1.15)
    ticks = list(range(-(bottom // step) * step, top + 1, step))
    tick_labels = [axis_label(value, currency, locale) for value in ticks]

    left = 10 + int(max(text_width(text) for text in tick_labels))
    right, plot_top, plot_bottom = 8, 30, height - 24
    plot_width = width - left - right

    def y(value: int) -> float:
        return plot_top + (top - value) * (plot_bottom - plot_top) / (top + bottom)

    slot = plot_width / len(series)
    bar_width = max(2.0, slot * 0.64)
    label_step = _label_step(labels, plot_width)

    parts: list[str] = []
    parts.append(_legend(left, legend))
    for value, text in zip(ticks, tick_labels):
        parts.append(
            f'<line class="grid{" zero" if value == 0 else ""}" x1="{left}" x2="{width - right}" '
            f'y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="{TEXT_COLOUR if value == 0 else GRID_COLOUR}" '
            f'stroke-width="1"/>'
            f'<text class="y-label" x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{escape(text)}</text>'
        )
    for index, (label, gained, lost) in enumerate(zip(labels, series, refunded)):
        x = left + index * slot + (slot - bar_width) / 2
        earned_money, refunded_money = gained[1], gained[2]
        hover = _("%(period)s: earned %(earned)s, refunded %(refunded)s", period=label,
                  earned=earned_money.format(locale), refunded=refunded_money.format(locale))
        up = max(earned[index], 0)
        parts.append(
            f'<g class="bar"><title>{escape(hover)}</title>'
            f'<rect class="bar-earned" x="{x:.1f}" y="{y(up):.1f}" width="{bar_width:.1f}" '
            f'height="{y(0) - y(up):.1f}" fill="{EARNED_COLOUR}" rx="2"/>'
        )
        if lost > 0:
            parts.append(
                f'<rect class="bar-refunded" x="{x:.1f}" y="{y(0):.1f}" width="{bar_width:.1f}" '
                f'height="{y(-lost) - y(0):.1f}" fill="{REFUNDED_COLOUR}" rx="2"/>'
            )
        parts.append("</g>")
        # thin the labels from the newest backwards, so the current period is always named
        if (len(series) - 1 - index) % label_step == 0:
            parts.append(_x_label(label, x + bar_width / 2, height - 6, width))

    summary = _summary(title, labels, series, locale)
    return Markup(
        f'<svg class="bar-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" role="img" aria-label="{escape(summary)}" '
        f'font-size="{FONT_SIZE}" fill="{TEXT_COLOUR}">'
        + "".join(parts) + "</svg>"
    )


def _x_label(label: str, centre: float, y: int, width: int) -> str:
    """A label centred under its bar, kept inside the chart at either end (a long last label is right-aligned)."""
    half = text_width(label) / 2
    x, anchor = centre, "middle"
    if centre + half > width - 2:
        x, anchor = width - 2, "end"
    elif centre - half < 2:
        x, anchor = 2, "start"
    return f'<text class="x-label" x="{x:.1f}" y="{y}" text-anchor="{anchor}">{escape(label)}</text>'


def _legend(left: int, names: tuple[str, str] | None) -> str:
    earned, refunded = (escape(name) for name in (names or (_("Earned"), _("Refunded"))))
    second = left + 18 + int(text_width(str(earned))) + 16
    return (
        f'<g class="legend"><rect x="{left}" y="6" width="12" height="12" rx="2" fill="{EARNED_COLOUR}"/>'
        f'<text x="{left + 18}" y="16">{earned}</text>'
        f'<rect x="{second}" y="6" width="12" height="12" rx="2" fill="{REFUNDED_COLOUR}"/>'
        f'<text x="{second + 18}" y="16">{refunded}</text></g>'
    )


def _summary(title: str | None, labels: list[str], series, locale: str) -> str:
    currency = series[0][1].currency
    total_earned = Money(sum(row[1].amount for row in series), currency)
    total_refunded = Money(sum(row[2].amount for row in series), currency)
    best = max(range(len(series)), key=lambda index: series[index][1].amount)
    text = _("%(count)d periods from %(first)s to %(last)s: earned %(earned)s in all, refunded %(refunded)s; "
             "the most, %(best)s, in %(best_period)s.",
             count=len(series), first=labels[0], last=labels[-1], earned=total_earned.format(locale),
             refunded=total_refunded.format(locale), best=series[best][1].format(locale), best_period=labels[best])
    return f"{title}. {text}" if title else text
