from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from api.answering import answer, checked_history, checked_passages_read, checked_question
from api.models import AskRequest, ErrorResponse
from api.security import require_api_key
from qa.schemas import QAResponse

router = APIRouter(tags=["answering"], dependencies=[Depends(require_api_key)])
_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (401, 413, 422, 503, 504)}


@router.post("/ask", response_model=QAResponse, responses=_ERRORS, summary="Answer a question from the corpus")
async def ask_post(request: Request, body: AskRequest) -> QAResponse:
    history, turns = checked_history(request, body.history, body.history_turns)
    return await answer(
        request,
        checked_question(request, body.question),
        checked_passages_read(request, body.top_k),
        history,
        turns,
    )


@router.get("/ask", response_model=QAResponse, responses=_ERRORS, summary="Answer a question (quick GET form)")
async def ask_get(
    request: Request,
    q: str = Query(..., description="the question"),
    top_k: int | None = Query(None, description="passages to read (at most the server's QA_MAX_PASSAGES_READ)"),
) -> QAResponse:
    return await answer(request, checked_question(request, q), checked_passages_read(request, top_k))
