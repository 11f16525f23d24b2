"""The double-entry ledger: entries, balanced transactions and the four kinds of money movement."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicconnect.domain.errors import InsufficientBalance, InvalidInput
from musicconnect.domain.ledger import (
    CASH,
    PLATFORM_FEES,
    PLATFORM_PROCESSING,
    Direction,
    Entry,
    Transaction,
    TransactionKind,
    artist_account,
    balance_of,
    charge_transaction,
    check_payout_period,
    payout_key,
    payout_transaction,
    processing_fee_transaction,
    refund_transaction,
    trial_balance,
)
from musicconnect.domain.money import Money

NOW = datetime(2024, 5, 1, tzinfo=UTC)
ARTIST = artist_account("a1")

currencies = st.sampled_from(["USD", "JPY", "KWD"])
positive = st.integers(min_value=1, max_value=10**9)


def charge(gross: Money, *, artist_id: str = "a1", key: str = "c1") -> Transaction:
    return charge_transaction(
        transaction_id=key,
        idempotency_key=key,
        artist_id=artist_id,
        fan_id="f1",
        gross=gross,
        occurred_at=NOW,
    )


def refund(amount: Money, *, before: Money | None = None, key: str = "r1") -> Transaction:
    return refund_transaction(
        transaction_id=key,
        idempotency_key=key,
        artist_id="a1",
        fan_id="f1",
        amount=amount,
        occurred_at=NOW,
        refunded_before=before,
    )


def payout(amount: Money, available: Money, *, period: str = "2024-04") -> Transaction:
    return payout_transaction(
        transaction_id="p1",
        artist_id="a1",
        period=period,
        amount=amount,
        available=available,
        occurred_at=NOW,
    )


def fee(amount: Money) -> Transaction:
    return processing_fee_transaction(transaction_id="x1", idempotency_key="x1", fee=amount, occurred_at=NOW)


def is_balanced(transaction: Transaction) -> bool:
    return all(total == 0 for total in trial_balance([transaction]).values())


# --- entries and transactions ---------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -1, -500])
@pytest.mark.parametrize("direction", list(Direction))
def test_an_entry_refuses_a_non_positive_amount(amount: int, direction: Direction) -> None:
    """Entries carry positive amounts; the direction says which way the money moves."""
    with pytest.raises(InvalidInput):
        Entry(CASH, direction, Money(amount, "USD"))


def test_a_debit_is_positive_and_a_credit_negative() -> None:
    """signed_minor is the debit-positive convention."""
    assert Entry(CASH, Direction.DEBIT, Money(5, "USD")).signed_minor == 5
    assert Entry(CASH, Direction.CREDIT, Money(5, "USD")).signed_minor == -5


def test_an_unbalanced_transaction_is_refused() -> None:
    """Debits must equal credits."""
    with pytest.raises(InvalidInput, match="debits and credits differ"):
        Transaction(
            id="t",
            kind=TransactionKind.CHARGE,
            idempotency_key="t",
            occurred_at=NOW,
            entries=(
                Entry(CASH, Direction.DEBIT, Money(100, "USD")),
                Entry(ARTIST, Direction.CREDIT, Money(90, "USD")),
            ),
        )


def test_a_transaction_must_balance_in_each_currency() -> None:
    """100 USD against 100 JPY is two unbalanced currencies, not one balanced transaction."""
    with pytest.raises(InvalidInput):
        Transaction(
            id="t",
            kind=TransactionKind.CHARGE,
            idempotency_key="t",
            occurred_at=NOW,
            entries=(
                Entry(CASH, Direction.DEBIT, Money(100, "USD")),
                Entry(ARTIST, Direction.CREDIT, Money(100, "JPY")),
            ),
        )


def test_a_transaction_needs_entries() -> None:
    """An empty transaction records nothing and is refused."""
    with pytest.raises(InvalidInput):
        Transaction(id="t", kind=TransactionKind.CHARGE, idempotency_key="t", occurred_at=NOW, entries=())


def test_a_transaction_balanced_in_two_currencies_is_accepted() -> None:
    """Each currency balances on its own."""
    transaction = Transaction(
        id="t",
        kind=TransactionKind.PAYOUT,
        idempotency_key="t",
        occurred_at=NOW,
        entries=(
            Entry(ARTIST, Direction.DEBIT, Money(100, "USD")),
            Entry(CASH, Direction.CREDIT, Money(100, "USD")),
            Entry(ARTIST, Direction.DEBIT, Money(700, "JPY")),
            Entry(CASH, Direction.CREDIT, Money(700, "JPY")),
        ),
    )

    assert trial_balance([transaction]) == {"USD": 0, "JPY": 0}


# --- the four movements -----------------------------------------------------------------------


def test_a_charge_owes_the_artist_90_percent_and_books_10_percent_as_fees() -> None:
    """5.00 USD: cash +500, artist owed 450, platform fees 50."""
    transaction = charge(Money(500, "USD"))

    assert transaction.kind is TransactionKind.CHARGE
    assert transaction.amount_for(CASH) == 500
    assert transaction.amount_for(ARTIST) == -450
    assert transaction.amount_for(PLATFORM_FEES) == -50
    assert transaction.gross == Money(500, "USD")
    assert (transaction.artist_id, transaction.fan_id) == ("a1", "f1")


def test_a_charge_too_small_for_a_fee_has_no_fee_entry() -> None:
    """5 cents rounds the fee half-even to zero: no zero-amount entry is written."""
    transaction = charge(Money(5, "USD"))

    assert [e.account for e in transaction.entries] == [CASH, ARTIST]


@pytest.mark.parametrize("gross", [0, -100])
def test_a_charge_must_be_positive(gross: int) -> None:
    """Nothing or less is not a charge."""
    with pytest.raises(InvalidInput):
        charge(Money(gross, "USD"))


def test_a_refund_takes_back_90_10_and_pays_the_cash_out() -> None:
    """Refunding 5.00 USD debits the artist 450 and the fees 50."""
    transaction = refund(Money(500, "USD"))

    assert transaction.kind is TransactionKind.REFUND
    assert transaction.amount_for(ARTIST) == 450
    assert transaction.amount_for(PLATFORM_FEES) == 50
    assert transaction.amount_for(CASH) == -500
    assert transaction.gross == Money(-500, "USD")


@pytest.mark.parametrize("amount", [0, -1])
def test_a_refund_must_be_positive(amount: int) -> None:
    """Nothing or less is not a refund."""
    with pytest.raises(InvalidInput):
        refund(Money(amount, "USD"))


def test_a_refund_refuses_a_negative_amount_already_refunded() -> None:
    """What was refunded before cannot be below zero."""
    with pytest.raises(InvalidInput):
        refund(Money(5, "USD"), before=Money(-1, "USD"))


def test_partial_refunds_of_a_whole_charge_take_back_exactly_its_split() -> None:
    """16 cents refunded as 5 + 5 + 6 takes back 14 from the artist and 2 from fees, no more."""
    books = [charge(Money(16, "USD"))]
    refunded = 0
    for part in (5, 5, 6):
        books.append(refund(Money(part, "USD"), before=Money(refunded, "USD"), key=f"r{refunded}"))
        refunded += part

    assert balance_of(books, ARTIST, "USD") == Money(0, "USD")
    assert balance_of(books, PLATFORM_FEES, "USD") == Money(0, "USD")
    assert balance_of(books, CASH, "USD") == Money(0, "USD")


@settings(max_examples=150)
@given(
    gross=st.integers(min_value=1, max_value=10**6),
    cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=6),
    currency=currencies,
)
def test_any_partial_refunds_adding_up_to_a_charge_return_every_account_to_zero(
    gross: int, cuts: list[int], currency: str
) -> None:
    """However a charge is refunded in parts, the artist and the platform end where they started."""
    points = sorted({0, gross, *(cut % gross for cut in cuts)})
    books = [charge(Money(gross, currency))]
    for before, after in itertools.pairwise(points):
        books.append(
            refund(Money(after - before, currency), before=Money(before, currency), key=f"r{before}")
        )
        refunded_so_far = sum(-t.amount_for(CASH) for t in books[1:])
        # after each part, the artist has given back exactly 90 % of the running total, rounded as the split
        platform_back = round(Fraction(refunded_so_far, 10))
        assert sum(t.amount_for(ARTIST) for t in books[1:]) == refunded_so_far - platform_back

    assert all(is_balanced(t) for t in books)
    assert balance_of(books, ARTIST, currency).is_zero
    assert balance_of(books, PLATFORM_FEES, currency).is_zero


def test_a_processing_fee_is_an_expense_paid_out_of_cash() -> None:
    """The processor's fee is the platform's cost; the artist's share is untouched."""
    transaction = fee(Money(45, "USD"))

    assert transaction.kind is TransactionKind.PROCESSING_FEE
    assert transaction.amount_for(PLATFORM_PROCESSING) == 45
    assert transaction.amount_for(CASH) == -45
    assert transaction.amount_for(ARTIST) == 0


def test_a_payout_pays_the_artist_out_of_cash_under_the_period_key() -> None:
    """4.50 USD for April: artist debited, cash credited, key payout:a1:2024-04."""
    transaction = payout(Money(450, "USD"), Money(450, "USD"))

    assert transaction.kind is TransactionKind.PAYOUT
    assert transaction.idempotency_key == "payout:a1:2024-04"
    assert transaction.amount_for(ARTIST) == 450
    assert transaction.amount_for(CASH) == -450
    assert transaction.memo == "payout for 2024-04"


def test_a_payout_in_another_currency_records_that_currencys_key() -> None:
    """The key the payout run checks is the key the transaction carries, per currency."""
    transaction = payout(Money(700, "JPY"), Money(700, "JPY"))

    assert transaction.idempotency_key == payout_key("a1", "2024-04", "JPY")
    assert transaction.idempotency_key != payout_key("a1", "2024-04", "USD")


def test_a_payout_of_nothing_is_refused() -> None:
    """A zero payout would be a zero-amount entry."""
    with pytest.raises(InvalidInput):
        payout(Money(0, "USD"), Money(0, "USD"))


def test_a_payout_in_another_currency_than_the_balance_is_refused() -> None:
    """USD cannot be paid out of a JPY balance."""
    with pytest.raises(InvalidInput):
        payout(Money(100, "USD"), Money(100, "JPY"))


# --- property 7: payouts never above balance; every builder balances ---------------------------


@settings(max_examples=100)
@given(available=st.integers(min_value=-(10**9), max_value=10**9), extra=positive, currency=currencies)
def test_a_payout_above_the_available_balance_is_refused(available: int, extra: int, currency: str) -> None:
    """Asking for even one minor unit more than is available raises InsufficientBalance."""
    with pytest.raises(InsufficientBalance):
        payout(Money(available + extra, currency), Money(available, currency))


@settings(max_examples=100)
@given(amount=positive, slack=st.integers(min_value=0, max_value=10**9), currency=currencies)
def test_a_payout_up_to_the_available_balance_is_accepted_and_balanced(
    amount: int, slack: int, currency: str
) -> None:
    """Any positive amount up to what is available is paid, balanced."""
    transaction = payout(Money(amount, currency), Money(amount + slack, currency))

    assert is_balanced(transaction)
    assert transaction.amount_for(ARTIST) == amount


@settings(max_examples=150)
@given(amount=positive, before=st.integers(min_value=0, max_value=10**9), currency=currencies)
def test_every_charge_refund_and_fee_transaction_is_balanced(amount: int, before: int, currency: str) -> None:
    """Whatever the amount and currency, the builders only make balanced transactions."""
    money = Money(amount, currency)
    built = [charge(money), refund(money), refund(money, before=Money(before, currency)), fee(money)]

    assert all(is_balanced(t) for t in built)
    assert all(e.amount.currency == currency for t in built for e in t.entries)


# --- balances ----------------------------------------------------------------------------------


def test_balances_read_in_each_accounts_natural_sign() -> None:
    """After a 5.00 charge, a 0.45 processing fee and a 4.50 payout every balance reads positive or zero."""
    books = [charge(Money(500, "USD")), fee(Money(45, "USD"))]

    assert balance_of(books, CASH, "USD") == Money(455, "USD")
    assert balance_of(books, ARTIST, "USD") == Money(450, "USD")
    assert balance_of(books, PLATFORM_FEES, "USD") == Money(50, "USD")
    assert balance_of(books, PLATFORM_PROCESSING, "USD") == Money(45, "USD")
    books.append(payout(Money(450, "USD"), balance_of(books, ARTIST, "USD")))
    assert balance_of(books, ARTIST, "USD").is_zero
    assert balance_of(books, CASH, "USD") == Money(5, "USD")


def test_balances_are_kept_per_currency() -> None:
    """A JPY charge does not show in the USD balance."""
    books = [charge(Money(500, "USD")), charge(Money(1000, "JPY"), key="c2")]

    assert balance_of(books, ARTIST, "USD") == Money(450, "USD")
    assert balance_of(books, ARTIST, "JPY") == Money(900, "JPY")
    assert balance_of(books, ARTIST, "KWD") == Money(0, "KWD")
    assert trial_balance(books) == {"USD": 0, "JPY": 0}


def test_artist_accounts_are_named_after_the_artist() -> None:
    """One liability account per artist."""
    assert artist_account("abc") == "artist:abc"


@given(
    now=st.datetimes(
        min_value=datetime(1990, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds; timezones adds UTC
        max_value=datetime(2200, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    year=st.integers(1900, 2300),
    month=st.integers(1, 12),
)
def test_a_payout_period_is_accepted_exactly_when_it_is_this_month_or_the_one_before(
    now: datetime, year: int, month: int
) -> None:
    period = f"{year:04d}-{month:02d}"
    months_back = (now.year - year) * 12 + (now.month - month)
    if months_back in (0, 1):
        assert check_payout_period(period, now=now) == period
    else:
        with pytest.raises(InvalidInput, match="this month or one before it"):
            check_payout_period(period, now=now)
