"""`qa eval news`: the news development set answered end to end over one index of all its articles.

Every article of the set is in the one corpus, so articles compete as they do in real use. Figures are reported
per split: validation is where every choice is made (threshold, calibration, checkpoint, passage settings);
train is data for fine-tuning, shown apart and never read as a result.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from eval.answering import answer_set, misses_table, plot_answer_threshold, summarise, summary_rows
from eval.news_set import NewsSet
from eval.question_set import QuestionSet
from eval.report import markdown_table, write_json, write_markdown
from eval.run_files import write_run
from eval.run_set import local_about
from eval.scoring import score_run
from qa.config import Settings
from qa.pipeline import QAPipeline

log = logging.getLogger(__name__)


def news_settings(news: NewsSet, base: Settings, index_dir: Path | None = None) -> Settings:
    """The service's settings pointed at the news set's articles, with an index of their own (reused while the
    articles and passage settings are unchanged)."""
    return base.model_copy(
        update={
            "corpus_dir": news.corpus_dir,
            "index_dir": index_dir or base.model_cache_dir / "news-index",
            "auto_build": True,
        }
    )


def question_rows(news: NewsSet, split: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The split's questions as the shared scorer reads them; `limit` takes a fixed slice (every n-th)."""
    questions = news.split(split)
    if limit and limit < len(questions):
        step = len(questions) / limit
        questions = [questions[int(i * step)] for i in range(limit)]
    return [
        {
            "id": q.id,
            "question": q.question,
            "answers": q.answers,
            "evidence": q.evidence,
            "answerable": q.answerable,
            "doc_id": q.article,
            "split": q.split,
        }
        for q in questions
    ]


def evaluate_news(
    pipeline: QAPipeline,
    news: NewsSet,
    out_dir: Path,
    splits: tuple[str, ...] = ("validation",),
    passages_read: int | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"summary": {}, "questions": {}}
    sections = []
    for split in splits:
        answered = answer_set(
            pipeline, question_rows(news, split, limit), passages_read, desc=f"news {split}", tags=[split]
        )
        per_question = answered.records
        # Each split's run folder, as `qa eval run` writes one (`qa eval compare` pairs two of them).
        write_run(
            out_dir / split,
            score_run(answered.questions, answered.outcomes),
            local_about(
                QuestionSet(news.folder / "questions.jsonl", "jsonl", answered.questions), pipeline, passages_read
            ),
            threshold=pipeline.answer_threshold,
        )
        summary = summarise(per_question, pipeline.answer_threshold)
        summary.update(
            split=split,
            passages_read=passages_read or pipeline.settings.passages_read,
            decision=pipeline.decision.fitted_on,
            articles=len({q["gold_doc"] for q in per_question}),
        )
        report["summary"][split] = summary
        report["questions"][split] = per_question
        plot_answer_threshold(out_dir / f"news_{split}_threshold.png", per_question, pipeline.answer_threshold)
        note = " (training data for fine-tuning: not a result)" if split == "train" else ""
        sections += [
            (f"{split}{note}", markdown_table(summary_rows(summary))),
            (
                f"{split}: threshold",
                f"![answerable F1 and unanswerable abstention vs threshold](news_{split}_threshold.png)",
            ),
            (f"{split}: misses", misses_table(per_question)),
        ]
    report["set"] = {"folder": str(news.folder), "limit": limit}
    write_json(out_dir / "news_eval.json", report)
    write_markdown(out_dir / "news_eval.md", "News development set: end-to-end evaluation", sections)
    return report
