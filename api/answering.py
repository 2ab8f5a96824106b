"""The one path from an HTTP request to the pipeline, for /ask and the OpenAI-compatible endpoint: the question
and the passages to read checked once, the service's refusals turned into HTTP errors."""

from __future__ import annotations

from fastapi import HTTPException, Request

from api.models import clean_question
from api.service import Answering, AnswerTimeout, NotReady, Saturated
from qa.schemas import QAResponse


def get_service(request: Request) -> Answering:
    return request.app.state.service


def checked_question(request: Request, question: str) -> str:
    try:
        return clean_question(question, request.app.state.settings.max_question_chars)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


def checked_passages_read(request: Request, top_k: int | None) -> int | None:
    """The request's `top_k` (passages to read), within the server's QA_MAX_PASSAGES_READ."""
    limit = request.app.state.settings.max_passages_read
    if top_k is not None and not 1 <= top_k <= limit:
        raise HTTPException(422, f"top_k (passages to read) must be between 1 and {limit}")
    return top_k


def checked_history(
    request: Request, history: list[str] | None, turns: int | None
) -> tuple[tuple[str, ...], int | None]:
    """The request's earlier questions, each checked as a question is, and its history window, within limits."""
    settings = request.app.state.settings
    history = history or []
    if len(history) > settings.max_history_questions:
        raise HTTPException(422, f"history has {len(history)} questions; the limit is {settings.max_history_questions}")
    cleaned = []
    for position, earlier in enumerate(history):
        try:
            cleaned.append(clean_question(earlier, settings.max_question_chars))
        except ValueError as exc:
            raise HTTPException(422, f"history[{position}]: {exc}") from exc
    if turns is not None and not 0 <= turns <= 20:
        raise HTTPException(422, "history_turns must be between 0 and 20")
    return tuple(cleaned), turns


async def answer(
    request: Request,
    question: str,
    passages_read: int | None,
    history: tuple[str, ...] = (),
    history_turns: int | None = None,
) -> QAResponse:
    """Answer a checked question through the service's queue; refusals become 503/504 with a reason."""
    service = get_service(request)
    try:
        response = await service.ask(question, passages_read, history, history_turns)
    except NotReady as exc:
        raise HTTPException(503, f"service not ready: {exc}", headers={"Retry-After": "5"}) from exc
    except Saturated as exc:
        raise HTTPException(503, f"server busy: {exc}; retry shortly", headers={"Retry-After": "1"}) from exc
    except AnswerTimeout as exc:
        raise HTTPException(504, str(exc)) from exc
    request.app.state.metrics.outcomes.labels("abstained" if response.abstained else "answered").inc()
    return response
