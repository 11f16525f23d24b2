"""Monthly Q&As, their questions, and upvotes counted from one row per fan and question."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from musicconnect.adapters.sqlite._codec import (
    Connect,
    insert_or_conflict,
    instant,
    instant_or_none,
    read_instant,
    read_instant_or_none,
)
from musicconnect.domain.qa import QaSession, Question


class SqliteQaSessionRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def add(self, session: QaSession) -> None:
        insert_or_conflict(
            self._connect(),
            "INSERT INTO qa_sessions (id, artist_id, month, title, description, opened_at, closed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                session.id,
                session.artist_id,
                session.month,
                session.title,
                session.description,
                instant(session.opened_at),
                instant_or_none(session.closed_at),
            ),
            f"a Q&A for {session.month} exists already",
        )

    def get(self, qa_id: str) -> QaSession | None:
        row = self._connect().execute("SELECT * FROM qa_sessions WHERE id = ?", (qa_id,)).fetchone()
        return None if row is None else _session(row)

    def save(self, session: QaSession) -> None:
        self._connect().execute(
            "UPDATE qa_sessions SET title = ?, description = ?, closed_at = ? WHERE id = ?",
            (session.title, session.description, instant_or_none(session.closed_at), session.id),
        )

    def of_artist(self, artist_id: str) -> Sequence[QaSession]:
        rows = self._connect().execute(
            "SELECT * FROM qa_sessions WHERE artist_id = ? ORDER BY month DESC", (artist_id,)
        )
        return [_session(row) for row in rows]


_QUESTIONS_WITH_VOTES = (
    "SELECT q.*, (SELECT count(*) FROM qa_votes v WHERE v.question_id = q.id) AS votes FROM qa_questions q"
)


class SqliteQuestionRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def add(self, question: Question) -> None:
        insert_or_conflict(
            self._connect(),
            "INSERT INTO qa_questions"
            " (id, qa_id, artist_id, fan_id, body, asked_at, answer, answered_at, hidden)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                question.id,
                question.qa_id,
                question.artist_id,
                question.fan_id,
                question.body,
                instant(question.asked_at),
                question.answer,
                instant_or_none(question.answered_at),
                int(question.hidden),
            ),
            f"question {question.id!r} exists",
        )

    def get(self, question_id: str) -> Question | None:
        row = self._connect().execute(f"{_QUESTIONS_WITH_VOTES} WHERE q.id = ?", (question_id,)).fetchone()
        return None if row is None else _question(row)

    def save(self, question: Question) -> None:
        self._connect().execute(
            "UPDATE qa_questions SET body = ?, answer = ?, answered_at = ?, hidden = ? WHERE id = ?",
            (
                question.body,
                question.answer,
                instant_or_none(question.answered_at),
                int(question.hidden),
                question.id,
            ),
        )

    def of_session(self, qa_id: str) -> Sequence[Question]:
        rows = self._connect().execute(
            f"{_QUESTIONS_WITH_VOTES} WHERE q.qa_id = ? ORDER BY q.asked_at, q.rowid", (qa_id,)
        )
        return [_question(row) for row in rows]

    def vote(self, question_id: str, fan_id: str, at: datetime) -> bool:
        cursor = self._connect().execute(
            "INSERT INTO qa_votes (question_id, fan_id, qa_id, voted_at)"
            " SELECT id, ?, qa_id, ? FROM qa_questions WHERE id = ?"
            " ON CONFLICT DO NOTHING",
            (fan_id, instant(at), question_id),
        )
        return cursor.rowcount == 1

    def of_fan(self, fan_id: str) -> Sequence[Question]:
        rows = self._connect().execute(
            f"{_QUESTIONS_WITH_VOTES} WHERE q.fan_id = ? ORDER BY q.asked_at, q.rowid", (fan_id,)
        )
        return [_question(row) for row in rows]

    def votes_of(self, fan_id: str) -> Sequence[tuple[str, datetime]]:
        rows = self._connect().execute(
            "SELECT question_id, voted_at FROM qa_votes WHERE fan_id = ? ORDER BY voted_at, question_id",
            (fan_id,),
        )
        return [(str(row[0]), read_instant(row[1])) for row in rows]

    def erase_fan(self, fan_id: str, *, body: str) -> None:
        connection = self._connect()
        connection.execute("UPDATE qa_questions SET body = ? WHERE fan_id = ?", (body, fan_id))
        # Counts are counted from the votes, so they drop with them.
        connection.execute("DELETE FROM qa_votes WHERE fan_id = ?", (fan_id,))


def _session(row: sqlite3.Row) -> QaSession:
    return QaSession(
        id=row["id"],
        artist_id=row["artist_id"],
        month=row["month"],
        title=row["title"],
        description=row["description"],
        opened_at=read_instant(row["opened_at"]),
        closed_at=read_instant_or_none(row["closed_at"]),
    )


def _question(row: sqlite3.Row) -> Question:
    return Question(
        id=row["id"],
        qa_id=row["qa_id"],
        artist_id=row["artist_id"],
        fan_id=row["fan_id"],
        body=row["body"],
        asked_at=read_instant(row["asked_at"]),
        answer=row["answer"],
        answered_at=read_instant_or_none(row["answered_at"]),
        hidden=bool(row["hidden"]),
        votes=int(row["votes"]),
    )
