"""Fit the answer decision on the news validation split (`qa eval news --fit-decision FILE`).

Every validation question is read once; each candidate span gets the decision features (qa.decision) and a label
(right: token F1 >= 0.5 against gold; every span of an unanswerable question is wrong). Feature sets are compared
by article-grouped cross-validation inside the validation split: fit weights and threshold on four folds, score the
fifth at that threshold, so no figure is measured on the questions that chose it. The best set is then fitted on
the whole split and written as a DecisionModel. News train and the seed article are never read here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm.auto import tqdm

from eval.news import question_rows
from eval.news_set import NewsSet, NewsSetError
from eval.report import markdown_table, write_json, write_markdown
from qa.decision import FEATURES, DecisionModel
from qa.metrics import best_threshold, score_prediction
from qa.pipeline import QAPipeline

log = logging.getLogger(__name__)

FOLDS = 5
NAMES_FEATURE = "names_missing"
# Named feature sets tried, each judged by cross-validated overall F1 on news validation.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "margin (reader calibration re-fitted)": ("margin",),
    "margin + how clear the winner is": ("margin", "margin_gap", "answering_passages"),
    "margin + retrieval": ("margin", "log_rank", "found_by_both"),
    "margin + agreement": ("margin", "agreement"),
    "margin + question overlap": ("margin", "context_overlap", "answer_in_question"),
    "margin + answer type": ("margin", "type_match", "type_mismatch"),
    "all": tuple(f for f in FEATURES if f != NAMES_FEATURE),
}
# Whether the span's article names what the question names is not one more weighted feature: fitted with the others,
# it makes the whole decision more lenient wherever names match (open-corpus SQuAD F1 52.4 -> 48.1, 200 questions,
# eval/README.md), because it explains away the confident wrong answers that had held the threshold up. It is a
# penalty on top of the chosen set, at that set's own threshold: answers whose article lacks a name the question gives
# lose this much log-odds; elsewhere the decision is exactly the chosen set's.
NAMES_PENALTIES = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)
REGULARISATION = (0.1, 1.0, 10.0)  # inverse L2 strengths tried (sklearn's C), chosen inside the folds
MIN_GAIN = 0.01  # cross-validated overall F1 a richer feature set must add to be chosen
# Overall F1 that stopping early (not reading the rest once an answer is this sure) may cost on news validation.
STOP_TOLERANCE = 0.002


@dataclass
class QuestionSpans:
    """One validation question: its article, whether answerable, and each candidate span's features and F1."""

    qid: str
    article: str
    answerable: bool
    features: np.ndarray  # spans x len(FEATURES)
    f1: np.ndarray  # per span; 0 for every span of an unanswerable question
    shipped_probability: np.ndarray  # the running decision's probability per span (the baseline)
    text_order: np.ndarray  # per span, the place of the text it was read in (Reader.reading_order), 0 first


def collect(
    pipeline: QAPipeline, rows: Sequence[dict[str, Any]], passages_read: int | None = None
) -> list[QuestionSpans]:
    found = []
    for row in tqdm(rows, desc="reading validation questions", unit="q"):
        reading = pipeline.read(row["question"], passages_read, read_all=True)
        scored = pipeline.score(reading)
        texts = pipeline.reader.reading_order([hit.passage for hit in reading.retrieved])
        order_of = {member: place for place, text in enumerate(texts) for member in text.members}
        features = np.array([[s.features[name] for name in FEATURES] for s in scored], dtype=float).reshape(
            -1, len(FEATURES)
        )
        f1 = np.array([score_prediction(s.text, row["answers"])[1] if row["answerable"] else 0.0 for s in scored])
        found.append(
            QuestionSpans(
                row["id"],
                row["doc_id"],
                row["answerable"],
                features,
                f1,
                np.array([s.score for s in scored]),
                np.array([order_of[s.passage_rank] for s in scored], dtype=int),
            )
        )
    return found


def _columns(names: Sequence[str]) -> list[int]:
    return [FEATURES.index(n) for n in names]


def _fit(questions: Sequence[QuestionSpans], names: Sequence[str], c: float):
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([q.features[:, _columns(names)] for q in questions])
    y = np.concatenate([q.f1 >= 0.5 for q in questions]).astype(int)
    means, scales = x.mean(axis=0), x.std(axis=0)
    scales[scales == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000).fit((x - means) / scales, y)
    return model.coef_[0], float(model.intercept_[0]), means, scales


def _top(questions: Sequence[QuestionSpans], probabilities: Sequence[np.ndarray]) -> list:
    """One record per question from its most probable span (no_answer_score = -probability); a question with
    no span scores as an abstention whatever the threshold (probability 0, F1 0)."""
    items = []
    for q, p in zip(questions, probabilities):
        best = int(np.argmax(p)) if len(p) else None
        items.append(
            _Scored(
                q.qid,
                q.answerable,
                -float(p[best]) if best is not None else 0.0,
                float(q.f1[best]) if best is not None else 0.0,
            )
        )
    return items


@dataclass(frozen=True)
class _Scored:
    """A question's outcome with its F1 already known (the fields metrics.best_threshold reads)."""

    qid: str
    has_answer: bool
    no_answer_score: float
    f1_if_answered: float

    @property
    def em_if_answered(self) -> float:
        return float(self.f1_if_answered == 1.0)


def _figures(items: Sequence[_Scored], threshold: float) -> dict[str, Any]:
    """Figures when answering at probability >= threshold."""
    has = [i for i in items if i.has_answer]
    no = [i for i in items if not i.has_answer]
    answered = lambda i: -i.no_answer_score >= threshold  # noqa: E731
    f1_has = sum(i.f1_if_answered for i in has if answered(i)) / max(1, len(has))
    abstain_no = sum(not answered(i) for i in no) / max(1, len(no))
    return {
        "overall_f1": (f1_has * len(has) + abstain_no * len(no)) / max(1, len(items)),
        "answerable_f1": f1_has,
        "unanswerable_abstained": abstain_no,
        "answerable_abstained": sum(not answered(i) for i in has) / max(1, len(has)),
        "answerable_f1_forced": sum(i.f1_if_answered for i in has) / max(1, len(has)),
    }


def _choose_threshold(items: Sequence[_Scored]) -> float:
    """The probability threshold with the best overall F1 on these questions (the official script's sweep)."""
    no_answer_threshold, _ = best_threshold(items)
    return float(min(1.0, max(0.0, -no_answer_threshold)))


def _probabilities(questions, names, params, names_penalty: float = 0.0) -> list[np.ndarray]:
    """Each question's span probabilities under fitted `params` (weights, intercept, means, scales)."""
    weights, intercept, means, scales = params
    cols = _columns(names)
    missing = FEATURES.index(NAMES_FEATURE)
    out = []
    for q in questions:
        if not len(q.features):
            out.append(np.zeros(0))
            continue
        z = intercept + ((q.features[:, cols] - means) / scales) @ weights - names_penalty * q.features[:, missing]
        out.append(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))))
    return out


def choose_names_penalty(questions: Sequence[QuestionSpans], names: Sequence[str], params, threshold: float) -> float:
    """The smallest NAMES_PENALTIES value with the best overall F1 on `questions` at `threshold` (the weights and
    threshold fitted without it)."""
    scored = [
        (
            _figures(_top(questions, _probabilities(questions, names, params, names_penalty=p)), threshold)[
                "overall_f1"
            ],
            p,
        )
        for p in NAMES_PENALTIES
    ]
    best = max(f1 for f1, _ in scored)
    return min(p for f1, p in scored if f1 == best)


def _folds(questions: Sequence[QuestionSpans]) -> list[int]:
    """Fold of each question, by article (every question of an article in the same fold), round-robin over
    articles sorted by name so the folds are reproducible."""
    articles = sorted({q.article for q in questions})
    fold_of = {a: i % FOLDS for i, a in enumerate(articles)}
    return [fold_of[q.article] for q in questions]


def _select(questions: Sequence[QuestionSpans], names: Sequence[str]):
    """Fit each regularisation strength on `questions`, choose each fit's threshold there, and keep the fit with
    the best overall F1 (the first on ties). Returns (figures, (weights, intercept, means, scales), threshold, C)."""
    best = None
    for c in REGULARISATION:
        params = _fit(questions, names, c)
        items = _top(questions, _probabilities(questions, names, params))
        threshold = _choose_threshold(items)
        figures = _figures(items, threshold)
        if best is None or figures["overall_f1"] > best[0]["overall_f1"]:
            best = (figures, params, threshold, c)
    return best


def cross_validate(
    questions: Sequence[QuestionSpans], names: Sequence[str], with_names_penalty: bool = False
) -> dict[str, float]:
    folds = _folds(questions)
    held_out_items: list[_Scored] = []
    held_out_thresholds = []
    for fold in range(FOLDS):
        train = [q for q, f in zip(questions, folds) if f != fold]
        test = [q for q, f in zip(questions, folds) if f == fold]
        # Regularisation, threshold and names penalty chosen on the training folds alone.
        _, params, threshold, _ = _select(train, names)
        penalty = choose_names_penalty(train, names, params, threshold) if with_names_penalty else 0.0
        test_items = _top(test, _probabilities(test, names, params, names_penalty=penalty))
        held_out_items += [
            _Scored(i.qid, i.has_answer, i.no_answer_score + threshold, i.f1_if_answered) for i in test_items
        ]
        held_out_thresholds.append(threshold)
    # Each held-out question was shifted by its own fold's threshold, so answering means shifted probability >= 0.
    figures = _figures(held_out_items, 0.0)
    figures["thresholds"] = held_out_thresholds
    return figures


def _stopped_early(
    questions: Sequence[QuestionSpans], probabilities: Sequence[np.ndarray], stop_at: float
) -> tuple[list[np.ndarray], float]:
    """Each question's span probabilities as if reading had stopped after the first text holding a span at
    `stop_at` or above (spans of later texts unseen, probability -1), and the share of texts read."""
    seen, read, total = [], 0, 0
    for q, p in zip(questions, probabilities):
        texts = int(q.text_order.max()) + 1 if len(q.text_order) else 0
        sure = q.text_order[p >= stop_at]
        last = int(sure.min()) if len(sure) else texts - 1
        seen.append(np.where(q.text_order <= last, p, -1.0))
        read, total = read + last + 1, total + texts
    return seen, read / max(1, total)


def choose_stop(
    questions: Sequence[QuestionSpans], probabilities: Sequence[np.ndarray], threshold: float
) -> tuple[float | None, dict[str, Any]]:
    """The lowest answer probability at which reading can stop while overall F1 (at `threshold`) stays within
    STOP_TOLERANCE of reading everything; None when no such level saves any reading. The figures hold the trade-off
    at every level tried (`curve`: stop level, overall F1, share of texts read)."""
    everything = _figures(_top(questions, probabilities), threshold)["overall_f1"]
    curve = []
    for stop_at in np.linspace(threshold, 1.0, 101)[:-1]:
        seen, share = _stopped_early(questions, probabilities, float(stop_at))
        curve.append((float(stop_at), _figures(_top(questions, seen), threshold)["overall_f1"], share))
    fine = [(level, f1, share) for level, f1, share in curve if f1 >= everything - STOP_TOLERANCE and share < 1.0]
    chosen = min(fine) if fine else None
    figures: dict[str, Any] = {
        "overall_f1_reading_all": everything,
        "overall_f1": chosen[1] if chosen else everything,
        "texts_read": chosen[2] if chosen else 1.0,
        "tolerance": STOP_TOLERANCE,
        "curve": [[round(level, 4), round(f1, 4), round(share, 4)] for level, f1, share in curve],
    }
    return (chosen[0] if chosen else None), figures


def fit_decision(
    pipeline: QAPipeline,
    news: NewsSet,
    out_dir: Path,
    decision_path: Path,
    passages_read: int | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Compare the feature sets, fit the chosen one on news validation (`limit`: a fixed slice, for tests) and
    write it to `decision_path`. Returns the comparison."""
    if not Path(decision_path).parent.is_dir():
        raise NewsSetError(f"{decision_path}: its folder does not exist")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    rows = question_rows(news, "validation", limit)
    if len({r["doc_id"] for r in rows}) < FOLDS:
        raise NewsSetError(
            f"fitting needs validation questions from at least {FOLDS} articles (one per fold); "
            f"got {len({r['doc_id'] for r in rows})}: raise --limit"
        )
    questions = collect(pipeline, rows, passages_read)
    labels = {bool(f >= 0.5) for q in questions for f in q.f1}
    if labels != {True, False}:
        raise NewsSetError(
            "fitting needs both right and wrong candidate spans among the validation questions: raise --limit"
        )
    shipped_items = _top(questions, [q.shipped_probability for q in questions])
    results: dict[str, Any] = {
        "running decision (no fitting)": {
            **_figures(shipped_items, pipeline.answer_threshold),
            "fitted_on": pipeline.decision.fitted_on,
        },
    }
    for name, names in tqdm(FEATURE_SETS.items(), desc="feature sets (5-fold CV by article)"):
        results[name] = cross_validate(questions, names)
        log.info("%s: %s", name, results[name])
    # The simplest set (the margin alone) unless another beats it by a clear margin: differences under a point
    # of F1 on ~570 questions are noise, and every extra feature is one more thing that can fail to transfer.
    simplest = next(iter(FEATURE_SETS))
    best_other = max(FEATURE_SETS, key=lambda n: results[n]["overall_f1"])
    gain = results[best_other]["overall_f1"] - results[simplest]["overall_f1"]
    chosen = best_other if gain >= MIN_GAIN else simplest
    names = FEATURE_SETS[chosen]
    with_penalty = f"{chosen} + names penalty"
    results[with_penalty] = cross_validate(questions, names, with_names_penalty=True)
    # Final fit on the whole validation split: regularisation and threshold chosen there, then the names penalty.
    _, params, threshold, c = _select(questions, names)
    penalty = choose_names_penalty(questions, names, params, threshold)
    final = _probabilities(questions, names, params, names_penalty=penalty)
    figures = _figures(_top(questions, final), threshold)
    stop_at, stop_figures = choose_stop(questions, final, threshold)
    weights, intercept, means, scales = params
    extra = [NAMES_FEATURE] if penalty else []
    decision = DecisionModel(
        stop_reading_at=stop_at,
        features=[*names, *extra],
        # The penalty enters unscaled (mean 0, scale 1): -penalty log-odds when a name is missing, 0 otherwise.
        weights=[float(w) for w in weights] + [-penalty for _ in extra],
        intercept=intercept,
        means=[float(m) for m in means] + [0.0 for _ in extra],
        scales=[float(s) for s in scales] + [1.0 for _ in extra],
        threshold=threshold,
        fitted_on=f"news validation split ({len(questions)} questions, "
        f"{len({q.article for q in questions})} articles), "
        f"feature set '{chosen}', C={c}, names penalty {penalty}, "
        f"passages_read={passages_read or pipeline.settings.passages_read}",
        figures={
            "cross_validated": results[with_penalty],
            "cross_validated_without_names_penalty": results[chosen],
            "fitted_split": figures,
            "stopping_early": {k: v for k, v in stop_figures.items() if k != "curve"},
        },
    )
    decision.save(decision_path)
    summary = {
        "chosen": chosen,
        "names_penalty": penalty,
        "decision_file": str(decision_path),
        "threshold": threshold,
        "stop_reading_at": stop_at,
        "stopping_early": stop_figures,
        "validation_questions": len(questions),
        "results": results,
    }
    out_dir = Path(out_dir)
    write_json(out_dir / "decision_fit.json", summary)
    table = [
        "| decision | overall F1 | answerable F1 | answerable abstained | unanswerable abstained | forced F1 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    table += [
        f"| {n} | {r['overall_f1']:.3f} | {r['answerable_f1']:.3f} | {r['answerable_abstained']:.3f} | "
        f"{r['unanswerable_abstained']:.3f} | {r['answerable_f1_forced']:.3f} |"
        for n, r in results.items()
    ]
    write_markdown(
        out_dir / "decision_fit.md",
        "Answer decision fitted on news validation",
        [
            ("Compared (5-fold cross-validation by article inside news validation)", "\n".join(table)),
            (
                "Chosen",
                markdown_table(
                    [
                        ("feature set", chosen),
                        ("names penalty (log-odds off when the article lacks a name the question gives)", penalty),
                        ("threshold", threshold),
                        ("stop reading at", stop_at),
                        ("texts read when stopping early", stop_figures["texts_read"]),
                        ("C", c),
                        *[(f"weight {n}", w) for n, w in zip(names, weights)],
                    ]
                ),
            ),
        ],
    )
    return summary
