"""Shared request handling: the service from app state, question checks, errors as JSON."""

from __future__ import annotations

from fastapi import HTTPException, Request

from api.models import clean_question
from api.service import AnswerTimeout, AnsweringService, NotReady, Saturated
from qa.schemas import QAResponse


def get_service(request: Request) -> AnsweringService:
    return request.app.state.service


def checked_question(request: Request, question: str) -> str:
    try:
        return clean_question(question, request.app.state.settings.max_question_chars)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


def checked_top_k(request: Request, top_k: int | None) -> int | None:
    limit = request.app.state.settings.max_top_k
    if top_k is not None and not 1 <= top_k <= limit:
        raise HTTPException(422, f"top_k must be between 1 and {limit}")
    return top_k


async def answer(request: Request, question: str, top_k: int | None) -> QAResponse:
    """The one path from HTTP to the pipeline, used by /ask and the OpenAI-compatible endpoint."""
    service = get_service(request)
    try:
        response = await service.ask(question, top_k)
    except NotReady as exc:
        raise HTTPException(503, f"service not ready: {exc}", headers={"Retry-After": "5"}) from exc
    except Saturated as exc:
        raise HTTPException(503, f"server busy: {exc}; retry shortly", headers={"Retry-After": "1"}) from exc
    except AnswerTimeout as exc:
        raise HTTPException(504, str(exc)) from exc
    request.app.state.metrics.outcomes.labels("abstained" if response.abstained else "answered").inc()
    return response
