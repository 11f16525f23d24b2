"""The artist's dashboard: 30 days of plays and revenue, top fans, and the conversion funnel."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from musicconnect.domain.accounts import Caller
from musicconnect.domain.analytics import Dashboard
from musicconnect.domain.errors import Forbidden
from musicconnect.domain.money import Money
from musicconnect.domain.tiers import Tier
from musicconnect.usecases.artists import TierTerms, set_tiers, view_artist
from musicconnect.usecases.dashboard import build_dashboard
from musicconnect.usecases.library import Library
from musicconnect.usecases.subscriptions import Subscriptions
from tests.unit.usecases.conftest import T0, DecliningPaymentGateway, World, billing_on

JAN_29 = datetime(2025, 1, 29, 12, tzinfo=UTC)  # 40 days before T0: outside the window
FEB_9 = datetime(2025, 2, 9, 12, tzinfo=UTC)  # 29 days before T0: the window's first day
FEB_28 = datetime(2025, 2, 28, 12, tzinfo=UTC)
MAR_7 = datetime(2025, 3, 7, 12, tzinfo=UTC)


def _dashboard(world: World, artist: Caller, caller: Caller | None = None) -> Dashboard:
    return build_dashboard(artist.id, caller=caller or artist, uow=world.uow(), clock=world.clock)


def _nonzero(days: dict[date, int]) -> dict[date, int]:
    return {day: value for day, value in days.items() if value}


class Story:
    """Forty days of one artist's life, with every number the dashboard should show."""

    def __init__(self, world: World) -> None:
        self.world = world
        world.clock.set(JAN_29)
        self.artist = world.artist("Nina")
        self.track = world.ingest(self.artist)
        self.alice, self.bob, self.carol, self.dave, self.eve = (
            world.fan(name) for name in ("Alice", "Bob", "Carol", "Dave", "Eve")
        )
        world.subscribe(self.alice, self.artist, Tier.SUPPORTER)  # 5.00 on Jan 29
        self.play(self.alice)

        world.clock.set(FEB_9)
        world.subscribe(self.bob, self.artist, Tier.SUPPORTER)  # 5.00 on Feb 9
        world.subscribe(self.eve, self.artist, Tier.SUPERFAN)  # 10.00 on Feb 9
        world.subscribe(self.carol, self.artist, Tier.FREE)
        self.play(self.alice, self.alice, self.bob)

        world.clock.set(FEB_28)
        self.bill()  # Alice renews: 5.00 on Feb 28, for Feb 28 to Mar 29

        world.clock.set(MAR_7)
        upgrade = world.subscriptions.change_tier(self.artist.id, Tier.SUPERFAN, caller=self.alice)
        self.upgrade_minor = upgrade.charged.amount_minor
        assert self.upgrade_minor == round(500 * 22 / 29)

        world.clock.set(T0)
        self.bill()  # Bob and Eve renew: 15.00 on Mar 10
        self.play(self.eve, self.alice)
        for visitor in (self.alice, self.bob, self.carol, self.dave, self.eve, self.artist, self.alice):
            view_artist(self.artist.id, uow=world.uow(), clock=world.clock, visitor_id=visitor.id)
        for fan in (self.alice, self.bob, self.carol, self.eve, self.eve):
            Library(world.uow, world.quota, world.clock).follow(self.artist.id, caller=fan)

    def play(self, *fans: Caller) -> None:
        """Each fan plays the track once, a minute apart (a play counts once per 30 s)."""
        for fan in fans:
            Library(self.world.uow, self.world.quota, self.world.clock).play(self.track.id, caller=fan)
            self.world.clock.advance(minutes=1)

    def bill(self) -> None:
        world = self.world
        world.subscriptions.run_billing()


@pytest.fixture
def story(world: World) -> Story:
    return Story(world)


def test_plays_30d_has_every_one_of_the_last_30_days(story: Story) -> None:
    """Feb 9 to Mar 10 oldest first, zeros filled in, the play from 40 days ago left out."""
    dashboard = _dashboard(story.world, story.artist)

    days = list(dashboard.plays_30d)
    assert len(days) == 30
    assert (days[0], days[-1]) == (FEB_9.date(), T0.date())
    assert days == sorted(days)
    assert _nonzero(dashboard.plays_30d) == {FEB_9.date(): 3, T0.date(): 2}


def test_unique_listeners_count_each_fan_once_over_the_30_days(story: Story) -> None:
    """Alice played on two days in the window and Bob and Eve once: three listeners (Alice's
    play from 40 days ago adds nobody)."""
    assert _dashboard(story.world, story.artist).unique_listeners_30d == 3


def test_revenue_30d_sums_the_charges_of_each_day(story: Story) -> None:
    """Two subscriptions on Feb 9, a renewal, the prorated upgrade, two renewals today; not Jan 29."""
    dashboard = _dashboard(story.world, story.artist)

    assert list(dashboard.revenue_30d) == list(dashboard.plays_30d)
    assert dashboard.currency == "USD"
    assert _nonzero(dashboard.revenue_30d) == {
        FEB_9.date(): 1500,
        FEB_28.date(): 500,
        MAR_7.date(): story.upgrade_minor,
        T0.date(): 1500,
    }


def test_net_revenue_is_the_artists_90_percent_of_each_day(story: Story) -> None:
    """Each day's net is the gross less the platform's 10 % (split per charge, half-even)."""
    dashboard = _dashboard(story.world, story.artist)

    assert list(dashboard.revenue_net_30d) == list(dashboard.revenue_30d)
    for day, gross in dashboard.revenue_30d.items():
        if gross:
            assert gross * 0.9 - 1 <= dashboard.revenue_net_30d[day] <= gross * 0.9 + 1
    assert dashboard.revenue_net_30d[T0.date()] == 1350
    [usd] = dashboard.revenue_by_currency
    assert (usd.currency, usd.gross_minor) == ("USD", sum(dashboard.revenue_30d.values()))
    assert usd.net_minor == sum(dashboard.revenue_net_30d.values())


def test_an_artist_paid_in_two_currencies_sees_each_one_apart(world: World) -> None:
    """After a move to EUR, the daily series is in EUR and the totals keep USD apart, never summed."""
    artist = world.artist()
    world.subscribe(world.fan(), artist, Tier.SUPPORTER)  # 5.00 USD
    euros = {Tier.SUPPORTER: TierTerms(Money(400, "EUR")), Tier.SUPERFAN: TierTerms(Money(900, "EUR"))}
    set_tiers(artist.id, euros, caller=artist, uow=world.uow(), clock=world.clock)
    world.subscribe(world.fan(), artist, Tier.SUPERFAN)  # 9.00 EUR

    dashboard = _dashboard(world, artist)

    assert dashboard.currency == "EUR"
    assert sum(dashboard.revenue_30d.values()) == 900
    assert [(r.currency, r.gross_minor, r.net_minor) for r in dashboard.revenue_by_currency] == [
        ("EUR", 900, 810),
        ("USD", 500, 450),
    ]


def test_top_fans_rank_by_plays_and_by_spend_with_their_names(story: Story) -> None:
    """Plays over all time, ties by id; spend over all time, the free fan left out."""
    dashboard = _dashboard(story.world, story.artist)

    assert [(f.display_name, f.value) for f in dashboard.top_fans_by_plays] == [
        ("Alice", 4),
        ("Bob", 1),
        ("Eve", 1),
    ]
    assert [(f.display_name, f.value) for f in dashboard.top_fans_by_spend] == [
        ("Eve", 2000),
        ("Alice", 1000 + story.upgrade_minor),
        ("Bob", 1000),
    ]
    assert dashboard.top_fans_by_plays[0].fan_id == story.alice.id


def test_the_funnel_counts_each_step_and_the_rate_from_the_step_before(story: Story) -> None:
    """5 visitors, 4 followers, 4 subscribers, 3 supporters or more, 2 superfans."""
    dashboard = _dashboard(story.world, story.artist)

    assert [(s.name, s.count, s.rate) for s in dashboard.funnel] == [
        ("profile_visitors", 5, None),
        ("followers", 4, 0.8),
        ("free_subscribers", 4, 1.0),
        ("supporters", 3, 0.75),
        ("superfans", 2, 0.6667),
    ]


def test_a_lapsed_superfan_counts_as_a_subscriber_but_not_as_a_superfan(
    world: World, declining_gateway: DecliningPaymentGateway
) -> None:
    """The funnel uses the tier the fan enjoys now, so a past-due fan beyond grace counts as free."""
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    subscription = world.live_subscription(fan, artist)
    assert subscription is not None
    world.clock.set(subscription.current_period_end)
    Subscriptions(world.uow, billing_on(declining_gateway), world.ids, world.clock).run_billing()

    within = [s.count for s in _dashboard(world, artist).funnel][2:]
    world.clock.advance(timedelta(days=7))
    after = [s.count for s in _dashboard(world, artist).funnel][2:]

    assert (within, after) == ([1, 1, 1], [1, 0, 0])


def test_a_new_artist_sees_thirty_empty_days_and_no_rates(world: World) -> None:
    """No plays, no revenue, no fans; rates are None where the previous step is empty."""
    artist = world.artist()

    dashboard = _dashboard(world, artist)

    assert list(dashboard.plays_30d.values()) == [0] * 30
    assert list(dashboard.revenue_30d.values()) == [0] * 30
    assert (dashboard.top_fans_by_plays, dashboard.top_fans_by_spend) == ((), ())
    assert [(s.count, s.rate) for s in dashboard.funnel] == [(0, None)] * 5


def test_only_the_artist_or_an_admin_sees_the_dashboard(world: World) -> None:
    """Another artist and a fan are Forbidden."""
    artist = world.artist()

    for intruder in (world.artist(), world.fan_on(artist, Tier.SUPERFAN)):
        with pytest.raises(Forbidden):
            _dashboard(world, artist, caller=intruder)
    assert _dashboard(world, artist, caller=world.admin()).artist_id == artist.id
