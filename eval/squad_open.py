"""Open-corpus SQuAD benchmark: every SQuAD paragraph becomes a document, the questions are asked against the
whole corpus through the normal pipeline (the gold paragraph is not given), and the same questions are also
read with the gold paragraph (the reader-only ceiling) so the cost of retrieval is visible.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from eval.reader_scoring import score_reader
from eval.report import (
    markdown_table,
    percentiles,
    plot_latency,
    plot_recall_at_k,
    plot_threshold_curve,
    write_json,
    write_markdown,
)
from eval.squad_data import ArticleSplit, DatasetError, QAExample, iter_articles, load_examples
from qa.config import Settings
from qa.documents import Document
from qa.index import IndexProblem, ensure_index, stale_reasons
from qa.ingest import Corpus
from qa.metrics import ScoredQuestion, evaluate_scored, score_question, squad_metrics
from qa.pipeline import Models, QAPipeline

log = logging.getLogger(__name__)
RECALL_KS = (1, 2, 3, 5, 10, 20)
LATENCY_SAMPLE = 200
CHUNK = 64


def squad_corpus(path: Path) -> tuple[Corpus, dict[str, str]]:
    """Each paragraph as a Document (id `a<article>-p<paragraph>`); also maps question id -> document id."""
    documents, question_doc = [], {}
    digest = hashlib.sha256(Path(path).read_bytes())
    for a_index, article in enumerate(iter_articles(path)):
        title = str(article.get("title", "")).replace("_", " ")
        for p_index, paragraph in enumerate(article["paragraphs"]):
            if not isinstance(paragraph.get("context"), str):
                raise DatasetError(f"{path}: article #{a_index} paragraph #{p_index} has no 'context' string")
            doc_id = f"a{a_index:03d}-p{p_index:03d}"
            documents.append(Document(id=doc_id, title=title, text=paragraph["context"], source=Path(path).name))
            for qa in paragraph.get("qas", []):
                question_doc[str(qa.get("id"))] = doc_id
    if not documents:
        raise DatasetError(f"{path}: no paragraphs")
    return Corpus(documents=documents, fingerprint=digest.hexdigest()), question_doc


def _version(path: Path, requested: str | None, examples: list[QAExample]) -> str:
    if requested:
        return requested
    return "2.0" if "v2" in Path(path).name or any(e.is_impossible for e in examples) else "1.1"


def _fixed_slice(examples: list[QAExample], limit: int | None) -> list[QAExample]:
    if not limit or limit >= len(examples):
        return examples
    step = len(examples) / limit
    return [examples[int(i * step)] for i in range(limit)]


def evaluate_squad_open(
    file: Path,
    out_dir: Path,
    version: str | None = None,
    limit: int | None = None,
    all_articles: bool = False,
    squad_dir: Path | None = None,
    index_dir: Path | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    file, out_dir = Path(file), Path(out_dir)
    settings = settings or Settings()
    corpus, question_doc = squad_corpus(file)
    split_source = Path(squad_dir) if squad_dir else file.parent
    held_out = ArticleSplit.from_squad2_dev(split_source).test_titles
    examples = load_examples(file) if all_articles else load_examples(file, titles=set(held_out))
    if not examples:
        raise DatasetError(f"{file}: none of the held-out articles is in this file; use --all-articles")
    version = _version(file, version, examples)
    examples = _fixed_slice(examples, limit)

    # Index: the normal build, in a folder of its own, rebuilt only when the file or settings changed.
    settings = settings.model_copy(
        update={
            "index_dir": Path(index_dir) if index_dir else out_dir / "index",
            "corpus_dir": file,
            "auto_build": True,
        }
    )
    models = Models.load(settings)
    build_started = time.perf_counter()
    try:
        reused = not stale_reasons(settings.index_dir, corpus, models.embedder, settings)
    except IndexProblem:  # a damaged eval index is rebuilt, not reported: it is this command's own output
        reused = False
    index = ensure_index(settings, models.embedder, force=not reused, corpus=corpus)
    build_seconds = time.perf_counter() - build_started
    # The service's own pipeline and retriever: recall@k is the recall the answering pipeline actually gets.
    pipeline = QAPipeline(index, models, settings)
    retriever, reader = pipeline.retriever, pipeline.reader

    # Open corpus, batched: retrieval ranks and the best span per question.
    open_scored: list[ScoredQuestion] = []
    ranks: list[int | None] = []
    cited_right: list[bool] = []
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=len(examples), desc="open-corpus questions", unit="q")
    for i in range(0, len(examples), CHUNK):
        chunk = examples[i : i + CHUNK]
        questions = [e.question for e in chunk]
        # One retrieval per question: its ranking gives recall@k, its first passages_read passages are read.
        deep = retriever.retrieve_many(questions, max(RECALL_KS) * 3)
        readings = pipeline.read_many(questions, retrieved=deep)
        for example, hits, reading in zip(chunk, deep, readings):
            gold_doc = question_doc[example.qid]
            doc_order = list(dict.fromkeys(h.passage.doc_id for h in hits))
            rank = doc_order.index(gold_doc) + 1 if gold_doc in doc_order else None
            # The best span as the answer decision ranks it (the service's decision, not the reader's alone).
            ranked = pipeline.score(reading)
            best = ranked[0] if ranked else None
            probability = best.score if best else 0.0
            # no_answer_score: higher = abstain more; the pipeline answers when probability >= threshold.
            scored = score_question(example.qid, best.text if best else "", -probability, example.answer_texts)
            open_scored.append(scored)
            ranks.append(rank)
            if best and not example.is_impossible:
                cited_right.append(best.doc_id == gold_doc)
            rows.append(
                {
                    "id": example.qid,
                    "question": example.question,
                    "gold_doc": gold_doc,
                    "gold_rank": rank,
                    "prediction": best.text if best else "",
                    "score": probability,
                    "gold": example.answer_texts,
                }
            )
        bar.update(len(chunk))
    bar.close()

    # Reader-only ceiling on the same questions.
    ceiling_scored = score_reader(reader, examples, progress=True)

    # Latency of single questions through the full pipeline, as a client would see it.
    sample = _fixed_slice(examples, min(LATENCY_SAMPLE, len(examples)))
    latencies = []
    for example in tqdm(sample, desc="latency", unit="q"):
        t0 = time.perf_counter()
        pipeline.ask(example.question)
        latencies.append(1000 * (time.perf_counter() - t0))

    threshold = -pipeline.answer_threshold  # in no_answer_score units (negated probability)
    open_figures = evaluate_scored(open_scored, threshold)
    ceiling_figures = evaluate_scored(ceiling_scored, reader.settings.no_answer_threshold)
    answerable_ranks = [r for r, e in zip(ranks, examples) if not e.is_impossible]
    recall = {k: sum(1 for r in answerable_ranks if r and r <= k) / max(1, len(answerable_ranks)) for k in RECALL_KS}
    mrr = sum(1.0 / r for r in answerable_ranks if r) / max(1, len(answerable_ranks))
    summary = {
        "file": str(file),
        "version": version,
        "scored_articles": "all" if all_articles else "held-out test articles",
        "articles": sorted({e.title for e in examples}),
        "questions": len(examples),
        "answerable": sum(not e.is_impossible for e in examples),
        "corpus_documents": len(corpus.documents),
        "corpus_passages": len(index.passages),
        "index_build_seconds": round(build_seconds, 1),
        "index_reused": reused,
        "answer_threshold": pipeline.answer_threshold,
        "open_corpus": open_figures,
        "gold_paragraph_ceiling": ceiling_figures,
        "f1_gap_to_ceiling": ceiling_figures["at_threshold"]["f1"] - open_figures["at_threshold"]["f1"],
        "retrieval": {"recall_at_k": {str(k): v for k, v in recall.items()}, "mrr": mrr},
        "citation_accuracy": sum(cited_right) / len(cited_right) if cited_right else None,
        "latency_ms": percentiles(latencies),
        "latency_sample": len(latencies),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    write_json(out_dir / "squad_eval.json", {"summary": summary, "questions": rows})
    grid = list(np.linspace(0.0, 1.0, 51))
    curve = [squad_metrics(open_scored, -t) for t in grid]
    plot_threshold_curve(
        out_dir / "squad_threshold.png",
        grid,
        [c["f1"] for c in curve],
        [c["abstain_rate"] for c in curve],
        pipeline.answer_threshold,
        "answer score threshold",
    )
    plot_recall_at_k(out_dir / "squad_recall_at_k.png", recall)
    plot_latency(out_dir / "squad_latency.png", latencies)
    o, c = open_figures, ceiling_figures
    table = [
        ("questions (answerable)", f"{summary['questions']} ({summary['answerable']})"),
        (
            "F1 at threshold: open corpus / gold paragraph",
            f"{o['at_threshold']['f1']:.1f} / {c['at_threshold']['f1']:.1f}",
        ),
        ("EM at threshold: open / gold", f"{o['at_threshold']['exact']:.1f} / {c['at_threshold']['exact']:.1f}"),
        (
            "HasAns F1 at threshold: open / gold",
            f"{o['at_threshold'].get('HasAns_f1', float('nan')):.1f} / "
            f"{c['at_threshold'].get('HasAns_f1', float('nan')):.1f}",
        ),
        (
            "NoAns accuracy at threshold: open / gold",
            f"{o['at_threshold'].get('NoAns_f1', float('nan')):.1f} / "
            f"{c['at_threshold'].get('NoAns_f1', float('nan')):.1f}",
        ),
        ("best-threshold F1: open / gold", f"{o['best_f1']:.1f} / {c['best_f1']:.1f}"),
        (
            "HasAns F1 forced to answer: open / gold",
            f"{o['forced_answer_has_ans']['f1']:.1f} / {c['forced_answer_has_ans']['f1']:.1f}",
        ),
        *[(f"recall@{k}", f"{v:.3f}") for k, v in recall.items()],
        ("MRR", f"{mrr:.3f}"),
        ("citation accuracy (answered, answerable)", summary["citation_accuracy"]),
        ("latency p50 / p95 / p99 (ms)", "{p50:.0f} / {p95:.0f} / {p99:.0f}".format(**summary["latency_ms"])),
        ("index build (s)", summary["index_build_seconds"]),
        ("total run (s)", summary["total_seconds"]),
    ]
    write_markdown(
        out_dir / "squad_eval.md",
        f"Open-corpus SQuAD {version} ({summary['scored_articles']})",
        [
            ("Figures", markdown_table(table)),
            (
                "Plots",
                "![F1 and abstention vs threshold](squad_threshold.png)\n![recall@k](squad_recall_at_k.png)\n"
                "![latency](squad_latency.png)",
            ),
        ],
    )
    return {"summary": summary}
