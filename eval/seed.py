"""Evaluate the service end to end on the hand-written questions about the seed article."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from eval.answering import answer_set, misses_table, plot_answer_threshold, summarise, summary_rows
from eval.question_set import QuestionSet
from eval.report import markdown_table, write_json, write_markdown
from eval.run_files import write_run
from eval.run_set import local_about
from eval.scoring import score_run
from qa.pipeline import QAPipeline

log = logging.getLogger(__name__)


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


def evaluate_seed(
    pipeline: QAPipeline, eval_path: Path, out_dir: Path, passages_read: int | None = None
) -> dict[str, Any]:
    rows = load_eval_set(eval_path)
    answered = answer_set(pipeline, rows, passages_read, desc="seed eval")
    per_question = answered.records
    summary = {
        "eval_set": str(eval_path),
        **summarise(per_question, pipeline.answer_threshold),
        "passages_read": passages_read or pipeline.settings.passages_read,
        "decision": pipeline.decision.fitted_on,
    }
    report = {"summary": summary, "questions": per_question}
    out_dir = Path(out_dir)
    # The run folder every `qa eval run` writes (summary.json with the official SQuAD keys, predictions, report).
    question_set = QuestionSet(Path(eval_path), "jsonl", answered.questions)
    write_run(
        out_dir,
        score_run(answered.questions, answered.outcomes),
        local_about(question_set, pipeline, passages_read),
        threshold=pipeline.answer_threshold,
    )
    write_json(out_dir / "seed_eval.json", report)
    plot_answer_threshold(out_dir / "seed_threshold.png", per_question, pipeline.answer_threshold)
    write_markdown(
        out_dir / "seed_eval.md",
        "Seed-article evaluation",
        [
            ("Summary", markdown_table(summary_rows(summary))),
            ("Misses", misses_table(per_question)),
            ("Threshold", "![answerable F1 and unanswerable abstention vs threshold](seed_threshold.png)"),
        ],
    )
    return report
