"""Score the reader alone on the held-out SQuAD 2.0 articles with the gold paragraph given."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.reader_scoring import score_reader
from eval.report import markdown_table, plot_threshold_curve, write_json, write_markdown
from eval.squad_data import ArticleSplit, test_examples
from qa.metrics import evaluate_scored, threshold_curve
from qa.reader.model import Reader


def evaluate_reader(reader: Reader, squad_dir: Path, out_dir: Path, limit: int | None = None) -> dict[str, Any]:
    examples = test_examples(Path(squad_dir))
    if limit:
        # A fixed slice (every n-th question) so repeated runs score the same questions.
        step = max(1, len(examples) // limit)
        examples = examples[::step][:limit]
    started = time.perf_counter()
    scored = score_reader(reader, examples, progress=True)
    seconds = time.perf_counter() - started
    threshold = reader.settings.no_answer_threshold
    figures = evaluate_scored(scored, threshold)
    split = ArticleSplit.from_squad2_dev(Path(squad_dir))
    result = {
        "data": {
            "file": str(Path(squad_dir) / "dev-v2.0.json.gz"),
            "articles": split.test_titles,
            "questions": len(scored),
            "slice": f"every {max(1, len(test_examples(Path(squad_dir))) // limit)}th, first {limit}"
            if limit
            else "all",
        },
        "validation_threshold": threshold,
        "at_validation_threshold": figures["at_threshold"],
        "best_threshold": figures["best_threshold"],
        "at_best_threshold": figures["at_best_threshold"],
        "forced_answer_has_ans": figures["forced_answer_has_ans"],
        "seconds": seconds,
    }
    out_dir = Path(out_dir)
    write_json(out_dir / "reader_eval.json", result)
    scores = sorted(s.no_answer_score for s in scored)
    grid = list(np.linspace(scores[0] - 1, scores[-1] + 1, 60)) if scores else []
    curve = threshold_curve(scored, grid)
    plot_threshold_curve(
        out_dir / "reader_threshold.png",
        grid,
        [c["f1"] for c in curve],
        [c["abstain_rate"] for c in curve],
        threshold,
        "no-answer margin threshold",
    )
    at_t, at_best, forced = (
        result["at_validation_threshold"],
        result["at_best_threshold"],
        result["forced_answer_has_ans"],
    )
    rows = [
        ("questions", len(scored)),
        ("F1 at validation threshold", at_t["f1"]),
        ("EM at validation threshold", at_t["exact"]),
        ("HasAns F1 at validation threshold", at_t.get("HasAns_f1", float("nan"))),
        ("NoAns accuracy at validation threshold", at_t.get("NoAns_f1", float("nan"))),
        ("best-threshold F1", at_best["f1"]),
        ("HasAns F1 forced to answer", forced["f1"]),
        ("HasAns EM forced to answer", forced["exact"]),
    ]
    write_markdown(
        out_dir / "reader_eval.md",
        "Reader on held-out SQuAD 2.0 articles (gold paragraph)",
        [
            ("Figures", markdown_table(rows)),
            ("Articles", ", ".join(split.test_titles)),
        ],
    )
    return result
