"""`qa eval run`: an evaluator's question set answered by the pipeline here (over a corpus folder, or over a SQuAD
file's own contexts in a temporary index) or by a running service, scored and written as a run folder."""

from __future__ import annotations

import hashlib
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from eval.asking import LocalAsker, ask_service
from eval.question_set import QuestionSet
from eval.run_files import write_run
from eval.scoring import NA_PROB_DEFINITION, RunScores, score_run
from qa.config import Settings
from qa.pipeline import Models, QAPipeline


def _about(question_set: QuestionSet, target: str, **extra: Any) -> dict[str, Any]:
    return {
        "set": str(question_set.path),
        "format": question_set.format,
        "questions": len(question_set.questions),
        "target": target,
        **extra,
        "na_prob": NA_PROB_DEFINITION,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def score_local(
    question_set: QuestionSet, pipeline: QAPipeline, passages_read: int | None = None, corpus: str = ""
) -> tuple[RunScores, dict[str, Any]]:
    """Answer every question with `pipeline` and score the outcomes."""
    questions = question_set.questions
    if question_set.corpus is not None and pipeline.index.documents.keys().isdisjoint(
        q.doc_id for q in questions if q.doc_id
    ):
        # A SQuAD set asked of another corpus: the documents its titles name are not there.
        questions = [q.model_copy(update={"doc_id": None}) for q in questions]
    outcomes = LocalAsker(pipeline, passages_read).ask_all(questions, desc="local run")
    return score_run(questions, outcomes), local_about(question_set, pipeline, passages_read, corpus)


def local_about(
    question_set: QuestionSet, pipeline: QAPipeline, passages_read: int | None = None, corpus: str = ""
) -> dict[str, Any]:
    """What a local run ran: the set, the corpus, the passages read, the threshold and the decision."""
    return _about(
        question_set,
        "local",
        corpus=corpus or str(pipeline.settings.corpus_dir),
        documents=len(pipeline.index.documents),
        passages_read=passages_read or pipeline.settings.passages_read,
        answer_threshold=pipeline.answer_threshold,
        decision=pipeline.decision.fitted_on,
    )


def score_remote(
    question_set: QuestionSet,
    url: str,
    api_key: str | None = None,
    passages_read: int | None = None,
    concurrency: int = 4,
) -> tuple[RunScores, dict[str, Any]]:
    """Ask every question of the service at `url` and score the outcomes."""
    questions = question_set.questions
    if question_set.corpus is not None:  # a SQuAD file's titles are not the service's document ids
        questions = [q.model_copy(update={"doc_id": None}) for q in questions]
    outcomes = ask_service(url, questions, api_key, passages_read, concurrency, desc=f"asking {url}")
    about = _about(question_set, url, passages_read=passages_read or "the service's default", concurrency=concurrency)
    return score_run(questions, outcomes), about


def eval_index_dir(settings: Settings, corpus_dir: Path) -> Path:
    """An index of its own for a corpus folder given to `qa eval run` (never the service's index/), reused while the
    folder and settings are unchanged."""
    key = hashlib.sha256(str(Path(corpus_dir).resolve()).encode()).hexdigest()[:12]
    return settings.model_cache_dir / "eval-index" / key


def run_set(
    question_set: QuestionSet,
    out_dir: Path,
    settings: Settings,
    corpus_dir: Path | None = None,
    index_dir: Path | None = None,
    url: str | None = None,
    api_key: str | None = None,
    passages_read: int | None = None,
    concurrency: int = 4,
    models: Models | None = None,
) -> dict[str, Any]:
    """Answer and score the set, write the run folder, return the summary. Against `url` when given; else over
    `corpus_dir`; else, for a SQuAD file, over its own contexts; else over the configured corpus. `models`: already
    loaded ones to answer with (default: load them from the settings)."""
    if url is not None:
        scores, about = score_remote(question_set, url, api_key, passages_read, concurrency)
        write_run(out_dir, scores, about)
        return {**scores.summary, "run": about}
    if corpus_dir is None and question_set.corpus is not None:
        with tempfile.TemporaryDirectory(prefix="qa-eval-index-") as tmp:
            local = settings.model_copy(
                update={"corpus_dir": question_set.path, "index_dir": Path(tmp), "auto_build": True}
            )
            pipeline = QAPipeline.from_settings(local, models=models, corpus=question_set.corpus)
            scores, about = score_local(
                question_set, pipeline, passages_read, corpus=f"the contexts of {question_set.path}, one per title"
            )
    else:
        if corpus_dir is not None:
            settings = settings.model_copy(
                update={"corpus_dir": corpus_dir, "index_dir": index_dir or eval_index_dir(settings, corpus_dir)}
            )
        pipeline = QAPipeline.from_settings(settings, models=models)
        scores, about = score_local(question_set, pipeline, passages_read)
    write_run(out_dir, scores, about, threshold=pipeline.answer_threshold)
    return {**scores.summary, "run": about}
