"""The date questions: a well-formed set, checked against its articles, scored end to end by `qa eval dates`."""

from __future__ import annotations

import json

import pytest
from conftest import SEEDS

from eval.dates_eval import DateSetError, check_date_questions, evaluate_dates, load_date_questions
from eval.news_set import load_news_set
from qa.ingest import load_corpus


@pytest.fixture(scope="module")
def documents():
    return {**load_news_set().documents, **{d.id: d for d in load_corpus(SEEDS).documents}}


def test_the_date_set_is_large_enough_and_verbatim(documents):
    questions = load_date_questions()
    assert check_date_questions(questions, documents) == []
    dated = [q for q in questions if q.kind in ("when", "order")]
    assert len(dated) >= 30 and {q.split for q in dated} == {"validation", "train", "test"}
    assert any(q.kind == "time_scoped" and not q.answerable for q in questions)


def test_a_broken_line_names_the_file_and_line(tmp_path):
    good = load_date_questions()[0].model_dump_json()
    path = tmp_path / "questions.jsonl"
    path.write_text(good + "\n" + json.dumps({**json.loads(good), "expected": None}) + "\n", encoding="utf-8")
    with pytest.raises(DateSetError, match=r"questions.jsonl:2: .*expected range"):
        load_date_questions(path)


def test_seed_date_questions_end_to_end(pipeline, documents, tmp_path):
    seed = [q for q in load_date_questions() if q.source == "seed"]
    result = evaluate_dates(None, pipeline, seed, documents, tmp_path)
    figures = result["summary"]["test"]
    assert figures["questions"] == len(seed) and figures["resolver_on_gold_spans"] == 1.0
    assert figures["date_accuracy_among_right_answers"] == 1.0
    assert (tmp_path / "dates_eval.json").exists() and (tmp_path / "dates_eval.md").exists()
    # The split's run folder, as `qa eval run` writes it, sliced by the question kinds (tags).
    run = json.loads((tmp_path / "test" / "summary.json").read_text())
    assert run["total"] == len(seed) and set(run["slices"]["tag"]) >= {"test", "when"}
    assert run["slices"]["tag"]["test"]["total"] == len(seed)
