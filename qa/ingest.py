"""Read a folder of articles into Documents: every file type `qa.file_formats` reads (.txt, .md, .jsonl, .html,
.htm, .pdf, .docx).

A leading `date YYYY-MM-DD` line (or prefix) becomes the document's date and is removed from its text. Title, date
and address given at upload (`qa.corpus_store` keeps them beside the folder's files, by file checksum) override
what the file says. Files and folders whose names start with a dot are the store's own (overrides, files being
written) and are not articles. Every other file that cannot be read is skipped with a warning that names it and the
reason, and the skips are counted: never silence.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from qa.documents import Document
from qa.file_formats import SUPPORTED_SUFFIXES, ReadLimits, UnreadableFile, read_file

log = logging.getLogger(__name__)

OVERRIDES_DIR = ".documents"  # inside the corpus folder: {file checksum}.json -> title/date/url given at upload


class CorpusError(ValueError):
    """The corpus cannot be used at all (missing folder, nothing readable)."""


@dataclass
class Corpus:
    documents: list[Document]
    skipped: list[str] = field(default_factory=list)  # "path: reason"
    fingerprint: str = ""


def sha256_bytes(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def read_overrides(folder: Path, file_sha256: str) -> dict[str, str]:
    """Title, date and url given for the file with this checksum when it was uploaded (empty when none)."""
    path = Path(folder) / OVERRIDES_DIR / f"{file_sha256}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict):
        return {}
    return {k: v for k, v in record.items() if k in ("title", "date", "url") and isinstance(v, str) and v}


def documents_of_file(
    folder: Path, path: Path, limits: ReadLimits | None = None, skipped: list[str] | None = None
) -> tuple[list[Document], bytes]:
    """The articles in one file of the corpus folder (with its upload overrides and checksum) and its bytes.
    UnreadableFile or OSError when it cannot be read."""
    raw = path.read_bytes()
    relative = path.relative_to(folder).as_posix()
    checksum = sha256_bytes(raw)
    overrides = read_overrides(folder, checksum)
    added_at = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).isoformat(timespec="seconds")
    documents = read_file(relative, raw, limits, skipped)
    return [d.model_copy(update={**overrides, "file_sha256": checksum, "added_at": added_at}) for d in documents], raw


def corpus_files(folder: Path) -> list[Path]:
    """Every file of the corpus folder that could be an article, sorted (so builds are reproducible): hidden files
    and folders (the store's own) left out."""
    folder = Path(folder)
    hidden = lambda p: any(part.startswith(".") for part in p.relative_to(folder).parts)  # noqa: E731
    return sorted(p for p in folder.rglob("*") if p.is_file() and not hidden(p))


def summarize_skipped(skipped: list[str], shown: int = 10) -> str:
    """'skipped 2 files: report.pdf (no text layer), notes.exe (unsupported type)'."""
    parts = []
    for entry in skipped[:shown]:
        where, _, reason = entry.partition(": ")
        parts.append(f"{where} ({reason})" if reason else where)
    more = f", and {len(skipped) - shown} more" if len(skipped) > shown else ""
    noun = "file" if len(skipped) == 1 else "files"
    return f"skipped {len(skipped)} {noun}: {', '.join(parts)}{more}"


def load_corpus(folder: Path, limits: ReadLimits | None = None) -> Corpus:
    """Every readable article under `folder`, in path order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(f"corpus folder {folder} does not exist")
    documents: list[Document] = []
    skipped: list[str] = []
    digest = hashlib.sha256()
    for path in corpus_files(folder):
        relative = path.relative_to(folder).as_posix()
        try:
            found, raw = documents_of_file(folder, path, limits, skipped)
        except UnreadableFile as exc:
            skipped.append(f"{relative}: {exc.reason}")
            continue
        except OSError as exc:
            skipped.append(f"{relative}: cannot be read ({exc.strerror or exc})")
            continue
        documents.extend(found)
        digest.update(relative.encode())
        digest.update(raw)
        for document in found:  # upload overrides change the documents, so they are part of what was indexed
            digest.update(json.dumps([document.title, document.date, document.url]).encode())
    for reason in skipped:
        log.warning("skipped %s", reason)
    if skipped:
        log.warning("%s", summarize_skipped(skipped))
    ids: dict[str, str] = {}
    clashes = []
    for document in documents:
        if document.id in ids:
            clashes.append(f"'{document.id}' ({ids[document.id]} and {document.source})")
        ids.setdefault(document.id, document.source)
    if clashes:
        raise CorpusError(f"duplicate document ids in {folder}: {', '.join(clashes[:5])}")
    if not documents:
        raise CorpusError(f"corpus folder {folder} holds no readable article ({', '.join(SUPPORTED_SUFFIXES)})")
    return Corpus(documents=documents, skipped=skipped, fingerprint=digest.hexdigest())
