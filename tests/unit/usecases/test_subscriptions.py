"""Subscribing, changing tier, cancelling, and the monthly billing run."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import attrs
import pytest

from musicconnect.adapters.offline import OfflinePaymentGateway
from musicconnect.domain.accounts import Caller
from musicconnect.domain.entitlements import entitlements
from musicconnect.domain.errors import Conflict, Forbidden, NotFound, PaymentFailed
from musicconnect.domain.ledger import CASH, PLATFORM_FEES, Direction, Entry, artist_account
from musicconnect.domain.money import Money
from musicconnect.domain.payments import INTENT_LEASE, ChargeResult, PayoutResult
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus
from musicconnect.domain.tiers import Tier
from musicconnect.ports.payments import Charges
from musicconnect.usecases.subscriptions import BillingReport, Subscriptions, TierChangeResult
from tests.unit.usecases.conftest import DecliningPaymentGateway, LostAfterCharging, World, billing_on


def _usd(minor: int) -> Money:
    return Money(minor, "USD")


def _change(world: World, fan: Caller, artist: Caller, tier: Tier) -> TierChangeResult:
    return world.subscriptions.change_tier(artist.id, tier, caller=fan)


def _bill(world: World, gateway: Charges | None = None) -> BillingReport:
    return Subscriptions(
        world.uow, billing_on(gateway or world.gateway), world.ids, world.clock
    ).run_billing()


def _live(world: World, fan: Caller, artist: Caller) -> Subscription:
    subscription = world.live_subscription(fan, artist)
    assert subscription is not None
    return subscription


def _tier_now(world: World, fan: Caller, artist: Caller) -> Tier:
    return entitlements(world.live_subscription(fan, artist), world.clock.now()).tier


def _balances(world: World, artist: Caller) -> tuple[int, int, int]:
    """(cash held, owed to the artist, platform fees) in USD cents, each in its natural sign."""
    with world.uow() as uow:
        return (
            uow.ledger.balance(CASH, "USD"),
            -uow.ledger.balance(artist_account(artist.id), "USD"),
            -uow.ledger.balance(PLATFORM_FEES, "USD"),
        )


# --- subscribing -------------------------------------------------------------------------------


def test_subscribing_charges_the_first_month_and_books_it_90_10(world: World) -> None:
    """One charge of 5.00 at the processor; the ledger holds 5.00 cash, owes 4.50 and earns 0.50."""
    artist, fan = world.artist(), world.fan()

    subscription = world.subscribe(fan, artist, Tier.SUPPORTER)

    assert subscription.status is SubscriptionStatus.ACTIVE
    assert subscription.tier is Tier.SUPPORTER
    assert subscription.current_period_start == world.clock.now()
    assert subscription.current_period_end == world.clock.now() + timedelta(days=31)
    [charge] = world.gateway.charges
    key = f"subscription:{subscription.id}:first"
    assert (charge.fan_id, charge.artist_id, charge.amount, charge.idempotency_key) == (
        fan.id,
        artist.id,
        _usd(500),
        key,
    )
    with world.uow() as uow:
        booked = uow.ledger.by_key(key)
        assert uow.ledger.trial_balance() == {"USD": 0}
    assert booked is not None
    assert set(booked.entries) == {
        Entry(CASH, Direction.DEBIT, _usd(500)),
        Entry(artist_account(artist.id), Direction.CREDIT, _usd(450)),
        Entry(PLATFORM_FEES, Direction.CREDIT, _usd(50)),
    }
    assert _balances(world, artist) == (500, 450, 50)
    assert _tier_now(world, fan, artist) is Tier.SUPPORTER


def test_a_free_subscription_charges_nothing(world: World) -> None:
    """Active at once, no processor call, an empty ledger."""
    artist, fan = world.artist(), world.fan()

    subscription = world.subscribe(fan, artist, Tier.FREE)

    assert subscription.status is SubscriptionStatus.ACTIVE
    assert world.gateway.charges == ()
    assert _balances(world, artist) == (0, 0, 0)


def test_subscribing_twice_to_one_artist_is_a_conflict_and_charges_once(world: World) -> None:
    """Whatever the tier asked the second time; a different artist is fine."""
    artist, other, fan = world.artist(), world.artist(), world.fan()
    world.subscribe(fan, artist, Tier.SUPPORTER)

    for tier in Tier:
        with pytest.raises(Conflict):
            world.subscribe(fan, artist, tier)
    world.subscribe(fan, other, Tier.SUPPORTER)

    assert [c.artist_id for c in world.gateway.charges] == [artist.id, other.id]


def test_only_fans_subscribe_and_only_to_artists_that_exist(world: World) -> None:
    """An artist is Forbidden; an unknown artist is NotFound; neither is charged."""
    artist, fan = world.artist(), world.fan()

    with pytest.raises(Forbidden):
        world.subscribe(world.artist(), artist, Tier.SUPPORTER)
    with pytest.raises(NotFound):
        world.subscribe(fan, Caller("nobody", artist.role), Tier.SUPPORTER)

    assert world.gateway.charges == ()


# --- changing tier -----------------------------------------------------------------------------


def test_an_upgrade_takes_effect_at_once_and_charges_the_prorated_difference(world: World) -> None:
    """Ten days into a 31-day period: 5.00 x 21/31 rounded half-even, booked 90/10."""
    artist, fan = world.artist(), world.fan()
    world.subscribe(fan, artist, Tier.SUPPORTER)
    world.clock.advance(timedelta(days=10))
    expected = round(Fraction(500 * 21, 31))

    result = _change(world, fan, artist, Tier.SUPERFAN)

    assert result.charged == _usd(expected)
    assert result.subscription.tier is Tier.SUPERFAN
    assert _tier_now(world, fan, artist) is Tier.SUPERFAN
    assert [c.amount for c in world.gateway.charges] == [_usd(500), _usd(expected)]
    cash, owed, fees = _balances(world, artist)
    assert cash == 500 + expected
    assert fees == 50 + round(Fraction(expected, 10))
    assert owed + fees == cash


def test_an_upgrade_on_the_last_instant_of_the_period_charges_nothing_more(world: World) -> None:
    """No time left in the period, no prorated charge; the tier still changes."""
    artist, fan = world.artist(), world.fan()
    subscription = world.subscribe(fan, artist, Tier.SUPPORTER)
    world.clock.set(subscription.current_period_end)

    result = _change(world, fan, artist, Tier.SUPERFAN)

    assert result.charged == _usd(0)
    assert len(world.gateway.charges) == 1


def test_a_downgrade_waits_for_the_end_of_the_paid_period(world: World) -> None:
    """Superfan until period end at no charge; then the renewal charges the supporter price."""
    artist, fan = world.artist(), world.fan()
    subscription = world.subscribe(fan, artist, Tier.SUPERFAN)

    result = _change(world, fan, artist, Tier.SUPPORTER)

    assert result.charged == _usd(0)
    assert result.subscription.tier is Tier.SUPERFAN
    assert result.subscription.pending_tier is Tier.SUPPORTER
    world.clock.set(subscription.current_period_end - timedelta(microseconds=1))
    assert _tier_now(world, fan, artist) is Tier.SUPERFAN
    world.clock.set(subscription.current_period_end)
    assert _tier_now(world, fan, artist) is Tier.SUPPORTER

    _bill(world)

    renewed = _live(world, fan, artist)
    assert renewed.tier is Tier.SUPPORTER
    assert renewed.pending_tier is None
    assert [c.amount for c in world.gateway.charges] == [_usd(1000), _usd(500)]


def test_choosing_the_current_tier_again_undoes_a_scheduled_downgrade(world: World) -> None:
    """With nothing scheduled the same request is a Conflict."""
    artist, fan = world.artist(), world.fan()
    world.subscribe(fan, artist, Tier.SUPERFAN)
    with pytest.raises(Conflict):
        _change(world, fan, artist, Tier.SUPERFAN)
    _change(world, fan, artist, Tier.FREE)

    kept = _change(world, fan, artist, Tier.SUPERFAN)

    assert kept.subscription.pending_tier is None
    assert _live(world, fan, artist).pending_tier is None


def test_changing_tier_needs_a_subscription(world: World) -> None:
    """NotFound for a fan with none; nothing charged."""
    artist, fan = world.artist(), world.fan()

    with pytest.raises(NotFound):
        _change(world, fan, artist, Tier.SUPERFAN)

    assert world.gateway.charges == ()


# --- cancelling --------------------------------------------------------------------------------


def test_cancelling_keeps_access_until_period_end_then_ends_without_a_charge(world: World) -> None:
    """The billing run ends it; the fan is free and may subscribe again."""
    artist, fan = world.artist(), world.fan()
    subscription = world.subscribe(fan, artist, Tier.SUPPORTER)

    canceled = world.subscriptions.cancel(artist.id, caller=fan)

    assert canceled.cancel_at_period_end
    assert canceled.pending_tier is Tier.FREE
    world.clock.set(subscription.current_period_end - timedelta(microseconds=1))
    assert _tier_now(world, fan, artist) is Tier.SUPPORTER
    world.clock.set(subscription.current_period_end)

    report = _bill(world)

    assert (report.renewed, report.canceled, report.charged) == (0, 1, ())
    assert world.live_subscription(fan, artist) is None
    assert _tier_now(world, fan, artist) is Tier.FREE
    [ended] = world.subscriptions.of_fan(fan)
    assert ended.status is SubscriptionStatus.CANCELED
    assert ended.canceled_at == subscription.current_period_end
    world.subscribe(fan, artist, Tier.SUPERFAN)
    assert [s.status for s in world.subscriptions.of_fan(fan)] == [
        SubscriptionStatus.CANCELED,
        SubscriptionStatus.ACTIVE,
    ]


def test_cancelling_needs_a_live_subscription(world: World) -> None:
    """NotFound for a fan without one; Forbidden for an artist."""
    artist, fan = world.artist(), world.fan()

    with pytest.raises(NotFound):
        world.subscriptions.cancel(artist.id, caller=fan)
    with pytest.raises(Forbidden):
        world.subscriptions.cancel(artist.id, caller=artist)


# --- billing -----------------------------------------------------------------------------------


def test_billing_renews_and_charges_once_even_when_run_twice_at_the_same_instant(world: World) -> None:
    """The second run finds nothing due; one renewal charge under the period's key."""
    artist, fan = world.artist(), world.fan()
    subscription = world.subscribe(fan, artist, Tier.SUPPORTER)
    world.clock.set(subscription.current_period_end)

    first, second = _bill(world), _bill(world)

    assert (first.renewed, first.charged) == (1, (_usd(500),))
    assert (second.renewed, second.canceled, second.past_due, second.charged) == (0, 0, 0, ())
    renewed = _live(world, fan, artist)
    assert renewed.current_period_start == subscription.current_period_end
    assert renewed.current_period_end == subscription.current_period_end + timedelta(days=30)
    key = f"subscription:{subscription.id}:period:{subscription.current_period_end.isoformat()}"
    assert [c.idempotency_key for c in world.gateway.charges][1:] == [key]
    assert _balances(world, artist) == (1000, 900, 100)


def test_billing_before_the_period_ends_does_nothing(world: World) -> None:
    """One microsecond early: no renewal, no charge."""
    artist, fan = world.artist(), world.fan()
    subscription = world.subscribe(fan, artist, Tier.SUPPORTER)
    world.clock.set(subscription.current_period_end - timedelta(microseconds=1))

    report = _bill(world)

    assert report == BillingReport(renewed=0, canceled=0, past_due=0, charged=())
    assert len(world.gateway.charges) == 1


def test_a_billing_retry_after_a_lost_answer_charges_the_fan_once(world: World) -> None:
    """The first run fails after the processor charged; the rerun reuses the key: one charge, booked once."""
    artist, fan = world.artist(), world.fan()
    subscription = world.subscribe(fan, artist, Tier.SUPPORTER)
    world.clock.set(subscription.current_period_end)
    flaky = LostAfterCharging(world.gateway, lambda: TimeoutError("no answer from the processor"))

    with pytest.raises(TimeoutError):
        _bill(world, flaky)
    assert _live(world, fan, artist).current_period_end == subscription.current_period_end
    # Right away, the renewal still belongs to the run that reserved it: nothing more is charged.
    assert _bill(world, flaky) == BillingReport(renewed=0, canceled=0, past_due=0, charged=())
    world.clock.advance(INTENT_LEASE + timedelta(seconds=1))
    report = _bill(world, flaky)

    assert report.repaired == 1
    assert _live(world, fan, artist).current_period_start == subscription.current_period_end
    assert [c.amount for c in world.gateway.charges] == [_usd(500), _usd(500)]
    assert _balances(world, artist) == (1000, 900, 100)


def test_a_declined_renewal_is_past_due_and_drops_to_free_after_the_grace_days(
    world: World, declining_gateway: DecliningPaymentGateway
) -> None:
    """Past due from the billing instant, the tier kept for 7 days, free from then; no retry charge."""
    artist, fan = world.artist(), world.fan()
    subscription = world.subscribe(fan, artist, Tier.SUPERFAN)
    world.clock.set(subscription.current_period_end)

    report = _bill(world, declining_gateway)

    assert (report.renewed, report.past_due, report.charged) == (0, 1, ())
    lapsed = _live(world, fan, artist)
    assert lapsed.status is SubscriptionStatus.PAST_DUE
    assert lapsed.past_due_since == world.clock.now()
    assert _balances(world, artist) == (1000, 900, 100)
    world.clock.advance(timedelta(days=7) - timedelta(microseconds=1))
    assert _tier_now(world, fan, artist) is Tier.SUPERFAN
    world.clock.advance(timedelta(microseconds=1))
    assert _tier_now(world, fan, artist) is Tier.FREE
    _bill(world, declining_gateway)
    assert len(declining_gateway.attempts) == 1


def test_the_grace_period_is_the_artists_own(
    world: World, declining_gateway: DecliningPaymentGateway
) -> None:
    """An artist with 2 grace days: free two days after the declined renewal."""
    artist, fan = world.artist(), world.fan()
    with world.uow() as uow:
        profile = uow.artists.get(artist.id)
        assert profile is not None
        uow.artists.save(attrs.evolve(profile, grace_days=2))
        uow.commit()
    subscription = world.subscribe(fan, artist, Tier.SUPPORTER)
    world.clock.set(subscription.current_period_end)
    _bill(world, declining_gateway)

    world.clock.advance(timedelta(days=2) - timedelta(microseconds=1))
    assert _tier_now(world, fan, artist) is Tier.SUPPORTER
    world.clock.advance(timedelta(microseconds=1))
    assert _tier_now(world, fan, artist) is Tier.FREE


@attrs.define
class DecliningFor:
    """Declines the cards of some fans and charges everyone else through ``inner``."""

    inner: OfflinePaymentGateway
    declined_fans: frozenset[str]

    def charge(
        self,
        *,
        fan_id: str,
        artist_id: str,
        amount: Money,
        description: str,
        idempotency_key: str,
    ) -> ChargeResult:
        if fan_id in self.declined_fans:
            raise PaymentFailed("card declined")
        return self.inner.charge(
            fan_id=fan_id,
            artist_id=artist_id,
            amount=amount,
            description=description,
            idempotency_key=idempotency_key,
        )

    def pay_out(
        self, *, artist_id: str, amount: Money, idempotency_key: str, account_ref: str | None = None
    ) -> PayoutResult:
        return self.inner.pay_out(
            artist_id=artist_id, amount=amount, idempotency_key=idempotency_key, account_ref=account_ref
        )


def test_one_declined_card_never_blocks_the_other_renewals(world: World) -> None:
    """Three due subscriptions, one declined: two renewed and charged, one past due, one canceled too."""
    artist = world.artist()
    declined, paying, leaving = world.fan(), world.fan(), world.fan()
    for fan in (declined, paying, leaving):
        world.subscribe(fan, artist, Tier.SUPPORTER)
    world.subscriptions.cancel(artist.id, caller=leaving)
    world.clock.advance(timedelta(days=31))

    report = _bill(world, DecliningFor(world.gateway, frozenset({declined.id})))

    assert (report.renewed, report.past_due, report.canceled, report.charged) == (1, 1, 1, (_usd(500),))
    assert _live(world, declined, artist).status is SubscriptionStatus.PAST_DUE
    assert _live(world, paying, artist).status is SubscriptionStatus.ACTIVE
    assert world.live_subscription(leaving, artist) is None
