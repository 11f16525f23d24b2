"""Money as integer minor units of a currency, and the exact ways to divide it."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

import attrs

from musicconnect.domain.errors import InvalidInput

#: ISO 4217 minor-unit exponents for the currencies we accept.
CURRENCY_EXPONENTS: Final[dict[str, int]] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "JPY": 0,
    "KWD": 3,
    "BHD": 3,
}


def _check_amount(_: object, __: attrs.Attribute[int], value: object) -> None:
    # bool is an int subclass and float sneaks in from JSON: both would corrupt arithmetic.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"amount_minor must be an integer, got {type(value).__name__}")


def _check_currency(_: object, __: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or value not in CURRENCY_EXPONENTS:
        raise InvalidInput(f"unsupported currency {value!r}")


@attrs.frozen(order=False)
class Money:
    """An amount in a currency's minor unit (cents for USD, yen for JPY, fils for KWD)."""

    amount_minor: int = attrs.field(validator=_check_amount)
    currency: str = attrs.field(validator=_check_currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """An amount people type (``5``, ``5.00``, ``1.250``) in ``currency``, exactly; more
        decimals than the currency has, or anything that is not a plain number, is refused."""
        _check_currency(None, None, currency)  # type: ignore[arg-type]
        cleaned = text.strip()
        exponent = CURRENCY_EXPONENTS[currency]
        whole, _, fraction = cleaned.partition(".")
        if not whole.isdigit() or not (fraction == "" or fraction.isdigit()) or len(fraction) > exponent:
            raise InvalidInput(f"not an amount in {currency}: {text!r}")
        if len(whole) > 12:  # noqa: PLR2004 - far above any tier price
            raise InvalidInput(f"amount too large: {text!r}")
        return cls(int(whole + fraction.ljust(exponent, "0")), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise InvalidInput(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount_minor <= other.amount_minor

    def __gt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount_minor > other.amount_minor

    def __ge__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount_minor >= other.amount_minor

    @property
    def is_zero(self) -> bool:
        return self.amount_minor == 0

    def scaled(self, numerator: int, denominator: int) -> Money:
        """This amount times numerator/denominator, rounded half-even to the minor unit."""
        if denominator <= 0:
            raise InvalidInput("denominator must be positive")
        # Integer arithmetic: Decimal's 28-digit context silently rounds large products.
        quotient, remainder = divmod(self.amount_minor * numerator, denominator)
        if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
            quotient += 1  # round half to even
        return Money(quotient, self.currency)

    def format(self) -> str:
        """Human form, e.g. ``5.00 USD``, ``500 JPY``, ``1.250 KWD``."""
        exponent = CURRENCY_EXPONENTS[self.currency]
        value = Decimal(self.amount_minor).scaleb(-exponent)
        return f"{value:.{exponent}f} {self.currency}"

    def __str__(self) -> str:
        return self.format()


#: The platform keeps this share of every payment, in percent.
PLATFORM_FEE_PERCENT: Final[int] = 10


@attrs.frozen
class RevenueSplit:
    gross: Money
    artist: Money
    platform: Money


def split_revenue(gross: Money, fee_percent: int = PLATFORM_FEE_PERCENT) -> RevenueSplit:
    """Platform fee rounded half-even to the minor unit; the artist gets exactly the rest."""
    if gross.amount_minor < 0:
        raise InvalidInput("cannot split a negative amount")
    platform = gross.scaled(fee_percent, 100)
    return RevenueSplit(gross=gross, artist=gross - platform, platform=platform)


def allocate(total: Money, weights: Sequence[int]) -> list[Money]:
    """Divide ``total`` in proportion to ``weights`` by the largest-remainder method.

    The parts always add up to ``total``; ties in remainder go to the earlier payee.
    """
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        raise InvalidInput("weights must be non-negative and not all zero")
    if total.amount_minor < 0:
        raise InvalidInput("cannot allocate a negative amount")
    weight_sum = sum(weights)
    floors = [total.amount_minor * w // weight_sum for w in weights]
    remainders = [total.amount_minor * w % weight_sum for w in weights]
    left = total.amount_minor - sum(floors)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in by_remainder[:left]:
        floors[i] += 1
    return [Money(amount, total.currency) for amount in floors]
