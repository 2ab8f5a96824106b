from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.security import require_api_key
from qa.pipeline import QAPipeline

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
    return JSONResponse({
        "ready": True,
        "rebuilding": service.rebuilding,
        "last_rebuild_error": service.last_rebuild_error,
        "index": {"documents": manifest.documents, "passages": manifest.passages, "built_at": manifest.built_at,
                  "embedding_model": manifest.embedding_model},
    })


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    state = request.app.state
    if state.service.ready:
        state.metrics.index_passages.set(state.service.pipeline.index.manifest.passages)
        state.metrics.index_documents.set(state.service.pipeline.index.manifest.documents)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.post("/admin/reindex", status_code=202, dependencies=[Depends(require_api_key)],
             summary="Rebuild the index from the corpus folder while answering from the current one")
async def reindex(request: Request) -> dict:
    settings = request.app.state.settings
    started = request.app.state.service.rebuild_in_background(
        lambda: QAPipeline.from_settings(settings, force_rebuild=True)
    )
    if not started:
        raise HTTPException(409, "an index rebuild is already running")
    return {"status": "rebuilding"}
