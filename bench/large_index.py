"""A large index, measured: every SQuAD paragraph we have (dev and train) as one corpus.

`qa bench index` builds it with the service's own build (one process), then reports what an operator sizing a
deployment needs: build time, size on disk, peak memory, and, for exact (flat), HNSW and IVF-PQ FAISS indexes over
the same vectors, the memory per passage, the query time and recall@5 of SQuAD 2.0 dev questions' gold paragraph
(against the small-corpus figure of `qa eval squad`).
"""

from __future__ import annotations

import logging
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.report import percentiles, write_json
from eval.squad_data import load_examples
from eval.squad_open import squad_corpus
from qa.config import Settings
from qa.documents import Document
from qa.embedder import Embedder
from qa.index import CorpusIndex, build_embedder, build_index, current_build_dir, index_options, load_index
from qa.ingest import Corpus
from qa.retriever import HybridRetriever

log = logging.getLogger(__name__)


def union_corpus(files: list[Path]) -> tuple[Corpus, dict[str, str]]:
    """Every paragraph of `files` once (the first file's copy of a paragraph wins: dev v1.1 and v2.0 share
    articles), and question id -> document id for the questions of the first file."""
    documents: list[Document] = []
    seen: dict[str, str] = {}
    questions: dict[str, str] = {}
    fingerprints = []
    for number, path in enumerate(files):
        corpus, question_doc = squad_corpus(path)
        fingerprints.append(corpus.fingerprint)
        renamed: dict[str, str] = {}
        for document in corpus.documents:
            if document.text in seen:
                renamed[document.id] = seen[document.text]
                continue
            doc_id = f"f{number}-{document.id}"
            seen[document.text] = doc_id
            renamed[document.id] = doc_id
            documents.append(document.model_copy(update={"id": doc_id}))
        if number == 0:
            questions = {qid: renamed[doc] for qid, doc in question_doc.items()}
    return Corpus(documents=documents, fingerprint="+".join(fingerprints)), questions


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _faiss_bytes(index: Any) -> int:
    import faiss

    return int(faiss.serialize_index(index).size)


def _measure(
    index: CorpusIndex, embedder: Embedder, settings: Settings, questions: list[tuple[str, str]], dense: Any, label: str
) -> dict[str, Any]:
    """Recall@5 of the gold paragraph and per-question times with `dense` as the index's FAISS part."""
    probe = CorpusIndex(index.path, index.manifest, index.documents, index.passages, dense, index._bm25)
    retriever = HybridRetriever(probe, embedder, settings.candidates_per_retriever, settings.rrf_k)
    retrieve_ms, dense_ms, hits = [], [], 0
    for question, gold in questions:
        started = time.perf_counter()
        found = retriever.retrieve(question, 5)
        retrieve_ms.append(1000 * (time.perf_counter() - started))
        vector = embedder.embed([question])
        started = time.perf_counter()
        probe.dense_search(vector, settings.candidates_per_retriever)
        dense_ms.append(1000 * (time.perf_counter() - started))
        hits += any(hit.passage.doc_id == gold for hit in found)
    bytes_ = _faiss_bytes(dense)
    return {
        "index": label,
        "faiss_bytes": bytes_,
        "bytes_per_passage": bytes_ / len(index.passages),
        "gib_per_million_passages": bytes_ / len(index.passages) * 1e6 / 2**30,
        "recall_at_5": hits / max(1, len(questions)),
        "faiss_search_ms": percentiles(dense_ms),
        "hybrid_retrieve_ms": percentiles(retrieve_ms),
    }


def bench_large_index(
    files: list[Path],
    index_dir: Path,
    out: Path,
    settings: Settings,
    questions: int = 500,
    max_documents: int | None = None,
) -> dict[str, Any]:
    """Build (in this process, or on QA_INDEX_WORKERS Ray Data workers), size and search the union corpus of
    `files`, or its first `max_documents` paragraphs (recall is then over the questions whose paragraph is in)."""
    import faiss

    started = time.perf_counter()
    corpus, question_doc = union_corpus(files)
    if max_documents is not None:
        corpus = Corpus(
            documents=corpus.documents[:max_documents], fingerprint=f"{corpus.fingerprint}[:{max_documents}]"
        )
        kept = {d.id for d in corpus.documents}
        question_doc = {qid: doc for qid, doc in question_doc.items() if doc in kept}
    load_s = time.perf_counter() - started
    embedder = Embedder.from_settings(settings)
    rss_before = _peak_rss_mib()
    started = time.perf_counter()
    manifest = build_index(
        corpus,
        index_dir,
        build_embedder(settings, embedder),
        corpus_dir="+".join(map(str, files)),
        **{**index_options(settings), "index_type": "flat"},
    )
    build_s = time.perf_counter() - started
    build_dir = current_build_dir(index_dir)
    assert build_dir is not None
    sizes = {p.name: p.stat().st_size for p in build_dir.iterdir() if p.is_file()}
    bm25_bytes = sum(p.stat().st_size for p in (build_dir / "bm25").rglob("*") if p.is_file())
    index = load_index(index_dir)

    dev = [e for e in load_examples(files[0]) if not e.is_impossible and e.qid in question_doc]
    step = max(1, len(dev) // questions)
    sample = [(e.question, question_doc[e.qid]) for e in dev[::step][:questions]]
    flat = index._dense
    vectors = flat.reconstruct_n(0, flat.ntotal)
    results = [_measure(index, embedder, settings, sample, flat, "flat (exact inner product)")]

    t0 = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efSearch = 128
    hnsw.add(vectors)
    results.append(
        {
            **_measure(index, embedder, settings, sample, hnsw, "HNSW (M 32, efSearch 128)"),
            "build_s": time.perf_counter() - t0,
        }
    )

    t0 = time.perf_counter()
    lists = int(max(16, min(1024, 4 * np.sqrt(len(vectors)))))
    ivfpq = faiss.index_factory(vectors.shape[1], f"IVF{lists},PQ48", faiss.METRIC_INNER_PRODUCT)
    ivfpq.train(vectors)
    ivfpq.add(vectors)
    faiss.ParameterSpace().set_index_parameter(ivfpq, "nprobe", 16)
    results.append(
        {
            **_measure(index, embedder, settings, sample, ivfpq, f"IVF{lists},PQ48 (nprobe 16)"),
            "build_s": time.perf_counter() - t0,
        }
    )

    report = {
        "files": [str(f) for f in files],
        "documents": manifest.documents,
        "passages": manifest.passages,
        "corpus_load_s": round(load_s, 1),
        "build_s": round(build_s, 1),
        "passages_per_s": manifest.passages / build_s,
        "index_workers": settings.index_workers or "this process",
        # This process only: Ray Data workers' memory is their own (each holds one embedding model).
        "build_peak_rss_mib": round(max(_peak_rss_mib(), rss_before), 1),
        "files_bytes": {**sizes, "bm25/": bm25_bytes},
        "questions": len(sample),
        "dense_indexes": results,
    }
    write_json(out / "large_index.json", report)
    return report
