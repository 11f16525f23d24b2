"""Monthly Q&A: supporters+ ask three questions each and upvote others'; the artist answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from musicconnect.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, QuotaExceeded
from musicconnect.domain.qa import QuestionOrder
from musicconnect.domain.tiers import Tier
from musicconnect.usecases.qa import MonthlyQa
from tests.unit.usecases.conftest import World


@pytest.fixture
def qa(world: World) -> MonthlyQa:
    return MonthlyQa(world.uow, world.quota, world.ids, world.clock)


def test_supporters_ask_and_upvote_and_the_artist_answers(world: World, qa: MonthlyQa) -> None:
    """Questions sort by votes (ties: asked first) or newest first; answers show to every reader."""
    artist = world.artist()
    session = qa.open(artist.id, "March Q&A — the new record", "Ask about « Nuits blanches »", caller=artist)
    alice, bob, cleo = (
        world.fan_on(artist, tier) for tier in (Tier.SUPPORTER, Tier.SUPERFAN, Tier.SUPPORTER)
    )
    gear = qa.ask(session.id, "Which synth is on track 3? 🎛", caller=alice)
    world.clock.advance(minutes=1)
    tour = qa.ask(session.id, "Will you tour Japan?\nAsking for Osaka 🇯🇵", caller=bob)
    world.clock.advance(minutes=1)
    lyrics = qa.ask(session.id, "Who wrote the lyrics of « Été »?", caller=cleo)
    assert qa.upvote(session.id, tour.id, caller=alice) is True
    assert qa.upvote(session.id, tour.id, caller=alice) is False  # once each
    assert qa.upvote(session.id, tour.id, caller=cleo) is True
    assert qa.upvote(session.id, lyrics.id, caller=bob) is True
    qa.answer(session.id, tour.id, "Yes — Osaka and Tokyo in October.", caller=artist)

    by_votes = qa.page(session.id, caller=cleo)
    assert [(q.id, q.votes) for q in by_votes.questions] == [(tour.id, 2), (lyrics.id, 1), (gear.id, 0)]
    assert by_votes.questions[0].answer == "Yes — Osaka and Tokyo in October."
    by_time = qa.page(session.id, caller=cleo, order=QuestionOrder.TIME)
    assert [q.id for q in by_time.questions] == [lyrics.id, tour.id, gear.id]


def test_free_fans_and_other_artists_are_refused(world: World, qa: MonthlyQa) -> None:
    """Reading, asking and voting need Feature.MONTHLY_QA; opening needs the artist."""
    artist, other_artist = world.artist(), world.artist()
    session = qa.open(artist.id, "Q&A", None, caller=artist)
    supporter, free = world.fan_on(artist, Tier.SUPPORTER), world.fan_on(artist, Tier.FREE)
    question = qa.ask(session.id, "hello?", caller=supporter)

    with pytest.raises(Forbidden):
        qa.ask(session.id, "me too", caller=free)
    with pytest.raises(Forbidden):
        qa.page(session.id, caller=free)
    with pytest.raises(Forbidden):
        qa.upvote(session.id, question.id, caller=free)
    with pytest.raises(Forbidden):
        qa.open(artist.id, "not mine", None, caller=other_artist)
    with pytest.raises(Forbidden):
        qa.answer(session.id, question.id, "not mine", caller=other_artist)
    with pytest.raises(Forbidden):
        qa.sessions(artist.id, caller=other_artist)
    assert world.quota.used(f"qa:{session.id}:{free.id}") == 0


def test_three_questions_per_fan_per_qa(world: World, qa: MonthlyQa) -> None:
    """The fourth is QuotaExceeded; another fan and another month's Q&A have their own three."""
    artist = world.artist()
    session = qa.open(artist.id, "Q&A", None, caller=artist)
    fan, other = world.fan_on(artist, Tier.SUPPORTER), world.fan_on(artist, Tier.SUPPORTER)
    for n in range(3):
        qa.ask(session.id, f"question {n}", caller=fan)
    with pytest.raises(QuotaExceeded):
        qa.ask(session.id, "one too many", caller=fan)
    qa.ask(session.id, "mine", caller=other)
    assert len(qa.page(session.id, caller=fan).questions) == 4


def test_bad_text_is_refused_and_uses_no_question(world: World, qa: MonthlyQa) -> None:
    """Empty, control characters, bidi overrides and overlong text: InvalidInput, quota untouched."""
    artist = world.artist()
    session = qa.open(artist.id, "Q&A", None, caller=artist)
    fan = world.fan_on(artist, Tier.SUPPORTER)
    for hostile in ("", " \n ", "\x1b[2J wipe", "abc\u202etxt.exe", "x" * 1001, "nul\x00byte"):
        with pytest.raises(InvalidInput):
            qa.ask(session.id, hostile, caller=fan)
    with pytest.raises(InvalidInput):
        qa.open(artist.id, "two\nlines", None, caller=artist)
    assert world.quota.used(f"qa:{session.id}:{fan.id}") == 0
    # HTML is text: kept as typed, never interpreted (clients escape it).
    question = qa.ask(session.id, "<script>alert(1)</script> is my fav song", caller=fan)
    assert question.body == "<script>alert(1)</script> is my fav song"


def test_a_qa_closes_at_month_end_or_by_the_artist_and_stays_readable(world: World, qa: MonthlyQa) -> None:
    """After it closes: no questions, no votes; supporters still read it; one Q&A per month."""
    artist = world.artist()
    session = qa.open(artist.id, "March", None, caller=artist)
    with pytest.raises(Conflict):
        qa.open(artist.id, "March again", None, caller=artist)
    fan, other = world.fan_on(artist, Tier.SUPPORTER), world.fan_on(artist, Tier.SUPERFAN)
    question = qa.ask(session.id, "before the end", caller=fan)

    world.clock.set(datetime(2025, 4, 1, tzinfo=UTC))
    with pytest.raises(Conflict):
        qa.ask(session.id, "too late", caller=fan)
    with pytest.raises(Conflict):
        qa.upvote(session.id, question.id, caller=other)
    assert [q.body for q in qa.page(session.id, caller=fan).questions] == ["before the end"]

    april = qa.open(artist.id, "April", None, caller=artist)
    closed = qa.close(april.id, caller=artist)
    assert closed.closed_at == world.clock.now()
    with pytest.raises(Conflict):
        qa.ask(april.id, "closed already", caller=fan)
    assert [s.month for s in qa.sessions(artist.id, caller=fan)] == ["2025-04", "2025-03"]


def test_hidden_questions_vanish_for_fans_and_own_votes_are_refused(world: World, qa: MonthlyQa) -> None:
    """The artist still sees a hidden question; fans neither see nor vote on it."""
    artist = world.artist()
    session = qa.open(artist.id, "Q&A", None, caller=artist)
    fan, other = world.fan_on(artist, Tier.SUPPORTER), world.fan_on(artist, Tier.SUPPORTER)
    rude = qa.ask(session.id, "something rude", caller=fan)
    with pytest.raises(Conflict):
        qa.upvote(session.id, rude.id, caller=fan)
    qa.hide(session.id, rude.id, hidden=True, caller=artist)

    assert qa.page(session.id, caller=other).questions == []
    assert [q.hidden for q in qa.page(session.id, caller=artist).questions] == [True]
    with pytest.raises(NotFound):
        qa.upvote(session.id, rude.id, caller=other)


def test_a_supporter_who_downgrades_loses_the_qa(world: World, qa: MonthlyQa) -> None:
    """Entitlements are asked at each call: once the downgrade takes effect, reading is Forbidden."""
    artist = world.artist()
    session = qa.open(artist.id, "Q&A", None, caller=artist)
    fan = world.fan_on(artist, Tier.SUPPORTER)
    qa.ask(session.id, "first", caller=fan)
    subscription = world.subscriptions.change_tier(artist.id, Tier.FREE, caller=fan).subscription
    world.clock.set(subscription.current_period_end + timedelta(seconds=1))
    with pytest.raises(Forbidden):
        qa.page(session.id, caller=fan)
