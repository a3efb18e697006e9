"""Money as integer minor units plus an ISO 4217 currency; never floats."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency

#: Currencies the marketplace accepts, with their minor-unit exponent (ISO 4217).
CURRENCY_EXPONENTS: dict[str, int] = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "JPY": 0}
SUPPORTED_CURRENCIES = tuple(CURRENCY_EXPONENTS)
#: The largest amount a single price may carry, in minor units (99,999,999.99 in two-decimal currencies).
MAX_AMOUNT = 9_999_999_999


class MoneyError(ValueError):
    pass


def check_currency(code: str) -> str:
    code = (code or "").upper()
    if code not in CURRENCY_EXPONENTS:
        raise MoneyError(f"unknown currency {code!r}; supported: {', '.join(SUPPORTED_CURRENCIES)}")
    return code


@lru_cache(maxsize=4096)
def _formatted(amount: int, currency: str, locale: str) -> str:
    """Babel's formatting of an amount, remembered: the same prices are shown again and again, and Babel
    builds the text anew (locale, pattern, symbol, rounding) on every call."""
    return format_currency(Decimal(amount).scaleb(-CURRENCY_EXPONENTS[currency]), currency, locale=Locale.parse(locale))


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  #: integer count of the currency's minor unit (fen, cents)
    currency: str

    def __post_init__(self):
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise MoneyError("Money amounts are integers in minor units")
        object.__setattr__(self, "currency", check_currency(self.currency))

    @classmethod
    def parse(cls, text: str, currency: str) -> "Money":
        """Read a decimal major-unit string ("12.50") into minor units, refusing excess precision."""
        currency = check_currency(currency)
        try:
            value = Decimal(str(text).strip())
        except Exception as exc:
            raise MoneyError(f"{text!r} is not a number") from exc
        if not value.is_finite():
            raise MoneyError(f"{text!r} is not a number")
        minor = value.scaleb(CURRENCY_EXPONENTS[currency])
        if minor != minor.to_integral_value():
            raise MoneyError(f"{currency} has {CURRENCY_EXPONENTS[currency]} decimal places at most")
        return cls(int(minor), currency)

    @property
    def exponent(self) -> int:
        return CURRENCY_EXPONENTS[self.currency]

    def as_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-self.exponent)

    def major_str(self) -> str:
        """The amount in major units as plain text ("12.50"), as a form field shows it."""
        return f"{self.as_decimal():.{self.exponent}f}"

    def format(self, locale: str = "en") -> str:
        return _formatted(self.amount, self.currency, locale)

    def _same(self, other: "Money") -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise MoneyError("cannot combine amounts in different currencies")

    def __add__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> "Money":
        return Money(-self.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.major_str()} {self.currency}"


def allocate(total: Money, basis_points: list[int]) -> list[Money]:
    """Split `total` by shares in basis points with the largest-remainder method.

    The shares must add up to 10,000; the parts always add up to `total` exactly.
    """
    if not basis_points or any(bp < 0 for bp in basis_points) or sum(basis_points) != 10_000:
        raise MoneyError("shares must be non-negative basis points adding up to 10000")
    sign = -1 if total.amount < 0 else 1
    magnitude = abs(total.amount)
    floors = [magnitude * bp // 10_000 for bp in basis_points]
    remainders = [magnitude * bp % 10_000 for bp in basis_points]
    leftover = magnitude - sum(floors)
    # ties go to the earlier share so the split is deterministic
    order = sorted(range(len(basis_points)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        floors[i] += 1
    return [Money(sign * part, total.currency) for part in floors]
