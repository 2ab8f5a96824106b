"""SQuAD-style answer scoring: the one implementation used by training, `qa eval` and the reports.

Follows the official SQuAD 2.0 evaluation script: normalise (lower-case, strip punctuation, the
articles a/an/the and extra white space), take EM and token F1 as the maximum over the gold answers,
score an unanswerable question 1 only when the prediction is empty, and search the abstain
threshold that maximises the total score.
"""

from __future__ import annotations

import collections
import re
import string
from dataclasses import dataclass
from typing import Iterable, Mapping, Protocol, Sequence

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and articles, collapse white space."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    pred_tokens, gold_tokens = _tokens(prediction), _tokens(gold)
    if not pred_tokens or not gold_tokens:
        # An empty side (no answer) scores 1 only against another empty side.
        return float(pred_tokens == gold_tokens)
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred_tokens)
    recall = overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def score_prediction(prediction: str, gold_answers: Sequence[str]) -> tuple[float, float]:
    """(EM, F1) of one prediction; an empty gold list means the question is unanswerable."""
    golds = [g for g in gold_answers if normalize_answer(g)] or [""]
    return (
        max(exact_match(prediction, g) for g in golds),
        max(token_f1(prediction, g) for g in golds),
    )


@dataclass(frozen=True)
class ScoredQuestion:
    """One question's outcome before the abstain decision.

    `best_text` is the best span the system found, `no_answer_score` how strongly it believes there is
    no answer (higher = abstain more); it abstains when no_answer_score > threshold.
    """

    qid: str
    has_answer: bool
    best_text: str
    no_answer_score: float
    em_if_answered: float
    f1_if_answered: float


def score_question(qid: str, best_text: str, no_answer_score: float, gold_answers: Sequence[str]) -> ScoredQuestion:
    em, f1 = score_prediction(best_text, gold_answers)
    has_answer = any(normalize_answer(g) for g in gold_answers)
    return ScoredQuestion(qid, has_answer, best_text, no_answer_score, em, f1)


def _split_totals(items: Sequence[ScoredQuestion], threshold: float) -> dict[str, float]:
    em = f1 = 0.0
    abstained = 0
    for item in items:
        abstain = item.no_answer_score > threshold
        abstained += abstain
        if abstain:
            got = 0.0 if item.has_answer else 1.0
            em += got
            f1 += got
        else:
            em += item.em_if_answered if item.has_answer else 0.0
            f1 += item.f1_if_answered if item.has_answer else 0.0
    n = max(len(items), 1)
    return {
        "exact": 100.0 * em / n,
        "f1": 100.0 * f1 / n,
        "total": float(len(items)),
        "abstain_rate": abstained / n,
    }


def squad_metrics(items: Sequence[ScoredQuestion], threshold: float) -> dict[str, float]:
    """EM/F1 overall and for HasAns/NoAns at one abstain threshold (percentages, as the official script)."""
    has = [i for i in items if i.has_answer]
    no = [i for i in items if not i.has_answer]
    overall = _split_totals(items, threshold)
    result = {
        "threshold": threshold,
        "exact": overall["exact"],
        "f1": overall["f1"],
        "total": overall["total"],
        "abstain_rate": overall["abstain_rate"],
    }
    if has:
        split = _split_totals(has, threshold)
        result.update(HasAns_exact=split["exact"], HasAns_f1=split["f1"], HasAns_total=split["total"])
    if no:
        split = _split_totals(no, threshold)
        result.update(NoAns_exact=split["exact"], NoAns_f1=split["f1"], NoAns_total=split["total"])
    return result


def forced_answer_metrics(items: Sequence[ScoredQuestion]) -> dict[str, float]:
    """EM/F1 on answerable questions when the system must answer (never abstains)."""
    has = [i for i in items if i.has_answer]
    n = max(len(has), 1)
    return {
        "exact": 100.0 * sum(i.em_if_answered for i in has) / n,
        "f1": 100.0 * sum(i.f1_if_answered for i in has) / n,
        "total": float(len(has)),
    }


class Abstainable(Protocol):
    """What the threshold sweep reads of a question's outcome (ScoredQuestion, or a lighter record)."""

    @property
    def has_answer(self) -> bool: ...
    @property
    def no_answer_score(self) -> float: ...
    @property
    def em_if_answered(self) -> float: ...
    @property
    def f1_if_answered(self) -> float: ...


def best_threshold(items: Sequence[Abstainable], metric: str = "f1") -> tuple[float, float]:
    """The abstain threshold that maximises total EM or F1, and the score there (official script's sweep).

    Candidates sit between consecutive no-answer scores, so "abstain on everything" and "answer everything"
    are both considered.
    """
    if not items:
        return 0.0, 0.0
    key = "f1_if_answered" if metric == "f1" else "em_if_answered"
    # Start with everything abstained: unanswerable questions score 1.
    score = sum(0.0 if i.has_answer else 1.0 for i in items)
    best_score = score
    ordered = sorted(items, key=lambda i: i.no_answer_score)
    best_thresh = ordered[0].no_answer_score - 1.0
    # Lowering abstention one question at a time, in order of least no-answer belief first.
    for index, item in enumerate(ordered):
        score += getattr(item, key) if item.has_answer else -1.0
        next_score = ordered[index + 1].no_answer_score if index + 1 < len(ordered) else None
        if next_score is not None and next_score == item.no_answer_score:
            continue  # ties must move together
        if score > best_score:
            best_score = score
            best_thresh = item.no_answer_score if next_score is None else (item.no_answer_score + next_score) / 2
    # A threshold at the largest score answers everything; above it the decision never abstains.
    if best_thresh == ordered[-1].no_answer_score:
        best_thresh = ordered[-1].no_answer_score + 1.0
    return best_thresh, 100.0 * best_score / len(items)


def evaluate_scored(scored: Sequence[ScoredQuestion], threshold: float | None = None) -> dict:
    """SQuAD 2.0 figures: at the given threshold (if any), at the best threshold, and forced to answer."""
    best_t, best_f1 = best_threshold(scored, "f1")
    result = {
        "best_threshold": best_t,
        "best_f1": best_f1,
        "at_best_threshold": squad_metrics(scored, best_t),
        "forced_answer_has_ans": forced_answer_metrics(scored),
    }
    if threshold is not None:
        result["at_threshold"] = squad_metrics(scored, threshold)
    return result


def threshold_curve(items: Sequence[ScoredQuestion], thresholds: Iterable[float]) -> list[dict[str, float]]:
    """Metrics at each threshold, for plots of F1 and abstention against the threshold."""
    return [squad_metrics(items, t) for t in thresholds]


def squad_v2_raw_scores(
    gold: Mapping[str, Sequence[str]], predictions: Mapping[str, str]
) -> tuple[dict[str, float], dict[str, float]]:
    """Per-question (EM, F1) of each prediction, 0 or 1 and 0..1, as the official SQuAD 2.0 script's raw scores."""
    missing = [qid for qid in gold if qid not in predictions]
    if missing:
        raise ValueError(f"no prediction for {len(missing)} question(s), e.g. {missing[0]!r}")
    exact: dict[str, float] = {}
    f1: dict[str, float] = {}
    for qid, answers in gold.items():
        exact[qid], f1[qid] = score_prediction(predictions[qid], answers)
    return exact, f1


def _best_no_answer_threshold(
    gold: Mapping[str, Sequence[str]],
    predictions: Mapping[str, str],
    raw: Mapping[str, float],
    na_probs: Mapping[str, float],
) -> tuple[float, float]:
    """(best total score in %, the na_prob threshold reaching it), walked as the official script walks it: questions
    in increasing na_prob (ties in the given order), a threshold kept only where the running total strictly
    improves, starting from 'abstain on everything' at threshold 0.0."""
    running = float(sum(1 for answers in gold.values() if not answers))
    best, best_thresh = running, 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in raw:
            continue
        if gold[qid]:
            running += raw[qid]
        elif predictions[qid]:
            running -= 1.0  # an unanswerable question answered: the point its abstention earned is lost
        if running > best:
            best, best_thresh = running, na_probs[qid]
    return 100.0 * best / len(raw), best_thresh


def squad_v2_evaluate(
    gold: Mapping[str, Sequence[str]],
    predictions: Mapping[str, str],
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
) -> dict[str, float | int]:
    """The official SQuAD 2.0 script's output for these predictions: `exact`, `f1`, `total`, `HasAns_*` and
    `NoAns_*` (only for groups that have questions), and with `na_probs` also `best_exact`, `best_exact_thresh`,
    `best_f1`, `best_f1_thresh`. Scores are 0-100. `gold` maps question id -> gold answers (empty: unanswerable);
    a question is abstained (scores 1 only when unanswerable) when its na_prob exceeds `na_prob_thresh`."""
    if not gold:
        raise ValueError("no questions to score")
    exact_raw, f1_raw = squad_v2_raw_scores(gold, predictions)
    probs = dict(na_probs) if na_probs is not None else {qid: 0.0 for qid in predictions}

    def thresholded(raw: dict[str, float]) -> dict[str, float]:
        return {
            qid: (float(not gold[qid]) if probs.get(qid, 0.0) > na_prob_thresh else score) for qid, score in raw.items()
        }

    exact, f1 = thresholded(exact_raw), thresholded(f1_raw)

    def figures(qids: Sequence[str]) -> dict[str, float | int]:
        return {
            "exact": 100.0 * sum(exact[q] for q in qids) / len(qids),
            "f1": 100.0 * sum(f1[q] for q in qids) / len(qids),
            "total": len(qids),
        }

    result = figures(list(gold))
    for prefix, qids in (("HasAns", [q for q in gold if gold[q]]), ("NoAns", [q for q in gold if not gold[q]])):
        if qids:
            result.update({f"{prefix}_{key}": value for key, value in figures(qids).items()})
    if na_probs is not None:
        result["best_exact"], result["best_exact_thresh"] = _best_no_answer_threshold(
            gold, predictions, exact_raw, probs
        )
        result["best_f1"], result["best_f1_thresh"] = _best_no_answer_threshold(gold, predictions, f1_raw, probs)
    return result
