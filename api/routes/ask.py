from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from api.deps import answer, checked_question, checked_top_k
from api.models import AskRequest, ErrorResponse
from api.security import require_api_key
from qa.schemas import QAResponse

router = APIRouter(tags=["answering"], dependencies=[Depends(require_api_key)])
_ERRORS = {code: {"model": ErrorResponse} for code in (401, 413, 422, 503, 504)}


@router.post("/ask", response_model=QAResponse, responses=_ERRORS, summary="Answer a question from the corpus")
async def ask_post(request: Request, body: AskRequest) -> QAResponse:
    return await answer(request, checked_question(request, body.question), checked_top_k(request, body.top_k))


@router.get("/ask", response_model=QAResponse, responses=_ERRORS, summary="Answer a question (quick GET form)")
async def ask_get(
    request: Request,
    q: str = Query(..., description="the question"),
    top_k: int | None = Query(None, description="passages to read"),
) -> QAResponse:
    return await answer(request, checked_question(request, q), checked_top_k(request, top_k))
