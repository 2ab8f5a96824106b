"""Turn one file's bytes into articles: plain text and Markdown, JSON Lines collections, news web pages (HTML), PDF
reports (text per page) and Word files (.docx).

One entry point, `read_file(name, raw, limits)`, used by the corpus folder walk (`qa.ingest`) and by uploads
(`qa.corpus_store`), so a file is read the same way wherever it arrives. A file that cannot become an article raises
`UnreadableFile` with a reason a person can act on ("no text layer (a scanned PDF?)", "encrypted", ...); `kind`
tells an HTTP front end which status to give (415 for a type the service does not read, 413 for too large, 422 for
the rest).
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from qa.documents import Document

SUFFIX_TYPES = {
    ".txt": "text",
    ".md": "markdown",
    ".jsonl": "jsonl",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
SUPPORTED_SUFFIXES = tuple(SUFFIX_TYPES)

_DATE_PREFIX = re.compile(r"^\s*date[:\s]+(\d{4}-\d{2}-\d{2})\b[ \t]*\r?\n?", re.IGNORECASE)
_MD_TITLE = re.compile(r"^\s*#\s+(.+?)\s*$", re.MULTILINE)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TITLE_CHARS = 120
_MIN_PAGE_WORDS = 5
# Characters that are never text: control characters other than line breaks and tabs (PDF text layers carry
# some), the byte-order mark, and the Unicode "non-characters" PDFium uses for soft hyphens and line ends.
_JUNK = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff\ufffe\uffff\u00ad]")


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what one file may cost to read."""

    max_bytes: int = 20_000_000
    max_pdf_pages: int = 500
    # A .docx is a zip: its parts may expand to at most this much, and at most this many times their packed size.
    max_unpacked_bytes: int = 200_000_000
    max_unpack_ratio: int = 200


class UnreadableFile(ValueError):
    """The file cannot become an article; the message says why, `kind` which kind of refusal it is."""

    def __init__(self, reason: str, kind: Literal["unsupported", "too_large", "unreadable"] = "unreadable"):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


def file_type(name: str) -> str:
    """'pdf', 'html', ... for a supported file name; UnreadableFile (unsupported) otherwise."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUFFIX_TYPES:
        shown = suffix or "no extension"
        raise UnreadableFile(
            f"unsupported type ({shown}); readable: {', '.join(SUPPORTED_SUFFIXES)}", kind="unsupported"
        )
    return SUFFIX_TYPES[suffix]


def title_from_text(text: str) -> str:
    first_line = text.strip().split("\n", 1)[0].strip()
    if len(first_line) <= _TITLE_CHARS:
        return first_line
    cut = first_line[:_TITLE_CHARS].rsplit(" ", 1)[0]
    return cut + "…"


def split_date_line(text: str) -> tuple[str | None, str]:
    """A leading `date YYYY-MM-DD` line: (the date, the text without it)."""
    match = _DATE_PREFIX.match(text)
    if not match:
        return None, text
    return match.group(1), text[match.end() :]


def _clean(text: str) -> str:
    return _JUNK.sub("", unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")))


def _decode(raw: bytes) -> str:
    if b"\x00" in raw:
        raise UnreadableFile("binary file (NUL bytes), not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if not text.strip():
        raise UnreadableFile("empty file")
    return text.replace("\r\n", "\n")


def _document(doc_id: str, source: str, text: str, title: str | None, date: str | None, **extra) -> Document:
    text = text.strip("\n")
    if not text.strip():
        raise UnreadableFile("no text in the file")
    if date is not None and not _ISO_DATE.match(date):
        date = None
    title = (title or "").strip() or title_from_text(text)
    return Document(id=doc_id, title=title, text=text, date=date, source=source, **extra)


def _plain_text(doc_id: str, source: str, raw: bytes, markdown: bool) -> Document:
    date, body = split_date_line(_decode(raw))
    body = body.strip("\n")
    if not body.strip():
        raise UnreadableFile("no text after the date line")
    title = None
    if markdown:
        match = _MD_TITLE.search(body)
        title = match.group(1) if match else None
    return _document(doc_id, source, body, title, date)


def _jsonl(doc_id: str, source: str, raw: bytes, skipped: list[str]) -> list[Document]:
    documents = []
    for number, line in enumerate(_decode(raw).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append(f"{where}: invalid JSON ({exc.msg})")
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not record["text"].strip():
            skipped.append(f"{where}: needs a non-empty 'text' string")
            continue
        date, body = split_date_line(record["text"])
        try:
            documents.append(
                Document(
                    id=str(record.get("id") or f"{doc_id}-{number}"),
                    title=str(record.get("title") or title_from_text(body)),
                    text=body,
                    date=record.get("date") or date,
                    url=record.get("url"),
                    source=source,
                )
            )
        except ValueError as exc:  # pydantic: a field of the wrong type ("date": 20240101)
            field = ".".join(str(p) for p in exc.errors()[0]["loc"]) if hasattr(exc, "errors") else "a field"
            skipped.append(f"{where}: '{field}' has the wrong type")
    if not documents:
        raise UnreadableFile("no readable line (each needs a non-empty 'text')")
    return documents


def _html(doc_id: str, source: str, raw: bytes) -> Document:
    """The article's main text, title, date and address, from the page's own metadata; navigation, banners,
    asides, bylines and footers are left out (trafilatura's main-content extraction)."""
    import trafilatura

    try:
        found = trafilatura.bare_extraction(
            raw,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_precision=True,
            # Not trafilatura's cross-call deduplication: a corrected page repeats most of its paragraphs.
            deduplicate=False,
            # The page's own metadata, not dates guessed from its text.
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception as exc:  # trafilatura and lxml raise many kinds on broken markup
        raise UnreadableFile(f"not a readable web page ({type(exc).__name__})") from exc
    text = _clean(getattr(found, "text", None) or "") if found is not None else ""
    if len(text.split()) < _MIN_PAGE_WORDS:  # a link or two left of a page without an article
        raise UnreadableFile("no article text found in the web page")
    return _document(
        doc_id,
        source,
        text,
        getattr(found, "title", None),
        getattr(found, "date", None),
        url=getattr(found, "url", None) or None,
    )


def _reflow_page(text: str) -> str:
    """A PDF page's text layer has a line break at the end of every printed line; sentences run across them.
    Lines are joined back into paragraphs: a break stays only after a line that ends a sentence or a heading
    (closing punctuation, or a short line), or before a blank line. A word broken by a hyphen keeps it."""
    lines = [line.strip() for line in _clean(text).split("\n")]
    paragraphs: list[str] = []
    current = ""
    width = max((len(line) for line in lines), default=0)
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
                current = ""
            continue
        if not current:
            current = line
        elif current.endswith("-") and line[:1].islower():
            current += line
        else:
            current += " " + line
        ends_sentence = line[-1] in '.!?:;"”’)'
        short = len(line) < 0.6 * width
        if ends_sentence and short or (not ends_sentence and short and len(line) < 80 and line[:1].isupper()):
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n".join(paragraphs)


def _pdf(doc_id: str, source: str, raw: bytes, limits: ReadLimits) -> Document:
    """Text per page (PDFium), pages joined by a blank line; `page_starts` keeps where each page begins."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(raw)
    except Exception as exc:  # PdfiumError, mostly
        message = str(exc).lower()
        if "password" in message or "security" in message:
            raise UnreadableFile("encrypted PDF (password protected); upload an unprotected copy") from exc
        raise UnreadableFile(f"corrupt or not a PDF ({exc})") from exc
    try:
        pages = len(pdf)
        if pages == 0:
            raise UnreadableFile("the PDF has no pages")
        if pages > limits.max_pdf_pages:
            raise UnreadableFile(
                f"the PDF has {pages} pages; the limit is {limits.max_pdf_pages} (QA_MAX_PDF_PAGES)", kind="too_large"
            )
        texts = []
        for number in range(pages):
            page = pdf[number]
            textpage = page.get_textpage()
            texts.append(_reflow_page(textpage.get_text_range()))
            textpage.close()
            page.close()
        title = (pdf.get_metadata_dict().get("Title") or "").strip() or None
    except UnreadableFile:
        raise
    except Exception as exc:  # PdfiumError and whatever a damaged page's text layer raises
        raise UnreadableFile(f"corrupt PDF ({type(exc).__name__}: {str(exc)[:120]})") from exc
    finally:
        pdf.close()
    if not any(t.strip() for t in texts):
        raise UnreadableFile("no text layer (a scanned PDF?); run it through OCR first")
    page_starts = [0]
    for page_text in texts[:-1]:
        page_starts.append(page_starts[-1] + len(page_text) + 2)  # pages joined by a blank line
    # Offsets must stay valid: no stripping of the joined text (a leading empty page keeps its place).
    text = "\n\n".join(texts)
    date, _ = split_date_line(text)
    return Document(
        id=doc_id,
        title=title or title_from_text(text),
        text=text,
        date=date,
        source=source,
        page_starts=page_starts,
    )


def _check_zip(raw: bytes, limits: ReadLimits) -> zipfile.ZipFile:
    """Open a .docx's zip, refusing decompression bombs before anything is expanded."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as exc:
        raise UnreadableFile("corrupt .docx (not a zip archive)") from exc
    unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > limits.max_unpacked_bytes or unpacked > limits.max_unpack_ratio * max(1, len(raw)):
        raise UnreadableFile(
            f".docx expands to {unpacked} bytes from {len(raw)} (a decompression bomb?); refused", kind="too_large"
        )
    return archive


def _docx(doc_id: str, source: str, raw: bytes, limits: ReadLimits) -> Document:
    """Paragraphs (and table cells, row by row) in reading order; the title from the file's properties or its
    first paragraph, a leading `date YYYY-MM-DD` paragraph as the date."""
    import docx

    _check_zip(raw, limits).close()
    blocks: list[str] = []
    try:
        word = docx.Document(io.BytesIO(raw))
        for block in word.iter_inner_content():
            if hasattr(block, "rows"):
                for row in block.rows:
                    cells = [" ".join(cell.text.split()) for cell in row.cells]
                    line = " | ".join(dict.fromkeys(c for c in cells if c))
                    if line:
                        blocks.append(line)
            else:
                line = " ".join(_clean(block.text).split())
                if line:
                    blocks.append(line)
        title = (word.core_properties.title or "").strip() or None
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors on broken or odd parts
        raise UnreadableFile(f"corrupt .docx ({type(exc).__name__}: {str(exc)[:120]})") from exc
    date, body = split_date_line("\n".join(blocks))
    return _document(doc_id, source, body, title, date)


def read_file(
    name: str, raw: bytes, limits: ReadLimits | None = None, skipped: list[str] | None = None
) -> list[Document]:
    """The articles in one file (an empty or oversized one is refused here, before any reader sees it). `name` is
    its path relative to the corpus folder (the documents' `source`); the id of a single-article file is its stem.
    `skipped` collects the unreadable lines of a .jsonl collection."""
    limits = limits or ReadLimits()
    kind = file_type(name)
    if len(raw) > limits.max_bytes:
        raise UnreadableFile(f"file is {len(raw)} bytes; the limit is {limits.max_bytes}", kind="too_large")
    if not raw.strip():
        raise UnreadableFile("empty file")
    doc_id = PurePath(name).stem
    source = PurePath(name).as_posix()
    if kind == "jsonl":
        return _jsonl(doc_id, source, raw, skipped if skipped is not None else [])
    if kind in ("text", "markdown"):
        return [_plain_text(doc_id, source, raw, markdown=kind == "markdown")]
    if kind == "html":
        return [_html(doc_id, source, raw)]
    if kind == "pdf":
        return [_pdf(doc_id, source, raw, limits)]
    return [_docx(doc_id, source, raw, limits)]
