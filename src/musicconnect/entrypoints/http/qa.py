"""Monthly Q&A routes: the artist opens, answers, hides and closes; supporters+ ask and upvote."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from musicconnect.domain.qa import QuestionOrder
from musicconnect.entrypoints.http.auth import BEARER
from musicconnect.entrypoints.http.deps import CallerDep, QaDep
from musicconnect.entrypoints.http.engagement_schemas import (
    AnswerIn,
    HiddenIn,
    QaOpenIn,
    QaOut,
    QaPageOut,
    QuestionIn,
    QuestionOut,
)
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.hardening import refuse_unknown_query

_QUESTION = "/qa/{qa_id:str}/questions/{question_id:str}"


class QaController(Controller):
    path = "/"
    tags = ("monthly Q&A",)
    security = BEARER

    @post(
        "/artists/{artist_id:str}/qa",
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=error_responses(401, 403, 404, 409, 422),
    )
    def open_qa(
        self, *, artist_id: FromPath[str], data: JSONBody[QaOpenIn], caller: CallerDep, qa: QaDep
    ) -> QaOut:
        """Open this calendar month's Q&A (UTC): one per month; it closes at the month's end."""
        session = qa.open(artist_id, data.title, data.description, caller=caller)
        return QaOut.of(session, qa.clock.now())

    @get("/artists/{artist_id:str}/qa", sync_to_thread=True, responses=error_responses(401, 403, 404))
    def list_qa(self, *, artist_id: FromPath[str], caller: CallerDep, qa: QaDep) -> list[QaOut]:
        """The artist's Q&As, the latest month first: for supporters, superfans and the artist."""
        now = qa.clock.now()
        return [QaOut.of(s, now) for s in qa.sessions(artist_id, caller=caller)]

    @get("/qa/{qa_id:str}", sync_to_thread=True, responses=error_responses(401, 403, 404, 422))
    def read_qa(
        self,
        *,
        request: Request[Any, Any, Any],
        qa_id: FromPath[str],
        caller: CallerDep,
        qa: QaDep,
        sort: FromQuery[QuestionOrder] = QuestionOrder.VOTES,
    ) -> QaPageOut:
        """A Q&A with its questions, most votes first (``sort=votes``) or newest first (``sort=time``);
        readable to supporters+ also after it closed."""
        refuse_unknown_query(request, "sort")
        page = qa.page(qa_id, caller=caller, order=sort)
        return QaPageOut(
            qa=QaOut.of(page.session, qa.clock.now()),
            questions=[QuestionOut.of(q) for q in page.questions],
        )

    @post(
        "/qa/{qa_id:str}/close",
        sync_to_thread=True,
        status_code=200,
        responses=error_responses(401, 403, 404),
    )
    def close_qa(self, *, qa_id: FromPath[str], caller: CallerDep, qa: QaDep) -> QaOut:
        """Close the Q&A before its month ends (it stays readable)."""
        return QaOut.of(qa.close(qa_id, caller=caller), qa.clock.now())

    @post(
        "/qa/{qa_id:str}/questions",
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=error_responses(401, 403, 404, 409, 422, 429, 503),
    )
    def ask(
        self, *, qa_id: FromPath[str], data: JSONBody[QuestionIn], caller: CallerDep, qa: QaDep
    ) -> QuestionOut:
        """A supporter's question: three per fan per Q&A; 409 once the Q&A closed."""
        return QuestionOut.of(qa.ask(qa_id, data.body, caller=caller))

    @post(
        f"{_QUESTION}/votes",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=error_responses(401, 403, 404, 409),
    )
    def upvote(
        self, *, qa_id: FromPath[str], question_id: FromPath[str], caller: CallerDep, qa: QaDep
    ) -> None:
        """Upvote another fan's question (voting twice is voting once)."""
        qa.upvote(qa_id, question_id, caller=caller)

    @put(f"{_QUESTION}/answer", sync_to_thread=True, responses=error_responses(401, 403, 404, 422))
    def answer(
        self,
        *,
        qa_id: FromPath[str],
        question_id: FromPath[str],
        data: JSONBody[AnswerIn],
        caller: CallerDep,
        qa: QaDep,
    ) -> QuestionOut:
        """The artist's answer, or a new version of it."""
        return QuestionOut.of(qa.answer(qa_id, question_id, data.body, caller=caller))

    @put(f"{_QUESTION}/hidden", sync_to_thread=True, responses=error_responses(401, 403, 404))
    def hide(
        self,
        *,
        qa_id: FromPath[str],
        question_id: FromPath[str],
        data: JSONBody[HiddenIn],
        caller: CallerDep,
        qa: QaDep,
    ) -> QuestionOut:
        """Hide a question from fans (or show it again)."""
        return QuestionOut.of(qa.hide(qa_id, question_id, hidden=data.hidden, caller=caller))
