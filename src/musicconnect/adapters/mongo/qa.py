"""Monthly Q&As, their questions, and upvotes: one document per (question, fan) vote."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from musicconnect.adapters.mongo._codec import Doc, key, put_instant, read_instant, read_instant_or_none
from musicconnect.adapters.mongo._work import CurrentWork
from musicconnect.adapters.mongo.database import QA_QUESTIONS, QA_SESSIONS, QA_VOTES
from musicconnect.domain.errors import Conflict
from musicconnect.domain.qa import QaSession, Question

_LATEST_MONTH_FIRST: Final = (("month", -1),)
_OLDEST_FIRST: Final = (("asked_at_us", 1), ("seq", 1))


class MongoQaSessionRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def add(self, session: QaSession) -> None:
        work = self._work()
        conflict = f"a Q&A for {session.month} exists already"
        doc = _session_doc(session)
        if work.find_one(QA_SESSIONS, {"$or": [{"_id": session.id}, {"artist_month": doc["artist_month"]}]}):
            raise Conflict(conflict)
        work.insert(QA_SESSIONS, doc, conflict=conflict, versioned=True)

    def get(self, qa_id: str) -> QaSession | None:
        doc = self._work().find_one(QA_SESSIONS, {"_id": qa_id})
        return None if doc is None else _session(doc)

    def save(self, session: QaSession) -> None:
        self._work().save(
            QA_SESSIONS, _session_doc(session), conflict=f"Q&A {session.id!r} changed meanwhile"
        )

    def of_artist(self, artist_id: str) -> Sequence[QaSession]:
        docs = self._work().find(QA_SESSIONS, {"artist_id": artist_id}, sort=_LATEST_MONTH_FIRST)
        return [_session(doc) for doc in docs]


class MongoQuestionRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def add(self, question: Question) -> None:
        self._work().insert_new(
            QA_QUESTIONS, _question_doc(question), conflict=f"question {question.id!r} exists", versioned=True
        )

    def get(self, question_id: str) -> Question | None:
        work = self._work()
        doc = work.find_one(QA_QUESTIONS, {"_id": question_id})
        if doc is None:
            return None
        return _question(doc, votes=work.count(QA_VOTES, {"question_id": question_id}))

    def save(self, question: Question) -> None:
        conflict = f"question {question.id!r} changed meanwhile"
        self._work().save(QA_QUESTIONS, _question_doc(question), conflict=conflict)

    def of_session(self, qa_id: str) -> Sequence[Question]:
        work = self._work()
        docs = work.find(QA_QUESTIONS, {"qa_id": qa_id}, sort=_OLDEST_FIRST)
        votes = Counter(str(v["question_id"]) for v in work.find(QA_VOTES, {"qa_id": qa_id}))
        return [_question(doc, votes=votes[doc["_id"]]) for doc in docs]

    def vote(self, question_id: str, fan_id: str, at: datetime) -> bool:
        work = self._work()
        vote_id = key(question_id, fan_id)
        question = work.find_one(QA_QUESTIONS, {"_id": question_id})
        if question is None or work.find_one(QA_VOTES, {"_id": vote_id}) is not None:
            return False
        doc: Doc = {"_id": vote_id, "question_id": question_id, "fan_id": fan_id, "qa_id": question["qa_id"]}
        put_instant(doc, "voted_at", at)
        work.insert(QA_VOTES, doc, conflict="that vote was counted already")
        return True

    def of_fan(self, fan_id: str) -> Sequence[Question]:
        work = self._work()
        docs = work.find(QA_QUESTIONS, {"fan_id": fan_id}, sort=_OLDEST_FIRST)
        return [_question(doc, votes=work.count(QA_VOTES, {"question_id": doc["_id"]})) for doc in docs]

    def votes_of(self, fan_id: str) -> Sequence[tuple[str, datetime]]:
        docs = self._work().find(QA_VOTES, {"fan_id": fan_id}, sort=(("voted_at_us", 1), ("question_id", 1)))
        return [(str(doc["question_id"]), read_instant(doc, "voted_at")) for doc in docs]

    def erase_fan(self, fan_id: str, *, body: str) -> None:
        work = self._work()
        for doc in work.find(QA_QUESTIONS, {"fan_id": fan_id}):
            work.save(
                QA_QUESTIONS, {**doc, "body": body}, conflict=f"question {doc['_id']!r} changed meanwhile"
            )
        # Counts are counted from the votes, so they drop with them.
        for vote in work.find(QA_VOTES, {"fan_id": fan_id}):
            work.delete(QA_VOTES, vote["_id"])


def _session_doc(session: QaSession) -> Doc:
    doc: Doc = {
        "_id": session.id,
        "artist_id": session.artist_id,
        "month": session.month,
        # One Q&A per artist and month: a unique index on this.
        "artist_month": key(session.artist_id, session.month),
        "title": session.title,
        "description": session.description,
    }
    put_instant(doc, "opened_at", session.opened_at)
    put_instant(doc, "closed_at", session.closed_at)
    return doc


def _session(doc: Doc) -> QaSession:
    return QaSession(
        id=doc["_id"],
        artist_id=doc["artist_id"],
        month=doc["month"],
        title=doc["title"],
        description=doc["description"],
        opened_at=read_instant(doc, "opened_at"),
        closed_at=read_instant_or_none(doc, "closed_at"),
    )


def _question_doc(question: Question) -> Doc:
    doc: Doc = {
        "_id": question.id,
        "qa_id": question.qa_id,
        "artist_id": question.artist_id,
        "fan_id": question.fan_id,
        "body": question.body,
        "answer": question.answer,
        "hidden": question.hidden,
    }
    put_instant(doc, "asked_at", question.asked_at)
    put_instant(doc, "answered_at", question.answered_at)
    return doc


def _question(doc: Doc, *, votes: int) -> Question:
    return Question(
        id=doc["_id"],
        qa_id=doc["qa_id"],
        artist_id=doc["artist_id"],
        fan_id=doc["fan_id"],
        body=doc["body"],
        asked_at=read_instant(doc, "asked_at"),
        answer=doc.get("answer"),
        answered_at=read_instant_or_none(doc, "answered_at"),
        hidden=bool(doc.get("hidden", False)),
        votes=votes,
    )
