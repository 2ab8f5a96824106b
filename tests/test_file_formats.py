"""Each source type read as staff's files arrive: a news page's article without its page furniture, a PDF's text
by page, a Word file; and every bad file refused with a reason a person can act on."""

from __future__ import annotations

import pytest

from bench.sample_documents import (
    NEWS_PAGE_DATE,
    NEWS_PAGE_TITLE,
    REPORT_ANSWER_PAGE,
    REPORT_TITLE,
    board_paper_docx,
    docx_bomb,
    news_page_html,
    report_pdf,
    scanned_pdf,
)
from qa.file_formats import ReadLimits, UnreadableFile, read_file
from qa.ingest import load_corpus, summarize_skipped
from qa.passages import split_document


def test_news_page_keeps_the_article_and_drops_navigation_banner_byline_aside_and_footer():
    (document,) = read_file("harbourside.html", news_page_html().encode())
    assert document.id == "harbourside"
    assert document.title == NEWS_PAGE_TITLE
    assert document.date == NEWS_PAGE_DATE
    assert "Ward manager Priya Okafor said staff had helped to design the new bays." in document.text
    for furniture in ("Most read", "cookie", "Sam Reed", "Copyright", "Privacy policy", "Weather", "Bus fares"):
        assert furniture not in document.text, furniture
    assert document.page_starts is None and document.page_at(10) is None


def test_pdf_text_by_page_with_lines_joined_into_sentences():
    (document,) = read_file("westmoor.pdf", report_pdf(pages=20))
    assert document.title == REPORT_TITLE
    assert document.page_starts is not None and len(document.page_starts) == 20
    where = document.text.index("Inspectors visited Westmoor Community Hospital on 12 and 13 March 2024.")
    assert document.page_at(where) == REPORT_ANSWER_PAGE
    assert document.page_at(0) == 1 and document.page_at(len(document.text) - 1) == 20
    # A sentence wrapped over two printed lines is one sentence again.
    assert "led by Dr Helen Marsh, a specialist adviser in community care." in document.text
    passages = split_document(document, sentences=4, overlap=2)
    assert all(p.page == document.page_at(p.start) for p in passages)
    assert {p.page for p in passages} == set(range(1, 21))


def test_docx_paragraphs_tables_title_and_date_line():
    (document,) = read_file("winter-plan.docx", board_paper_docx())
    assert document.title == "Northfield Trust board paper: winter plan"
    assert document.date == "2025-01-20"
    assert not document.text.startswith("date")
    assert "presented by the chief operating officer, Marcus Bell." in document.text
    assert "Cost | £1.1m" in document.text


@pytest.mark.parametrize(
    "name, raw, kind, reason",
    [
        ("scan.pdf", scanned_pdf(), "unreadable", "no text layer"),
        ("locked.pdf", report_pdf(pages=2, encrypt_with="secret"), "unreadable", "encrypted"),
        ("broken.pdf", report_pdf(pages=2)[:400], "unreadable", "corrupt"),
        ("broken.docx", b"PK\x03\x04 not really a zip", "unreadable", "corrupt .docx"),
        ("bomb.docx", docx_bomb(60_000_000), "too_large", "decompression bomb"),
        ("empty.txt", b"", "unreadable", "empty"),
        ("empty.html", b"   \n", "unreadable", "empty"),
        ("blank.html", b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "unreadable", "no article text"),
        ("notes.exe", b"MZ\x90\x00", "unsupported", "unsupported type (.exe)"),
        ("README", b"text", "unsupported", "unsupported type (no extension)"),
        ("binary.txt", b"abc\x00def", "unreadable", "binary"),
    ],
)
def test_bad_files_are_refused_with_the_reason(name, raw, kind, reason):
    with pytest.raises(UnreadableFile) as refused:
        read_file(name, raw)
    assert refused.value.kind == kind
    assert reason in str(refused.value)


def test_size_and_page_limits():
    with pytest.raises(UnreadableFile, match="limit is 1000") as refused:
        read_file("big.txt", b"word " * 400, ReadLimits(max_bytes=1000))
    assert refused.value.kind == "too_large"
    with pytest.raises(UnreadableFile, match="12 pages; the limit is 10") as refused:
        read_file("long.pdf", report_pdf(pages=12), ReadLimits(max_pdf_pages=10))
    assert refused.value.kind == "too_large"


def test_a_corpus_folder_reads_every_type_and_names_every_file_it_skips(tmp_path, caplog):
    (tmp_path / "page.html").write_text(news_page_html(), encoding="utf-8")
    (tmp_path / "report.pdf").write_bytes(report_pdf(pages=3))
    (tmp_path / "plan.docx").write_bytes(board_paper_docx())
    (tmp_path / "note.txt").write_text("date 2025-02-02\nThe clinic moved to Elm Street.", encoding="utf-8")
    (tmp_path / "scan.pdf").write_bytes(scanned_pdf())
    (tmp_path / "notes.exe").write_bytes(b"MZ")
    (tmp_path / ".documents").mkdir()  # the store's own folder: never an article, never a warning
    (tmp_path / ".documents" / "x.json").write_text("{}", encoding="utf-8")
    (tmp_path / ".half-written.pdf.partial").write_bytes(b"%PDF-1.4")
    with caplog.at_level("WARNING"):
        corpus = load_corpus(tmp_path)
    assert sorted(d.id for d in corpus.documents) == ["note", "page", "plan", "report"]
    assert sorted(corpus.skipped) == [
        "notes.exe: unsupported type (.exe); readable: .txt, .md, .jsonl, .html, .htm, .pdf, .docx",
        "scan.pdf: no text layer (a scanned PDF?); run it through OCR first",
    ]
    summary = summarize_skipped(corpus.skipped)
    assert summary.startswith("skipped 2 files: ")
    assert "scan.pdf (no text layer" in summary and "notes.exe (unsupported type" in summary
    assert summary in caplog.text
    assert all(d.file_sha256 and d.added_at for d in corpus.documents)
