"""The corpus over HTTP: list, read, add (upload), replace and remove documents, without a rebuild.

Reading the list needs a key that may ask; changing it an editor key (api.security). An upload is checked before
anything is stored; a refused file changes nothing and gets a 4xx naming the reason (415 for a type the service
does not read, 413 over the size or page limit, 422 for a file that holds no readable text). A 201 is sent only
once the file is stored in the corpus folder and the index that answers from it is published.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from pydantic import BaseModel

from api.live_pipeline import DocumentRefused
from api.models import ErrorResponse
from api.security import require_api_key, require_editor_key
from api.service import Answering, NotReady, Saturated
from qa.corpus_store import AddResult, DocumentDetail, DocumentInfo, Overrides, StoreError

# Room for the multipart framing and form fields around an upload of QA_MAX_UPLOAD_BYTES.
UPLOAD_FRAMING_BYTES = 64 * 1024

router = APIRouter(tags=["documents"])


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse} for code in codes}


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class Removed(BaseModel):
    doc_id: str
    status: str = "removed"


def _service(request: Request) -> Answering:
    return request.app.state.service


async def _refusals(call: Any) -> Any:
    """The service's refusals as HTTP errors with their reasons."""
    try:
        return await call
    except DocumentRefused as exc:
        headers = {"Retry-After": "5"} if exc.status == 503 else None
        raise HTTPException(exc.status, exc.reason, headers=headers) from exc
    except NotReady as exc:
        raise HTTPException(503, f"service not ready: {exc}", headers={"Retry-After": "5"}) from exc
    except Saturated as exc:
        raise HTTPException(503, f"server busy: {exc}; retry shortly", headers={"Retry-After": "1"}) from exc


@router.get(
    "/documents",
    response_model=DocumentList,
    dependencies=[Depends(require_api_key)],
    responses=_errors(401, 503),
    summary="The documents the service answers from",
)
async def list_documents(request: Request) -> DocumentList:
    return DocumentList(documents=await _refusals(_service(request).documents()))


@router.get(
    "/documents/{doc_id}",
    response_model=DocumentDetail,
    dependencies=[Depends(require_api_key)],
    responses=_errors(401, 404, 503),
    summary="One document: its text and metadata",
)
async def get_document(request: Request, doc_id: str) -> DocumentDetail:
    return await _refusals(_service(request).document(doc_id))


@router.post(
    "/documents",
    status_code=201,
    response_model=AddResult,
    dependencies=[Depends(require_editor_key)],
    responses=_errors(401, 403, 409, 413, 415, 422, 503),
    summary="Add a document (.txt, .md, .html, .htm, .pdf, .docx), or replace the one of the same name",
)
async def add_document(
    request: Request,
    file: Annotated[UploadFile, File(description="the file; its name's extension says its type")],
    title: Annotated[str | None, Form(description="title, over what the file says")] = None,
    date: Annotated[str | None, Form(description="publication date YYYY-MM-DD, over what the file says")] = None,
    url: Annotated[str | None, Form(description="the article's address")] = None,
) -> AddResult:
    limit = request.app.state.settings.max_upload_bytes
    name = (file.filename or "").strip()
    if not name:
        raise HTTPException(422, "file: the upload needs a file name with its type's extension (e.g. report.pdf)")
    raw = await file.read(limit + 1)
    if len(raw) > limit:
        raise HTTPException(413, f"{name[:200]}: file larger than {limit} bytes (QA_MAX_UPLOAD_BYTES)")
    try:
        overrides = Overrides(title=title, date=date, url=url).checked()
    except StoreError as exc:
        raise HTTPException(422, exc.reason) from exc
    return await _refusals(_service(request).add_document(name, raw, overrides))


@router.delete(
    "/documents/{doc_id}",
    response_model=Removed,
    dependencies=[Depends(require_editor_key)],
    responses=_errors(401, 403, 404, 409, 503),
    summary="Remove a document: its file and its passages; it is never cited again",
)
async def remove_document(request: Request, doc_id: str) -> Removed:
    await _refusals(_service(request).remove_document(doc_id))
    return Removed(doc_id=doc_id)
