"""Monthly payout runs: idempotent per (artist, period), the whole balance, the 90/10 split shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from musicconnect.domain.accounts import Caller
from musicconnect.domain.clocks import parse_period
from musicconnect.domain.errors import Forbidden, InvalidInput, PaymentFailed
from musicconnect.domain.ledger import CASH, TransactionKind, artist_account
from musicconnect.domain.money import Money
from musicconnect.domain.payments import INTENT_LEASE, Payout, PayoutResult, PayoutStatus
from musicconnect.domain.tiers import Tier
from musicconnect.ports.payments import (
    ChargeSnapshot,
    GatewayEvent,
    GatewayEventKind,
    PayoutSender,
    PayoutSnapshot,
)
from musicconnect.usecases.artists import set_tier
from musicconnect.usecases.billing_sync import book_charge_costs
from musicconnect.usecases.payouts import payouts_of, run_payouts
from musicconnect.usecases.webhooks import handle_stripe_event
from tests.unit.usecases.conftest import World


def _usd(minor: int) -> Money:
    return Money(minor, "USD")


def _run(world: World, period: str, *, caller: Caller | None = None, minimum: int = 0) -> list[Payout]:
    """A payout run for ``period``, held once that month has begun (a run for a later one is refused)."""
    start, _ = parse_period(period)
    world.clock.set(max(world.clock.now(), start + timedelta(hours=1)))
    return run_payouts(
        period,
        caller=caller or world.admin(),
        uow=world.uow(),
        gateway=world.gateway,
        ids=world.ids,
        clock=world.clock,
        minimum_minor=minimum,
    )


def _owed(world: World, artist: Caller) -> int:
    with world.uow() as uow:
        return -uow.ledger.balance(artist_account(artist.id), "USD")


def _split(payout: Payout) -> tuple[int, int, int]:
    return payout.gross.amount_minor, payout.platform_fee.amount_minor, payout.amount.amount_minor


def _price(world: World, artist: Caller, tier: Tier, minor: int) -> None:
    set_tier(
        artist.id, tier, price=_usd(minor), features=[], caller=artist, uow=world.uow(), clock=world.clock
    )


def test_a_payout_pays_the_whole_balance_with_the_exact_90_10_split(world: World) -> None:
    """5.05 and 10.15 paid: fees 0.50 and 1.02 (half-even), so 15.20 gross, 1.52 fee, 13.68 paid."""
    artist = world.artist()
    _price(world, artist, Tier.SUPPORTER, 505)
    _price(world, artist, Tier.SUPERFAN, 1015)
    world.fan_on(artist, Tier.SUPPORTER)
    world.fan_on(artist, Tier.SUPERFAN)
    world.clock.advance(hours=1)

    [payout] = _run(world, "2025-03")

    assert (payout.artist_id, payout.period, payout.paid_at) == (artist.id, "2025-03", world.clock.now())
    assert _split(payout) == (1520, 152, 1368)
    [sent] = world.gateway.payouts
    assert (sent.artist_id, sent.amount, sent.idempotency_key) == (
        artist.id,
        _usd(1368),
        f"payout:{artist.id}:2025-03",
    )
    assert payout.external_ref == sent.result.payout_id
    assert _owed(world, artist) == 0
    with world.uow() as uow:
        assert uow.ledger.balance(CASH, "USD") == 152
        assert uow.ledger.trial_balance() == {"USD": 0}
        booked = uow.ledger.by_key(f"payout:{artist.id}:2025-03")
    assert booked is not None
    assert booked.kind is TransactionKind.PAYOUT


def test_running_a_period_twice_pays_once(world: World) -> None:
    """The second run returns nothing and moves no money."""
    artist = world.artist()
    world.fan_on(artist, Tier.SUPPORTER)
    world.clock.advance(hours=1)
    admin = world.admin()

    first = _run(world, "2025-03", caller=admin)
    second = _run(world, "2025-03", caller=admin)

    assert [p.amount for p in first] == [_usd(450)]
    assert second == []
    assert len(world.gateway.payouts) == 1
    assert list(payouts_of(artist.id, caller=artist, uow=world.uow())) == first


def test_each_artist_is_paid_their_own_balance(world: World) -> None:
    """Two artists, one run: two payouts; an artist with nothing owed gets none."""
    first, second, idle = world.artist(), world.artist(), world.artist()
    world.fan_on(first, Tier.SUPPORTER)
    world.fan_on(second, Tier.SUPERFAN)
    world.clock.advance(hours=1)

    paid = {p.artist_id: _split(p) for p in _run(world, "2025-03")}

    assert paid == {first.id: (500, 50, 450), second.id: (1000, 100, 900)}
    assert idle.id not in paid


def test_money_arriving_after_a_run_is_paid_by_the_next_periods_run(world: World) -> None:
    """Rerunning March pays nothing more; April pays only the late charge, with its own split."""
    artist = world.artist()
    world.fan_on(artist, Tier.SUPPORTER)
    world.clock.advance(hours=1)
    _run(world, "2025-03")
    world.clock.advance(hours=1)
    world.fan_on(artist, Tier.SUPERFAN)
    world.clock.advance(hours=1)

    assert _run(world, "2025-03") == []
    [april] = _run(world, "2025-04")

    assert _split(april) == (1000, 100, 900)
    assert _owed(world, artist) == 0
    assert [p.period for p in payouts_of(artist.id, caller=artist, uow=world.uow())] == ["2025-04", "2025-03"]


def _set_verified(world: World, who: Caller, *, verified: bool) -> None:
    with world.uow() as uow:
        account = uow.accounts.get(who.id)
        assert account is not None
        uow.accounts.save(attrs.evolve(account, email_verified=verified))
        uow.commit()


def test_an_unverified_artist_is_paid_only_once_their_email_is_verified(world: World) -> None:
    """Fans may pay without a verified email (the processor checks them); an artist's payout
    waits, balance kept, until the artist's own address is proven. Other artists are paid."""
    artist, other = world.artist(), world.artist()
    _set_verified(world, artist, verified=False)
    fan = world.fan()
    _set_verified(world, fan, verified=False)
    world.subscribe(fan, artist, Tier.SUPPORTER)
    world.fan_on(other, Tier.SUPPORTER)
    world.clock.advance(hours=1)

    first = _run(world, "2025-03")

    assert [p.artist_id for p in first] == [other.id]
    assert [p.artist_id for p in world.gateway.payouts] == [other.id]
    assert _owed(world, artist) == 450
    _set_verified(world, artist, verified=True)
    [paid] = _run(world, "2025-03")
    assert (paid.artist_id, _split(paid)) == (artist.id, (500, 50, 450))
    assert _owed(world, artist) == 0


def _processor_kept(world: World, artist: Caller, charge_ref: str, fee_minor: int) -> None:
    """The processor's fee on one of ``artist``'s charges, booked as its charge event books it."""
    charge = ChargeSnapshot(
        external_ref=charge_ref,
        fan_id="fan",
        artist_id=artist.id,
        amount=_usd(500),
        processor_fee=_usd(fee_minor),
        application_fee=_usd(50),
        created_at=world.clock.now(),
    )
    with world.uow() as uow:
        book_charge_costs(charge, uow=uow, ids=world.ids)
        uow.commit()


def test_the_receipt_shows_the_processor_fee_of_the_charges_it_covers_once(world: World) -> None:
    """March's receipt shows the fees kept on March's charges (not another artist's); April's only
    the fee booked since. The artist's net is untouched: the platform bears the processor's fee."""
    artist, other = world.artist(), world.artist()
    world.fan_on(artist, Tier.SUPPORTER)
    world.fan_on(other, Tier.SUPPORTER)
    _processor_kept(world, artist, "ch_1", 45)
    _processor_kept(world, artist, "ch_1", 45)  # the same charge's event again: booked once
    _processor_kept(world, other, "ch_2", 45)
    world.clock.advance(hours=1)

    march = {p.artist_id: p for p in _run(world, "2025-03")}
    world.clock.advance(hours=1)
    world.fan_on(artist, Tier.SUPERFAN)
    _processor_kept(world, artist, "ch_3", 59)
    world.clock.advance(hours=1)
    [april] = _run(world, "2025-04")

    assert march[artist.id].processor_fee == _usd(45)
    assert _split(march[artist.id]) == (500, 50, 450)
    assert april.processor_fee == _usd(59)
    assert _split(april) == (1000, 100, 900)
    receipts = payouts_of(artist.id, caller=artist, uow=world.uow())
    assert [p.processor_fee for p in receipts] == [_usd(59), _usd(45)]


def test_a_charge_booked_at_the_instant_of_the_previous_payout_is_not_counted_again(world: World) -> None:
    """Charge and payout at one instant, then a later charge: the second payout's gross is 5.00."""
    artist = world.artist()
    world.fan_on(artist, Tier.SUPPORTER)
    _run(world, "2025-03")
    world.clock.advance(hours=1)
    world.fan_on(artist, Tier.SUPPORTER)

    [april] = _run(world, "2025-04")

    assert _split(april) == (500, 50, 450)


def test_a_balance_below_the_minimum_carries_over_and_is_paid_later(world: World) -> None:
    """4.50 owed under a 5.00 minimum: nothing in March; after the renewal 9.00 is paid in April."""
    artist = world.artist()
    subscription = world.subscribe(world.fan(), artist, Tier.SUPPORTER)
    world.clock.advance(hours=1)

    assert _run(world, "2025-03", minimum=500) == []
    assert world.gateway.payouts == ()
    world.clock.set(subscription.current_period_end)
    world.subscriptions.run_billing()
    world.clock.advance(hours=1)
    [april] = _run(world, "2025-04", minimum=500)

    assert _split(april) == (1000, 100, 900)
    assert _owed(world, artist) == 0


def test_a_balance_exactly_at_the_minimum_is_paid(world: World) -> None:
    """The minimum is inclusive."""
    artist = world.artist()
    world.fan_on(artist, Tier.SUPPORTER)
    world.clock.advance(hours=1)

    assert [p.amount for p in _run(world, "2025-03", minimum=450)] == [_usd(450)]


def test_only_an_admin_may_run_payouts(world: World) -> None:
    """A fan and the artist themself are Forbidden; nothing is paid."""
    artist = world.artist()
    world.fan_on(artist, Tier.SUPPORTER)

    for caller in (world.fan(), artist):
        with pytest.raises(Forbidden):
            _run(world, "2025-03", caller=caller)

    assert world.gateway.payouts == ()
    assert _owed(world, artist) == 450


@pytest.mark.parametrize(
    ("period", "minimum"), [("2025-3", 0), ("March", 0), ("2025-13", 0), ("2025-03", -1)]
)
def test_a_malformed_period_or_negative_minimum_is_refused(world: World, period: str, minimum: int) -> None:
    """InvalidInput before anything is paid."""
    artist = world.artist()
    world.fan_on(artist, Tier.SUPPORTER)

    with pytest.raises(InvalidInput):
        _run(world, period, minimum=minimum)

    assert world.gateway.payouts == ()


@pytest.mark.parametrize("period", ["1900-01", "2024-12", "2025-01"])
def test_a_period_older_than_last_month_is_refused_and_pays_nothing(world: World, period: str) -> None:
    """In March, a run is for March or February: an older month would pay the balance again
    under a key of its own (the reported case is 1900-01)."""
    artist = world.artist()
    world.fan_on(artist, Tier.SUPPORTER)
    world.clock.advance(timedelta(hours=1))

    with pytest.raises(InvalidInput, match="over"):
        _run(world, period)

    assert world.gateway.payouts == ()
    assert _owed(world, artist) == 450
    assert [p.period for p in _run(world, "2025-02")] == ["2025-02"]


def test_only_the_artist_or_an_admin_reads_the_payout_history(world: World) -> None:
    """Another artist is Forbidden; an admin sees the same history as the artist."""
    artist = world.artist()
    world.fan_on(artist, Tier.SUPPORTER)
    world.clock.advance(timedelta(hours=1))
    admin = world.admin()
    _run(world, "2025-03", caller=admin)

    with pytest.raises(Forbidden):
        payouts_of(artist.id, caller=world.artist(), uow=world.uow())
    assert payouts_of(artist.id, caller=admin, uow=world.uow()) == payouts_of(
        artist.id, caller=artist, uow=world.uow()
    )


class _RefusesOneArtist:
    """Pays every artist but one, whose payout the processor refuses (no payout account yet)."""

    def __init__(self, inner: PayoutSender, refused: str) -> None:
        self._inner, self._refused = inner, refused

    def pay_out(
        self, *, artist_id: str, amount: Money, idempotency_key: str, account_ref: str | None = None
    ) -> PayoutResult:
        if artist_id == self._refused:
            raise PaymentFailed("the artist has no payout account yet")
        return self._inner.pay_out(
            artist_id=artist_id, amount=amount, idempotency_key=idempotency_key, account_ref=account_ref
        )


def test_an_artist_who_cannot_be_paid_keeps_their_balance_and_the_others_are_paid(world: World) -> None:
    """A refused payout for one artist pays the others and carries that artist's balance over."""
    first, second = world.artist(), world.artist()
    world.fan_on(first, Tier.SUPPORTER)
    world.fan_on(second, Tier.SUPERFAN)
    world.clock.advance(hours=1)

    paid = run_payouts(
        "2025-03",
        caller=world.admin(),
        uow=world.uow(),
        gateway=_RefusesOneArtist(world.gateway, first.id),
        ids=world.ids,
        clock=world.clock,
    )

    assert [p.artist_id for p in paid] == [second.id]
    assert _owed(world, first) == 450
    assert [p.artist_id for p in _run(world, "2025-04")] == [first.id]


@attrs.define
class _DiesAfterPaying:
    """Pays through ``inner``, then the process dies before the answer is recorded, once."""

    inner: PayoutSender
    died: bool = False

    def pay_out(
        self, *, artist_id: str, amount: Money, idempotency_key: str, account_ref: str | None = None
    ) -> PayoutResult:
        result = self.inner.pay_out(
            artist_id=artist_id, amount=amount, idempotency_key=idempotency_key, account_ref=account_ref
        )
        if not self.died:
            self.died = True
            raise KeyboardInterrupt  # stands for the process being killed: nothing catches it
        return result


def test_a_run_killed_after_paying_is_recorded_by_the_next_run_without_paying_twice(world: World) -> None:
    """The payout left, the record did not: a rerun within the lease leaves it to its run; after
    the lease it records it, asking the processor again with the same key (no second payout)."""
    artist = world.artist()
    world.fan_on(artist, Tier.SUPPORTER)
    world.clock.advance(hours=1)
    dying = _DiesAfterPaying(world.gateway)

    def run() -> list[Payout]:
        return run_payouts(
            "2025-03", caller=world.admin(), uow=world.uow(), gateway=dying, ids=world.ids, clock=world.clock
        )

    with pytest.raises(KeyboardInterrupt):
        run()
    assert (len(world.gateway.payouts), _owed(world, artist)) == (1, 450)
    assert run() == []
    world.clock.advance(INTENT_LEASE + timedelta(seconds=1))
    # Even the next month's run finishes it first, so the balance it still shows is not paid again.
    world.clock.set(datetime(2025, 4, 1, 9, tzinfo=UTC))
    [payout] = run_payouts(
        "2025-04", caller=world.admin(), uow=world.uow(), gateway=dying, ids=world.ids, clock=world.clock
    )

    assert _split(payout) == (500, 50, 450)
    assert payout.period == "2025-03"
    assert payout.external_ref == world.gateway.payouts[0].result.payout_id
    assert len(world.gateway.payouts) == 1
    assert _owed(world, artist) == 0
    assert run() == []


@attrs.define
class _PayoutNews:
    """The processor's reads, knowing only what became of one payout."""

    payout: PayoutSnapshot

    def fetch_payout(self, external_ref: str, *, account_ref: str | None = None) -> PayoutSnapshot:
        assert external_ref == self.payout.external_ref
        return self.payout

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} is not read for a payout event")


def test_a_payout_that_fails_on_its_way_is_owed_again_and_paid_by_the_next_run(world: World) -> None:
    """payout.failed: the receipt says failed, the ledger gives the money back to the artist's
    balance (once, however often the event comes), and the next run pays it with its gross."""
    artist = world.artist()
    world.fan_on(artist, Tier.SUPPORTER)
    world.clock.advance(hours=1)
    [sent] = _run(world, "2025-03")
    news = _PayoutNews(PayoutSnapshot(sent.external_ref or "", artist.id, sent.amount, "failed", None))
    event = GatewayEvent(
        id="evt_failed",
        kind=GatewayEventKind.PAYOUT_UPDATED,
        type="payout.failed",
        created=world.clock.now(),
        object_ref=sent.external_ref or "",
    )

    for _ in range(2):
        handle_stripe_event(
            event,
            uow=world.uow(),
            reads=news,
            accounts=news,
            ids=world.ids,
            clock=world.clock,
        )

    with world.uow() as uow:
        [receipt] = uow.payouts.of_artist(artist.id)
    assert receipt.status is PayoutStatus.FAILED
    assert _owed(world, artist) == 450
    [again] = _run(world, "2025-04")
    assert _split(again) == (500, 50, 450)
    assert _owed(world, artist) == 0
