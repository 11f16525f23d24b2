"""A double-entry ledger: every charge, refund, fee and payout as balanced transactions.

Accounts (strings, so storage stays simple):
- ``cash``: money the platform holds at its payment processor (an asset: debit increases it);
- ``artist:{id}``: what the platform owes an artist (a liability: credit increases it);
- ``platform:fees``: the platform's 10 % (revenue: credit increases it);
- ``platform:processing``: what the processor charged us (an expense: debit increases it).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import attrs

from musicconnect.domain.clocks import add_months, month_start, parse_period
from musicconnect.domain.errors import InsufficientBalance, InvalidInput
from musicconnect.domain.money import Money, split_revenue

CASH = "cash"
PLATFORM_FEES = "platform:fees"
PLATFORM_PROCESSING = "platform:processing"


def artist_account(artist_id: str) -> str:
    return f"artist:{artist_id}"


class Direction(enum.StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


class TransactionKind(enum.StrEnum):
    CHARGE = "charge"
    REFUND = "refund"
    PAYOUT = "payout"
    #: A payout that failed or was canceled on its way: the artist is owed it again.
    PAYOUT_REVERSAL = "payout_reversal"
    PROCESSING_FEE = "processing_fee"


@attrs.frozen
class Entry:
    account: str
    direction: Direction
    amount: Money

    def __attrs_post_init__(self) -> None:
        if self.amount.amount_minor <= 0:
            raise InvalidInput("ledger entries carry positive amounts; direction gives the sign")

    @property
    def signed_minor(self) -> int:
        """Positive for a debit, negative for a credit."""
        return self.amount.amount_minor if self.direction is Direction.DEBIT else -self.amount.amount_minor


def _balanced(_: object, __: attrs.Attribute[tuple[Entry, ...]], entries: tuple[Entry, ...]) -> None:
    if not entries:
        raise InvalidInput("a transaction needs entries")
    totals: dict[str, int] = defaultdict(int)
    for entry in entries:
        totals[entry.amount.currency] += entry.signed_minor
    unbalanced = {currency: total for currency, total in totals.items() if total}
    if unbalanced:
        raise InvalidInput(f"debits and credits differ: {unbalanced}")


@attrs.frozen
class Transaction:
    id: str
    kind: TransactionKind
    #: Recording the same key twice records once: retries and redeliveries are harmless.
    idempotency_key: str
    occurred_at: datetime
    entries: tuple[Entry, ...] = attrs.field(validator=_balanced)
    artist_id: str | None = None
    fan_id: str | None = None
    gross: Money | None = None
    memo: str = ""

    def amount_for(self, account: str) -> int:
        """Net signed minor units this transaction moves on ``account`` (debit positive)."""
        return sum(e.signed_minor for e in self.entries if e.account == account)


def charge_transaction(
    *,
    transaction_id: str,
    idempotency_key: str,
    artist_id: str,
    fan_id: str,
    gross: Money,
    occurred_at: datetime,
    memo: str = "",
) -> Transaction:
    """A fan paid ``gross`` for an artist: 90 % owed to the artist, 10 % to the platform."""
    if gross.amount_minor <= 0:
        raise InvalidInput("a charge must be positive")
    split = split_revenue(gross)
    entries = [
        Entry(CASH, Direction.DEBIT, gross),
        Entry(artist_account(artist_id), Direction.CREDIT, split.artist),
    ]
    if split.platform.amount_minor:
        entries.append(Entry(PLATFORM_FEES, Direction.CREDIT, split.platform))
    return Transaction(
        id=transaction_id,
        kind=TransactionKind.CHARGE,
        idempotency_key=idempotency_key,
        occurred_at=occurred_at,
        entries=tuple(entries),
        artist_id=artist_id,
        fan_id=fan_id,
        gross=gross,
        memo=memo,
    )


def refund_transaction(
    *,
    transaction_id: str,
    idempotency_key: str,
    artist_id: str,
    fan_id: str,
    amount: Money,
    occurred_at: datetime,
    memo: str = "",
    refunded_before: Money | None = None,
) -> Transaction:
    """Give ``amount`` back to a fan, taken from artist and platform in the 90/10 proportion.

    ``refunded_before`` is what was already refunded of the same charge. The split is taken on
    the running total, so partial refunds that add up to the charge take back exactly its split;
    splitting each part on its own can take more from the artist (16 refunded as 5 + 5 + 6).
    """
    if amount.amount_minor <= 0:
        raise InvalidInput("a refund must be positive")
    before = refunded_before or Money.zero(amount.currency)
    if before.amount_minor < 0:
        raise InvalidInput("refunded_before cannot be negative")
    after, prior = split_revenue(before + amount), split_revenue(before)
    artist_part, platform_part = after.artist - prior.artist, after.platform - prior.platform
    entries = [
        Entry(artist_account(artist_id), Direction.DEBIT, artist_part) if artist_part.amount_minor else None,
        Entry(PLATFORM_FEES, Direction.DEBIT, platform_part) if platform_part.amount_minor else None,
        Entry(CASH, Direction.CREDIT, amount),
    ]
    return Transaction(
        id=transaction_id,
        kind=TransactionKind.REFUND,
        idempotency_key=idempotency_key,
        occurred_at=occurred_at,
        entries=tuple(e for e in entries if e),
        artist_id=artist_id,
        fan_id=fan_id,
        gross=-amount,
        memo=memo,
    )


def processing_fee_transaction(
    *,
    transaction_id: str,
    idempotency_key: str,
    fee: Money,
    occurred_at: datetime,
    artist_id: str | None = None,
    memo: str = "",
) -> Transaction:
    """What the payment processor kept on a charge for ``artist_id``; the platform bears it, the
    artist's 90 % is untouched (the artist is named so their payout receipt can show it)."""
    return Transaction(
        id=transaction_id,
        kind=TransactionKind.PROCESSING_FEE,
        idempotency_key=idempotency_key,
        occurred_at=occurred_at,
        artist_id=artist_id,
        entries=(
            Entry(PLATFORM_PROCESSING, Direction.DEBIT, fee),
            Entry(CASH, Direction.CREDIT, fee),
        ),
        memo=memo,
    )


def check_payout_period(period: str, *, now: datetime) -> str:
    """A payout run is for this month or the one before it (a run early in a month pays the
    last one's): a later month would spend its key before its real run, and an older one would
    pay the balance a second time under a key of its own. A payout stranded by a killed run
    does not need its old period: any later run finishes it (``usecases.payouts``)."""
    start, _ = parse_period(period)
    this_month = month_start(now)
    if start > this_month:
        raise InvalidInput(f"{period} has not begun yet: a payout run is for this month or one before it")
    if start < add_months(this_month, -1):
        raise InvalidInput(f"{period} is over: a payout run is for this month or one before it")
    return period


def payout_key(artist_id: str, period: str, currency: str = "USD") -> str:
    """``payout:{artist}:{period}``; an artist paid in another currency too gets a key per currency."""
    base = f"payout:{artist_id}:{period}"
    return base if currency == "USD" else f"{base}:{currency}"


def payout_period(key: str) -> str:
    """The period a ``payout_key`` pays."""
    parts = key.split(":")
    if len(parts) not in {3, 4} or parts[0] != "payout":
        raise ValueError(f"not a payout key: {key!r}")
    return parts[2]


def payout_transaction(
    *,
    transaction_id: str,
    artist_id: str,
    period: str,
    amount: Money,
    available: Money,
    occurred_at: datetime,
) -> Transaction:
    """Pay an artist ``amount`` out of their balance; never more than is available."""
    if amount > available:
        raise InsufficientBalance(f"cannot pay {amount} out of an available {available}")
    return Transaction(
        id=transaction_id,
        kind=TransactionKind.PAYOUT,
        idempotency_key=payout_key(artist_id, period, amount.currency),
        occurred_at=occurred_at,
        entries=(
            Entry(artist_account(artist_id), Direction.DEBIT, amount),
            Entry(CASH, Direction.CREDIT, amount),
        ),
        artist_id=artist_id,
        gross=amount,
        memo=f"payout for {period}",
    )


def payout_reversal_transaction(
    *, transaction_id: str, artist_id: str, payout_ref: str, amount: Money, occurred_at: datetime
) -> Transaction:
    """Give back to the artist's balance a payout that never arrived; once per payout."""
    return Transaction(
        id=transaction_id,
        kind=TransactionKind.PAYOUT_REVERSAL,
        idempotency_key=f"payout_reversal:{payout_ref}",
        occurred_at=occurred_at,
        entries=(
            Entry(CASH, Direction.DEBIT, amount),
            Entry(artist_account(artist_id), Direction.CREDIT, amount),
        ),
        artist_id=artist_id,
        gross=amount,
        memo=f"payout {payout_ref} did not arrive",
    )


def balance_of(transactions: Iterable[Transaction], account: str, currency: str) -> Money:
    """An account's balance in its natural sign: debits minus credits for ``cash`` and expenses,
    credits minus debits for what we owe (``artist:*``) and revenue (``platform:fees``)."""
    signed = sum(
        e.signed_minor
        for t in transactions
        for e in t.entries
        if e.account == account and e.amount.currency == currency
    )
    return Money(signed if _is_debit_normal(account) else -signed, currency)


def _is_debit_normal(account: str) -> bool:
    return account in {CASH, PLATFORM_PROCESSING}


def trial_balance(transactions: Iterable[Transaction]) -> dict[str, int]:
    """Debits minus credits per currency across every entry; all zeros when the books balance."""
    totals: dict[str, int] = defaultdict(int)
    for t in transactions:
        for e in t.entries:
            totals[e.amount.currency] += e.signed_minor
    return dict(totals)
