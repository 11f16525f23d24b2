"""Paying artists their balance, once per period, with the 90/10 split of what it pays."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

import attrs

from musicconnect.domain.accounts import Caller
from musicconnect.domain.errors import Conflict, InvalidInput, NotFound, PaymentFailed
from musicconnect.domain.ledger import (
    PLATFORM_PROCESSING,
    TransactionKind,
    artist_account,
    check_payout_period,
    payout_key,
    payout_period,
    payout_transaction,
)
from musicconnect.domain.money import Money
from musicconnect.domain.payments import (
    INTENT_LEASE,
    IntentKind,
    LinkKind,
    PaymentIntent,
    Payout,
    PayoutResult,
)
from musicconnect.ports.payments import ConnectedAccount, ConnectedAccounts, OnboardingLink, PayoutSender
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, IdGenerator
from musicconnect.usecases.access import require_admin, require_artist, require_owner

log = logging.getLogger(__name__)


def run_payouts(
    period: str,
    *,
    caller: Caller,
    uow: UnitOfWork,
    gateway: PayoutSender,
    ids: IdGenerator,
    clock: Clock,
    minimum_minor: int = 0,
    lease: timedelta = INTENT_LEASE,
) -> list[Payout]:
    """Pay every artist their whole available balance for ``period``, idempotently.

    A second run for the same period pays nothing more; money that arrives later is paid by the
    next period's run. Balances under ``minimum_minor`` carry over.
    """
    require_admin(caller)
    check_payout_period(period, now=clock.now())
    if minimum_minor < 0:
        raise InvalidInput("the payout minimum cannot be negative")
    # What a killed run paid but never recorded comes first, whatever its period: otherwise the
    # balance would still hold it, and this run would pay it again.
    paid = _finish_stranded(uow=uow, gateway=gateway, ids=ids, clock=clock, lease=lease)
    with uow:
        artists = list(uow.ledger.artists_with_balance())
        # Money goes only to an artist who proved their email; the balance waits for them.
        unverified = {a for a in artists if not _email_verified(uow, a)}
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
                lease=lease,
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
    gateway: PayoutSender,
    ids: IdGenerator,
    clock: Clock,
    minimum: int,
    lease: timedelta,
) -> list[Payout]:
    with uow:
        currencies = list(uow.ledger.currencies_of(artist_account(artist_id)))
    paid = []
    for currency in currencies:
        intent = _reserve(artist_id, period, currency, uow=uow, clock=clock, minimum=minimum, lease=lease)
        if intent is None:
            continue
        payout = _pay(intent, uow=uow, gateway=gateway, ids=ids, clock=clock)
        if payout is not None:
            paid.append(payout)
    return paid


def _finish_stranded(
    *, uow: UnitOfWork, gateway: PayoutSender, ids: IdGenerator, clock: Clock, lease: timedelta
) -> list[Payout]:
    with uow:
        stranded = [i for i in uow.intents.open_before(clock.now() - lease) if i.kind is IntentKind.PAYOUT]
    paid = []
    for intent in stranded:
        try:
            payout = _pay(intent, uow=uow, gateway=gateway, ids=ids, clock=clock)
        except PaymentFailed as failure:
            log.warning("stranded payout %s refused: %s", intent.key, failure.detail)
            continue
        if payout is not None:
            paid.append(payout)
    return paid


def _pay(
    intent: PaymentIntent, *, uow: UnitOfWork, gateway: PayoutSender, ids: IdGenerator, clock: Clock
) -> Payout | None:
    """Send the reserved payout (outside any transaction: the key makes a repeat pay nothing
    more), then record it; a refusal fails the intent and the balance stays owed."""
    with uow:
        link = uow.processor_links.get(LinkKind.CONNECTED_ACCOUNT, intent.artist_id)
    try:
        result = gateway.pay_out(
            artist_id=intent.artist_id,
            amount=intent.amount,
            idempotency_key=intent.key,
            account_ref=link.external_ref if link is not None else None,
        )
    except PaymentFailed:
        with uow:
            uow.intents.save(intent.failed(clock.now()))
            uow.commit()
        raise
    payout = _record(intent, result, payout_period(intent.key), uow=uow, ids=ids, clock=clock)
    if payout is not None:
        log.info("paid %s to %s for %s", payout.amount, payout.artist_id, payout.period)
    return payout


def _reserve(
    artist_id: str,
    period: str,
    currency: str,
    *,
    uow: UnitOfWork,
    clock: Clock,
    minimum: int,
    lease: timedelta,
) -> PaymentIntent | None:
    """The payout to make now, committed before the processor is asked: a new one for the whole
    available balance, or one a crash left unrecorded. None when there is nothing to pay."""
    now = clock.now()
    key = payout_key(artist_id, period, currency)
    with uow:
        earlier = uow.intents.get(key)
        if earlier is not None:
            # A run that crashed after reserving is finished with the same amount and key.
            return earlier if earlier.is_unsettled and not earlier.in_progress(now, lease) else None
        if uow.ledger.by_key(key) is not None:
            return None  # paid before payouts had intents
        # Liabilities carry credit balances: what we owe is credits minus debits.
        available = Money(-uow.ledger.balance(artist_account(artist_id), currency), currency)
        if available.amount_minor <= 0 or available.amount_minor < minimum:
            return None
        intent = PaymentIntent(
            key=key, kind=IntentKind.PAYOUT, artist_id=artist_id, amount=available, created_at=now
        )
        try:
            uow.intents.add(intent)
            uow.commit()
        except Conflict:
            return None  # another run reserved it and is paying it
    return intent


def _record(
    intent: PaymentIntent,
    result: PayoutResult,
    period: str,
    *,
    uow: UnitOfWork,
    ids: IdGenerator,
    clock: Clock,
) -> Payout | None:
    now = clock.now()
    with uow:
        current = uow.intents.get(intent.key)
        if current is None or not current.is_unsettled:
            return None
        gross, processor_fee = _not_yet_covered(uow, intent.artist_id, intent.amount.currency)
        uow.ledger.record(
            payout_transaction(
                transaction_id=ids.new_id(),
                artist_id=intent.artist_id,
                period=period,
                amount=intent.amount,
                available=intent.amount,
                occurred_at=now,
            ),
        )
        payout = Payout(
            id=ids.new_id(),
            artist_id=intent.artist_id,
            period=period,
            amount=intent.amount,
            gross=gross,
            platform_fee=gross - intent.amount,
            paid_at=now,
            external_ref=result.payout_id,
            status=result.status,
            arrived_at=result.arrived_at,
            processor_fee=processor_fee,
        )
        uow.payouts.add(payout)
        uow.intents.save(current.settled(now, external_ref=result.payout_id))
        uow.commit()
    return payout


def _not_yet_covered(uow: UnitOfWork, artist_id: str, currency: str) -> tuple[Money, Money]:
    """What fans paid the artist, net of refunds, and what the processor kept on it, that no
    earlier payout covered: the gross and processor fee behind this payout's receipt. Counted
    from totals rather than time windows, so equal timestamps can't double either."""
    covered = [p for p in uow.payouts.of_artist(artist_id) if p.gross.currency == currency]
    covered = [p for p in covered if not p.status.undelivered]
    earned = kept = 0
    for t in uow.ledger.of_artist(artist_id):
        if t.kind in {TransactionKind.CHARGE, TransactionKind.REFUND} and t.gross is not None:
            earned += t.gross.amount_minor if t.gross.currency == currency else 0
        elif t.kind is TransactionKind.PROCESSING_FEE:
            kept += sum(
                e.amount.amount_minor
                for e in t.entries
                if e.account == PLATFORM_PROCESSING and e.amount.currency == currency
            )
    paid = sum(p.gross.amount_minor for p in covered)
    shown = sum(p.processor_fee.amount_minor for p in covered if p.processor_fee is not None)
    return Money(earned - paid, currency), Money(kept - shown, currency)


def payouts_of(artist_id: str, *, caller: Caller, uow: UnitOfWork) -> Sequence[Payout]:
    require_owner(caller, artist_id)
    with uow:
        return uow.payouts.of_artist(artist_id)


def start_payouts_onboarding(
    artist_id: str,
    *,
    caller: Caller,
    refresh_url: str,
    return_url: str,
    uow: UnitOfWork,
    accounts: ConnectedAccounts,
    clock: Clock,
) -> OnboardingLink:
    """The artist's connected account (made on first call) and a link to finish setting it up."""
    require_owner(caller, artist_id)
    with uow:
        require_artist(uow, artist_id)
        account = uow.accounts.get(artist_id)
        if account is None:
            raise NotFound(f"no account {artist_id}")
    connected = accounts.create_connected_account(artist_id=artist_id, email=account.email)
    remember_account(connected, uow=uow)
    return accounts.onboarding_link(
        artist_id=artist_id,
        refresh_url=refresh_url,
        return_url=return_url,
        idempotency_key=f"onboarding:{artist_id}:{clock.now().isoformat()}",
    )


def remember_account(account: ConnectedAccount, *, uow: UnitOfWork) -> None:
    """Keep the artist's connected account, and whether money may be routed to it yet."""
    with uow:
        uow.processor_links.save(account.link)
        uow.commit()


@attrs.frozen
class Payouts:
    """Paying artists: payout runs, receipts and payout onboarding, bound once to their ports."""

    uow: Callable[[], UnitOfWork]
    gateway: PayoutSender
    accounts: ConnectedAccounts
    ids: IdGenerator
    clock: Clock
    #: Balances below this (in minor units) are carried over to the next run.
    minimum_minor: int = 0
    lease: timedelta = INTENT_LEASE

    def run(self, period: str, *, caller: Caller) -> list[Payout]:
        """Pay every artist their available balance for ``period`` (YYYY-MM), once per period."""
        return run_payouts(
            period,
            caller=caller,
            uow=self.uow(),
            gateway=self.gateway,
            ids=self.ids,
            clock=self.clock,
            minimum_minor=self.minimum_minor,
            lease=self.lease,
        )

    def of_artist(self, artist_id: str, *, caller: Caller) -> Sequence[Payout]:
        """The artist's payout receipts, with the 90/10 split of each."""
        return payouts_of(artist_id, caller=caller, uow=self.uow())

    def start_onboarding(
        self, artist_id: str, *, caller: Caller, refresh_url: str, return_url: str
    ) -> OnboardingLink:
        """The processor's page where the artist sets up how they are paid."""
        return start_payouts_onboarding(
            artist_id,
            caller=caller,
            refresh_url=refresh_url,
            return_url=return_url,
            uow=self.uow(),
            accounts=self.accounts,
            clock=self.clock,
        )
