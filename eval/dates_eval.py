"""The date questions (`eval/dates/questions.jsonl`): is the date in an answer resolved to the right calendar range?

Each question is about one article of the news set or the seed article. Kinds:
- `when`: the answer is or holds a date expression; `expected` is the range it means (a person's reading).
- `order`: "the most recent ...", "the earlier of ..."; the right answer is one of several dated events.
- `time_scoped`: the question names a time ("in 2019", "last year"); answerable ones are stated for exactly that
  time, unanswerable ones are stated only for another time (a time-aware service abstains).

News questions are asked of one index of the whole news set, seed questions of the seed corpus, as the service
would answer them. Figures per split (validation and train: news; test: the seed article): the resolved date's
accuracy among answered questions, the answer's F1, abstention on time-scoped traps, and the resolver alone on
the gold spans (is the range right when the span is?).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from eval.asking import LocalAsker, Outcome
from eval.jsonl import read_jsonl
from eval.question_set import EvalQuestion, QuestionSet
from eval.report import markdown_table, write_json, write_markdown
from eval.run_files import write_run
from eval.run_set import local_about
from eval.scoring import score_run
from qa.dates import resolve, sentence_around
from qa.documents import Document
from qa.metrics import score_prediction
from qa.paths import PROJECT_ROOT
from qa.pipeline import QAPipeline

log = logging.getLogger(__name__)

DATES_FILE = PROJECT_ROOT / "eval" / "dates" / "questions.jsonl"
SPLITS = ("validation", "train", "test")


class DateSetError(ValueError):
    """The date question file is malformed; the message names the file and line."""


class ExpectedRange(BaseModel):
    start: str = Field(pattern=r"^\d{4}-\d\d-\d\d$")
    end: str = Field(pattern=r"^\d{4}-\d\d-\d\d$")


class DateQuestion(BaseModel):
    id: str
    source: Literal["news", "seed"]
    article: str
    split: Literal["validation", "train", "test"]
    kind: Literal["when", "order", "time_scoped"]
    question: str = Field(min_length=1)
    answers: list[str]
    evidence: str
    expected: ExpectedRange | None
    answerable: bool
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> "DateQuestion":
        if self.answerable != bool(self.answers):
            raise ValueError("answerable questions need answers; unanswerable ones none")
        if self.kind in ("when", "order") and self.expected is None:
            raise ValueError(f"a '{self.kind}' question needs its expected range")
        if (self.source == "seed") != (self.split == "test"):
            raise ValueError("seed questions are the test split, news questions validation or train")
        return self


def load_date_questions(path: Path = DATES_FILE) -> list[DateQuestion]:
    return read_jsonl(path, DateQuestion, DateSetError)


def check_date_questions(questions: list[DateQuestion], documents: dict[str, Document]) -> list[str]:
    """Problems: unknown articles, answers or evidence not verbatim, answers outside their evidence."""
    problems = []
    for q in questions:
        document = documents.get(q.article)
        if document is None:
            problems.append(f"{q.id}: unknown article {q.article}")
            continue
        if q.evidence and q.evidence not in document.text:
            problems.append(f"{q.id}: evidence is not verbatim in {q.article}")
        for answer in q.answers:
            if answer not in document.text or (q.evidence and answer not in q.evidence):
                problems.append(f"{q.id}: answer {answer!r} is not verbatim in its evidence and article")
    return problems


def gold_resolution(q: DateQuestion, document: Document) -> tuple[str, str] | None:
    """The resolver alone on the first gold answer, read in its evidence sentence."""
    at = document.text.find(q.evidence) + q.evidence.find(q.answers[0])
    found = resolve(q.answers[0], document.date, sentence_around(document.text, at, at + len(q.answers[0])))
    return (found.start.isoformat(), found.end.isoformat()) if found else None


def as_eval_question(q: DateQuestion) -> EvalQuestion:
    """The question as the run scorer reads it, tagged with its split and kind."""
    return EvalQuestion(
        id=q.id,
        question=q.question,
        answers=q.answers,
        doc_id=q.article,
        evidence=[q.evidence] if q.evidence else [],
        tags=[q.split, q.kind],
    )


def _answer_row(q: DateQuestion, outcome: Outcome, document: Document) -> dict[str, Any]:
    response = outcome.response
    top = response.answers[0] if response.answers else None
    f1 = score_prediction(top.text, q.answers)[1] if top and q.answerable else 0.0
    when = (top.when.start, top.when.end) if top and top.when else None
    expected = (q.expected.start, q.expected.end) if q.expected else None
    return {
        "id": q.id,
        "split": q.split,
        "kind": q.kind,
        "question": q.question,
        "answerable": q.answerable,
        "gold": q.answers,
        "expected": expected,
        "prediction": top.text if top else "",
        "abstained": top is None,
        "f1": f1,
        "when": when,
        "date_right": bool(top) and expected is not None and when == expected,
        "gold_resolution": gold_resolution(q, document) if q.answers and expected else None,
        "basis": top.when.basis if top and top.when else None,
    }


def _share(hits: list[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def summarise_dates(rows: list[dict[str, Any]]) -> dict[str, Any]:
    dated = [r for r in rows if r["kind"] in ("when", "order")]
    answered = [r for r in dated if not r["abstained"]]
    right_span = [r for r in answered if r["f1"] >= 0.5]
    scoped = [r for r in rows if r["kind"] == "time_scoped"]
    return {
        "questions": len(rows),
        "dated_questions": len(dated),
        "dated_answered": len(answered),
        "date_accuracy_among_answered": _share([r["date_right"] for r in answered]),
        "date_accuracy_among_right_answers": _share([r["date_right"] for r in right_span]),
        "answer_f1_dated": _share([r["f1"] for r in dated]),
        "order_right": _share([r["f1"] >= 0.5 for r in dated if r["kind"] == "order"]),
        "resolver_on_gold_spans": _share([r["gold_resolution"] == r["expected"] for r in dated]),
        "time_scoped_answerable_f1": _share([r["f1"] for r in scoped if r["answerable"]]),
        "time_scoped_traps_abstained": _share([r["abstained"] for r in scoped if not r["answerable"]]),
    }


def evaluate_dates(
    news_pipeline: QAPipeline | None,
    seed_pipeline: QAPipeline | None,
    questions: list[DateQuestion],
    documents: dict[str, Document],
    out_dir: Path,
    questions_file: Path = DATES_FILE,
) -> dict[str, Any]:
    """Ask every question of the pipeline for its source (a missing pipeline skips that source). Besides the date
    figures, each split gets the run folder `qa eval run` writes (`out_dir/<split>/`)."""
    problems = check_date_questions(questions, documents)
    if problems:
        raise DateSetError("; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
    pipelines = {"news": news_pipeline, "seed": seed_pipeline}
    asked = [q for q in questions if pipelines[q.source] is not None]
    outcomes = {
        outcome.id: outcome
        for source, pipeline in pipelines.items()
        if pipeline is not None
        for outcome in LocalAsker(pipeline).ask_all(
            [as_eval_question(q) for q in asked if q.source == source], desc=f"date questions ({source})"
        )
    }
    rows = [_answer_row(q, outcomes[q.id], documents[q.article]) for q in asked]
    summary = {split: summarise_dates([r for r in rows if r["split"] == split]) for split in SPLITS}
    summary = {split: figures for split, figures in summary.items() if figures["questions"]}
    out_dir = Path(out_dir)
    for split in summary:
        in_split = [q for q in asked if q.split == split]
        pipeline = pipelines[in_split[0].source]  # a split holds one source: seed is test, news the others
        assert pipeline is not None
        scored = [as_eval_question(q) for q in in_split]
        write_run(
            out_dir / split,
            score_run(scored, [outcomes[q.id] for q in in_split]),
            local_about(QuestionSet(Path(questions_file), "jsonl", scored), pipeline),
            threshold=pipeline.answer_threshold,
        )
    write_json(out_dir / "dates_eval.json", {"summary": summary, "questions": rows})
    names = [k for k in next(iter(summary.values()), {})]
    table = markdown_table(
        [(name, *(_cell(summary[split][name]) for split in summary)) for name in names], ("figure", *summary)
    )
    wrong = [
        (r["id"], f"{r['question']} -> {r['prediction'] or '(abstained)'} {r['when'] or ''}; expected {r['expected']}")
        for r in rows
        if r["kind"] != "time_scoped" and not r["date_right"]
    ]
    write_markdown(
        out_dir / "dates_eval.md",
        "Dates in answers",
        [
            ("Figures (validation and train: news set; test: the seed article)", table),
            (
                "Dated questions without the right date",
                markdown_table(wrong, ("id", "what happened")) if wrong else "none",
            ),
        ],
    )
    return {"summary": summary}


def _cell(value: Any) -> str:
    return "-" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
