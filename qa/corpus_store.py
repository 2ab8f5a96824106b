"""The corpus that lives: add, replace and remove one document at a time, the same way for HTTP and the CLI.

A document is a file in the corpus folder (the folder is the record of what the service knows; the index is built
from it). An add checks the file (`qa.file_formats`), writes it into the folder under a name of the store's own
making (written, flushed, renamed into place: never a partial file, never outside the folder), then changes the
index document by document (`qa.index.update_index`) and publishes it as a new build. A removal deletes the file,
then does the same. A process killed at any point leaves the old state or the new one: the folder's file is
either there or not, and on start-up `qa.index.ensure_index` brings the index level with the folder. One change at a
time, across processes (the index folder's build lock). When the index change fails, the folder is put back as
it was, so nothing is half done.

Title, date and address given at upload are kept beside the file (`.documents/<checksum>.json`), so they survive
restarts and rebuilds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import unicodedata
import uuid
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Iterator, Literal

from pydantic import BaseModel, Field

from qa.config import Settings
from qa.documents import Document
from qa.embedder import TextEmbedder
from qa.file_formats import SUFFIX_TYPES, ReadLimits, UnreadableFile, file_type, read_file
from qa.index import CorpusIndex, IndexBuildBusy, build_lock, current_build_dir, load_index, update_index
from qa.ingest import OVERRIDES_DIR, corpus_files, load_corpus, read_overrides, sha256_bytes

log = logging.getLogger(__name__)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_CHARS = 100


class StoreError(ValueError):
    """A change the store refuses; `kind` says which (for an HTTP status), the message why."""

    def __init__(self, reason: str, kind: Literal["not_found", "conflict", "busy", "invalid"]):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class Overrides(BaseModel):
    """What an uploader says of a document, over what the file says."""

    title: str | None = None
    date: str | None = Field(None, description="YYYY-MM-DD")
    url: str | None = None

    def checked(self) -> "Overrides":
        """Blank fields dropped; StoreError (invalid) naming a bad field."""
        title = (self.title or "").strip() or None
        date = (self.date or "").strip() or None
        url = (self.url or "").strip() or None
        if title is not None and len(title) > 300:
            raise StoreError(f"title is {len(title)} characters; the limit is 300", "invalid")
        if date is not None:
            try:
                if not _ISO_DATE.match(date):
                    raise ValueError
                dt.date.fromisoformat(date)
            except ValueError:
                raise StoreError(f"date '{date[:40]}' is not a date in the form YYYY-MM-DD", "invalid") from None
        if url is not None and (len(url) > 2000 or not re.match(r"^https?://\S+$", url)):
            raise StoreError("url must be an http:// or https:// address of at most 2000 characters", "invalid")
        return Overrides(title=title, date=date, url=url)

    def given(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v}


class DocumentInfo(BaseModel):
    """A document as the Sources list shows it."""

    doc_id: str
    title: str
    date: str | None = None
    url: str | None = None
    source: str = Field(description="its file in the corpus folder")
    type: str = Field(description="text, markdown, jsonl, html, pdf or docx")
    pages: int | None = Field(None, description="pages, for a PDF")
    passages: int
    added_at: str | None = None


class DocumentDetail(DocumentInfo):
    text: str


class AddResult(BaseModel):
    doc_id: str
    title: str
    date: str | None = None
    url: str | None = None
    source: str
    passages: int
    status: Literal["added", "updated", "unchanged"]


def safe_file_name(name: str) -> str:
    """The name a file is stored under: the uploaded name's last part, reduced to letters, digits, '.', '-', '_'
    (no folders, no leading dot), its type's suffix kept. The uploaded name never decides where it is written."""
    base = PurePath(name.replace("\\", "/")).name
    suffix = PurePath(base).suffix.lower()
    stem = base[: -len(suffix)] if suffix else base
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    stem = _UNSAFE.sub("-", ascii_stem).strip(".-_")[:_NAME_CHARS].strip(".-_") or "document"
    return f"{stem}{suffix}"


def document_info(document: Document, passages: int) -> DocumentInfo:
    suffix = PurePath(document.source).suffix.lower()
    return DocumentInfo(
        doc_id=document.id,
        title=document.title,
        date=document.date,
        url=document.url,
        source=document.source,
        type=SUFFIX_TYPES.get(suffix, suffix.lstrip(".") or "text"),
        pages=len(document.page_starts) if document.page_starts else None,
        passages=passages,
        added_at=document.added_at,
    )


def list_documents(index: CorpusIndex) -> list[DocumentInfo]:
    """Every document the index answers from, in corpus order."""
    counts: dict[str, int] = {}
    for passage in index.passages:
        counts[passage.doc_id] = counts.get(passage.doc_id, 0) + 1
    return [document_info(d, counts.get(d.id, 0)) for d in index.documents.values()]


def get_document(index: CorpusIndex, doc_id: str) -> DocumentDetail:
    document = index.documents.get(doc_id)
    if document is None:
        raise StoreError(f"no document with id '{doc_id[:200]}'", "not_found")
    passages = sum(1 for p in index.passages if p.doc_id == doc_id)
    return DocumentDetail(**document_info(document, passages).model_dump(), text=document.text)


def _write_atomically(path: Path, data: bytes) -> None:
    """Written to a hidden file beside, flushed, then renamed over `path` and the folder flushed: a reader (or a
    restart after a kill) sees the old file or the new one, never a part."""
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.partial"
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class CorpusStore:
    """Changes to the corpus folder and its index, one at a time."""

    def __init__(self, settings: Settings, embedder: TextEmbedder):
        self.settings = settings
        self.embedder = embedder
        self.folder = Path(settings.corpus_dir)
        self.limits = ReadLimits(max_bytes=settings.max_upload_bytes, max_pdf_pages=settings.max_pdf_pages)

    def check(self, name: str, raw: bytes) -> list[Document]:
        """The document a file would become (UnreadableFile when it cannot be one), before anything is stored."""
        stored = safe_file_name(name)
        if file_type(stored) == "jsonl":
            raise UnreadableFile(
                "a .jsonl collection holds many documents: put it in the corpus folder and run `qa index`",
                kind="unsupported",
            )
        return read_file(stored, raw, self.limits)

    def _current(self, base: CorpusIndex | None) -> CorpusIndex:
        """The index to change: `base` if it is still the published build, else the published one (another process
        may have changed it since `base` was loaded)."""
        published = current_build_dir(self.settings.index_dir)
        if base is not None and published == base.path:
            return base
        return load_index(self.settings.index_dir)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """The index folder's build lock, waiting at most QA_WRITE_WAIT_S for another change or build."""
        try:
            with build_lock(self.settings.index_dir, wait=self.settings.write_wait_s):
                yield
        except IndexBuildBusy as exc:
            raise StoreError(str(exc), "busy") from exc

    def add(
        self, name: str, raw: bytes, overrides: Overrides | None = None, base: CorpusIndex | None = None
    ) -> tuple[AddResult, CorpusIndex]:
        """Store the file and index it. `unchanged` when a file with the same bytes is already in the corpus (and
        no new title, date or address is given); `updated` when a file of that name is replaced."""
        overrides = (overrides or Overrides()).checked()
        documents = self.check(name, raw)  # before the lock: a bad file never waits, never touches anything
        stored_name = safe_file_name(name)
        checksum = sha256_bytes(raw)
        with self._lock():
            self.folder.mkdir(parents=True, exist_ok=True)
            self._sweep_partial_files()
            index = self._current(base)
            target = self.folder / stored_name
            same_bytes = next((d for d in index.documents.values() if d.file_sha256 == checksum), None)
            given = overrides.given()
            if same_bytes is not None and all(getattr(same_bytes, k) == v for k, v in given.items()):
                return self._result(index, same_bytes, "unchanged"), index
            doc_id = documents[0].id
            holder = index.documents.get(doc_id)
            if holder is not None and holder.source != stored_name:
                raise StoreError(
                    f"document id '{doc_id}' is already taken by {holder.source}; rename the file, or remove "
                    f"'{doc_id}' first",
                    "conflict",
                )
            status: Literal["added", "updated"] = "updated" if target.exists() or holder is not None else "added"
            previous = target.read_bytes() if target.exists() else None
            overrides_path = self.folder / OVERRIDES_DIR / f"{checksum}.json"
            previous_overrides = overrides_path.read_bytes() if overrides_path.exists() else None
            try:
                if given:
                    overrides_path.parent.mkdir(exist_ok=True)
                    merged = {**read_overrides(self.folder, checksum), **given}
                    _write_atomically(overrides_path, json.dumps(merged, ensure_ascii=False).encode())
                _write_atomically(target, raw)
                new_index = self._reindex(index)
            except BaseException:
                # Put the folder back as it was: the change is all or nothing.
                if previous is None:
                    target.unlink(missing_ok=True)
                else:
                    _write_atomically(target, previous)
                if given:
                    if previous_overrides is None:
                        overrides_path.unlink(missing_ok=True)
                    else:
                        _write_atomically(overrides_path, previous_overrides)
                raise
            document = new_index.documents[doc_id]
            log.info("document %s %s from %s (%s)", doc_id, status, name[:200], stored_name)
            return self._result(new_index, document, status), new_index

    def remove(self, doc_id: str, base: CorpusIndex | None = None) -> CorpusIndex:
        """Delete the document's file and take its passages out of the index."""
        with self._lock():
            index = self._current(base)
            document = index.documents.get(doc_id)
            if document is None:
                raise StoreError(f"no document with id '{doc_id[:200]}'", "not_found")
            path = self.folder / document.source
            sharing = [d.id for d in index.documents.values() if d.source == document.source and d.id != doc_id]
            if sharing:
                raise StoreError(
                    f"'{doc_id}' is one of {len(sharing) + 1} documents in the collection {document.source}; "
                    "edit that file in the corpus folder instead",
                    "conflict",
                )
            if len(index.documents) == 1:
                raise StoreError("it is the only document: the corpus cannot be empty; add another first", "conflict")
            previous = path.read_bytes() if path.is_file() else None
            try:
                path.unlink(missing_ok=True)
                _fsync_dir(path.parent)
                new_index = self._reindex(index)
            except BaseException:
                if previous is not None and not path.exists():
                    _write_atomically(path, previous)
                raise
            self._drop_unused_overrides()
            log.info("document %s removed (%s)", doc_id, document.source)
            return new_index

    def _reindex(self, index: CorpusIndex) -> CorpusIndex:
        corpus = load_corpus(self.folder, self.limits)
        changed, _ = update_index(corpus, index, self.settings.index_dir, self.embedder, self.folder)
        return changed

    def _sweep_partial_files(self) -> None:
        """Files a killed writer left half written. Every writer holds the lock, so none is being written now."""
        for folder in (self.folder, self.folder / OVERRIDES_DIR):
            if folder.is_dir():
                for path in folder.glob(".*.partial"):
                    log.info("removing %s, left by an interrupted upload", path.name)
                    path.unlink(missing_ok=True)

    def _drop_unused_overrides(self) -> None:
        folder = self.folder / OVERRIDES_DIR
        if not folder.is_dir():
            return
        in_use = {sha256_bytes(p.read_bytes()) for p in corpus_files(self.folder)}
        for path in folder.glob("*.json"):
            if path.stem not in in_use:
                path.unlink(missing_ok=True)

    @staticmethod
    def _result(index: CorpusIndex, document: Document, status: Literal["added", "updated", "unchanged"]) -> AddResult:
        passages = sum(1 for p in index.passages if p.doc_id == document.id)
        return AddResult(
            doc_id=document.id,
            title=document.title,
            date=document.date,
            url=document.url,
            source=document.source,
            passages=passages,
            status=status,
        )
