"""Liveness, readiness and metrics for operators and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["operations"])


@router.get("/health", summary="The process is alive")
async def health() -> dict:
    return {"status": "ok"}


@router.get("/ready", summary="Index and models are loaded (503 with the reason otherwise)")
async def ready(request: Request) -> JSONResponse:
    status = await request.app.state.service.current_status()
    if not status.ready:
        return JSONResponse({"ready": False, "reason": status.reason}, status_code=503)
    return JSONResponse(status.model_dump(exclude={"reason"}))


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    state = request.app.state
    status = await state.service.current_status()
    if status.index is not None:
        state.metrics.index_passages.set(status.index.passages)
        state.metrics.index_documents.set(status.index.documents)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
