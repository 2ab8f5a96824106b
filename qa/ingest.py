"""Read a folder of articles into Documents: `.txt`, `.md` and `.jsonl` (id/title/date/url/text per line).

A leading `date YYYY-MM-DD` line (or prefix) becomes the document's date and is removed from its text.
Unreadable files (binary, not UTF-8, empty) are skipped with a warning that names them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from qa.documents import Document

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".jsonl")
_DATE_PREFIX = re.compile(r"^\s*date[:\s]+(\d{4}-\d{2}-\d{2})\b[ \t]*\r?\n?", re.IGNORECASE)
_MD_TITLE = re.compile(r"^\s*#\s+(.+?)\s*$", re.MULTILINE)
_TITLE_CHARS = 120


class CorpusError(ValueError):
    """The corpus cannot be used at all (missing folder, nothing readable)."""


@dataclass
class Corpus:
    documents: list[Document]
    skipped: list[str] = field(default_factory=list)  # "path: reason"
    fingerprint: str = ""


def _title_from_text(text: str) -> str:
    first_line = text.strip().split("\n", 1)[0].strip()
    if len(first_line) <= _TITLE_CHARS:
        return first_line
    cut = first_line[:_TITLE_CHARS].rsplit(" ", 1)[0]
    return cut + "…"


def _split_date(text: str) -> tuple[str | None, str]:
    match = _DATE_PREFIX.match(text)
    if not match:
        return None, text
    return match.group(1), text[match.end() :]


def _decode(raw: bytes) -> str:
    if b"\x00" in raw:
        raise ValueError("binary file (NUL bytes)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if not text.strip():
        raise ValueError("empty file")
    return text.replace("\r\n", "\n")


def _document_from_text(path: Path, text: str) -> Document:
    date, body = _split_date(text)
    body = body.strip("\n")
    if not body.strip():
        raise ValueError("no text after the date line")
    title = None
    if path.suffix == ".md":
        match = _MD_TITLE.search(body)
        title = match.group(1) if match else None
    return Document(id=path.stem, title=title or _title_from_text(body), text=body, date=date, source=path.name)


def _documents_from_jsonl(path: Path, text: str, skipped: list[str]) -> list[Document]:
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append(f"{where}: invalid JSON ({exc.msg})")
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not record["text"].strip():
            skipped.append(f"{where}: needs a non-empty 'text' string")
            continue
        date, body = _split_date(record["text"])
        documents.append(
            Document(
                id=str(record.get("id") or f"{path.stem}-{number}"),
                title=str(record.get("title") or _title_from_text(body)),
                text=body,
                date=record.get("date") or date,
                url=record.get("url"),
                source=path.name,
            )
        )
    return documents


def load_corpus(folder: Path) -> Corpus:
    """Every readable article under `folder` (sorted by path, so builds are reproducible)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(f"corpus folder {folder} does not exist")
    documents: list[Document] = []
    skipped: list[str] = []
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix.lower() not in SUPPORTED_SUFFIXES or path.name.startswith("."):
            continue
        try:
            raw = path.read_bytes()
            text = _decode(raw)
            found = (
                _documents_from_jsonl(path, text, skipped)
                if path.suffix.lower() == ".jsonl"
                else [_document_from_text(path, text)]
            )
        except (OSError, ValueError) as exc:
            skipped.append(f"{path}: {exc}")
            continue
        documents.extend(found)
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(raw)
    for reason in skipped:
        log.warning("skipped %s", reason)
    ids = [d.id for d in documents]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise CorpusError(f"duplicate document ids in {folder}: {sorted(duplicates)[:5]}")
    if not documents:
        raise CorpusError(f"corpus folder {folder} holds no readable article (.txt, .md or .jsonl)")
    return Corpus(documents=documents, skipped=skipped, fingerprint=digest.hexdigest())
