"""Read a folder of articles into Documents: every file type `qa.file_formats` reads (.txt, .md, .jsonl, .html,
.htm, .pdf, .docx).

A leading `date YYYY-MM-DD` line (or prefix) becomes the document's date and is removed from its text. Title, date
and address given at upload (`qa.corpus_store` keeps them in `.documents/<file name>.json`, by file checksum) override
what the file says. Two files that would give the same document id: the first (in path order) is read, the other
skipped with the reason. Files and folders whose names start with a dot are the store's own (overrides, files being
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

from qa.config import Settings
from qa.documents import Document
from qa.file_formats import SUPPORTED_SUFFIXES, ReadLimits, UnreadableFile, read_file

log = logging.getLogger(__name__)

OVERRIDES_DIR = ".documents"  # inside the corpus folder: <file name>.json -> {checksum: what was given at upload}


class CorpusError(ValueError):
    """The corpus cannot be used at all (missing folder, nothing readable)."""


@dataclass
class Corpus:
    documents: list[Document]
    skipped: list[str] = field(default_factory=list)  # "path: reason"
    fingerprint: str = ""


def sha256_bytes(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def read_limits(settings: Settings) -> ReadLimits:
    """The one set of limits a file of the corpus is read with: at upload, at every change and at every build (so a
    document accepted once is not dropped by the next rebuild)."""
    return ReadLimits(max_bytes=settings.max_upload_bytes, max_pdf_pages=settings.max_pdf_pages)


def sidecar_path(folder: Path, relative: str) -> Path:
    """Where what was given at upload for the file `relative` (a path inside the corpus folder) is kept."""
    return Path(folder) / OVERRIDES_DIR / (relative.replace("/", "%2F") + ".json")


def read_sidecar(folder: Path, relative: str) -> dict[str, dict[str, str]]:
    """checksum -> {uploaded_as, title, date, url} for the file `relative` (empty when none). Entries are by checksum
    so that a process killed between writing a new entry and the new file leaves the old file with its own."""
    try:
        record = json.loads(sidecar_path(folder, relative).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict):
        return {}
    return {
        checksum: {k: v for k, v in entry.items() if isinstance(v, str) and v}
        for checksum, entry in record.items()
        if isinstance(entry, dict)
    }


def read_overrides(folder: Path, relative: str, file_sha256: str) -> dict[str, str]:
    """Title, date and url given when the file with this checksum was uploaded under this name (empty when none)."""
    entry = read_sidecar(folder, relative).get(file_sha256, {})
    return {k: v for k, v in entry.items() if k in ("title", "date", "url")}


def documents_of_file(
    folder: Path,
    path: Path,
    limits: ReadLimits | None = None,
    skipped: list[str] | None = None,
    known: dict[str, list[Document]] | None = None,
) -> tuple[list[Document], bytes]:
    """The articles in one file of the corpus folder (with its upload overrides and checksum) and its bytes.
    UnreadableFile or OSError when it cannot be read. `known`: documents already read from files (by source), reused
    when the file's checksum is unchanged instead of parsing it again (a PDF or a page costs tens of ms)."""
    raw = path.read_bytes()
    relative = path.relative_to(folder).as_posix()
    checksum = sha256_bytes(raw)
    overrides = read_overrides(folder, relative, checksum)
    added_at = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).isoformat(timespec="seconds")
    previous = (known or {}).get(relative)
    # Not for a .jsonl collection: its skipped lines must be reported again.
    if previous and not relative.endswith(".jsonl") and all(d.file_sha256 == checksum for d in previous):
        documents = previous
    else:
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


def load_corpus(
    folder: Path, limits: ReadLimits | None = None, known: dict[str, list[Document]] | None = None
) -> Corpus:
    """Every readable article under `folder`, in path order (`known`: see `documents_of_file`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(f"corpus folder {folder} does not exist")
    documents: list[Document] = []
    skipped: list[str] = []
    owners: dict[str, str] = {}  # document id -> the file it came from
    digest = hashlib.sha256()
    for path in corpus_files(folder):
        relative = path.relative_to(folder).as_posix()
        try:
            found, raw = documents_of_file(folder, path, limits, skipped, known)
        except UnreadableFile as exc:
            skipped.append(f"{relative}: {exc.reason}")
            continue
        except OSError as exc:
            skipped.append(f"{relative}: cannot be read ({exc.strerror or exc})")
            continue
        except Exception as exc:  # a reader library's surprise must cost one file, not the whole corpus
            log.exception("reading %s failed", relative)
            skipped.append(f"{relative}: cannot be read ({type(exc).__name__})")
            continue
        kept = []
        for document in found:
            if document.id in owners:
                skipped.append(
                    f"{relative}: document id '{document.id}' is already {owners[document.id]}'s; rename one of them"
                )
                continue
            owners[document.id] = relative
            kept.append(document)
        if not kept:
            continue
        documents.extend(kept)
        digest.update(relative.encode())
        digest.update(raw)
        for document in kept:  # upload overrides change the documents, so they are part of what was indexed
            digest.update(json.dumps([document.id, document.title, document.date, document.url]).encode())
    for reason in skipped:
        log.warning("skipped %s", reason)
    if skipped:
        log.warning("%s", summarize_skipped(skipped))
    if not documents:
        raise CorpusError(f"corpus folder {folder} holds no readable article ({', '.join(SUPPORTED_SUFFIXES)})")
    return Corpus(documents=documents, skipped=skipped, fingerprint=digest.hexdigest())
