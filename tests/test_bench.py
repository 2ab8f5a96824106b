"""The load benchmark's question-file mode: every request a new question, so answering is timed, not the cache."""

import json

import pytest
from conftest import run_qa

from bench.benchmarks import bench_api, load_bench_questions
from eval.question_set import QuestionSetError


def test_question_files_in_the_formats_the_eval_reads(tmp_path):
    jsonl = tmp_path / "q.jsonl"
    rows = [
        {"question": "Who chairs the board?", "split": "validation"},
        {"question": "When did it open?", "split": "train"},
        {"question": "Who chairs the board?", "split": "validation"},  # a repeat is asked once per cycle
        {"question": " What did it cost? ", "split": "validation"},
    ]
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    assert load_bench_questions(jsonl) == ["Who chairs the board?", "When did it open?", "What did it cost?"]
    assert load_bench_questions(jsonl, "validation") == ["Who chairs the board?", "What did it cost?"]
    csv = tmp_path / "q.csv"
    csv.write_text("question,answers\nWho chairs the board?,Ann Lee\nWhen did it open?,\n", encoding="utf-8")
    assert load_bench_questions(csv) == ["Who chairs the board?", "When did it open?"]


@pytest.mark.parametrize(
    "content, split, message",
    [
        ('{"question": "ok"}\nnot json\n', None, "q.jsonl:2: invalid JSON"),
        ('{"question": " "}\n', None, "q.jsonl:1: question: String should match"),
        ('{"question": "ok", "split": "train"}\n', "validation", "no questions in split 'validation'"),
    ],
)
def test_bad_question_files_are_named(tmp_path, content, split, message):
    path = tmp_path / "q.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(QuestionSetError, match=message):
        load_bench_questions(path, split)


def test_cli_refuses_a_bad_question_file_without_a_traceback(tmp_path):
    missing = tmp_path / "nowhere.jsonl"
    result = run_qa("bench", "api", "--questions", str(missing), "--url", "http://127.0.0.1:9", timeout=120)
    assert result.returncode == 2
    assert "nowhere.jsonl" in result.stderr and "Traceback" not in result.stderr


def test_every_request_asks_the_next_question_of_the_file(server):
    questions = ["Who is the Trust's chief nurse?", "When was the CQC visit?", "How many births are there a year?"]
    result = bench_api(url=server.url, concurrency=2, duration_s=60, max_requests=5, questions=questions)
    assert result["requests"] == 5 and result["errors"] == 0
    assert result["distinct_questions"] == 3 and result["repeated_requests"] == 2
    assert result["answered"] + result["abstained"] == 5
    assert result["wrong_answers"] == 0  # answers are not checked against expectations in this mode
