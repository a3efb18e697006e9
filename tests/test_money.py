import pytest

from app.money import Money, MoneyError, allocate


def test_money_parses_major_units_into_integer_minor_units():
    assert Money.parse("12.50", "cny") == Money(1250, "CNY")
    assert Money.parse("7", "USD").amount == 700
    assert Money.parse("1500", "JPY").amount == 1500


@pytest.mark.parametrize("text", ["12.345", "abc", "", "NaN", "Infinity"])
def test_money_parse_refuses_excess_precision_and_non_numbers(text):
    with pytest.raises(MoneyError):
        Money.parse(text, "CNY")


def test_money_refuses_floats_and_unknown_currencies():
    with pytest.raises(MoneyError):
        Money(12.5, "CNY")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(True, "CNY")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(100, "XXX")


def test_money_arithmetic_stays_within_one_currency():
    assert Money(100, "USD") + Money(250, "USD") == Money(350, "USD")
    assert Money(100, "USD") - Money(250, "USD") == Money(-150, "USD")
    with pytest.raises(MoneyError):
        Money(100, "USD") + Money(100, "CNY")


def test_money_formats_per_locale_and_currency():
    assert Money(1200, "CNY").format("zh_CN") == "¥12.00"
    assert Money(1200, "CNY").format("en") == "CN¥12.00"
    assert Money(123456, "USD").format("en") == "$1,234.56"
    assert Money(1500, "JPY").format("en") == "¥1,500"
    assert Money(1250, "CNY").major_str() == "12.50"


def test_allocate_uses_largest_remainder_and_never_loses_a_cent():
    parts = allocate(Money(100, "CNY"), [3333, 3333, 3334])
    assert [p.amount for p in parts] == [33, 33, 34]
    assert sum(p.amount for p in parts) == 100
    parts = allocate(Money(1, "USD"), [5000, 5000])
    assert [p.amount for p in parts] == [1, 0]  # ties go to the earlier share


def test_allocate_handles_negative_totals_for_reversals():
    parts = allocate(Money(-101, "CNY"), [5000, 5000])
    assert [p.amount for p in parts] == [-51, -50]


@pytest.mark.parametrize("shares", [[], [5000, 4000], [-100, 10100]])
def test_allocate_refuses_shares_not_adding_to_10000(shares):
    with pytest.raises(MoneyError):
        allocate(Money(100, "CNY"), shares)
