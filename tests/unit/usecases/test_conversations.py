"""Direct messages as conversations: superfans write under a quota, the artist replies freely."""

from __future__ import annotations

from datetime import timedelta

import pytest

from musicconnect.domain.errors import Forbidden, InvalidInput, NotFound, QuotaExceeded
from musicconnect.domain.tiers import Tier
from musicconnect.usecases.conversations import Conversations
from tests.unit.usecases.conftest import World


@pytest.fixture
def dms(world: World) -> Conversations:
    return Conversations(world.uow, world.quota, world.ids, world.clock)


def test_a_thread_reads_the_same_from_both_sides_newest_first(world: World, dms: Conversations) -> None:
    """The fan's messages and the artist's replies, newest first, for fan and artist alike."""
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    dms.send(artist.id, "Is the B-side from the 2019 sessions? 🎹", caller=fan)
    world.clock.advance(minutes=5)
    dms.reply(artist.id, fan.id, "It is! Recorded in one take.", caller=artist)
    world.clock.advance(minutes=5)
    dms.send(artist.id, "Wow — merci!", caller=fan)

    fan_view = [(m.from_artist, m.body) for m in dms.fan_thread(artist.id, caller=fan)]
    artist_view = [(m.from_artist, m.body) for m in dms.artist_thread(artist.id, fan.id, caller=artist)]

    assert (
        fan_view
        == artist_view
        == [
            (False, "Wow — merci!"),
            (True, "It is! Recorded in one take."),
            (False, "Is the B-side from the 2019 sessions? 🎹"),
        ]
    )


def test_reading_marks_the_other_sides_messages_read(world: World, dms: Conversations) -> None:
    """The inbox counts unread messages until the artist opens the thread; the fan's view of a
    reply turns read once the fan opens it."""
    artist = world.artist()
    fan, other = world.fan_on(artist, Tier.SUPERFAN), world.fan_on(artist, Tier.SUPERFAN)
    dms.send(artist.id, "first", caller=fan)
    dms.send(artist.id, "second", caller=fan)
    world.clock.advance(minutes=1)
    dms.send(artist.id, "hello from another fan", caller=other)

    inbox = dms.inbox(artist.id, caller=artist)
    assert [(c.fan_id, c.messages, c.unread_by_artist) for c in inbox] == [(other.id, 1, 1), (fan.id, 2, 2)]

    opened = dms.artist_thread(artist.id, fan.id, caller=artist)
    assert [m.is_read for m in opened] == [False, False]  # as it was when opened
    assert [c.unread_by_artist for c in dms.inbox(artist.id, caller=artist)] == [1, 0]

    dms.reply(artist.id, fan.id, "thanks!", caller=artist)
    assert [m.is_read for m in dms.fan_thread(artist.id, caller=fan)] == [False, True, True]
    assert [m.is_read for m in dms.fan_thread(artist.id, caller=fan)] == [True, True, True]


def test_replies_use_no_quota(world: World, dms: Conversations) -> None:
    """The artist replies ten times to a fan who used their five messages; the fan stays at five."""
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    for n in range(5):
        dms.send(artist.id, f"message {n}", caller=fan)
    for n in range(10):
        dms.reply(artist.id, fan.id, f"reply {n}", caller=artist)
    with pytest.raises(QuotaExceeded):
        dms.send(artist.id, "one more", caller=fan)
    assert len(dms.fan_thread(artist.id, caller=fan)) == 15


def test_a_fan_who_drops_below_superfan_reads_old_threads_but_cannot_write(
    world: World, dms: Conversations
) -> None:
    """After a downgrade takes effect: the thread stays readable, sending is Forbidden."""
    artist = world.artist()
    fan = world.fan_on(artist, Tier.SUPERFAN)
    dms.send(artist.id, "see you at the show", caller=fan)
    dms.reply(artist.id, fan.id, "see you there", caller=artist)
    subscription = world.subscriptions.change_tier(artist.id, Tier.SUPPORTER, caller=fan).subscription
    world.clock.set(subscription.current_period_end + timedelta(seconds=1))

    with pytest.raises(Forbidden):
        dms.send(artist.id, "still here?", caller=fan)
    assert [m.body for m in dms.fan_thread(artist.id, caller=fan)] == ["see you there", "see you at the show"]
    # The artist may still answer the conversation.
    dms.reply(artist.id, fan.id, "always", caller=artist)


def test_only_the_artist_replies_and_only_in_a_conversation_a_fan_began(
    world: World, dms: Conversations
) -> None:
    """Another artist or a fan is Forbidden; a fan who never wrote is NotFound; bad text InvalidInput."""
    artist, stranger = world.artist(), world.artist()
    fan, silent = world.fan_on(artist, Tier.SUPERFAN), world.fan()
    dms.send(artist.id, "hi", caller=fan)

    with pytest.raises(Forbidden):
        dms.reply(artist.id, fan.id, "not mine", caller=stranger)
    with pytest.raises(Forbidden):
        dms.reply(artist.id, fan.id, "not mine", caller=fan)
    with pytest.raises(Forbidden):
        dms.inbox(artist.id, caller=fan)
    with pytest.raises(NotFound):
        dms.reply(artist.id, silent.id, "unsolicited", caller=artist)
    for hostile in ("", "   ", "evil\u202etxt.exe", "bell\x07"):
        with pytest.raises(InvalidInput):
            dms.reply(artist.id, fan.id, hostile, caller=artist)
    assert len(dms.artist_thread(artist.id, fan.id, caller=artist)) == 1


def test_the_artist_reads_the_names_of_the_fans_who_wrote_and_nobody_else_does(
    world: World, dms: Conversations
) -> None:
    artist, other_artist = world.artist(), world.artist()
    writer = world.fan_on(artist, Tier.SUPERFAN, name="Ada Ünïcode")
    world.fan_on(artist, Tier.SUPERFAN, name="Silent Sam")
    dms.send(artist.id, "hello", caller=writer)

    names = dms.fan_names(artist.id, caller=artist)

    assert names == {writer.id: "Ada Ünïcode"}
    with pytest.raises(Forbidden):
        dms.fan_names(artist.id, caller=other_artist)
    with pytest.raises(Forbidden):
        dms.fan_names(artist.id, caller=writer)
