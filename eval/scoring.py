"""The scorer of a run: questions and the service's outcomes in, per-question results and the summary out.

The summary carries the official SQuAD 2.0 script's keys and scale (`qa.metrics.squad_v2_evaluate`, 0-100) over
`predictions` (the first answer's text, "" when the service abstains) and `na_probs`, so the official script
re-scores a run from its files; then seeded bootstrap intervals, retrieval (when questions name their document),
citation accuracy (when they give evidence), latency, and slices by question type and by tag.

na_prob is 1 - the highest score among the answers returned, 1.0 when the service abstains: `/ask` does not return
the best span's score when it abstains, so local runs use the same definition and both kinds of run score alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from pydantic import BaseModel, Field

from eval.asking import Outcome
from eval.question_set import EvalQuestion
from eval.report import percentiles
from eval.stats import LEVEL, RESAMPLES, SEED, bootstrap_ci
from qa.metrics import score_prediction, squad_v2_evaluate, squad_v2_raw_scores

QUESTION_TYPES = ("when", "who", "how many", "how much", "what", "where", "why", "other")
# The question's first wh-phrase decides its type; "in what year ..." asks when, "what" alone asks what.
_TYPE_PHRASE = re.compile(
    r"\b(how many|how much|(?:what|which) (?:date|year|month|day|time|century|decade)s?|when|whom|whose|who|where|why"
    r"|what|which)\b"
)
RECALL_KS = (1, 3, 5, 10)
NA_PROB_DEFINITION = "1 - the highest score among the answers returned; 1.0 when the service abstains"


def question_type(question: str) -> str:
    found = _TYPE_PHRASE.search(question.lower())
    if not found:
        return "other"
    phrase = found.group(1)
    if phrase in ("who", "whom", "whose"):
        return "who"
    if phrase in ("what", "which"):
        return "what"
    if phrase.startswith(("what ", "which ")):
        return "when"
    return phrase


class QuestionResult(BaseModel):
    """One line of per_question.jsonl."""

    id: str
    question: str
    tags: list[str] = Field(default_factory=list)
    question_type: str
    answerable: bool
    gold: list[str]
    prediction: str = Field(description="the first answer's text; empty when the service abstained")
    score: float | None = Field(None, description="the first answer's score")
    na_prob: float
    exact: float = Field(description="0 or 1, the official script's rules")
    f1: float = Field(description="0..1")
    answers: list[str] = Field(default_factory=list, description="every answer returned")
    cited_doc_id: str | None = None
    doc_id: str | None = Field(None, description="the document the set says answers the question")
    doc_rank: int | None = Field(None, description="1-based rank of its first passage among those read")
    citation_correct: bool | None = Field(
        None, description="a right first answer (F1 >= 0.5) whose cited passage holds an evidence string"
    )
    forced_text: str | None = Field(None, description="local runs: the best span whatever the threshold")
    forced_score: float | None = None
    forced_f1: float | None = None
    latency_ms: float
    retries: int = 0


@dataclass
class RunScores:
    summary: dict[str, Any]
    results: list[QuestionResult]
    predictions: dict[str, str]
    na_probs: dict[str, float]
    questions: list[EvalQuestion]


def _na_prob(outcome: Outcome) -> float:
    answers = outcome.response.answers
    return round(1.0 - max(a.score for a in answers), 4) if answers else 1.0


def _result(question: EvalQuestion, outcome: Outcome, exact: float, f1: float) -> QuestionResult:
    answers = outcome.response.answers
    top = answers[0] if answers else None
    doc_rank = None
    if question.doc_id:
        doc_rank = next(
            (rank for rank, p in enumerate(outcome.response.passages, 1) if p.doc_id == question.doc_id), None
        )
    citation_correct = None
    if question.evidence and question.answerable and top is not None and f1 >= 0.5:
        citation_correct = any(e in top.citation.passage for e in question.evidence)
    forced = outcome.forced
    return QuestionResult(
        id=question.id,
        question=question.question,
        tags=question.tags,
        question_type=question_type(question.question),
        answerable=question.answerable,
        gold=question.answers,
        prediction=top.text if top else "",
        score=top.score if top else None,
        na_prob=_na_prob(outcome),
        exact=exact,
        f1=f1,
        answers=[a.text for a in answers],
        cited_doc_id=top.citation.doc_id if top else None,
        doc_id=question.doc_id,
        doc_rank=doc_rank,
        citation_correct=citation_correct,
        forced_text=forced.text if forced else None,
        forced_score=forced.score if forced else None,
        forced_f1=score_prediction(forced.text, question.answers)[1] if forced else None,
        latency_ms=outcome.latency_ms,
        retries=outcome.retries,
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _slices(results: list[QuestionResult], key) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[QuestionResult]] = {}
    for r in results:
        for name in key(r):
            groups.setdefault(name, []).append(r)
    return {
        name: squad_v2_evaluate({r.id: r.gold for r in group}, {r.id: r.prediction for r in group})
        for name, group in sorted(groups.items())
    }


def _retrieval(results: list[QuestionResult], depth: int) -> dict[str, Any] | None:
    """Where the document a question names came among the passages read (answerable questions naming one)."""
    named = [r for r in results if r.answerable and r.doc_id]
    if not named:
        return None
    ks = sorted({k for k in RECALL_KS if k <= depth} | ({depth} if depth else set()))
    answered = [r for r in named if r.prediction]
    return {
        "questions": len(named),
        "passages_read": depth,
        "doc_recall_at_k": {
            str(k): _mean([float(r.doc_rank is not None and r.doc_rank <= k) for r in named]) for k in ks
        },
        "doc_mrr": _mean([1.0 / r.doc_rank if r.doc_rank else 0.0 for r in named]),
        "right_doc_cited": _mean([float(r.cited_doc_id == r.doc_id) for r in answered]) if answered else None,
    }


def score_run(questions: Sequence[EvalQuestion], outcomes: Sequence[Outcome]) -> RunScores:
    """Score the outcomes (one per question, same order) by the official SQuAD 2.0 rules, with the extras."""
    if [o.id for o in outcomes] != [q.id for q in questions]:
        raise ValueError("outcomes must answer the questions one for one, in order")
    gold = {q.id: q.answers for q in questions}
    predictions = {o.id: (o.response.answers[0].text if o.response.answers else "") for o in outcomes}
    na_probs = {o.id: _na_prob(o) for o in outcomes}
    exact_raw, f1_raw = squad_v2_raw_scores(gold, predictions)
    results = [_result(q, o, exact_raw[q.id], f1_raw[q.id]) for q, o in zip(questions, outcomes)]
    summary: dict[str, Any] = dict(squad_v2_evaluate(gold, predictions, na_probs))
    # na_prob never exceeds the official default threshold (1.0), so the raw scores are the scores.
    summary["exact_ci95"] = [100 * x for x in bootstrap_ci([r.exact for r in results])]
    summary["f1_ci95"] = [100 * x for x in bootstrap_ci([r.f1 for r in results])]
    summary["bootstrap"] = {"resamples": RESAMPLES, "seed": SEED, "level": LEVEL}
    summary["answered"] = sum(1 for r in results if r.prediction)
    answerable = [r for r in results if r.answerable]
    if answerable and any(o.forced is not None for o in outcomes):  # a local run: HasAns F1 made to answer
        summary["HasAns_f1_forced"] = 100 * _mean([r.forced_f1 or 0.0 for r in answerable])
    depth = max((len(o.response.passages) for o in outcomes), default=0)
    retrieval = _retrieval(results, depth)
    if retrieval is not None:
        summary["retrieval"] = retrieval
    if any(q.evidence for q in questions):
        judged = [r.citation_correct for r in results if r.citation_correct is not None]
        summary["citation"] = {
            "judged": len(judged),
            "correct": sum(judged),
            "accuracy": _mean([float(c) for c in judged]) if judged else None,
        }
    summary["latency_ms"] = percentiles([r.latency_ms for r in results])
    summary["retries"] = sum(r.retries for r in results)
    summary["slices"] = {
        "question_type": _slices(results, lambda r: [r.question_type]),
        "tag": _slices(results, lambda r: r.tags),
    }
    return RunScores(summary, results, predictions, na_probs, list(questions))


def threshold_curve(results: Sequence[QuestionResult], grid: Sequence[float]) -> list[tuple[float, float, float]]:
    """(HasAns F1 %, NoAns abstained %, overall F1 %) had the service answered only at score >= t, for each t.
    A local run knows the best span at any threshold; an HTTP run only the answers returned, so below the
    service's own threshold its curve stays flat."""
    curve = []
    for t in grid:
        has = no = has_n = no_n = 0.0
        for r in results:
            forced = r.forced_text is not None
            text, score = (r.forced_text, r.forced_score) if forced else (r.prediction, r.score)
            answers = bool(text) and score is not None and score >= t
            if r.answerable:
                has_n += 1
                if answers:
                    has += (r.forced_f1 if forced else r.f1) or 0.0
            else:
                no_n += 1
                no += 0.0 if answers else 1.0
        curve.append((100 * has / max(has_n, 1), 100 * no / max(no_n, 1), 100 * (has + no) / max(has_n + no_n, 1)))
    return curve
