"""Paying artists their balance, once per period, with the 90/10 split of what it pays."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from musicconnect.domain.accounts import Caller
from musicconnect.domain.clocks import parse_period
from musicconnect.domain.errors import InvalidInput, PaymentFailed
from musicconnect.domain.ledger import TransactionKind, artist_account, payout_key, payout_transaction
from musicconnect.domain.money import Money
from musicconnect.domain.payments import Payout
from musicconnect.ports.payments import PaymentGateway
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, IdGenerator
from musicconnect.usecases.access import require_admin, require_owner

log = logging.getLogger(__name__)


def run_payouts(
    period: str,
    *,
    caller: Caller,
    uow: UnitOfWork,
    gateway: PaymentGateway,
    ids: IdGenerator,
    clock: Clock,
    minimum_minor: int = 0,
) -> list[Payout]:
    """Pay every artist their whole available balance for ``period``, idempotently.

    A second run for the same period pays nothing more; money that arrives later is paid by the
    next period's run. Balances under ``minimum_minor`` carry over.
    """
    require_admin(caller)
    parse_period(period)
    if minimum_minor < 0:
        raise InvalidInput("the payout minimum cannot be negative")
    with uow:
        artists = list(uow.ledger.artists_with_balance())
        # Money goes only to an artist who proved their email; the balance waits for them.
        unverified = {a for a in artists if not _email_verified(uow, a)}
    paid: list[Payout] = []
    for artist_id in artists:
        if artist_id in unverified:
            log.warning("payout to %s for %s skipped: the artist's email is not verified", artist_id, period)
            continue
        try:
            paid += _pay_artist(
                artist_id,
                period,
                uow=uow,
                gateway=gateway,
                ids=ids,
                clock=clock,
                minimum=minimum_minor,
            )
        except PaymentFailed as failure:
            # One artist who cannot be paid yet (no payout account, say) keeps their balance for the
            # next run; the others are still paid.
            log.warning("payout to %s for %s failed: %s", artist_id, period, failure.detail)
    return paid


def _email_verified(uow: UnitOfWork, artist_id: str) -> bool:
    account = uow.accounts.get(artist_id)
    return account is not None and account.email_verified


def _pay_artist(
    artist_id: str,
    period: str,
    *,
    uow: UnitOfWork,
    gateway: PaymentGateway,
    ids: IdGenerator,
    clock: Clock,
    minimum: int,
) -> list[Payout]:
    account = artist_account(artist_id)
    paid = []
    with uow:
        currencies = list(uow.ledger.currencies_of(account))
    for currency in currencies:
        with uow:
            key = payout_key(artist_id, period, currency)
            if uow.ledger.by_key(key) is not None:
                continue
            # Liabilities carry credit balances: what we owe is credits minus debits.
            available = Money(-uow.ledger.balance(account, currency), currency)
            if available.amount_minor <= 0 or available.amount_minor < minimum:
                continue
            gross = _gross_not_yet_paid(uow, artist_id, currency)
            result = gateway.pay_out(artist_id=artist_id, amount=available, idempotency_key=key)
            now = clock.now()
            uow.ledger.record(
                payout_transaction(
                    transaction_id=ids.new_id(),
                    artist_id=artist_id,
                    period=period,
                    amount=available,
                    available=available,
                    occurred_at=now,
                ),
            )
            payout = Payout(
                id=ids.new_id(),
                artist_id=artist_id,
                period=period,
                amount=available,
                gross=gross,
                platform_fee=gross - available,
                paid_at=now,
                external_ref=result.payout_id,
            )
            uow.payouts.add(payout)
            uow.commit()
        log.info("paid %s to %s for %s", available, artist_id, period)
        paid.append(payout)
    return paid


def _gross_not_yet_paid(uow: UnitOfWork, artist_id: str, currency: str) -> Money:
    """What fans paid the artist, net of refunds, that no earlier payout covered: the gross behind
    this payout. Counted from totals rather than time windows, so equal timestamps can't double it."""
    paid = sum(p.gross.amount_minor for p in uow.payouts.of_artist(artist_id) if p.gross.currency == currency)
    earned = sum(
        t.gross.amount_minor
        for t in uow.ledger.of_artist(artist_id)
        if t.gross is not None
        and t.gross.currency == currency
        and t.kind in {TransactionKind.CHARGE, TransactionKind.REFUND}
    )
    return Money(earned - paid, currency)


def payouts_of(artist_id: str, *, caller: Caller, uow: UnitOfWork) -> Sequence[Payout]:
    require_owner(caller, artist_id)
    with uow:
        return uow.payouts.of_artist(artist_id)
