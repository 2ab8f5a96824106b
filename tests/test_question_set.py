"""An evaluator's question set in each format (JSONL, RAGAS names, CSV, TSV, SQuAD JSON v1.1/v2.0), and every bad
input named by file and line or field, from the loader and from `qa eval run` (exit 2, no traceback)."""

from __future__ import annotations

import gzip
import json

import pytest
from conftest import SQUAD_DIR, needs_squad, run_qa

from eval.question_set import QuestionSetError, load_question_set
from qa_cli import main


def _squad(version: str = "v2.0") -> dict:
    return {
        "version": version,
        "data": [
            {
                "title": "Luton_Maternity",
                "paragraphs": [
                    {
                        "context": "The CQC visited in November 2023. The unit was rated inadequate.",
                        "qas": [
                            {
                                "id": "s1",
                                "question": "When did the CQC visit?",
                                "answers": [
                                    {"text": "November 2023", "answer_start": 20},
                                    {"text": "in November 2023", "answer_start": 17},
                                ],
                                "is_impossible": False,
                            },
                            {
                                "id": "s2",
                                "question": "Who chairs the board?",
                                "answers": [],
                                "plausible_answers": [{"text": "CQC", "answer_start": 4}],
                                "is_impossible": True,
                            },
                        ],
                    },
                    {
                        "context": "Liz Lees is the chief nurse.",
                        "qas": [{"id": "s3", "question": "Who is the chief nurse?", "answers": [{"text": "Liz Lees"}]}],
                    },
                ],
            },
            {"title": "Other", "paragraphs": [{"context": "Nothing here.", "qas": []}]},
        ],
    }


def test_jsonl_reads_every_field_and_the_ragas_names(tmp_path):
    path = tmp_path / "set.jsonl"
    lines = [
        {
            "id": "a",
            "question": "When was the CQC visit?",
            "answers": ["November 2023", "in November 2023"],
            "doc_id": "d1",
            "evidence": "The CQC visited in November 2023",
            "tag": ["dates", "inspection"],
        },
        {"id": 7, "question": "Who chairs the board?", "answers": [], "tag": "unanswerable"},
        {"user_input": "Who is the chief nurse?", "reference": "Liz Lees"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n", encoding="utf-8")
    qs = load_question_set(path)
    assert qs.format == "jsonl" and qs.corpus is None
    a, b, c = qs.questions
    assert a.answers == ["November 2023", "in November 2023"] and a.doc_id == "d1"
    assert a.evidence == ["The CQC visited in November 2023"] and a.tags == ["dates", "inspection"]
    assert b.id == "7" and not b.answerable and b.tags == ["unanswerable"]
    assert (c.id, c.question, c.answers) == ("line-3", "Who is the chief nurse?", ["Liz Lees"])


def test_csv_and_tsv_split_several_answers_on_pipes(tmp_path):
    csv_path = tmp_path / "set.csv"
    csv_path.write_text(
        "\ufeffid,question,answers,doc_id,evidence,tag\n"
        'a,"When, exactly, was the CQC visit?",November 2023|in November 2023,d1,,dates|inspection\n'
        "b,Who chairs the board?,,,,\n"
        ',"A question\nover two lines?",x,,,\n',
        encoding="utf-8",
    )
    a, b, c = load_question_set(csv_path).questions
    assert a.question == "When, exactly, was the CQC visit?" and a.answers == ["November 2023", "in November 2023"]
    assert a.tags == ["dates", "inspection"] and a.evidence == [] and a.doc_id == "d1"
    assert b.answers == [] and b.doc_id is None
    assert c.id == "line-4" and c.question == "A question\nover two lines?"
    tsv_path = tmp_path / "set.tsv"
    tsv_path.write_text("user_input\treference\nWho is the chief nurse?\tLiz Lees|Lees\n", encoding="utf-8")
    (q,) = load_question_set(tsv_path).questions
    assert q.answers == ["Liz Lees", "Lees"] and q.id == "line-2"


def test_squad_v2_honours_is_impossible_and_makes_one_document_per_title(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(_squad()), encoding="utf-8")
    qs = load_question_set(path)
    assert qs.format == "squad-v2.0"
    by_id = {q.id: q for q in qs.questions}
    assert by_id["s1"].answers == ["November 2023", "in November 2023"]
    assert by_id["s2"].answers == []  # impossible: its plausible answers are not gold
    assert qs.corpus is not None
    docs = {d.id: d for d in qs.corpus.documents}
    assert set(docs) == {"Luton_Maternity", "Other"}
    assert docs["Luton_Maternity"].title == "Luton Maternity"
    assert "November 2023" in docs["Luton_Maternity"].text and "Liz Lees" in docs["Luton_Maternity"].text
    assert {q.doc_id for q in qs.questions} == {"Luton_Maternity"}
    # No question marked impossible and version 1.1: SQuAD 1.1, gzipped as the shared dev sets are.
    payload = _squad("1.1")
    del payload["data"][0]["paragraphs"][0]["qas"][1]
    v1 = tmp_path / "dev-v1.1.json.gz"
    v1.write_bytes(gzip.compress(json.dumps(payload).encode()))
    v1_set = load_question_set(v1)
    assert v1_set.format == "squad-v1.1" and all(q.answerable for q in v1_set.questions)


@needs_squad
def test_the_official_squad2_dev_file_loads():
    qs = load_question_set(SQUAD_DIR / "dev-v2.0.json.gz")
    assert len(qs.questions) == 11873 and sum(not q.answerable for q in qs.questions) == 5945
    assert qs.corpus is not None and len(qs.corpus.documents) == 35


BAD_INPUTS = [
    (
        "set.jsonl",
        '{"question": "Q?", "answers": []}\n{"question": "Q2?", "answers": [}\n',
        r"set.jsonl:2: malformed JSON",
    ),
    ("set.jsonl", '{"id": "a", "answers": ["x"]}\n', r"set.jsonl:1: missing 'question'"),
    ("set.jsonl", '{"question": "Q?", "answers": "x"}\n', r"set.jsonl:1: 'answers' must be a list of strings"),
    ("set.jsonl", '{"question": "Q?", "answers": ["x", 3]}\n', r"set.jsonl:1: 'answers\[1\]' must be a string"),
    ("set.jsonl", '{"question": "Q?"}\n', r"set.jsonl:1: missing 'answers'"),
    ("set.jsonl", '["Q?", []]\n', r"set.jsonl:1: expected a JSON object"),
    (
        "set.jsonl",
        '{"id": "a", "question": "Q?", "answers": []}\n\n{"id": "a", "question": "R?", "answers": []}\n',
        r"set.jsonl:3: duplicate id 'a' \(first at .*set.jsonl:1\)",
    ),
    ("set.jsonl", '{"question": "Q?", "answers": [], "answerable": true}\n', r"set.jsonl:1: 'answerable' is true"),
    ("set.jsonl", "", r"set.jsonl: no questions"),
    ("set.txt", "question,answers\n", r"set.txt: unknown format \(suffix .txt\)"),
    ("set.csv", "id,question\na,Q?\n", r"set.csv:1: the header needs a 'answers' column"),
    ("set.csv", "question,answers\nQ?,x||y\nR?,z\n", r"set.csv:2: answers: item 2 of 'x\|\|y' is blank"),
    ("set.csv", "question,answers\nQ?,x,extra\n", r"set.csv:2: more cells than the header has columns"),
    ("set.csv", "id,question,answers\na,Q?,x\na,R?,y\n", r"set.csv:3: duplicate id 'a'"),
    (
        "set.json",
        '{"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [{"question": "Q?"}]}]}]}',
        r"set.json: data\[0\].paragraphs\[0\].qas\[0\]: missing 'id'",
    ),
    (
        "set.json",
        '{"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [{"id": "1", "question": "Q?", '
        '"answers": {"text": "x"}}]}]}]}',
        r"set.json: data\[0\].paragraphs\[0\].qas\[0\]: 'answers' must be a list",
    ),
    ("set.json", "[1, 2]", r"set.json: expected a JSON object with a 'data' list"),
]


@pytest.mark.parametrize("name, content, message", BAD_INPUTS, ids=[m[2][:40] for m in BAD_INPUTS])
def test_bad_input_is_named_by_file_and_line_or_field(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(QuestionSetError, match=message):
        load_question_set(path)


def test_cli_refuses_bad_sets_and_flags_with_exit_2(tmp_path, capsys):
    path = tmp_path / "set.jsonl"
    path.write_text('{"question": "Q?", "answers": "x"}\n', encoding="utf-8")
    out = str(tmp_path / "out")
    cases = [
        (["--set", str(path), "--out", out], "set.jsonl:1: 'answers' must be a list"),
        (["--set", str(tmp_path / "none.jsonl"), "--out", out], "none.jsonl: no such file"),
        (["--set", str(path), "--out", out, "--api-key", "k"], "--api-key and --concurrency apply with --url only"),
        (["--set", str(path), "--out", out, "--url", "http://x", "--index-dir", out], "--index-dir apply to a local"),
    ]
    for args, message in cases:
        assert main(["eval", "run", *args]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


def test_a_url_that_does_not_answer_is_a_clear_error(tmp_path):
    """Through a real process: no traceback reaches the evaluator, whatever the HTTP client raised."""
    from bench.server import free_port

    path = tmp_path / "set.csv"
    path.write_text("question,answers\nWhen was the CQC visit?,November 2023\n", encoding="utf-8")
    url = f"http://127.0.0.1:{free_port()}"
    result = run_qa("eval", "run", "--set", str(path), "--url", url, "--out", str(tmp_path / "o"), timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"--url {url} does not answer (ConnectError" in result.stderr and "Traceback" not in result.stderr
