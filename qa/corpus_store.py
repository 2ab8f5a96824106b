"""The corpus that lives: add, replace and remove one document at a time, the same way for HTTP and the CLI.

A document is a file in the corpus folder (the folder is the record of what the service knows; the index is built
from it). An add checks the file (`qa.file_formats`), writes it into the folder under a name of the store's own
making (written, flushed, renamed into place: never a partial file, never outside the folder), then changes the
index document by document (`qa.index.update_index`) and publishes it as a new build. A removal deletes the file,
then does the same. A process killed at any point leaves the old state or the new one: the folder's file is
either there or not, and on start-up `qa.index.ensure_index` brings the index level with the folder. One change at a
time, across processes (the index folder's build lock). When the index change fails, the folder is put back as
it was, so nothing is half done.

Title, date and address given at upload, and the name the file was uploaded under, are kept beside it
(`.documents/<file name>.json`, by the file's checksum), so they survive restarts and rebuilds. An upload replaces
the file uploaded under the same name; another name that cleans to a name already taken is stored under a free one
(`report-2.pdf`), never over it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import unicodedata
from collections import Counter
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Iterator, Literal

from pydantic import BaseModel, Field

from qa.config import Settings
from qa.documents import Document
from qa.durable_files import fsync_dir, write_atomically
from qa.embedder import TextEmbedder
from qa.file_formats import SUFFIX_TYPES, UnreadableFile, file_type, read_file
from qa.index import CorpusIndex, IndexBuildBusy, build_lock, current_build_dir, load_index, update_index
from qa.ingest import (
    OVERRIDES_DIR,
    CorpusError,
    load_corpus,
    read_limits,
    read_sidecar,
    sha256_bytes,
    sidecar_path,
)

log = logging.getLogger(__name__)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_CHARS = 100
PARTIAL_FILE_AGE_S = 300.0


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


def _last_part(name: str) -> str:
    """An uploaded name without any folders (either slash)."""
    return PurePath(name.replace("\\", "/")).name or "document"


def safe_file_name(name: str) -> str:
    """The name a file is stored under: the uploaded name's last part, reduced to letters, digits, '.', '-', '_'
    (no folders, no leading dot), its type's suffix kept. The uploaded name never decides where it is written."""
    base = _last_part(name)
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


def _passage_counts(index: CorpusIndex) -> Counter[str]:
    return Counter(passage.doc_id for passage in index.passages)


def list_documents(index: CorpusIndex) -> list[DocumentInfo]:
    """Every document the index answers from, in corpus order."""
    counts = _passage_counts(index)
    return [document_info(d, counts[d.id]) for d in index.documents.values()]


def get_document(index: CorpusIndex, doc_id: str) -> DocumentDetail:
    document = index.documents.get(doc_id)
    if document is None:
        raise StoreError(f"no document with id '{doc_id[:200]}'", "not_found")
    return DocumentDetail(**document_info(document, _passage_counts(index)[doc_id]).model_dump(), text=document.text)


class CorpusStore:
    """Changes to the corpus folder and its index, one at a time."""

    def __init__(self, settings: Settings, embedder: TextEmbedder):
        self.settings = settings
        self.embedder = embedder
        self.folder = Path(settings.corpus_dir)
        self.limits = read_limits(settings)

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
        """Store the file and index it. `updated` when it replaces the file uploaded under the same name (or gives
        new title, date or address for a document already there); `unchanged` when those bytes are already in the
        corpus, under this name or another, and nothing new is given."""
        overrides = (overrides or Overrides()).checked()
        self.check(name, raw)  # before the lock: a bad file never waits, never touches anything
        uploaded_as = _last_part(name)
        checksum = sha256_bytes(raw)
        given = overrides.given()
        with self._lock():
            self.folder.mkdir(parents=True, exist_ok=True)
            self._sweep_partial_files()
            index = self._current(base)
            stored_name, replacing = self._stored_name(uploaded_as, index)
            same_bytes = None
            if replacing:
                current = index.documents.get(PurePath(stored_name).stem)
                same_bytes = current if current is not None and current.file_sha256 == checksum else None
            else:
                same_bytes = next((d for d in index.documents.values() if d.file_sha256 == checksum), None)
            if same_bytes is not None:
                # The same bytes are already a document: one document, with whatever new metadata was given.
                if all(getattr(same_bytes, k) == v for k, v in given.items()):
                    return self._result(index, same_bytes, "unchanged"), index
                stored_name, replacing = same_bytes.source, True
            target = self.folder / stored_name
            doc_id = PurePath(stored_name).stem if not same_bytes else same_bytes.id
            status: Literal["added", "updated"] = "updated" if replacing else "added"
            previous = target.read_bytes() if target.exists() else None
            sidecar = sidecar_path(self.folder, stored_name)
            previous_sidecar = sidecar.read_bytes() if sidecar.exists() else None
            entries = read_sidecar(self.folder, stored_name)
            keep = {**entries.get(checksum, {}), **given} if same_bytes else given
            entries[checksum] = {"uploaded_as": entries.get(checksum, {}).get("uploaded_as", uploaded_as), **keep}
            try:
                # The new entry first, beside the old file's own: killed here, the old file keeps its metadata.
                sidecar.parent.mkdir(exist_ok=True)
                write_atomically(sidecar, json.dumps(entries, ensure_ascii=False).encode())
                if previous != raw:
                    write_atomically(target, raw)
                new_index = self._reindex(index)
            except BaseException:
                # Put the folder back as it was: the change is all or nothing.
                if previous is None:
                    target.unlink(missing_ok=True)
                elif previous != raw:
                    write_atomically(target, previous)
                if previous_sidecar is None:
                    sidecar.unlink(missing_ok=True)
                else:
                    write_atomically(sidecar, previous_sidecar)
                raise
            self._tidy_sidecars(new_index)
            document = new_index.documents.get(doc_id)
            if document is None:  # read before, so only a change made behind the store's back gets here
                raise StoreError(f"{stored_name} was stored but could not be indexed; see the log", "conflict")
            log.info("document %s %s from %s (stored as %s)", doc_id, status, uploaded_as[:200], stored_name)
            return self._result(new_index, document, status), new_index

    def _stored_name(self, uploaded_as: str, index: CorpusIndex) -> tuple[str, bool]:
        """(the name to store an upload under, whether it replaces the file there). The file uploaded under the
        same name is replaced; otherwise a free name is found (`report-2.pdf`) whose id no other file holds, so two
        names that clean to the same one ("Report (final).pdf", "Report [final].pdf") never replace each other."""
        cleaned = safe_file_name(uploaded_as)
        stem, suffix = PurePath(cleaned).stem, PurePath(cleaned).suffix
        for number in range(1, 10_000):
            candidate = cleaned if number == 1 else f"{stem}-{number}{suffix}"
            path = self.folder / candidate
            if path.exists():
                if self._uploaded_as(candidate, path) == uploaded_as:
                    return candidate, True
                continue
            holder = index.documents.get(PurePath(candidate).stem)
            if holder is None:
                return candidate, False
        raise StoreError(f"no free file name for {uploaded_as[:200]}", "conflict")

    def _uploaded_as(self, stored_name: str, path: Path) -> str:
        """The name the file now at `stored_name` was uploaded under (its own name if it was not uploaded)."""
        entry = read_sidecar(self.folder, stored_name).get(sha256_bytes(path.read_bytes()), {})
        return entry.get("uploaded_as", stored_name)

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
                fsync_dir(path.parent)
                new_index = self._reindex(index)
            except BaseException:
                if previous is not None and not path.exists():
                    write_atomically(path, previous)
                raise
            self._tidy_sidecars(new_index)
            log.info("document %s removed (%s)", doc_id, document.source)
            return new_index

    def _reindex(self, index: CorpusIndex) -> CorpusIndex:
        known: dict[str, list[Document]] = {}
        for document in index.documents.values():
            known.setdefault(document.source, []).append(document)
        try:
            corpus = load_corpus(self.folder, self.limits, known)
        except CorpusError as exc:
            raise StoreError(str(exc), "conflict") from exc
        changed, _ = update_index(corpus, index, self.settings.index_dir, self.embedder, self.folder)
        return changed

    def _sweep_partial_files(self) -> None:
        """Files a killed writer left half written (old enough that no writer of another index folder over the same
        corpus can still be writing them)."""
        cutoff = time.time() - PARTIAL_FILE_AGE_S
        for folder in (self.folder, self.folder / OVERRIDES_DIR):
            if folder.is_dir():
                for path in folder.glob(".*.partial"):
                    if path.stat().st_mtime < cutoff:
                        log.info("removing %s, left by an interrupted upload", path.name)
                        path.unlink(missing_ok=True)

    def _tidy_sidecars(self, index: CorpusIndex) -> None:
        """Keep only the entries of the files now in the folder, for their present contents (checksums as the new
        index read them; a file it skipped is read again)."""
        folder = self.folder / OVERRIDES_DIR
        if not folder.is_dir():
            return
        checksums = {d.source: d.file_sha256 for d in index.documents.values() if d.file_sha256}
        for sidecar in folder.glob("*.json"):
            relative = sidecar.name[: -len(".json")].replace("%2F", "/")
            path = self.folder / relative
            if not path.is_file():
                sidecar.unlink(missing_ok=True)
                continue
            entries = read_sidecar(self.folder, relative)
            checksum = checksums.get(relative) or sha256_bytes(path.read_bytes())
            if set(entries) - {checksum}:
                kept = {checksum: entries[checksum]} if checksum in entries else {}
                write_atomically(sidecar, json.dumps(kept, ensure_ascii=False).encode())

    @staticmethod
    def _result(index: CorpusIndex, document: Document, status: Literal["added", "updated", "unchanged"]) -> AddResult:
        passages = _passage_counts(index)[document.id]
        return AddResult(
            doc_id=document.id,
            title=document.title,
            date=document.date,
            url=document.url,
            source=document.source,
            passages=passages,
            status=status,
        )
