"""Direct messages under a monthly quota, plays in daily buckets, follows and likes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from musicconnect.adapters.memory import InMemoryUnitOfWork
from musicconnect.domain.accounts import Caller
from musicconnect.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    ServiceUnavailable,
)
from musicconnect.domain.messages import DirectMessage, dm_quota_key
from musicconnect.domain.tiers import Tier
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.usecases.conversations import Conversations
from musicconnect.usecases.library import Library
from musicconnect.usecases.subscriptions import Subscriptions
from tests.unit.usecases.conftest import DecliningPaymentGateway, World, billing_on


def _send(
    world: World, fan: Caller, artist: Caller, body: str = "hi!", uow: UnitOfWork | None = None
) -> DirectMessage:
    given = uow
    units = (lambda: given) if given is not None else world.uow
    return Conversations(units, world.quota, world.ids, world.clock).send(artist.id, body, caller=fan)


def _library(world: World) -> Library:
    return Library(world.uow, world.quota, world.clock)


def _inbox(world: World, artist: Caller) -> list[str]:
    with world.uow() as uow:
        return [m.body for m in uow.messages.to_artist(artist.id)]


class FailingCommitUnitOfWork(InMemoryUnitOfWork):
    """A unit of work whose store goes down on commit: nothing it wrote is kept."""

    def commit(self) -> None:
        self.rollback()
        raise ServiceUnavailable("the database is down")


# --- direct messages ---------------------------------------------------------------------------


@pytest.mark.parametrize("tier", [Tier.FREE, Tier.SUPPORTER])
def test_fans_below_superfan_may_not_send_direct_messages(world: World, tier: Tier) -> None:
    """Forbidden, nothing stored, no quota used."""
    artist = world.artist()
    fan = world.fan_on(artist, tier)

    with pytest.raises(Forbidden):
        _send(world, fan, artist)

    assert _inbox(world, artist) == []
    assert world.quota.used(dm_quota_key(fan.id, artist.id, "2025-03")) == 0


def test_a_superfan_sends_five_messages_a_month_and_the_sixth_is_refused(world: World) -> None:
    """Five stored in order, the sixth QuotaExceeded and not stored."""
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)

    sent = [_send(world, fan, artist, f"message {n}") for n in range(5)]
    with pytest.raises(QuotaExceeded):
        _send(world, fan, artist, "one too many")

    assert _inbox(world, artist) == [f"message {n}" for n in range(5)]
    assert {(m.fan_id, m.artist_id, m.sent_at) for m in sent} == {(fan.id, artist.id, world.clock.now())}


def test_the_quota_is_per_artist_and_per_fan(world: World) -> None:
    """A superfan of two artists, and a second superfan, each have their own five."""
    first, second = world.artist(), world.artist()
    fan = world.fan_on(first, Tier.SUPERFAN)
    world.subscribe(fan, second, Tier.SUPERFAN)
    other = world.fan_on(first, Tier.SUPERFAN)

    for _ in range(5):
        _send(world, fan, first)
        _send(world, fan, second)
        _send(world, other, first)

    assert (len(_inbox(world, first)), len(_inbox(world, second))) == (10, 5)


def test_the_quota_resets_on_the_first_of_the_next_calendar_month_utc(world: World) -> None:
    """Still refused on the last microsecond of March, accepted at April 1st 00:00 UTC."""
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    for _ in range(5):
        _send(world, fan, artist)
    april = datetime(2025, 4, 1, tzinfo=UTC)

    world.clock.set(april - timedelta(microseconds=1))
    with pytest.raises(QuotaExceeded):
        _send(world, fan, artist)
    world.clock.set(april)

    _send(world, fan, artist, "new month")

    assert _inbox(world, artist)[-1] == "new month"
    assert world.quota.used(dm_quota_key(fan.id, artist.id, "2025-04")) == 1


def test_a_message_the_store_failed_to_keep_gives_its_quota_unit_back(world: World) -> None:
    """After a failed write the fan can still send five that are stored."""
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    key = dm_quota_key(fan.id, artist.id, "2025-03")

    with pytest.raises(ServiceUnavailable):
        _send(world, fan, artist, "lost", uow=FailingCommitUnitOfWork(world.store))

    assert world.quota.used(key) == 0
    for n in range(5):
        _send(world, fan, artist, f"kept {n}")
    assert _inbox(world, artist) == [f"kept {n}" for n in range(5)]


@pytest.mark.parametrize("body", ["", "   ", "x" * 2001])
def test_an_empty_or_overlong_message_is_refused_without_using_the_quota(world: World, body: str) -> None:
    """InvalidInput before the quota is touched."""
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)

    with pytest.raises(InvalidInput):
        _send(world, fan, artist, body)

    assert world.quota.used(dm_quota_key(fan.id, artist.id, "2025-03")) == 0


def test_a_past_due_superfan_may_message_only_during_the_grace_period(
    world: World, declining_gateway: DecliningPaymentGateway
) -> None:
    """Declined renewal: messages still go through for 7 days, then Forbidden."""
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    subscription = world.live_subscription(fan, artist)
    assert subscription is not None
    world.clock.set(subscription.current_period_end)
    Subscriptions(world.uow, billing_on(declining_gateway), world.ids, world.clock).run_billing()

    world.clock.advance(timedelta(days=6))
    _send(world, fan, artist)
    world.clock.advance(timedelta(days=1))

    with pytest.raises(Forbidden):
        _send(world, fan, artist)


def test_messaging_an_unknown_artist_is_not_found(world: World) -> None:
    """NotFound, and an artist may not message at all."""
    artist = world.artist()

    with pytest.raises(NotFound):
        _send(world, world.fan(), Caller("nobody", artist.role))
    with pytest.raises(Forbidden):
        _send(world, artist, world.artist())


# --- plays -------------------------------------------------------------------------------------


def test_plays_are_counted_in_the_artists_daily_buckets(world: World) -> None:
    """Two plays today and one tomorrow, across two tracks and two fans: {today: 2, tomorrow: 1}."""
    artist = world.artist()
    first, second = world.ingest(artist), world.ingest(artist)
    alice, bob = world.fan(), world.fan()
    today = world.clock.now().date()

    _library(world).play(first.id, caller=alice)
    _library(world).play(second.id, caller=bob)
    world.clock.advance(timedelta(days=1))
    _library(world).play(first.id, caller=alice)

    with world.uow() as uow:
        days = uow.plays.daily_counts(artist.id, today, today + timedelta(days=1))
        top = list(uow.plays.top_fans(artist.id, 10))
    assert days == {today: 2, today + timedelta(days=1): 1}
    assert top == [(alice.id, 2), (bob.id, 1)]


def test_a_play_of_a_track_the_fan_may_not_see_is_not_counted(world: World) -> None:
    """An exclusive played by a free fan: NotFound and no bucket; an artist may not record plays."""
    artist = world.artist()
    track = world.ingest(artist, exclusive=True)

    with pytest.raises(NotFound):
        _library(world).play(track.id, caller=world.fan())
    with pytest.raises(Forbidden):
        _library(world).play(track.id, caller=artist)

    with world.uow() as uow:
        assert uow.plays.top_fans(artist.id, 10) == []


def test_a_fan_replaying_a_track_counts_once_per_30_seconds(world: World) -> None:
    """200 plays in a burst count once; the next play 30 s later counts again."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan()

    counted = [_library(world).play(track.id, caller=fan) for _ in range(200)]
    world.clock.advance(seconds=30)
    counted.append(_library(world).play(track.id, caller=fan))

    assert counted.count(True) == 2
    with world.uow() as uow:
        assert uow.plays.top_fans(artist.id, 10) == [(fan.id, 2)]


def test_a_play_of_a_track_that_cannot_be_streamed_is_refused(world: World) -> None:
    """A failed (or still processing) track counts no plays."""
    artist = world.artist()
    world.auto_transcode = False
    waiting = world.ingest(artist)
    fan = world.fan()

    with pytest.raises(Conflict):
        _library(world).play(waiting.id, caller=fan)
    with world.uow() as uow:
        assert uow.plays.top_fans(artist.id, 10) == []


# --- follows and likes -------------------------------------------------------------------------


def test_following_is_idempotent(world: World) -> None:
    """Following twice counts once; a second fan makes two."""
    artist = world.artist()
    fan, other = world.fan(), world.fan()

    for follower in (fan, fan, other):
        _library(world).follow(artist.id, caller=follower)

    with world.uow() as uow:
        assert uow.fans.follower_count(artist.id) == 2


def test_following_needs_a_fan_and_an_artist_that_exists(world: World) -> None:
    """Forbidden for an artist, NotFound for a missing artist; nothing counted."""
    artist = world.artist()

    with pytest.raises(Forbidden):
        _library(world).follow(artist.id, caller=world.artist())
    with pytest.raises(NotFound):
        _library(world).follow("nobody", caller=world.fan())

    with world.uow() as uow:
        assert uow.fans.follower_count(artist.id) == 0


def test_liking_is_idempotent_and_only_for_visible_tracks(world: World) -> None:
    """Two likes by one fan count once; liking a hidden exclusive is NotFound."""
    artist = world.artist()
    public, exclusive = world.ingest(artist), world.ingest(artist, exclusive=True)
    fan = world.fan()

    _library(world).like(public.id, caller=fan)
    _library(world).like(public.id, caller=fan)
    with pytest.raises(NotFound):
        _library(world).like(exclusive.id, caller=fan)

    with world.uow() as uow:
        assert (uow.fans.likes_of(public.id), uow.fans.likes_of(exclusive.id)) == (1, 0)
