"""Ingest, passages and the on-disk index, with real FAISS and BM25."""

import json

import pytest
from conftest import SEED_DOC_ID, SEEDS, run_qa

from qa.config import Settings
from qa.embedder import Embedder
from qa.index import (
    IndexCorruptError,
    IndexMissingError,
    build_index,
    current_build_dir,
    index_options,
    load_index,
    staleness,
)
from qa.ingest import CorpusError, load_corpus
from qa.passages import split_corpus


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


def test_seed_date_line_becomes_the_date_and_leaves_the_text():
    corpus = load_corpus(SEEDS)
    document = corpus.documents[0]
    assert document.id == SEED_DOC_ID and document.date == "2025-10-23"
    assert document.text.startswith("Luton’s “improving” maternity services")


def test_unreadable_files_are_skipped_with_a_warning_naming_them(tmp_path, caplog):
    (tmp_path / "good.txt").write_text("date 2024-01-02\nThe ward reopened in May.", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "empty.md").write_text("   \n", encoding="utf-8")
    (tmp_path / "articles.jsonl").write_text(
        json.dumps({"id": "j1", "title": "T", "date": "2024-02-03", "url": "http://x", "text": "Body text here."})
        + "\nnot json\n",
        encoding="utf-8",
    )
    corpus = load_corpus(tmp_path)
    assert sorted(d.id for d in corpus.documents) == ["good", "j1"]
    assert {d.id: d.date for d in corpus.documents} == {"good": "2024-01-02", "j1": "2024-02-03"}
    skipped = "\n".join(corpus.skipped)
    for name in ("binary.txt", "latin1.txt", "empty.md", "articles.jsonl:2"):
        assert name in skipped
    assert "binary.txt" in caplog.text


def test_empty_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="no readable article"):
        load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "missing")


def test_passages_keep_offsets_into_their_document():
    corpus = load_corpus(SEEDS)
    passages = split_corpus(corpus.documents, sentences=3, overlap=1)
    text = corpus.documents[0].text
    assert len(passages) > 5
    for p in passages:
        assert text[p.start : p.end] == p.text
    # Overlap: consecutive passages share text.
    assert passages[1].start < passages[0].end


def _options(manifest):
    settings = manifest.passage_settings
    return settings.sentences, settings.overlap, settings.max_chars, manifest.index_type


def test_build_then_load_round_trip(tmp_path, embedder):
    manifest = build_index(
        load_corpus(SEEDS), tmp_path, embedder, corpus_dir=SEEDS, progress=False, **index_options(Settings())
    )
    index = load_index(tmp_path)
    # Built with the service's passage settings.
    settings = Settings()
    assert (manifest.passage_settings.sentences, manifest.passage_settings.overlap) == (
        settings.passage_sentences,
        settings.passage_overlap,
    )
    every_passage = index.dense_search(embedder.embed(["maternity"]), 10**6)[0]
    assert index.manifest.passages == manifest.passages == len(index.passages) == len(every_passage)
    assert manifest.embedding_model == "all-MiniLM-L6-v2" and manifest.dimensions == 384
    assert staleness(manifest, manifest.corpus_fingerprint, "all-MiniLM-L6-v2", *_options(manifest)) == []
    assert staleness(manifest, "other", "all-MiniLM-L6-v2", *_options(manifest)) == [
        "the corpus changed since the index was built"
    ]
    older = manifest.model_copy(update={"format_version": manifest.format_version - 1})
    assert staleness(older, manifest.corpus_fingerprint, "all-MiniLM-L6-v2", *_options(manifest)) == [
        f"index format {manifest.format_version - 1}, this code builds format {manifest.format_version}"
    ]


def test_failed_build_keeps_the_previous_index(tmp_path, embedder):
    build_index(load_corpus(SEEDS), tmp_path, embedder, corpus_dir=SEEDS, progress=False, **index_options(Settings()))
    before = current_build_dir(tmp_path)

    class ExplodingEmbedder(Embedder):
        def embed(self, texts, progress=False):
            raise KeyboardInterrupt("simulated crash mid-build")

    with pytest.raises(KeyboardInterrupt):
        build_index(
            load_corpus(SEEDS),
            tmp_path,
            ExplodingEmbedder(),
            corpus_dir=SEEDS,
            progress=False,
            **index_options(Settings()),
        )
    assert current_build_dir(tmp_path) == before
    assert [p.name for p in (tmp_path / "builds").iterdir()] == [before.name]  # no half-written build left
    assert load_index(tmp_path).manifest.passages > 0


def test_one_build_at_a_time_per_index_folder(tmp_path, embedder, pipeline):
    """A second build while one is running (here: the lock held as another process would hold it) is refused with
    a clear error, the index in use stays, and a server's reindex answers "already running" (409)."""

    from api.live_pipeline import LivePipeline
    from qa.index import IndexBuildBusy, build_lock, build_running, ensure_index

    options = index_options(Settings())
    build_index(load_corpus(SEEDS), tmp_path, embedder, corpus_dir=SEEDS, progress=False, **options)
    before = current_build_dir(tmp_path)
    settings = Settings(corpus_dir=SEEDS, index_dir=tmp_path)
    live = LivePipeline(settings, lambda: pipeline)
    live.load()
    assert not build_running(tmp_path)
    with build_lock(tmp_path, wait=False):
        assert build_running(tmp_path)
        with pytest.raises(IndexBuildBusy, match=f"another process is building or changing the index in {tmp_path}"):
            build_index(load_corpus(SEEDS), tmp_path, embedder, corpus_dir=SEEDS, progress=False, **options)
        with pytest.raises(IndexBuildBusy):
            ensure_index(settings, embedder, force=True)
        assert live.reindex_in_background() is False
        cli = run_qa("index", "--corpus-dir", str(SEEDS), "--index-dir", str(tmp_path))
        assert cli.returncode == 2 and "qa: error: another process is building or changing the index" in cli.stderr
        assert "Traceback" not in cli.stderr
    assert current_build_dir(tmp_path) == before and load_index(tmp_path).manifest.passages > 0
    assert not build_running(tmp_path)
    ensure_index(settings, embedder, force=True)  # free again: the build goes ahead
    assert current_build_dir(tmp_path) != before


def test_corrupt_or_missing_index_gives_a_clear_error(tmp_path, embedder):
    with pytest.raises(IndexMissingError, match="qa index"):
        load_index(tmp_path)
    build_index(load_corpus(SEEDS), tmp_path, embedder, corpus_dir=SEEDS, progress=False, **index_options(Settings()))
    faiss_file = current_build_dir(tmp_path) / "dense.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match="dense.faiss is corrupt"):
        load_index(tmp_path)


def test_hybrid_retrieval_finds_the_cqc_passage(pipeline):
    retrieved = pipeline.retriever.retrieve("When was the CQC visit?", 3)
    assert any("November 2023" in r.passage.text for r in retrieved)


def test_bm25_matches_word_forms_and_titles():
    from qa.documents import Document, Passage
    from qa.index import bm25_text, bm25_tokenize

    # Stemming: "visits" and "visited" meet "visit"; stop words do not count.
    question, passage = bm25_tokenize(["Who visited the unit?", "The CQC visits were unannounced."]).ids
    assert set(question) & set(passage)
    document = Document(id="d", title="Luton maternity unit", text="It opened in March.")
    assert bm25_text(Passage(id=0, doc_id="d", start=0, end=19, text=document.text), document).startswith("Luton")
