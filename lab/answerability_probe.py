"""Probe the shipped reader's weak point, the no-answer decision, without retraining it.

Measures, with the gold paragraph (as `qa eval reader`):
- how well the span-minus-no-answer margin separates answerable from unanswerable questions (ROC AUC) on the
  SQuAD articles the reader was trained on, on the validation articles and on the held-out test articles:
  a large train/validation gap means the no-answer decision was memorised rather than learnt;
- whether a post-hoc answerability classifier (a "verifier": logistic regression over features of the frozen
  reader: logit statistics, the final [CLS] vector) beats the margin. Each is fitted on the training articles
  and, separately, on the validation articles (threshold from 5-fold out-of-fold predictions there); the test
  articles only report;
- whether minimum-Bayes-risk span choice (the n-best span whose expected token F1 against the others, weighted
  by their softmax probabilities, is highest) beats the best span when forced to answer.

    qa eval answerability --squad-dir ../shared/data/squad --out eval/reports/answerability-probe

It runs the PyTorch fp32 reader (hidden states are needed); about 20 minutes on 2 CPU cores.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from eval.report import markdown_table, write_json, write_markdown
from eval.squad_data import QAExample, squad_training_examples, test_examples, validation_examples
from qa.metrics import ScoredQuestion, best_threshold, evaluate_scored, score_question, token_f1
from qa.reader.decode import decode_spans
from qa.reader.model import Reader
from qa.reader.windows import MODEL_INPUTS, tokenize_windows

log = logging.getLogger(__name__)

N_BEST = 5
LOGIT_STATS = (
    "margin",
    "no_answer_logit",
    "span_logit",
    "cls_start_logprob",
    "cls_end_logprob",
    "best_start_logprob",
    "best_end_logprob",
    "start_entropy",
    "end_entropy",
    "runner_up_gap",
    "windows",
)
VERIFIER_FEATURES = {
    "margin": ("margin",),
    "logit statistics": ("stats",),
    "logit statistics + [CLS] vector": ("stats", "cls"),
}
VERIFIER_C = (0.01, 0.1, 1.0)  # inverse ridge strengths tried; the validation figure picks one


@dataclass
class ProbeFeatures:
    """Per question: the reader's features and how its forced answer scores against gold."""

    qids: list[str]
    golds: list[list[str]]
    stats: np.ndarray  # [n, len(LOGIT_STATS)]
    cls: np.ndarray  # [n, hidden]: final-layer [CLS] vector of the window with the lowest no-answer logit
    nbest: list[list[tuple[str, float]]]  # (text, span logit), best first

    @property
    def margin(self) -> np.ndarray:
        return self.stats[:, :1]

    @property
    def has_answer(self) -> np.ndarray:
        return np.array([bool(g) for g in self.golds])

    def matrix(self, parts: Sequence[str]) -> np.ndarray:
        return np.concatenate([{"margin": self.margin, "stats": self.stats, "cls": self.cls}[p] for p in parts], axis=1)

    @cached_property
    def answer_is_right(self) -> np.ndarray:
        """What a verifier should say yes to: answerable and the best span right (token F1 >= 0.5), the label
        the reader's own calibration uses (lab.train_reader.fit_calibration)."""
        forced = self.scored(np.zeros(len(self.qids)))
        return np.array([s.has_answer and s.f1_if_answered >= 0.5 for s in forced], dtype=int)

    def scored(self, answer_logits: np.ndarray, texts: Sequence[str] | None = None) -> list[ScoredQuestion]:
        """Official SQuAD 2.0 scoring of the given answer beliefs (higher = answer more)."""
        texts = texts if texts is not None else [n[0][0] if n else "" for n in self.nbest]
        return [score_question(q, t, -float(a), g) for q, t, a, g in zip(self.qids, texts, answer_logits, self.golds)]


def _log_softmax(row: np.ndarray) -> np.ndarray:
    return row - np.logaddexp.reduce(row)


def extract_features(reader: Reader, examples: Sequence[QAExample], batch_size: int = 64) -> ProbeFeatures:
    """Run the PyTorch reader over each question with its gold paragraph and collect the probe's features."""
    import torch
    from tqdm.auto import tqdm

    if reader.model is None:
        raise ValueError("the probe needs the PyTorch reader (backend 'torch'): it reads hidden states")
    s = reader.settings
    stats, cls_vectors, nbest = [], [], []
    for i in tqdm(range(0, len(examples), batch_size), desc="probe features", unit="batch"):
        chunk = examples[i : i + batch_size]
        contexts = [e.context for e in chunk]
        windows = tokenize_windows(
            reader.tokenizer, [e.question for e in chunk], contexts, s.max_length, s.stride, s.max_question_tokens
        )
        with torch.inference_mode():
            out = reader.model(
                **{n: torch.from_numpy(getattr(windows, n)) for n in MODEL_INPUTS}, output_hidden_states=True
            )
        attended = windows.attention_mask.astype(bool)
        starts = np.where(attended, out.start_logits.float().numpy(), -1e4)
        ends = np.where(attended, out.end_logits.float().numpy(), -1e4)
        hidden = out.hidden_states[-1].float().numpy()
        candidates, nulls = decode_spans(windows, starts, ends, contexts, s.max_answer_tokens, N_BEST)
        cls_logits = starts[:, 0] + ends[:, 0]
        for pair, found in enumerate(candidates):
            own = np.where(windows.pair_index == pair)[0]
            w = own[np.argmin(cls_logits[own])]  # the window that decides "no answer" (as decode_spans)
            span = found[0].score if found else float(nulls[pair]) - 1e3
            start_lp, end_lp = _log_softmax(starts[w][attended[w]]), _log_softmax(ends[w][attended[w]])
            context = windows.context_mask[w][attended[w]]
            stats.append(
                [
                    span - nulls[pair],
                    nulls[pair],
                    span,
                    start_lp[0],
                    end_lp[0],
                    start_lp[context].max(),
                    end_lp[context].max(),
                    -(np.exp(start_lp) * start_lp).sum(),
                    -(np.exp(end_lp) * end_lp).sum(),
                    span - (found[1].score if len(found) > 1 else span - 20.0),
                    len(own),
                ]
            )
            cls_vectors.append(hidden[w, 0])
            nbest.append([(c.text, c.score) for c in found[:N_BEST]])
    return ProbeFeatures(
        [e.qid for e in examples],
        [e.answer_texts for e in examples],
        np.asarray(stats, dtype=np.float64),
        np.asarray(cls_vectors, dtype=np.float64),
        nbest,
    )


def margin_auc(features: ProbeFeatures) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(features.has_answer, features.margin[:, 0]))


def _verifier(c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))


def verifier_results(train: ProbeFeatures, validation: ProbeFeatures, test: ProbeFeatures) -> list[dict[str, Any]]:
    """Each feature set and fitting set: validation F1 (out-of-fold when fitted there) and test F1 at the
    threshold chosen on validation. The regularisation C is the one with the best validation F1."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rows: list[dict[str, Any]] = []
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    for name, parts in VERIFIER_FEATURES.items():
        x_train, x_val, x_test = train.matrix(parts), validation.matrix(parts), test.matrix(parts)
        for fitted_on in ("training articles", "validation articles"):
            best = None
            for c in VERIFIER_C:
                if fitted_on == "training articles":
                    model = _verifier(c).fit(x_train, train.answer_is_right)
                    val_logits = model.decision_function(x_val)
                else:
                    val_logits = cross_val_predict(
                        _verifier(c), x_val, validation.answer_is_right, cv=folds, method="decision_function"
                    )
                    model = _verifier(c).fit(x_val, validation.answer_is_right)
                threshold, val_f1 = best_threshold(validation.scored(val_logits))
                if best is None or val_f1 > best["validation_f1"]:
                    test_figures = evaluate_scored(test.scored(model.decision_function(x_test)), threshold)
                    best = {
                        "features": name,
                        "fitted_on": fitted_on,
                        "C": c,
                        "validation_f1": val_f1,
                        "test_f1_at_validation_threshold": test_figures["at_threshold"]["f1"],
                        "test_best_f1": test_figures["best_f1"],
                    }
            if best is not None:
                rows.append(best)
    return rows


def mbr_texts(nbest: Sequence[Sequence[tuple[str, float]]], temperature: float) -> list[str]:
    """For each question, the n-best span with the highest expected token F1 against the others."""
    chosen = []
    for candidates in nbest:
        if not candidates:
            chosen.append("")
            continue
        texts = [t for t, _ in candidates]
        logits = np.array([s for _, s in candidates]) / temperature
        weights = np.exp(logits - logits.max())
        weights /= weights.sum()
        utility = [sum(w * token_f1(t, other) for w, other in zip(weights, texts)) for t in texts]
        chosen.append(texts[int(np.argmax(utility))])
    return chosen


def forced_f1(features: ProbeFeatures, texts: Sequence[str] | None = None) -> float:
    scored = features.scored(np.zeros(len(features.qids)), texts)
    return evaluate_scored(scored)["forced_answer_has_ans"]["f1"]


def run_probe(reader: Reader, squad_dir: Path, out_dir: Path, limit: int | None = None) -> dict[str, Any]:
    splits = {
        "training articles": squad_training_examples(squad_dir),
        "validation articles": validation_examples(squad_dir),
        "test articles": test_examples(squad_dir),
    }
    if limit:
        splits = {k: v[:: max(1, len(v) // limit)][:limit] for k, v in splits.items()}
    features = {}
    for name, examples in splits.items():
        log.info("probe: %s, %d questions", name, len(examples))
        features[name] = extract_features(reader, examples)
    val_threshold = -reader.settings.no_answer_threshold  # on the margin scale: answer when margin >= this
    separation = {
        name: {
            "questions": len(f.qids),
            "margin_auc": margin_auc(f),
            "has_answer_forced_f1": forced_f1(f),
            "f1_at_shipped_threshold": evaluate_scored(f.scored(f.margin[:, 0] - val_threshold), 0.0)["at_threshold"][
                "f1"
            ],
        }
        for name, f in features.items()
    }
    train, validation, test = features.values()
    mbr = [
        {
            "temperature": t,
            "validation_forced_f1": forced_f1(validation, mbr_texts(validation.nbest, t)),
            "test_forced_f1": forced_f1(test, mbr_texts(test.nbest, t)),
        }
        for t in (0.5, 1.0)
    ]
    result: dict[str, Any] = {
        "separation": separation,
        "verifiers": verifier_results(train, validation, test),
        "mbr": mbr,
        "best_span_forced_f1": {"validation": forced_f1(validation), "test": forced_f1(test)},
        "limit": limit,
    }
    out_dir = Path(out_dir)
    write_json(out_dir / "answerability_probe.json", result)
    write_markdown(
        out_dir / "answerability_probe.md",
        "Answerability probe of the shipped reader (gold paragraph)",
        [
            (
                "Separation of answerable from unanswerable (margin ROC AUC)",
                markdown_table(
                    [
                        (
                            f"{name}: AUC / forced HasAns F1 / F1 at shipped threshold",
                            f"{v['margin_auc']:.3f} / {v['has_answer_forced_f1']:.1f} / "
                            f"{v['f1_at_shipped_threshold']:.1f}",
                        )
                        for name, v in separation.items()
                    ]
                ),
            ),
            (
                "Post-hoc verifiers (test F1 at the threshold chosen on validation)",
                markdown_table(
                    [
                        (
                            f"{r['features']}, fitted on {r['fitted_on']} (C={r['C']})",
                            f"val {r['validation_f1']:.1f} / test {r['test_f1_at_validation_threshold']:.1f}",
                        )
                        for r in result["verifiers"]
                    ]
                ),
            ),
            (
                "Minimum-Bayes-risk span choice (HasAns F1 forced to answer)",
                markdown_table(
                    [
                        (
                            "best span",
                            f"val {result['best_span_forced_f1']['validation']:.2f} / "
                            f"test {result['best_span_forced_f1']['test']:.2f}",
                        )
                    ]
                    + [
                        (
                            f"MBR over {N_BEST}-best, temperature {m['temperature']}",
                            f"val {m['validation_forced_f1']:.2f} / test {m['test_forced_f1']:.2f}",
                        )
                        for m in mbr
                    ]
                ),
            ),
        ],
    )
    return result
