"""Evaluate the service end to end on the hand-written questions about the seed article."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from eval.report import markdown_table, percentiles, plot_threshold_curve, write_json, write_markdown
from qa.metrics import score_prediction
from qa.pipeline import QAPipeline

log = logging.getLogger(__name__)
RECALL_KS = (1, 3, 5)


class EvalSetError(ValueError):
    pass


def load_eval_set(path: Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise EvalSetError(f"{path}: no such file")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{path}:{number}: invalid JSON ({exc.msg})") from exc
        for key in ("id", "question", "answers", "answerable"):
            if key not in row:
                raise EvalSetError(f"{path}:{number}: missing field '{key}'")
        rows.append(row)
    if not rows:
        raise EvalSetError(f"{path}: no questions")
    return rows


def evaluate_seed(pipeline: QAPipeline, eval_path: Path, out_dir: Path, top_k: int | None = None) -> dict[str, Any]:
    rows = load_eval_set(eval_path)
    per_question = []
    retrieval_k = max(max(RECALL_KS), top_k or pipeline.settings.top_k)
    for row in tqdm(rows, desc="seed eval", unit="q"):
        started = time.perf_counter()
        reading = pipeline.read(row["question"], top_k=top_k)
        answers = pipeline.decide(reading)
        latency_ms = 1000 * (time.perf_counter() - started)
        retrieved = pipeline.retriever.retrieve(row["question"], retrieval_k)
        evidence = row.get("evidence") or []
        top = answers[0] if answers else None
        # The best span whatever the threshold: what a lower threshold would have answered.
        best = reading.spans[0] if reading.spans else None
        best_f1 = score_prediction(best.text, row["answers"])[1] if best and row["answerable"] else 0.0
        scores = [score_prediction(a.text, row["answers"]) for a in answers] if row["answerable"] else []
        em, f1 = scores[0] if scores else (0.0, 0.0)
        # Citation right: the cited passage holds one of the question's evidence strings. Judged for every answer
        # that is right (F1 >= 0.5 against gold); an extra answer that is wrong is an answer error, counted apart.
        correct = [answer_f1 >= 0.5 for _, answer_f1 in scores]
        cited_all = [any(e in a.citation.passage for e in evidence) for a in answers] if row["answerable"] else []
        cited = [c for c, ok in zip(cited_all, correct) if ok]
        first_hit = next((rank for rank, r in enumerate(retrieved, 1) if any(e in r.passage.text for e in evidence)), None)
        per_question.append({
            "id": row["id"], "question": row["question"], "answerable": row["answerable"],
            "gold": row["answers"], "prediction": top.text if top else "", "score": top.score if top else None,
            "all_answers": [a.text for a in answers], "abstained": not answers,
            "best_span": best.text if best else "", "best_span_score": best.probability if best else 0.0, "best_span_f1": best_f1,
            "em": em, "f1": f1, "citations_correct": cited, "citations_all_answers": cited_all,
            "extra_wrong_answers": sum(not ok for ok in correct[1:]), "evidence_rank": first_hit,
            "latency_ms": latency_ms,
        })
    answerable = [q for q in per_question if q["answerable"]]
    unanswerable = [q for q in per_question if not q["answerable"]]
    answered = [q for q in answerable if not q["abstained"]]
    all_citations = [c for q in answerable for c in q["citations_correct"]]
    every_answer = [c for q in answerable for c in q["citations_all_answers"]]
    summary = {
        "eval_set": str(eval_path),
        "questions": len(per_question),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answerable_mean_em": sum(q["em"] for q in answerable) / max(1, len(answerable)),
        "answerable_mean_f1": sum(q["f1"] for q in answerable) / max(1, len(answerable)),
        "answerable_abstained": sum(q["abstained"] for q in answerable) / max(1, len(answerable)),
        "answerable_mean_f1_forced": sum(q["best_span_f1"] for q in answerable) / max(1, len(answerable)),
        "unanswerable_abstained": sum(q["abstained"] for q in unanswerable) / max(1, len(unanswerable)),
        "citation_accuracy": sum(all_citations) / len(all_citations) if all_citations else 1.0,
        "correct_answers_cited": len(all_citations),
        "evidence_in_passage_all_answers": sum(every_answer) / len(every_answer) if every_answer else 1.0,
        "extra_wrong_answers": sum(q["extra_wrong_answers"] for q in answerable),
        "answered_with_evidence_in_top_citation": sum(bool(q["citations_all_answers"][:1] and q["citations_all_answers"][0]) for q in answered) / max(1, len(answered)),
        "recall_at_k": {str(k): sum(1 for q in answerable if q["evidence_rank"] and q["evidence_rank"] <= k) / max(1, len(answerable)) for k in RECALL_KS},
        "latency_ms": percentiles([q["latency_ms"] for q in per_question]),
        "answer_threshold": pipeline.answer_threshold,
        "top_k": top_k or pipeline.settings.top_k,
    }
    report = {"summary": summary, "questions": per_question}
    out_dir = Path(out_dir)
    write_json(out_dir / "seed_eval.json", report)
    rows_md = [(k, v) for k, v in summary.items() if not isinstance(v, dict)]
    rows_md += [(f"recall@{k}", v) for k, v in summary["recall_at_k"].items()]
    rows_md += [(f"latency {k} (ms)", v) for k, v in summary["latency_ms"].items()]
    misses = [
        f"| {q['id']} | {q['question']} | {', '.join(q['gold']) or '(no answer)'} | {q['prediction'] or '(abstained)'} |"
        for q in per_question if (q["answerable"] and q["f1"] < 1.0) or (not q["answerable"] and not q["abstained"])
    ]
    grid = [i / 50 for i in range(51)]
    curve = [_at_threshold(per_question, t) for t in grid]
    plot_threshold_curve(out_dir / "seed_threshold.png", grid, [100 * f1 for f1, _ in curve], [a for _, a in curve],
                         pipeline.answer_threshold, "answer score threshold",
                         f1_label="answerable F1 (%)", abstain_label="unanswerable abstained (%)")
    write_markdown(out_dir / "seed_eval.md", "Seed-article evaluation", [
        ("Summary", markdown_table(rows_md)),
        ("Misses", "\n".join(["| id | question | gold | predicted |", "| --- | --- | --- | --- |", *misses]) if misses else "none"),
        ("Threshold", "![answerable F1 and unanswerable abstention vs threshold](seed_threshold.png)"),
    ])
    return report


def _at_threshold(per_question: list[dict[str, Any]], threshold: float) -> tuple[float, float]:
    """(answerable mean F1, share of unanswerable questions abstained) had the threshold been `threshold`."""
    answerable = [q for q in per_question if q["answerable"]]
    unanswerable = [q for q in per_question if not q["answerable"]]
    f1 = sum(q["best_span_f1"] for q in answerable if q["best_span_score"] >= threshold) / max(1, len(answerable))
    abstained = sum(q["best_span_score"] < threshold for q in unanswerable) / max(1, len(unanswerable))
    return f1, abstained
