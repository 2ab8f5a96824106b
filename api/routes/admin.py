"""Operator actions that change what the service answers from (an editor key, when keys are configured)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request

from api.security import require_editor_key
from api.service import NotReady, Saturated

router = APIRouter(tags=["operations"], dependencies=[Depends(require_editor_key)])


@router.post(
    "/admin/reindex",
    status_code=202,
    summary="Rebuild the index from the corpus folder while answering from the current one",
)
async def reindex(request: Request) -> dict:
    try:
        started = await request.app.state.service.reindex()
    except NotReady as exc:
        raise HTTPException(503, f"service not ready: {exc}", headers={"Retry-After": "5"}) from exc
    except Saturated as exc:
        raise HTTPException(503, f"server busy: {exc}; retry shortly", headers={"Retry-After": "1"}) from exc
    if not started:
        raise HTTPException(
            409, "an index rebuild or a document change is already running; try again when it has finished"
        )
    return {"status": "rebuilding"}
