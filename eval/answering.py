"""End-to-end scoring shared by the seed and news evaluations: ask the pipeline each question (`eval.asking`), score
what it answered (and what it would have answered at any threshold), and summarise. The same outcomes also go
through the run scorer (`eval.scoring`), so these sets get the run folder every `qa eval run` gets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from eval.asking import LocalAsker, Outcome
from eval.question_set import EvalQuestion
from eval.report import percentiles, plot_threshold_curve
from qa.metrics import best_threshold, score_prediction, score_question
from qa.pipeline import QAPipeline

RECALL_KS = (1, 3, 5)


@dataclass
class AnsweredSet:
    """A set answered by the pipeline: the questions as the run scorer reads them, the outcomes, and the seed and
    news evaluations' own per-question records (their figures: `summarise`)."""

    questions: list[EvalQuestion]
    outcomes: list[Outcome]
    records: list[dict[str, Any]]


def as_eval_question(row: dict[str, Any], tags: Sequence[str] = ()) -> EvalQuestion:
    return EvalQuestion(
        id=row["id"],
        question=row["question"],
        answers=row["answers"],
        doc_id=row.get("doc_id"),
        evidence=row.get("evidence") or [],
        tags=list(tags),
    )


def answer_set(
    pipeline: QAPipeline,
    rows: Iterable[dict[str, Any]],
    passages_read: int | None = None,
    desc: str = "questions",
    tags: Sequence[str] = (),
) -> AnsweredSet:
    """Ask every row (`id`, `question`, `answers`, `evidence`, `answerable`, optional `doc_id`: the article the
    question is about) as the service would answer it, keeping the best span whatever the threshold too, for
    threshold curves and forced-answer figures."""
    rows = list(rows)
    questions = [as_eval_question(row, tags) for row in rows]
    outcomes = LocalAsker(pipeline, passages_read).ask_all(questions, desc)
    retrieval_k = max(max(RECALL_KS), passages_read or pipeline.settings.passages_read)
    records = [_record(pipeline, row, outcome, retrieval_k) for row, outcome in zip(rows, outcomes)]
    return AnsweredSet(questions, outcomes, records)


def answer_questions(
    pipeline: QAPipeline, rows: Iterable[dict[str, Any]], passages_read: int | None = None, desc: str = "questions"
) -> list[dict[str, Any]]:
    """The per-question records of `answer_set`."""
    return answer_set(pipeline, rows, passages_read, desc).records


def _record(pipeline: QAPipeline, row: dict[str, Any], outcome: Outcome, retrieval_k: int) -> dict[str, Any]:
    answers = outcome.response.answers
    # Deeper than the passages read: recall@5 of the evidence passage even when 4 are read.
    retrieved = pipeline.retriever.retrieve(row["question"], retrieval_k)
    evidence = row.get("evidence") or []
    gold_doc = row.get("doc_id")
    best = outcome.forced
    best_f1 = score_prediction(best.text, row["answers"])[1] if best and row["answerable"] else 0.0
    scores = [score_prediction(a.text, row["answers"]) for a in answers] if row["answerable"] else []
    em, f1 = scores[0] if scores else (0.0, 0.0)
    # Citation right: the cited passage holds one of the question's evidence strings. Judged for every answer
    # that is right (F1 >= 0.5 against gold); an extra answer that is wrong is an answer error, counted apart.
    correct = [answer_f1 >= 0.5 for _, answer_f1 in scores]
    cited_all = [any(e in a.citation.passage for e in evidence) for a in answers] if row["answerable"] else []
    first_hit = next((rank for rank, r in enumerate(retrieved, 1) if any(e in r.passage.text for e in evidence)), None)
    article_hit = next((rank for rank, r in enumerate(retrieved, 1) if r.passage.doc_id == gold_doc), None)
    return {
        "id": row["id"],
        "question": row["question"],
        "answerable": row["answerable"],
        "gold": row["answers"],
        "gold_doc": gold_doc,
        "prediction": answers[0].text if answers else "",
        "score": answers[0].score if answers else None,
        "predicted_doc": answers[0].citation.doc_id if answers else None,
        "all_answers": [a.text for a in answers],
        "abstained": not answers,
        "best_span": best.text if best else "",
        "best_span_score": best.score if best else 0.0,
        "best_span_f1": best_f1,
        "em": em,
        "f1": f1,
        "citations_correct": [c for c, ok in zip(cited_all, correct) if ok],
        "citations_all_answers": cited_all,
        "extra_wrong_answers": sum(not ok for ok in correct[1:]),
        "evidence_rank": first_hit,
        "article_rank": article_hit,
        "latency_ms": outcome.latency_ms,
    }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summarise(per_question: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """The seed report's figures, plus right-article citation and the SQuAD-style overall F1 (an unanswerable
    question scores 1 when abstained), and the best threshold on these questions (reported, never chosen here)."""
    answerable = [q for q in per_question if q["answerable"]]
    unanswerable = [q for q in per_question if not q["answerable"]]
    answered = [q for q in answerable if not q["abstained"]]
    all_citations = [c for q in answerable for c in q["citations_correct"]]
    every_answer = [c for q in answerable for c in q["citations_all_answers"]]
    with_doc = [q for q in answered if q["gold_doc"]]
    overall = [q["f1"] if q["answerable"] else float(q["abstained"]) for q in per_question]
    as_scored = [
        score_question(q["id"], q["best_span"], -q["best_span_score"], q["gold"] if q["answerable"] else [])
        for q in per_question
    ]
    best_t, best_f1 = best_threshold(as_scored)
    return {
        "questions": len(per_question),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answerable_mean_em": _mean([q["em"] for q in answerable]),
        "answerable_mean_f1": _mean([q["f1"] for q in answerable]),
        "answerable_abstained": _mean([float(q["abstained"]) for q in answerable]),
        "answerable_mean_f1_forced": _mean([q["best_span_f1"] for q in answerable]),
        "unanswerable_abstained": _mean([float(q["abstained"]) for q in unanswerable]),
        "overall_f1": _mean(overall),
        "citation_accuracy": _mean(all_citations) if all_citations else 1.0,
        "correct_answers_cited": len(all_citations),
        "evidence_in_passage_all_answers": _mean(every_answer) if every_answer else 1.0,
        "right_article_cited": _mean([float(q["predicted_doc"] == q["gold_doc"]) for q in with_doc])
        if with_doc
        else 1.0,
        "extra_wrong_answers": sum(q["extra_wrong_answers"] for q in answerable),
        "answered_with_evidence_in_top_citation": _mean(
            [float(bool(q["citations_all_answers"][:1] and q["citations_all_answers"][0])) for q in answered]
        ),
        "recall_at_k": {
            str(k): _mean([float(bool(q["evidence_rank"] and q["evidence_rank"] <= k)) for q in answerable])
            for k in RECALL_KS
        },
        "article_recall_at_k": {
            str(k): _mean(
                [float(bool(q["article_rank"] and q["article_rank"] <= k)) for q in answerable if q["gold_doc"]]
            )
            for k in RECALL_KS
        },
        "latency_ms": percentiles([q["latency_ms"] for q in per_question]),
        "answer_threshold": threshold,
        "best_threshold_here": min(1.0, max(0.0, -best_t)),
        "overall_f1_at_best_threshold_here": best_f1 / 100,
    }


def at_threshold(per_question: list[dict[str, Any]], threshold: float) -> tuple[float, float, float]:
    """(answerable mean F1, share of unanswerable questions abstained, overall F1) had the threshold been
    `threshold` (first answer only)."""
    answerable = [q for q in per_question if q["answerable"]]
    unanswerable = [q for q in per_question if not q["answerable"]]
    f1 = sum(q["best_span_f1"] for q in answerable if q["best_span_score"] >= threshold) / max(1, len(answerable))
    abstained = sum(q["best_span_score"] < threshold for q in unanswerable) / max(1, len(unanswerable))
    overall = (f1 * len(answerable) + abstained * len(unanswerable)) / max(1, len(per_question))
    return f1, abstained, overall


def plot_answer_threshold(path: Path, per_question: list[dict[str, Any]], threshold: float) -> Path:
    """Answerable F1 and unanswerable abstention against the answer threshold, with the one in use marked."""
    grid = [i / 50 for i in range(51)]
    curve = [at_threshold(per_question, t) for t in grid]
    return plot_threshold_curve(
        path,
        grid,
        [100 * c[0] for c in curve],
        [c[1] for c in curve],
        threshold,
        "answer score threshold",
        f1_label="answerable F1 (%)",
        abstain_label="unanswerable abstained (%)",
    )


def misses_table(per_question: list[dict[str, Any]]) -> str:
    misses = [
        f"| {q['id']} | {q['question']} | {', '.join(q['gold']) or '(no answer)'} "
        f"| {q['prediction'] or '(abstained)'} |"
        for q in per_question
        if (q["answerable"] and q["f1"] < 1.0) or (not q["answerable"] and not q["abstained"])
    ]
    return (
        "\n".join(["| id | question | gold | predicted |", "| --- | --- | --- | --- |", *misses]) if misses else "none"
    )


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    rows = [(k, v) for k, v in summary.items() if not isinstance(v, (dict, list))]
    rows += [(f"recall@{k} (evidence passage)", v) for k, v in summary["recall_at_k"].items()]
    rows += [(f"recall@{k} (article)", v) for k, v in summary.get("article_recall_at_k", {}).items()]
    rows += [(f"latency {k} (ms)", v) for k, v in summary["latency_ms"].items()]
    return rows
