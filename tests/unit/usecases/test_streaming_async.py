"""Streaming.master_playlist_for: the async stream path answers as ``authorise_stream`` does, from
the reads it awaits.

The fast path (a remembered track and a cached standing) must agree with the database path on
every tier, follow changes the moment the cache is invalidated, and refuse revoked tokens and
hidden tracks just the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import pytest

from musicconnect.adapters.inprocess import LocalAccessReads
from musicconnect.domain.accounts import Caller
from musicconnect.domain.errors import AuthenticationFailed, NotFound
from musicconnect.domain.hls import listed_rungs
from musicconnect.domain.tiers import Tier
from musicconnect.domain.tracks import Track
from musicconnect.usecases.caching import ReadyTracks
from musicconnect.usecases.streaming import Streaming
from tests.unit.usecases.conftest import World
from tests.unit.usecases.test_streaming import _master as master_from_the_database

_T = TypeVar("_T")


class CountedBlocking:
    """Blocking work run in place, counted: how often the opener had to read the database."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, work: Callable[[], _T], /) -> _T:
        self.calls += 1
        return work()


def _opener(world: World, blocking: CountedBlocking) -> Streaming:
    return Streaming(
        world.uow,
        ReadyTracks(),
        world.cache,
        world.storage,
        world.signer,
        world.clock,
        tokens=world.tokens,
        reads=LocalAccessReads(world.denylist, world.cache),
        blocking=blocking,
    )


def _token(world: World, caller: Caller) -> str:
    return world.tokens.issue(subject=caller.id, role=caller.role.value).access_token


def _open(opener: Streaming, track: Track, token: str) -> str:
    return asyncio.run(opener.master_playlist_for(track.id, access_token=token))


@pytest.mark.parametrize("tier", list(Tier))
def test_the_fast_path_answers_as_the_database_path_does(world: World, tier: Tier) -> None:
    """First open reads the database; the second is served from the reads alone, identically."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan_on(artist, tier)
    blocking = CountedBlocking()
    opener = _opener(world, blocking)
    token = _token(world, fan)

    first = _open(opener, track, token)
    second = _open(opener, track, token)

    assert first == second == master_from_the_database(world, fan, track)
    assert blocking.calls == 1


def test_an_upgrade_is_heard_on_the_next_open_from_the_fast_path(world: World) -> None:
    """The commit invalidates the cached standing: the next open reads it afresh, once."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan_on(artist, Tier.SUPPORTER)
    blocking = CountedBlocking()
    opener = _opener(world, blocking)
    token = _token(world, fan)
    before = [listed_rungs(_open(opener, track, token)) for _ in range(2)]

    world.subscriptions.change_tier(artist.id, Tier.SUPERFAN, caller=fan)
    after = [listed_rungs(_open(opener, track, token)) for _ in range(2)]

    assert before == [[128, 256], [128, 256]]
    assert after == [[128, 256, 320], [128, 256, 320]]
    assert blocking.calls == 2


def test_a_cached_downgrade_takes_effect_at_period_end_without_a_read(world: World) -> None:
    """A standing answers for any instant: past the period end the pending tier applies."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan_on(artist, Tier.SUPERFAN)
    world.subscriptions.change_tier(artist.id, Tier.SUPPORTER, caller=fan)
    with world.uow() as uow:
        subscription = uow.subscriptions.live_for(fan.id, artist.id)
    assert subscription is not None
    world.clock.set(subscription.current_period_end - timedelta(seconds=5))
    blocking = CountedBlocking()
    opener = _opener(world, blocking)
    token = _token(world, fan)
    during = listed_rungs(_open(opener, track, token))

    world.clock.advance(timedelta(seconds=10))  # past the period end, within the entry's lifetime
    after = listed_rungs(_open(opener, track, token))

    assert during == [128, 256, 320]
    assert after == [128, 256]
    assert blocking.calls == 1


def test_a_revoked_token_is_refused_on_either_path(world: World) -> None:
    """Revoking the login's family refuses the next open, whether the standing is cached or not."""
    artist = world.artist()
    track = world.ingest(artist)
    fan = world.fan_on(artist, Tier.SUPPORTER)
    opener = _opener(world, CountedBlocking())
    token = _token(world, fan)
    _open(opener, track, token)  # the standing is now cached
    claims = world.tokens.decode(token, kind="access")

    world.denylist.revoke(claims.family.id, until=claims.family.expires_at)

    with pytest.raises(AuthenticationFailed):
        _open(opener, track, token)
    with pytest.raises(AuthenticationFailed):
        _open(_opener(world, CountedBlocking()), track, token)


def test_a_hidden_track_stays_hidden_with_a_cached_standing(world: World) -> None:
    """An exclusive is NotFound for a free fan on the fast path too, and plays once they subscribe."""
    artist = world.artist()
    public = world.ingest(artist)
    exclusive = world.ingest(artist, exclusive=True)
    fan = world.fan()
    opener = _opener(world, CountedBlocking())
    token = _token(world, fan)
    _open(opener, public, token)  # caches the free standing
    _open(opener, exclusive, _token(world, artist))  # now remembered: the fan takes the fast path

    with pytest.raises(NotFound):
        _open(opener, exclusive, token)
    world.subscriptions.subscribe(artist.id, Tier.SUPPORTER, caller=fan)
    assert listed_rungs(_open(opener, exclusive, token)) == [128, 256]
