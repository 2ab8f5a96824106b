"""The files of a scored run, written and read back.

A run folder holds `summary.json` (the official SQuAD 2.0 keys and the extras), `predictions.json`
(`{id: text or ""}`), `na_prob.json` (`{id: probability of no answer}`), `gold.json` (the set in SQuAD 2.0 layout, so
`python evaluate-v2.0.py gold.json predictions.json --na-prob-file na_prob.json` re-scores any run),
`per_question.jsonl`, `report.md` and `threshold.png`. `qa eval compare` reads two of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.jsonl import read_jsonl
from eval.report import markdown_table, plot_threshold_curve, write_json, write_markdown
from eval.scoring import QuestionResult, RunScores, threshold_curve

SUMMARY = "summary.json"
PREDICTIONS = "predictions.json"
NA_PROB = "na_prob.json"
GOLD = "gold.json"
PER_QUESTION = "per_question.jsonl"
REPORT = "report.md"
PLOT = "threshold.png"
SQUAD_KEYS = (
    "exact",
    "f1",
    "total",
    "HasAns_exact",
    "HasAns_f1",
    "HasAns_total",
    "NoAns_exact",
    "NoAns_f1",
    "NoAns_total",
    "best_exact",
    "best_exact_thresh",
    "best_f1",
    "best_f1_thresh",
)


class RunFilesError(ValueError):
    """A run folder that cannot be read; the message names the file and line."""


@dataclass
class LoadedRun:
    folder: Path
    summary: dict[str, Any]
    results: list[QuestionResult]


def _gold_squad(scores: RunScores) -> dict[str, Any]:
    """The questions in SQuAD 2.0 layout: all the official script reads is each question's id and answer texts."""
    qas = [
        {
            "id": q.id,
            "question": q.question,
            "answers": [{"text": a, "answer_start": -1} for a in q.answers],
            "is_impossible": not q.answers,
        }
        for q in scores.questions
    ]
    return {"version": "v2.0", "data": [{"title": "questions", "paragraphs": [{"context": "", "qas": qas}]}]}


def write_run(out_dir: Path, scores: RunScores, about: dict[str, Any], threshold: float | None = None) -> Path:
    """Write the run folder; `about` (what was run, on what) becomes the summary's `run`; `threshold`, the service's
    answer threshold when known, is marked on the plot."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {**scores.summary, "run": about}
    write_json(out_dir / SUMMARY, summary)
    write_json(out_dir / PREDICTIONS, scores.predictions)
    write_json(out_dir / NA_PROB, scores.na_probs)
    write_json(out_dir / GOLD, _gold_squad(scores))
    (out_dir / PER_QUESTION).write_text("".join(r.model_dump_json() + "\n" for r in scores.results), encoding="utf-8")
    grid = [i / 50 for i in range(51)]
    curve = threshold_curve(scores.results, grid)
    plot_threshold_curve(
        out_dir / PLOT,
        grid,
        [c[0] for c in curve],
        [c[1] / 100 for c in curve],
        threshold,
        "answer score threshold (answer when score >= threshold)",
        f1_label="HasAns F1 (%)",
        abstain_label="NoAns abstained (%)",
    )
    write_markdown(out_dir / REPORT, f"Evaluation run: {about.get('set', out_dir.name)}", _sections(summary, scores))
    return out_dir


def _ci(summary: dict[str, Any], key: str) -> str:
    low, high = summary[f"{key}_ci95"]
    return f"{summary[key]:.1f} ({low:.1f}-{high:.1f})"


def _sections(summary: dict[str, Any], scores: RunScores) -> list[tuple[str, str]]:
    about = summary["run"]
    rows: list[tuple[str, Any]] = [
        ("exact (95% bootstrap interval)", _ci(summary, "exact")),
        ("f1 (95% bootstrap interval)", _ci(summary, "f1")),
    ]
    rows += [(key, summary[key]) for key in SQUAD_KEYS[2:] if key in summary]
    rows += [("answered", summary["answered"])]
    if "HasAns_f1_forced" in summary:
        rows += [("HasAns_f1_forced (the best span whatever the threshold)", summary["HasAns_f1_forced"])]
    sections = [
        ("What was run", markdown_table(list(about.items()), ("setting", "value"))),
        ("Scores (official SQuAD 2.0 keys, 0-100)", markdown_table(rows)),
    ]
    if "retrieval" in summary:
        r = summary["retrieval"]
        table = [(f"recall@{k} of the question's document", v) for k, v in r["doc_recall_at_k"].items()]
        table += [("MRR", r["doc_mrr"]), ("first answer cites that document", r["right_doc_cited"])]
        sections.append(
            (f"Retrieval ({r['questions']} answerable questions naming their document)", markdown_table(table))
        )
    if "citation" in summary:
        c = summary["citation"]
        sections.append(
            (
                "Citation",
                f"{c['correct']} of {c['judged']} right first answers cite a passage holding the evidence"
                + (f" ({c['accuracy']:.3f})." if c["accuracy"] is not None else "."),
            )
        )
    latency = summary["latency_ms"]
    sections.append(("Latency (ms)", markdown_table([(k, latency[k]) for k in ("p50", "p95", "p99", "mean")])))
    for name, title in (("question_type", "By question type"), ("tag", "By tag")):
        groups = summary["slices"][name]
        if groups:
            by_group = [
                (group, g["total"], g["exact"], g["f1"], g.get("HasAns_f1", "-"), g.get("NoAns_f1", "-"))
                for group, g in groups.items()
            ]
            sections.append((title, markdown_table(by_group, (name, "total", "exact", "f1", "HasAns_f1", "NoAns_f1"))))
    misses = [
        (r.id, r.question, " | ".join(r.gold) or "(unanswerable)", r.prediction or "(abstained)", f"{r.f1:.2f}")
        for r in scores.results
        if r.f1 < 1.0
    ]
    sections.append(
        ("Misses", markdown_table(misses, ("id", "question", "gold", "predicted", "F1")) if misses else "none")
    )
    sections.append(
        (
            "Threshold",
            f"![HasAns F1 and NoAns abstention against the answer threshold]({PLOT})\n\n"
            + (
                "From the best span of every question (local run)."
                if "HasAns_f1_forced" in summary
                else "From the answers the service returned: below its own threshold the curve is not known."
            ),
        )
    )
    sections.append(
        (
            "Re-scoring",
            f"`python evaluate-v2.0.py {GOLD} {PREDICTIONS} --na-prob-file {NA_PROB}` (the official SQuAD 2.0 "
            f"script) gives the keys above. na_prob: {about.get('na_prob', '')}.",
        )
    )
    return sections


def read_run(folder: Path) -> LoadedRun:
    """A run folder's summary and per-question results, checked."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunFilesError(f"{folder}: not a run folder (expected a folder holding {SUMMARY} and {PER_QUESTION})")
    summary_path = folder / SUMMARY
    if not summary_path.is_file():
        raise RunFilesError(f"{summary_path}: no such file (is {folder} the --out folder of `qa eval run`?)")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFilesError(f"{summary_path}: unreadable ({exc})") from exc
    if not isinstance(summary, dict) or not isinstance(summary.get("f1"), (int, float)):
        raise RunFilesError(f"{summary_path}: not a run summary (no 'f1' figure)")
    results = read_jsonl(folder / PER_QUESTION, QuestionResult, RunFilesError)
    seen: set[str] = set()
    for number, r in enumerate(results, start=1):
        if r.id in seen:
            raise RunFilesError(f"{folder / PER_QUESTION}:{number}: duplicate id {r.id!r}")
        seen.add(r.id)
    return LoadedRun(folder, summary, results)
