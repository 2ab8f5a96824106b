"""The corpus that lives, below HTTP: adds, replacements and removals change the index document by document, and
the changed index answers exactly as a full build of the same files."""

from __future__ import annotations

import shutil

import pytest
from conftest import SEED_DOC_ID, SEEDS

from bench.sample_documents import (
    NEWS_PAGE_FACTS,
    REPORT_FACTS,
    board_paper_docx,
    news_page_html,
    report_pdf,
    scanned_pdf,
)
from qa.config import Settings
from qa.corpus_store import CorpusStore, Overrides, StoreError, list_documents, safe_file_name
from qa.file_formats import UnreadableFile
from qa.index import (
    IndexStaleError,
    build_index,
    current_build_dir,
    ensure_index,
    index_options,
    load_index,
    update_index,
)
from qa.ingest import load_corpus
from qa.pipeline import QAPipeline

QUESTIONS = [*NEWS_PAGE_FACTS, *REPORT_FACTS, "When was the CQC visit?", "Who is the chief executive?",
             "How many extra beds does the winter plan open?", "What did the new maternity unit cost?"]  # fmt: skip


@pytest.fixture
def folders(tmp_path, seed_index_dir):
    """A corpus folder holding the seed article, and a copy of the seed index built from it."""
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    shutil.copy(SEEDS / f"{SEED_DOC_ID}.txt", corpus_dir)
    shutil.copytree(seed_index_dir, tmp_path / "index")
    return Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "index", auto_build=True, index_poll_s=0)


def _files(folder) -> list[str]:
    """Every file under the corpus folder, the store's own included (overrides, half-written files)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _answers(pipeline: QAPipeline) -> list[list[tuple]]:
    out = []
    for response in pipeline.ask_many(QUESTIONS):
        out.append(
            [
                (a.text, a.citation.doc_id, a.citation.answer_start, a.citation.page, round(a.score, 4))
                for a in response.answers
            ]  # fmt: skip
        )
    return out


def test_changes_one_document_at_a_time_answer_as_a_full_build(folders, pipeline, tmp_path):
    store = CorpusStore(folders, pipeline.models.embedder)
    first, index = store.add("harbourside.html", news_page_html().encode())
    assert first.status == "added" and first.doc_id == "harbourside" and first.passages > 0
    _, index = store.add("westmoor.pdf", report_pdf(pages=20), base=index)
    _, index = store.add("winter.docx", board_paper_docx(), base=index)
    _, index = store.add("note.txt", b"date 2025-05-05\nThe Elm Street clinic closed in May.", base=index)
    index = store.remove("note", base=index)
    edited = news_page_html().replace("28 beds, up from 20", "30 beds, up from 20").encode()
    updated, index = store.add("harbourside.html", edited, base=index)
    assert updated.status == "updated"
    assert index.manifest.change == "updated harbourside"
    embedded = index.manifest.next_passage_id - pipeline.index.manifest.next_passage_id
    assert embedded < 2 * len(index.passages)  # only new passages were embedded, not the corpus again

    changed = load_index(folders.index_dir)  # what another process (or a restart) loads
    full_dir = tmp_path / "full"
    build_index(load_corpus(folders.corpus_dir), full_dir, pipeline.models.embedder, progress=False,
                **index_options(folders))  # fmt: skip
    full = load_index(full_dir)
    assert [(p.doc_id, p.start, p.end, p.page) for p in changed.passages] == [
        (p.doc_id, p.start, p.end, p.page) for p in full.passages
    ]
    assert changed.documents.keys() == full.documents.keys()
    assert [p.id for p in changed.passages] != [p.id for p in full.passages]  # ids differ, answers must not
    vectors = pipeline.models.embedder.embed(QUESTIONS)
    assert [[changed.passage(i).start for i in row] for row in changed.dense_search(vectors, 20)] == [
        [full.passage(i).start for i in row] for row in full.dense_search(vectors, 20)
    ]
    answered = _answers(pipeline.with_index(changed))
    assert answered == _answers(pipeline.with_index(full))
    assert sum(1 for answers in answered if answers) >= 6  # the comparison is over real answers
    beds = pipeline.with_index(changed).ask("How many beds does the Harbourside children's ward have now?")
    assert beds.answers and beds.answers[0].text == "30"


def test_a_removed_document_is_never_retrieved_again(folders, pipeline):
    store = CorpusStore(folders, pipeline.models.embedder)
    _, index = store.add("westmoor.pdf", report_pdf(pages=4))
    question = next(iter(REPORT_FACTS))
    before = pipeline.with_index(index).ask(question)
    assert before.answers[0].citation.doc_id == "westmoor" and before.answers[0].citation.page == 2
    index = store.remove("westmoor", base=index)
    assert "westmoor" not in index.documents
    assert not (folders.corpus_dir / "westmoor.pdf").exists()
    every = index.dense_search(pipeline.models.embedder.embed([question]), 10_000)[0]
    assert all(index.passage(i).doc_id != "westmoor" for i in every)
    after = pipeline.with_index(index).ask(question)
    assert all(hit.doc_id != "westmoor" for hit in after.passages)
    assert all(a.citation.doc_id != "westmoor" for a in after.answers)


def test_same_file_twice_is_one_document_and_overrides_are_kept(folders, pipeline):
    store = CorpusStore(folders, pipeline.models.embedder)
    raw = board_paper_docx()
    added, index = store.add("winter.docx", raw, Overrides(title="Winter plan 2025", url="https://example.org/w"))
    assert added.title == "Winter plan 2025" and added.url == "https://example.org/w"
    again, index2 = store.add("winter.docx", raw, base=index)
    assert again.status == "unchanged" and index2 is index
    renamed, _ = store.add("a copy of winter.docx", raw, base=index)
    assert renamed.status == "unchanged" and renamed.doc_id == "winter"
    assert sorted(d.doc_id for d in list_documents(index)) == sorted([SEED_DOC_ID, "winter"])
    retitled, index = store.add("winter.docx", raw, Overrides(date="2025-01-21"), base=index)
    assert retitled.status == "updated" and retitled.date == "2025-01-21" and retitled.title == "Winter plan 2025"
    # Overrides survive a full rebuild from the folder.
    rebuilt = ensure_index(folders, pipeline.models.embedder, force=True)
    assert rebuilt.documents["winter"].title == "Winter plan 2025"
    assert rebuilt.documents["winter"].date == "2025-01-21"


def test_refusals_change_nothing(folders, pipeline):
    store = CorpusStore(folders, pipeline.models.embedder)
    before = _files(folders.corpus_dir)
    published = current_build_dir(folders.index_dir)
    for name, raw in [("scan.pdf", scanned_pdf()), ("notes.exe", b"MZ"), ("empty.txt", b""), ("c.jsonl", b"{}")]:
        with pytest.raises(UnreadableFile):
            store.add(name, raw)
    with pytest.raises(StoreError, match="not a date") as refused:
        store.add("note.txt", b"Some text here.", Overrides(date="14/03/2025"))
    assert refused.value.kind == "invalid"
    _, index = store.add("report.html", news_page_html().encode())
    with pytest.raises(StoreError) as refused:
        store.remove("no-such-document", base=index)
    assert refused.value.kind == "not_found"
    index = store.remove("report", base=index)
    with pytest.raises(StoreError, match="only document") as refused:
        store.remove(SEED_DOC_ID, base=index)
    assert refused.value.kind == "conflict"
    assert _files(folders.corpus_dir) == before  # the removed document's upload record went with it
    assert current_build_dir(folders.index_dir) != published  # the add and the removal were published
    assert load_index(folders.index_dir).documents.keys() == {SEED_DOC_ID}


@pytest.mark.parametrize(
    "uploaded, stored",
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\system.ini.txt", "system.ini.txt"),
        ("/abs/path/Report 2024 (final).PDF", "Report-2024-final.pdf"),
        (".hidden.html", "hidden.html"),
        ("...", "document"),
        ("Rapport d’été.docx", "Rapport-dete.docx"),
    ],
)
def test_an_uploaded_name_never_decides_where_the_file_goes(uploaded, stored):
    assert safe_file_name(uploaded) == stored


def test_a_failed_index_change_puts_the_folder_back(folders, pipeline, monkeypatch):
    store = CorpusStore(folders, pipeline.models.embedder)
    before = _files(folders.corpus_dir)

    def embedding_fails(texts, progress=False):
        raise RuntimeError("embedding crashed")

    monkeypatch.setattr(
        store, "embedder", type("Broken", (), {"name": "all-MiniLM-L6-v2", "embed": staticmethod(embedding_fails)})()
    )
    with pytest.raises(RuntimeError, match="embedding crashed"):
        store.add("harbourside.html", news_page_html().encode())
    assert _files(folders.corpus_dir) == before
    assert load_index(folders.index_dir).documents.keys() == {SEED_DOC_ID}


def test_start_up_brings_the_index_level_with_the_folder(folders, pipeline):
    """Files that arrived or went while no server ran (or while one was killed mid-change) are indexed at start-up
    document by document, not by a full rebuild."""
    (folders.corpus_dir / "westmoor.pdf").write_bytes(report_pdf(pages=3))
    index = ensure_index(folders, pipeline.models.embedder)
    assert "westmoor" in index.documents
    assert index.manifest.change == "added westmoor"
    (folders.corpus_dir / "westmoor.pdf").unlink()
    index = ensure_index(folders, pipeline.models.embedder)
    assert index.documents.keys() == {SEED_DOC_ID}
    assert index.manifest.change == "removed westmoor"


def test_names_that_clean_alike_never_replace_each_other(folders, pipeline):
    """Only the file uploaded under the same name is replaced; another name that cleans to a taken name or id is
    stored under a free one."""
    store = CorpusStore(folders, pipeline.models.embedder)
    first, index = store.add("Report (final).txt", b"The Ash ward reopened in May after a deep clean.")
    second, index = store.add("Report [final].txt", b"The Birch ward closed in June for repairs.", base=index)
    assert (first.doc_id, first.source) == ("Report-final", "Report-final.txt")
    assert (second.doc_id, second.source, second.status) == ("Report-final-2", "Report-final-2.txt", "added")
    pdf, index = store.add("Report-final.pdf", report_pdf(pages=2), base=index)  # the id Report-final is taken
    assert pdf.doc_id == "Report-final-3" and pdf.status == "added"
    again, index = store.add("Report (final).txt", b"The Ash ward reopened in April after a deep clean.", base=index)
    assert (again.doc_id, again.status) == ("Report-final", "updated")
    assert "April" in index.documents["Report-final"].text
    assert "Birch" in index.documents["Report-final-2"].text
    # New bytes under a name already uploaded replace that file, even if they equal another file's bytes.
    copy, index = store.add("Report [final].txt", b"The Ash ward reopened in April after a deep clean.", base=index)
    assert (copy.doc_id, copy.status) == ("Report-final-2", "updated")
    assert len(index.documents) == 4


def test_limits_are_the_same_at_upload_and_at_every_build(folders, pipeline):
    """A document accepted at upload is never dropped by the next rebuild, and one refused at upload is not
    indexed from the folder either."""
    limited = folders.model_copy(update={"max_pdf_pages": 3})
    (folders.corpus_dir / "long.pdf").write_bytes(report_pdf(pages=5))
    rebuilt = ensure_index(limited, pipeline.models.embedder, force=True)
    assert "long" not in rebuilt.documents
    assert any(s.startswith("long.pdf: the PDF has 5 pages; the limit is 3") for s in rebuilt.manifest.skipped_files)
    with pytest.raises(UnreadableFile, match="limit is 3"):
        CorpusStore(limited, pipeline.models.embedder).add("long.pdf", report_pdf(pages=5))
    _, index = CorpusStore(limited, pipeline.models.embedder).add("short.pdf", report_pdf(pages=3))
    assert "short" in ensure_index(limited, pipeline.models.embedder, force=True).documents


def test_a_folder_with_clashing_ids_or_odd_lines_still_loads(tmp_path):
    (tmp_path / "a.txt").write_text("The first file about the Cedar ward.", encoding="utf-8")
    (tmp_path / "a.md").write_text("# A\nThe second file about the Cedar ward.", encoding="utf-8")
    (tmp_path / "c.jsonl").write_text(
        '{"id": "ok", "text": "A good line about the Cedar ward."}\n{"id": "bad", "date": 20240101, "text": "x y"}\n'
        '{"id": "a", "text": "A line whose id is a.txt\'s."}\n',
        encoding="utf-8",
    )
    corpus = load_corpus(tmp_path)
    assert sorted(d.id for d in corpus.documents) == ["a", "ok"]
    assert corpus.documents[0].source == "a.md"  # path order: a.md before a.txt
    reasons = "\n".join(corpus.skipped)
    assert "a.txt: document id 'a' is already a.md's" in reasons
    assert "c.jsonl:2: 'date' has the wrong type" in reasons
    assert "c.jsonl: document id 'a' is already a.md's" in reasons


def test_an_index_of_another_embedding_model_is_not_changed_in_place(folders, pipeline):
    store = CorpusStore(folders, pipeline.models.embedder)
    index = load_index(folders.index_dir)
    other = type("Other", (), {"name": "another-model", "embed": pipeline.models.embedder.embed})()
    with pytest.raises(IndexStaleError, match="another-model"):
        update_index(load_corpus(folders.corpus_dir), index, folders.index_dir, other)
    assert store.add("n.txt", b"The Oak clinic opened in March.")[0].status == "added"


def test_old_half_written_files_are_swept(folders, pipeline):
    import os
    import time

    stale = folders.corpus_dir / ".x.pdf.1234.partial"
    fresh = folders.corpus_dir / ".y.pdf.5678.partial"
    stale.write_bytes(b"%PDF")
    fresh.write_bytes(b"%PDF")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    CorpusStore(folders, pipeline.models.embedder).add("n.txt", b"The Oak clinic opened in March.")
    assert not stale.exists() and fresh.exists()  # a fresh one may be another writer's, mid-write
