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
    service = request.app.state.service
    if not service.ready:
        reason = service.error or "loading the index and models"
        return JSONResponse({"ready": False, "reason": reason}, status_code=503)
    manifest = service.pipeline.index.manifest
    return JSONResponse(
        {
            "ready": True,
            "rebuilding": service.rebuilding,
            "last_rebuild_error": service.last_rebuild_error,
            "index": {
                "documents": manifest.documents,
                "passages": manifest.passages,
                "built_at": manifest.built_at,
                "embedding_model": manifest.embedding_model,
            },
        }
    )


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    state = request.app.state
    if state.service.ready:
        state.metrics.index_passages.set(state.service.pipeline.index.manifest.passages)
        state.metrics.index_documents.set(state.service.pipeline.index.manifest.documents)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
