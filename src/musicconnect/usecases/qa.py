"""Monthly Q&A: the artist opens one for the month; supporters+ ask (three each) and upvote;
the artist answers, edits answers, hides questions and closes it. It stays readable to
supporters+ after it closes. Every perk check asks the fan's entitlements at that instant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from musicconnect.domain.accounts import Caller
from musicconnect.domain.errors import Conflict, NotFound, QuotaExceeded
from musicconnect.domain.notifications import Announcement, NotificationKind
from musicconnect.domain.qa import (
    QUESTIONS_PER_FAN,
    QaSession,
    Question,
    QuestionOrder,
    check_answer,
    check_question,
    open_session,
    ordered,
    question_quota_key,
)
from musicconnect.domain.tiers import Feature
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, IdGenerator, QuotaCounter
from musicconnect.usecases.access import is_owner, require_artist, require_fan, require_owner, require_perk
from musicconnect.usecases.notifications import Notifications


@attrs.frozen
class QaPage:
    session: QaSession
    questions: Sequence[Question]


@attrs.frozen
class MonthlyQa:
    """The monthly Q&A use cases, bound once to their ports."""

    uow: Callable[[], UnitOfWork]
    quota: QuotaCounter
    ids: IdGenerator
    clock: Clock
    notifications: Notifications | None = None

    # --- the artist ---------------------------------------------------------------------------

    def open(self, artist_id: str, title: str, description: str | None, *, caller: Caller) -> QaSession:
        """A Q&A for the current calendar month (UTC); Conflict if this month has one."""
        require_owner(caller, artist_id)
        session = open_session(
            qa_id=self.ids.new_id(),
            artist_id=artist_id,
            title=title,
            description=description,
            now=self.clock.now(),
        )
        with self.uow() as uow:
            require_artist(uow, artist_id)
            uow.qa_sessions.add(session)
            uow.commit()
        self._announce(NotificationKind.QA_OPENED, session, session.id, f"Q&A open: {session.title}")
        return session

    def close(self, qa_id: str, *, caller: Caller) -> QaSession:
        with self.uow() as uow:
            session = self._session(uow, qa_id)
            require_owner(caller, session.artist_id)
            closed = session.closed(self.clock.now())
            if closed != session:
                uow.qa_sessions.save(closed)
                uow.commit()
        return closed

    def answer(self, qa_id: str, question_id: str, body: str, *, caller: Caller) -> Question:
        """Answer a question, or edit the answer given before (its first time is kept)."""
        text = check_answer(body)
        answered = self._change(
            qa_id,
            question_id,
            caller,
            lambda q: attrs.evolve(q, answer=text, answered_at=q.answered_at or self.clock.now()),
        )
        with self.uow() as uow:
            session = self._session(uow, qa_id)
        self._announce(
            NotificationKind.QA_ANSWERED,
            session,
            answered.id,
            f"Your question was answered: {answered.body[:80]}",
            fan_ids=(answered.fan_id,),
        )
        return answered

    def hide(self, qa_id: str, question_id: str, *, hidden: bool, caller: Caller) -> Question:
        return self._change(qa_id, question_id, caller, lambda q: attrs.evolve(q, hidden=hidden))

    # --- fans ---------------------------------------------------------------------------------

    def ask(self, qa_id: str, body: str, *, caller: Caller) -> Question:
        """A supporter's question, at most three per fan and Q&A (atomic across processes)."""
        require_fan(caller)
        text = check_question(body)
        now = self.clock.now()
        with self.uow() as uow:
            session = self._readable(uow, qa_id, caller)
        if not session.is_open(now):
            raise Conflict("this Q&A is closed")
        key = question_quota_key(qa_id, caller.id)
        if not self.quota.acquire(key, limit=QUESTIONS_PER_FAN, resets_at=session.ends_at):
            raise QuotaExceeded(f"{QUESTIONS_PER_FAN} questions per fan in one Q&A")
        question = Question(
            id=self.ids.new_id(),
            qa_id=qa_id,
            artist_id=session.artist_id,
            fan_id=caller.id,
            body=text,
            asked_at=now,
        )
        try:
            with self.uow() as uow:
                uow.questions.add(question)
                uow.commit()
        except BaseException:
            self.quota.release(key)  # not stored, so it must not use up the fan's questions
            raise
        return question

    def upvote(self, qa_id: str, question_id: str, *, caller: Caller) -> bool:
        """Upvote another fan's question while the Q&A is open: once per fan (False the next times)."""
        require_fan(caller)
        with self.uow() as uow:
            session = self._readable(uow, qa_id, caller)
            question = self._visible_question(uow, session, question_id, caller)
            if question.fan_id == caller.id:
                raise Conflict("upvote other fans' questions, not your own")
            if not session.is_open(self.clock.now()):
                raise Conflict("this Q&A is closed")
            counted = uow.questions.vote(question_id, caller.id, self.clock.now())
            try:
                uow.commit()
            except Conflict:
                return False  # the same fan's vote, committed meanwhile by another request
        return counted

    # --- reading ------------------------------------------------------------------------------

    def sessions(self, artist_id: str, *, caller: Caller) -> Sequence[QaSession]:
        with self.uow() as uow:
            require_artist(uow, artist_id)
            self._require_reader(uow, artist_id, caller)
            return uow.qa_sessions.of_artist(artist_id)

    def page(self, qa_id: str, *, caller: Caller, order: QuestionOrder = QuestionOrder.VOTES) -> QaPage:
        """The Q&A and its questions (hidden ones only for the artist), by votes or newest first."""
        with self.uow() as uow:
            session = self._readable(uow, qa_id, caller)
            questions = uow.questions.of_session(qa_id)
        if not is_owner(caller, session.artist_id):
            questions = [q for q in questions if not q.hidden]
        return QaPage(session, ordered(questions, order))

    # --- helpers ------------------------------------------------------------------------------

    def _session(self, uow: UnitOfWork, qa_id: str) -> QaSession:
        session = uow.qa_sessions.get(qa_id)
        if session is None:
            raise NotFound(f"no Q&A {qa_id}")
        return session

    def _readable(self, uow: UnitOfWork, qa_id: str, caller: Caller) -> QaSession:
        session = self._session(uow, qa_id)
        self._require_reader(uow, session.artist_id, caller)
        return session

    def _require_reader(self, uow: UnitOfWork, artist_id: str, caller: Caller) -> None:
        require_perk(
            uow,
            caller,
            artist_id,
            Feature.MONTHLY_QA,
            now=self.clock.now(),
            refusal="the monthly Q&A is for supporters and superfans",
            not_a_fan="the monthly Q&A is for the artist's supporters",
        )

    def _visible_question(
        self, uow: UnitOfWork, session: QaSession, question_id: str, caller: Caller
    ) -> Question:
        question = uow.questions.get(question_id)
        if question is None or question.qa_id != session.id:
            raise NotFound(f"no question {question_id} in this Q&A")
        if question.hidden and not is_owner(caller, session.artist_id):
            raise NotFound(f"no question {question_id} in this Q&A")
        return question

    def _change(
        self, qa_id: str, question_id: str, caller: Caller, change: Callable[[Question], Question]
    ) -> Question:
        with self.uow() as uow:
            session = self._session(uow, qa_id)
            require_owner(caller, session.artist_id)
            question = self._visible_question(uow, session, question_id, caller)
            changed = change(question)
            uow.questions.save(changed)
            uow.commit()
        return changed

    def _announce(
        self,
        kind: NotificationKind,
        session: QaSession,
        subject_id: str,
        text: str,
        fan_ids: tuple[str, ...] = (),
    ) -> None:
        if self.notifications is not None:
            announcement = Announcement(kind, session.artist_id, subject_id, text, self.clock.now(), fan_ids)
            self.notifications.announce(announcement)
