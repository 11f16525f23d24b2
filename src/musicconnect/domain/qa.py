"""Monthly Q&A: an artist opens one for a calendar month (UTC); supporters+ ask and upvote.

A Q&A closes at the end of its month or when the artist closes it, and stays readable after.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Final

import attrs

from musicconnect.domain.clocks import month_key, parse_period
from musicconnect.domain.text import clean_text

#: Questions one fan may ask in one Q&A.
QUESTIONS_PER_FAN: Final = 3
MAX_QA_TITLE: Final = 200
MAX_QA_DESCRIPTION: Final = 2000
MAX_QUESTION: Final = 1000
MAX_ANSWER: Final = 5000


@attrs.frozen
class QaSession:
    id: str
    artist_id: str
    #: The calendar month (UTC) it runs for, ``YYYY-MM``.
    month: str
    title: str
    description: str
    opened_at: datetime
    closed_at: datetime | None = None

    @property
    def ends_at(self) -> datetime:
        return parse_period(self.month)[1]

    def is_open(self, now: datetime) -> bool:
        return self.closed_at is None and now < self.ends_at

    def closed(self, now: datetime) -> QaSession:
        return self if self.closed_at is not None else attrs.evolve(self, closed_at=min(now, self.ends_at))


@attrs.frozen
class Question:
    id: str
    qa_id: str
    artist_id: str
    fan_id: str
    body: str
    asked_at: datetime
    answer: str | None = None
    answered_at: datetime | None = None
    hidden: bool = False
    #: Upvotes, as counted by the repository when it reads the question (ignored when stored).
    votes: int = 0


class QuestionOrder(enum.StrEnum):
    VOTES = "votes"
    TIME = "time"


def open_session(
    *, qa_id: str, artist_id: str, title: str, description: str | None, now: datetime
) -> QaSession:
    """A Q&A for the month ``now`` falls in."""
    return QaSession(
        id=qa_id,
        artist_id=artist_id,
        month=month_key(now),
        title=clean_text(title, field="title", max_chars=MAX_QA_TITLE),
        description=(
            clean_text(description, field="description", max_chars=MAX_QA_DESCRIPTION, multiline=True)
            if description and description.strip()
            else ""
        ),
        opened_at=now,
    )


def check_question(body: str) -> str:
    return clean_text(body, field="body", max_chars=MAX_QUESTION, multiline=True)


def check_answer(body: str) -> str:
    return clean_text(body, field="answer", max_chars=MAX_ANSWER, multiline=True)


def question_quota_key(qa_id: str, fan_id: str) -> str:
    return f"qa:{qa_id}:{fan_id}"


def ordered(questions: Iterable[Question], order: QuestionOrder) -> list[Question]:
    """Most votes first (ties: asked earlier first), or newest first."""
    if order is QuestionOrder.TIME:
        return sorted(questions, key=lambda q: (q.asked_at, q.id), reverse=True)
    return sorted(questions, key=lambda q: (-q.votes, q.asked_at, q.id))
