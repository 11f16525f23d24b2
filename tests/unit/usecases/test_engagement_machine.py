"""A month of monthly Q&A and direct messages for one artist and fans whose tiers change.

The model knows each fan's tier at every instant (a tier change replaces the fan's live
subscription at once), which Q&A is open, and what was stored. After every step: no call ever
read or wrote beyond the caller's entitlements at that instant (each rule checks the outcome it
got against the model: Forbidden exactly when the tier lacks the feature); quotas never exceed
their limits (three questions per fan and Q&A, five messages per fan and month); and the stored
counts (questions, votes, messages, unread counts) equal what the model says was accepted.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from musicconnect.adapters.memory import (
    FrozenClock,
    InMemoryQuotaCounter,
    InMemoryStore,
    InMemoryUnitOfWork,
    SequentialIdGenerator,
)
from musicconnect.domain.accounts import Artist, Caller, Role
from musicconnect.domain.clocks import month_key
from musicconnect.domain.entitlements import DM_PER_MONTH
from musicconnect.domain.errors import Conflict, DomainError, Forbidden, NotFound, QuotaExceeded
from musicconnect.domain.qa import QUESTIONS_PER_FAN
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus
from musicconnect.domain.tiers import Tier, default_plans
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.usecases.conversations import Conversations
from musicconnect.usecases.qa import MonthlyQa

ARTIST: Final = Caller("artist-1", Role.ARTIST)
FANS: Final = tuple(Caller(f"fan-{n}", Role.FAN) for n in range(1, 4))
START: Final = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
#: Past the end of March, so the March Q&A closes by itself and April begins.
LAST: Final = datetime(2025, 4, 3, tzinfo=UTC)
PLANS: Final = {plan.tier: plan for plan in default_plans()}
QA_TIERS: Final = frozenset({Tier.SUPPORTER, Tier.SUPERFAN})

fans = st.sampled_from(FANS)
texts = st.sampled_from(
    ["Tour dates? 🎸", "Which synth on track 3?", "« Été » lyrics?", "<b>hi</b>", "Merci ❤"]
)


@attrs.define
class QaModel:
    id: str
    month: str
    closed: bool = False
    #: question id -> asker; votes: question id -> fans who voted.
    askers: dict[str, str] = attrs.field(factory=dict)
    votes: dict[str, set[str]] = attrs.field(factory=dict)


class EngagementMonth(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = InMemoryStore()
        self.clock = FrozenClock(START)
        ids = SequentialIdGenerator("id")
        self.quota = InMemoryQuotaCounter(self.clock)
        self.qa = MonthlyQa(self.uow, self.quota, ids, self.clock)
        self.dms = Conversations(self.uow, self.quota, ids, self.clock)
        with self.uow() as uow:
            uow.artists.add(Artist(id=ARTIST.id, display_name="Nadia", plans=default_plans()))
            uow.commit()
        self.tiers = dict.fromkeys((f.id for f in FANS), Tier.FREE)
        self.sessions: list[QaModel] = []
        #: (fan, month) -> messages the fan sent that month; fan -> (sent by fan, replies).
        self.sent: Counter[tuple[str, str]] = Counter()
        self.thread_sizes: Counter[str] = Counter()
        self.unread_by_artist: Counter[str] = Counter()
        self._subscriptions = 0

    def uow(self) -> UnitOfWork:
        return InMemoryUnitOfWork(self.store)

    # --- the world changes --------------------------------------------------------------------

    @rule(hours=st.integers(1, 96))
    def time_passes(self, hours: int) -> None:
        self.clock.set(min(self.clock.now() + timedelta(hours=hours), LAST))

    @rule(fan=fans, tier=st.sampled_from(list(Tier)))
    def tier_changes(self, fan: Caller, tier: Tier) -> None:
        """The fan's live subscription is replaced at once (free: none at all)."""
        now = self.clock.now()
        with self.uow() as uow:
            live = uow.subscriptions.live_for(fan.id, ARTIST.id)
            if live is not None:
                uow.subscriptions.save(
                    attrs.evolve(live, status=SubscriptionStatus.CANCELED, canceled_at=now)
                )
            if tier is not Tier.FREE:
                self._subscriptions += 1
                uow.subscriptions.add(
                    Subscription(
                        id=f"sub-{self._subscriptions}",
                        fan_id=fan.id,
                        artist_id=ARTIST.id,
                        plan=PLANS[tier],
                        status=SubscriptionStatus.ACTIVE,
                        current_period_start=now,
                        current_period_end=now + timedelta(days=60),
                        created_at=now,
                    )
                )
            uow.commit()
        self.tiers[fan.id] = tier

    # --- monthly Q&A --------------------------------------------------------------------------

    def _current(self) -> QaModel | None:
        month = month_key(self.clock.now())
        return next((s for s in self.sessions if s.month == month), None)

    def _open(self, session: QaModel) -> bool:
        return not session.closed and session.month == month_key(self.clock.now())

    @rule()
    def artist_opens_a_qa(self) -> None:
        existing = self._current()
        if existing is not None:
            with pytest.raises(Conflict):
                self.qa.open(ARTIST.id, "Monthly Q&A", None, caller=ARTIST)
            return
        opened = self.qa.open(ARTIST.id, "Monthly Q&A", "Ask me anything", caller=ARTIST)
        self.sessions.append(QaModel(opened.id, opened.month))

    @precondition(lambda self: bool(self.sessions))
    @rule(data=st.data())
    def artist_closes_a_qa(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        self.qa.close(session.id, caller=ARTIST)
        session.closed = True

    @precondition(lambda self: bool(self.sessions))
    @rule(fan=fans, body=texts, times=st.integers(1, 4), data=st.data())
    def fan_asks(self, fan: Caller, body: str, times: int, data: st.DataObject) -> None:
        """One question, or a burst of them."""
        session = data.draw(st.sampled_from(self.sessions))
        for _ in range(times):
            self._ask(fan, session, body)

    def _ask(self, fan: Caller, session: QaModel, body: str) -> None:
        asked = sum(1 for asker in session.askers.values() if asker == fan.id)
        if self.tiers[fan.id] not in QA_TIERS:
            expected: type[DomainError] | None = Forbidden
        elif not self._open(session):
            expected = Conflict
        elif asked >= QUESTIONS_PER_FAN:
            expected = QuotaExceeded
        else:
            expected = None
        if expected is not None:
            with pytest.raises(expected):
                self.qa.ask(session.id, body, caller=fan)
            return
        question = self.qa.ask(session.id, body, caller=fan)
        session.askers[question.id] = fan.id
        session.votes[question.id] = set()

    @precondition(lambda self: any(s.askers for s in self.sessions))
    @rule(fan=fans, data=st.data())
    def fan_upvotes(self, fan: Caller, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from([s for s in self.sessions if s.askers]))
        question_id = data.draw(st.sampled_from(sorted(session.askers)))
        if self.tiers[fan.id] not in QA_TIERS:
            with pytest.raises(Forbidden):
                self.qa.upvote(session.id, question_id, caller=fan)
        elif session.askers[question_id] == fan.id or not self._open(session):
            with pytest.raises(Conflict):
                self.qa.upvote(session.id, question_id, caller=fan)
        else:
            counted = self.qa.upvote(session.id, question_id, caller=fan)
            assert counted is (fan.id not in session.votes[question_id])
            session.votes[question_id].add(fan.id)

    @precondition(lambda self: bool(self.sessions))
    @rule(fan=fans, data=st.data())
    def fan_reads_a_qa(self, fan: Caller, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        if self.tiers[fan.id] not in QA_TIERS:
            with pytest.raises(Forbidden):
                self.qa.page(session.id, caller=fan)
            return
        page = self.qa.page(session.id, caller=fan)
        assert {q.id: q.votes for q in page.questions} == {q: len(v) for q, v in session.votes.items()}
        assert [q.votes for q in page.questions] == sorted((q.votes for q in page.questions), reverse=True)

    # --- direct messages ----------------------------------------------------------------------

    @rule(fan=fans, body=texts, times=st.integers(1, 4))
    def fan_writes(self, fan: Caller, body: str, times: int) -> None:
        """One message, or a burst of them."""
        for _ in range(times):
            self._write(fan, body)

    def _write(self, fan: Caller, body: str) -> None:
        month = month_key(self.clock.now())
        if self.tiers[fan.id] is not Tier.SUPERFAN:
            with pytest.raises(Forbidden):
                self.dms.send(ARTIST.id, body, caller=fan)
        elif self.sent[fan.id, month] >= DM_PER_MONTH:
            with pytest.raises(QuotaExceeded):
                self.dms.send(ARTIST.id, body, caller=fan)
        else:
            self.dms.send(ARTIST.id, body, caller=fan)
            self.sent[fan.id, month] += 1
            self.thread_sizes[fan.id] += 1
            self.unread_by_artist[fan.id] += 1

    @rule(fan=fans, body=texts)
    def artist_replies(self, fan: Caller, body: str) -> None:
        if not self.thread_sizes[fan.id]:
            with pytest.raises(NotFound):
                self.dms.reply(ARTIST.id, fan.id, body, caller=ARTIST)
            return
        self.dms.reply(ARTIST.id, fan.id, body, caller=ARTIST)
        self.thread_sizes[fan.id] += 1

    @rule(fan=fans)
    def artist_reads_a_thread(self, fan: Caller) -> None:
        thread = self.dms.artist_thread(ARTIST.id, fan.id, caller=ARTIST)
        assert len(thread) == self.thread_sizes[fan.id]
        self.unread_by_artist[fan.id] = 0

    @rule(fan=fans)
    def fan_reads_their_thread(self, fan: Caller) -> None:
        """Whatever their tier now: old threads stay readable."""
        thread = self.dms.fan_thread(ARTIST.id, caller=fan)
        assert len(thread) == self.thread_sizes[fan.id]
        assert [m.sent_at for m in thread] == sorted((m.sent_at for m in thread), reverse=True)

    # --- what must always hold ----------------------------------------------------------------

    @invariant()
    def stored_counts_equal_the_model_and_stay_within_quotas(self) -> None:
        with self.uow() as uow:
            for session in self.sessions:
                stored = uow.questions.of_session(session.id)
                assert {q.id: q.votes for q in stored} == {q: len(v) for q, v in session.votes.items()}
                per_fan = Counter(q.fan_id for q in stored)
                assert all(n <= QUESTIONS_PER_FAN for n in per_fan.values())
            for fan in FANS:
                since = datetime(self.clock.now().year, self.clock.now().month, 1, tzinfo=UTC)
                this_month = uow.messages.count_from(fan.id, ARTIST.id, since)
                assert this_month == self.sent[fan.id, month_key(self.clock.now())] <= DM_PER_MONTH
            inbox = {c.fan_id: c for c in uow.messages.conversations(ARTIST.id)}
        assert {f: c.messages for f, c in inbox.items()} == {f: n for f, n in self.thread_sizes.items() if n}
        assert {f: c.unread_by_artist for f, c in inbox.items()} == {
            f: self.unread_by_artist[f] for f, n in self.thread_sizes.items() if n
        }


EngagementMonth.TestCase.settings = settings(max_examples=80, stateful_step_count=60, deadline=None)
test_a_month_of_qa_and_messages_with_changing_tiers = EngagementMonth.TestCase
