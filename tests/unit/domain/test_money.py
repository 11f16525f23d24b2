"""Money: integer minor units, the 90/10 split and largest-remainder allocation."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from musicconnect.domain.errors import InvalidInput
from musicconnect.domain.money import CURRENCY_EXPONENTS, Money, allocate, split_revenue

#: The design's fee, restated here so a changed constant in the code is caught, not mirrored.
DESIGN_FEE = Fraction(10, 100)

split_currencies = st.sampled_from(["USD", "JPY", "KWD"])
any_currency = st.sampled_from(sorted(CURRENCY_EXPONENTS))
gross_minor = st.integers(min_value=0, max_value=10**9)


def round_half_even(value: Fraction) -> int:
    """Round to the nearest integer, ties to the even one; written out, not borrowed from the code."""
    floor = math.floor(value)
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


# --- property 1: the 90/10 split -------------------------------------------------------------


@settings(max_examples=300)
@given(gross=gross_minor, currency=split_currencies)
@example(gross=5, currency="USD")  # a tie with an even floor stays down (half-up would give 1)
@example(gross=15, currency="JPY")  # a tie with an odd floor goes up
@example(gross=25, currency="KWD")
@example(gross=10**9, currency="USD")
def test_split_adds_up_to_gross_and_rounds_the_fee_half_even(gross: int, currency: str) -> None:
    """artist + platform == gross, the fee is 10 % rounded half-even, both shares non-negative."""
    split = split_revenue(Money(gross, currency))

    assert split.gross == Money(gross, currency)
    assert split.artist.currency == split.platform.currency == currency
    assert split.artist.amount_minor + split.platform.amount_minor == gross
    assert split.platform.amount_minor == round_half_even(gross * DESIGN_FEE)
    assert split.platform.amount_minor >= 0
    assert split.artist.amount_minor >= 0
    # artist - 9 * platform == gross - 10 * platform == 10 * (gross / 10 - platform), and the fee is
    # gross / 10 rounded to the nearest unit, so |gross / 10 - platform| <= 1/2: the artist gets
    # nine times the platform's share give or take at most 5 minor units.
    assert abs(split.artist.amount_minor - 9 * split.platform.amount_minor) <= 5


def test_split_of_five_dollars_is_four_fifty_and_fifty_cents() -> None:
    """The supporter price splits 450 / 50."""
    split = split_revenue(Money(500, "USD"))

    assert (split.artist, split.platform) == (Money(450, "USD"), Money(50, "USD"))


def test_split_of_zero_is_zero_for_both() -> None:
    """Nothing paid, nothing split."""
    split = split_revenue(Money(0, "JPY"))

    assert split.artist.is_zero
    assert split.platform.is_zero


def test_split_refuses_a_negative_amount() -> None:
    """Refunds are their own transactions, not negative splits."""
    with pytest.raises(InvalidInput):
        split_revenue(Money(-1, "USD"))


# --- scaled ---------------------------------------------------------------------------------


@settings(max_examples=200)
@given(
    amount=st.integers(min_value=-(10**30), max_value=10**30),
    numerator=st.integers(min_value=0, max_value=10**15),
    denominator=st.integers(min_value=1, max_value=10**15),
)
@example(amount=25, numerator=1, denominator=10)  # 2.5 is a tie: half-even gives 2, half-up 3
@example(amount=999_900_009_898_990_100_999_905, numerator=99_999_999_999_680, denominator=9_998_999_778)
def test_scaled_rounds_half_even_exactly_whatever_the_size(
    amount: int, numerator: int, denominator: int
) -> None:
    """scaled() is exact half-even rounding even where a 28-digit Decimal context would round early."""
    scaled = Money(amount, "USD").scaled(numerator, denominator)

    assert scaled.amount_minor == round_half_even(Fraction(amount * numerator, denominator))


def test_scaled_refuses_a_non_positive_denominator() -> None:
    """Dividing by zero or a negative number is a programming error, refused loudly."""
    with pytest.raises(InvalidInput):
        Money(100, "USD").scaled(1, 0)


# --- property 2: largest-remainder allocation ------------------------------------------------


@settings(max_examples=200)
@given(
    total=st.integers(min_value=0, max_value=10**9),
    currency=split_currencies,
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=10).filter(any),
)
@example(total=10, currency="USD", weights=[1, 1, 1])
@example(total=1, currency="JPY", weights=[0, 3, 0])
def test_allocate_adds_up_and_keeps_every_part_within_one_of_its_share(
    total: int, currency: str, weights: list[int]
) -> None:
    """Parts sum to the total, each is within 1 of its exact share, and the largest remainders win."""
    parts = allocate(Money(total, currency), weights)
    shares = [Fraction(total * weight, sum(weights)) for weight in weights]
    pairs = [(part.amount_minor, share) for part, share in zip(parts, shares, strict=True)]

    assert all(part.currency == currency for part in parts)
    assert sum(amount for amount, _ in pairs) == total
    assert all(abs(amount - share) < 1 for amount, share in pairs)
    assert all(amount in {math.floor(share), math.floor(share) + 1} for amount, share in pairs)
    rounded_up = [share - math.floor(share) for amount, share in pairs if amount > share]
    rounded_down = [share - math.floor(share) for amount, share in pairs if amount <= share]
    if rounded_up and rounded_down:
        assert min(rounded_up) >= max(rounded_down)
    assert allocate(Money(total, currency), weights) == parts


def test_allocate_gives_ties_to_the_earlier_payee() -> None:
    """Ten cents three ways is 4, 3, 3."""
    assert allocate(Money(10, "USD"), [1, 1, 1]) == [Money(4, "USD"), Money(3, "USD"), Money(3, "USD")]


def test_allocate_gives_nothing_to_a_zero_weight() -> None:
    """A payee with no weight gets nothing, even when there is a remainder to hand out."""
    assert allocate(Money(7, "JPY"), [0, 1, 1]) == [Money(0, "JPY"), Money(4, "JPY"), Money(3, "JPY")]


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1]])
def test_allocate_refuses_weights_that_divide_nothing(weights: list[int]) -> None:
    """Empty, all-zero or negative weights have no proportion to divide by."""
    with pytest.raises(InvalidInput):
        allocate(Money(10, "USD"), weights)


def test_allocate_refuses_a_negative_total() -> None:
    """Only what is there can be divided."""
    with pytest.raises(InvalidInput):
        allocate(Money(-10, "USD"), [1, 1])


# --- property 3: what Money refuses ------------------------------------------------------------


@settings(max_examples=100)
@given(value=st.floats(allow_nan=True, allow_infinity=True), currency=any_currency)
def test_money_refuses_floats(value: float, currency: str) -> None:
    """A float amount, even a whole one such as 5.0, is refused: it has already lost precision."""
    with pytest.raises(InvalidInput):
        Money(value, currency)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, False])
def test_money_refuses_bools(*, value: bool) -> None:
    """bool is an int subclass, but True is not one cent."""
    with pytest.raises(InvalidInput):
        Money(value, "USD")


@pytest.mark.parametrize("value", [Decimal("5.00"), Fraction(1, 2), "500", None])
def test_money_refuses_other_non_integers(value: object) -> None:
    """Decimals, fractions, strings and None are not minor units either."""
    with pytest.raises(InvalidInput):
        Money(value, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["usd", "XYZ", "", "US"])
def test_money_refuses_unknown_currencies(currency: str) -> None:
    """Only the ISO codes we know the minor unit of are accepted, upper case."""
    with pytest.raises(InvalidInput):
        Money(100, currency)


COMBINATIONS: list[Callable[[Money, Money], object]] = [
    operator.add,
    operator.sub,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
]


@settings(max_examples=100)
@given(
    a=st.integers(min_value=-(10**9), max_value=10**9),
    b=st.integers(min_value=-(10**9), max_value=10**9),
    currencies=st.lists(any_currency, min_size=2, max_size=2, unique=True),
    combine=st.sampled_from(COMBINATIONS),
)
def test_money_arithmetic_refuses_mixed_currencies(
    a: int, b: int, currencies: list[str], combine: Callable[[Money, Money], object]
) -> None:
    """Adding, subtracting or comparing two currencies is refused rather than guessed."""
    with pytest.raises(InvalidInput):
        combine(Money(a, currencies[0]), Money(b, currencies[1]))


def test_money_of_different_currencies_is_never_equal() -> None:
    """100 USD is not 100 JPY."""
    assert Money(100, "USD") != Money(100, "JPY")


# --- arithmetic and formatting ---------------------------------------------------------------


@settings(max_examples=100)
@given(
    a=st.integers(min_value=-(10**12), max_value=10**12),
    b=st.integers(min_value=-(10**12), max_value=10**12),
    currency=any_currency,
)
def test_money_arithmetic_follows_the_integers(a: int, b: int, currency: str) -> None:
    """+, -, negation and comparisons behave exactly as on the minor-unit integers."""
    x, y = Money(a, currency), Money(b, currency)

    assert x + y == Money(a + b, currency)
    assert x - y == Money(a - b, currency)
    assert -x == Money(-a, currency)
    assert (x < y, x <= y, x > y, x >= y) == (a < b, a <= b, a > b, a >= b)


def test_zero_is_zero_in_its_currency() -> None:
    """Money.zero builds a zero amount that knows its currency."""
    assert Money.zero("KWD") == Money(0, "KWD")
    assert Money.zero("KWD").is_zero
    assert not Money(1, "KWD").is_zero


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(500, "USD"), "5.00 USD"),
        (Money(500, "JPY"), "500 JPY"),
        (Money(1250, "KWD"), "1.250 KWD"),
        (Money(-5, "USD"), "-0.05 USD"),
        (Money(0, "BHD"), "0.000 BHD"),
    ],
)
def test_money_formats_with_its_currencys_minor_unit(money: Money, text: str) -> None:
    """Two decimals for USD, none for JPY, three for KWD."""
    assert money.format() == text
    assert str(money) == text
