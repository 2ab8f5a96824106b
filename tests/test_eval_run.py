"""`qa eval run` and `qa eval compare` end to end: a run over the seed corpus (JSONL, CSV, SQuAD JSON), the same set
asked of a live server (busy: 503s asked again; API key), the files re-scored by an independent SQuAD 2.0 scorer,
and compare passing equal runs and failing a planted regression (QA_ANSWER_THRESHOLD near 1)."""

from __future__ import annotations

import collections
import json
import random
import re
import shutil
import string
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS, run_qa, running_server, served_copy

from eval.question_set import load_question_set
from eval.run_files import read_run, write_run
from eval.run_set import run_set, score_local
from eval.scoring import question_type
from eval.stats import bootstrap_ci, mcnemar_exact, paired_bootstrap_ci
from qa.metrics import squad_v2_evaluate
from qa_cli import main

SEED_SET = ROOT / "eval" / "seed_qa.jsonl"
# A fixed slice of the seed set: right, wrong and abstained answers, and unanswerable questions both ways.
SLICE = ["seed-a01", "seed-a02", "seed-a04", "seed-a05", "seed-a07", "seed-a10", "seed-a15", "seed-a20", "seed-a25"]
SLICE += ["seed-a30", "seed-u01", "seed-u02", "seed-u05", "seed-u10"]
VARYING = {"run", "latency_ms", "HasAns_f1_forced", "retries"}  # what may differ between equal runs


# --- an independent SQuAD 2.0 scorer, written from the official script's documented rules, not from qa.metrics ---


def _normal(text: str) -> list[str]:
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return re.sub(r"\b(a|an|the)\b", " ", text).split()


def _f1(gold: str, pred: str) -> float:
    g, p = _normal(gold), _normal(pred)
    if not g or not p:
        return float(g == p)
    same = sum((collections.Counter(g) & collections.Counter(p)).values())
    return 0.0 if same == 0 else 2 * same / (len(g) + len(p))


def independent_squad2(gold_file: Path, preds: dict[str, str], na_probs: dict[str, float]) -> dict[str, float]:
    qas = [
        qa for article in json.loads(gold_file.read_text())["data"] for p in article["paragraphs"] for qa in p["qas"]
    ]
    has_ans = {qa["id"]: bool(qa["answers"]) for qa in qas}
    exact, f1 = {}, {}
    for qa in qas:
        golds = [a["text"] for a in qa["answers"] if _normal(a["text"])] or [""]
        exact[qa["id"]] = max(float(_normal(g) == _normal(preds[qa["id"]])) for g in golds)
        f1[qa["id"]] = max(_f1(g, preds[qa["id"]]) for g in golds)
    out: dict[str, float] = {}
    for prefix, ids in (("", list(has_ans)), ("HasAns_", [i for i in has_ans if has_ans[i]])):
        out |= {f"{prefix}exact": 100 * sum(exact[i] for i in ids) / len(ids)}
        out |= {f"{prefix}f1": 100 * sum(f1[i] for i in ids) / len(ids), f"{prefix}total": len(ids)}
    no = [i for i in has_ans if not has_ans[i]]
    if no:
        out |= {"NoAns_exact": 100 * sum(exact[i] for i in no) / len(no)}
        out |= {"NoAns_f1": 100 * sum(f1[i] for i in no) / len(no), "NoAns_total": len(no)}
    order = sorted(na_probs, key=lambda q: na_probs[q])  # stable: ties keep the file's order
    for name, raw in (("exact", exact), ("f1", f1)):
        gains = [raw[i] if has_ans[i] else (-1.0 if preds[i] else 0.0) for i in order]
        totals = [len(no) + sum(gains[: k + 1]) for k in range(len(order))]
        best = max([float(len(no)), *totals])
        first = next((k for k, t in enumerate(totals) if t == best), None) if best > len(no) else None
        out[f"best_{name}"] = 100 * best / len(qas)
        out[f"best_{name}_thresh"] = na_probs[order[first]] if first is not None else 0.0
    return out


def test_the_scorer_matches_the_independent_one_on_random_predictions(tmp_path):
    rng = random.Random(7)
    words = ["the Trust", "November 2023", "a unit", "five", "Liz Lees", "an inspection!", "July", "5,200"]
    gold = {f"q{i}": rng.sample(words, rng.choice([0, 0, 1, 2])) for i in range(300)}
    preds = {q: rng.choice(["", "", *words, "November", "the five"]) for q in gold}
    na_probs = {q: round(rng.random(), 1) for q in gold}  # one decimal: many ties
    qas = [{"id": q, "answers": [{"text": a} for a in answers]} for q, answers in gold.items()]
    (tmp_path / "gold.json").write_text(json.dumps({"data": [{"paragraphs": [{"qas": qas}]}]}))
    expected = independent_squad2(tmp_path / "gold.json", preds, na_probs)
    assert squad_v2_evaluate(gold, preds, na_probs) == pytest.approx(expected)


def test_statistics_by_hand():
    # Exact McNemar: 0 vs 6 discordant -> 2 * (1/2)^6; 1 vs 9 -> 2 * (1 + 10) / 2^10; none -> 1.
    assert mcnemar_exact([True] * 6, [False] * 6).p_value == pytest.approx(2 / 64)
    m = mcnemar_exact([True] + [False] * 9 + [True] * 5, [False] + [True] * 9 + [True] * 5)
    assert (m.only_a_right, m.only_b_right, m.p_value) == (1, 9, pytest.approx(22 / 1024))
    assert mcnemar_exact([True, False], [True, False]).p_value == 1.0
    values = [0.0, 1.0] * 50
    low, high = bootstrap_ci(values)
    assert low < 0.5 < high and (low, high) == bootstrap_ci(values)  # seeded: the same interval every time
    assert paired_bootstrap_ci(values, values) == (0.0, 0.0)  # identical runs: no difference, no noise


@pytest.mark.parametrize(
    "question, kind",
    [
        ("When was the CQC visit?", "when"),
        ("In what year did the unit open?", "when"),
        ("What date is the move?", "when"),
        ("Who is the Trust’s chief nurse?", "who"),
        ("Whose report was it?", "who"),
        ("How many births does Luton have?", "how many"),
        ("How much did it cost?", "how much"),
        ("Which sites did the CQC visit?", "what"),
        ("Where is the new unit?", "where"),
        ("Why was it rated inadequate?", "why"),
        ("How soon is the move?", "other"),
    ],
)
def test_question_type_comes_from_the_wording(question, kind):
    assert question_type(question) == kind


@pytest.fixture(scope="module")
def set_files(tmp_path_factory):
    """The slice as JSONL (with tags) and as CSV."""
    rows = {r["id"]: r for r in map(json.loads, SEED_SET.read_text(encoding="utf-8").splitlines())}
    folder = tmp_path_factory.mktemp("sets")
    chosen = [{**rows[i], "tag": "first half" if n < 7 else "second half"} for n, i in enumerate(SLICE)]
    jsonl = folder / "slice.jsonl"
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen), encoding="utf-8")
    csv = folder / "slice.csv"
    lines = ["id,question,answers,doc_id,evidence,tag"]
    for r in chosen:
        cells = [r["id"], r["question"], "|".join(r["answers"]), r["doc_id"] or "", "|".join(r["evidence"]), r["tag"]]
        lines.append(",".join('"' + c.replace('"', '""') + '"' for c in cells))
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return jsonl, csv


@pytest.fixture(scope="module")
def local_run(pipeline, set_files, tmp_path_factory) -> Path:
    question_set = load_question_set(set_files[0])
    scores, about = score_local(question_set, pipeline)
    return write_run(tmp_path_factory.mktemp("runs") / "local", scores, about, threshold=pipeline.answer_threshold)


def test_local_run_writes_the_squad_keys_and_the_extras(local_run):
    summary = json.loads((local_run / "summary.json").read_text())
    for key in ("exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total", "NoAns_exact", "NoAns_f1"):
        assert key in summary
    assert summary["total"] == len(SLICE) and summary["HasAns_total"] == 10 and summary["NoAns_total"] == 4
    assert 0 <= summary["best_f1_thresh"] <= 1 and summary["best_f1"] >= summary["f1"]
    low, high = summary["f1_ci95"]
    assert 0 <= low <= summary["f1"] <= high <= 100
    assert summary["retrieval"]["doc_recall_at_k"]["1"] == 1.0 and summary["retrieval"]["doc_mrr"] == 1.0
    assert summary["citation"]["judged"] >= 5 and summary["citation"]["accuracy"] == 1.0
    assert summary["latency_ms"]["p50"] > 0 and summary["latency_ms"]["p95"] >= summary["latency_ms"]["p50"]
    assert set(summary["slices"]["tag"]) == {"first half", "second half"}
    assert sum(s["total"] for s in summary["slices"]["question_type"].values()) == len(SLICE)
    predictions = json.loads((local_run / "predictions.json").read_text())
    na_prob = json.loads((local_run / "na_prob.json").read_text())
    assert set(predictions) == set(na_prob) == set(SLICE)
    assert all(na_prob[q] == 1.0 for q, text in predictions.items() if not text)
    assert any(predictions.values()) and not all(predictions.values())  # answers and abstentions both
    assert len((local_run / "per_question.jsonl").read_text().splitlines()) == len(SLICE)
    assert "Misses" in (local_run / "report.md").read_text() and (local_run / "threshold.png").stat().st_size > 0


def test_predictions_rescored_by_an_independent_scorer_equal_the_summary(local_run):
    predictions = json.loads((local_run / "predictions.json").read_text())
    na_prob = json.loads((local_run / "na_prob.json").read_text())
    expected = independent_squad2(local_run / "gold.json", predictions, na_prob)
    summary = json.loads((local_run / "summary.json").read_text())
    assert {k: summary[k] for k in expected} == pytest.approx(expected)


def test_csv_set_scores_as_the_jsonl_set(pipeline, set_files, local_run, tmp_path):
    scores, about = score_local(load_question_set(set_files[1]), pipeline)
    assert about["format"] == "csv"
    assert scores.predictions == json.loads((local_run / "predictions.json").read_text())
    summary = json.loads((local_run / "summary.json").read_text())
    assert {k: v for k, v in scores.summary.items() if k not in VARYING} == {
        k: v for k, v in summary.items() if k not in VARYING
    }


def test_squad_json_contexts_become_a_temporary_corpus(pipeline, settings, tmp_path):
    contexts = {
        "Luton_maternity": "Luton's maternity unit was visited by the Care Quality Commission in November 2023. "
        "The unit delivers around 5,200 babies every year.",
        "Westmoor_library": "The Westmoor library reopened in March 2024 after a two-year refurbishment. "
        "It was designed by the architect Ana Ruiz.",
    }
    qas = {
        "Luton_maternity": [("m1", "When did the Care Quality Commission visit the unit?", ["November 2023"])],
        "Westmoor_library": [
            ("w1", "Who designed the Westmoor library?", ["Ana Ruiz"]),
            ("w2", "How many books does the Westmoor library hold?", []),
        ],
    }
    data = [
        {
            "title": title,
            "paragraphs": [
                {
                    "context": text,
                    "qas": [
                        {"id": i, "question": q, "answers": [{"text": a} for a in gold], "is_impossible": not gold}
                        for i, q, gold in qas[title]
                    ],
                }
            ],
        }
        for title, text in contexts.items()
    ]
    path = tmp_path / "mini-squad.json"
    path.write_text(json.dumps({"version": "v2.0", "data": data}), encoding="utf-8")
    summary = run_set(load_question_set(path), tmp_path / "run", settings, models=pipeline.models)
    assert summary["run"]["format"] == "squad-v2.0" and summary["run"]["documents"] == 2
    assert summary["total"] == 3 and summary["NoAns_total"] == 1
    assert summary["retrieval"]["doc_recall_at_k"]["1"] == 1.0  # each question's title is its document
    assert summary["HasAns_f1_forced"] >= 50.0  # the reader finds the answers in the set's own contexts
    assert set(json.loads((tmp_path / "run" / "predictions.json").read_text())) == {"m1", "w1", "w2"}


@pytest.fixture(scope="module")
def busy_server(seed_index_dir, tmp_path_factory):
    """A server over a copy of the seed corpus and index that takes one question at a time (others: 503 with
    Retry-After) and wants a key."""
    env = {
        **served_copy(seed_index_dir, tmp_path_factory, "eval-run"),
        "QA_MAX_PENDING": "1",
        "QA_API_KEYS": '["eval-key"]',
    }
    yield from running_server(env, tmp_path_factory.mktemp("logs") / "eval-run-server.log")


@pytest.fixture(scope="module")
def remote_run(busy_server, set_files, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "remote"
    result = run_qa(
        "eval",
        "run",
        "--set",
        str(set_files[0]),
        "--url",
        busy_server.url,
        "--concurrency",
        "4",
        "--out",
        str(out),
        env={"QA_EVAL_API_KEY": "eval-key"},
    )
    assert result.returncode == 0, result.stderr
    return out


def test_a_live_server_run_equals_the_local_run(local_run, remote_run):
    local, remote = (json.loads((run / "summary.json").read_text()) for run in (local_run, remote_run))
    assert {k: v for k, v in remote.items() if k not in VARYING} == {k: v for k, v in local.items() if k not in VARYING}
    for name in ("predictions.json", "na_prob.json", "gold.json"):
        assert (remote_run / name).read_text() == (local_run / name).read_text(), name
    assert remote["retries"] > 0, "the busy server answered 503 and the run asked again"
    assert remote["run"]["target"].startswith("http://127.0.0.1") and "HasAns_f1_forced" not in remote


def test_a_refused_key_is_a_clear_error(busy_server, set_files, tmp_path, capsys):
    args = ["eval", "run", "--set", str(set_files[1]), "--url", busy_server.url, "--out", str(tmp_path / "o")]
    assert main([*args, "--api-key", "wrong"]) == 2
    err = capsys.readouterr().err
    assert "/ask refused the request (401: invalid API key); pass a key with --api-key" in err


def test_compare_passes_equal_runs_and_fails_a_planted_regression(local_run, remote_run, seed_index_dir, tmp_path):
    same = run_qa("eval", "compare", str(local_run), str(remote_run))
    assert same.returncode == 0, same.stderr
    assert "**OK**" in same.stdout and "0 questions right only in A, 0 right only in B, p = 1" in same.stdout

    # B: the same questions (here from A's gold.json: SQuAD layout), answered only at a score of 0.99 or more.
    regressed = tmp_path / "regressed"
    result = run_qa(
        "eval", "run", "--set", str(local_run / "gold.json"), "--corpus-dir", str(SEEDS),
        "--index-dir", str(seed_index_dir), "--out", str(regressed),
        env={"QA_ANSWER_THRESHOLD": "0.99"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((regressed / "summary.json").read_text())["run"]["answer_threshold"] == 0.99
    worse = run_qa("eval", "compare", str(local_run), str(regressed), "--json")
    assert worse.returncode == 1, worse.stderr
    c = json.loads(worse.stdout)
    assert c["regression"] and c["f1_difference"] < -1.0 and c["paired"] == len(SLICE)
    assert c["f1_difference_ci95"][0] <= c["f1_difference"] <= c["f1_difference_ci95"][1]
    assert c["mcnemar"]["only_a_right"] > c["mcnemar"]["only_b_right"]
    assert c["worse"] and all(w["b_prediction"] == "" and w["a_prediction"] for w in c["worse"])
    assert {b["id"] for b in c["better"]} <= {"seed-u01", "seed-u02", "seed-u05", "seed-u10"}
    markdown = run_qa("eval", "compare", str(local_run), str(regressed), "--max-drop", "100")
    assert markdown.returncode == 0 and "## Worse in B" in markdown.stdout and "(abstained)" in markdown.stdout


def test_compare_names_unpaired_questions_and_refuses_bad_runs(local_run, tmp_path, capsys):
    partial = tmp_path / "partial"
    shutil.copytree(local_run, partial)
    lines = (partial / "per_question.jsonl").read_text().splitlines()
    (partial / "per_question.jsonl").write_text("\n".join(lines[1:]) + "\n")
    assert main(["eval", "compare", str(local_run), str(partial)]) == 0
    assert f"Only in A (1): {SLICE[0]}" in capsys.readouterr().out

    (partial / "per_question.jsonl").write_text(lines[0] + "\n{not json\n")
    assert main(["eval", "compare", str(local_run), str(partial)]) == 2
    assert "per_question.jsonl:2: invalid JSON" in capsys.readouterr().err
    assert main(["eval", "compare", str(local_run), str(tmp_path / "nowhere")]) == 2
    assert "nowhere: not a run folder" in capsys.readouterr().err
    other = read_run(local_run)
    other.results = [r.model_copy(update={"id": "other-" + r.id}) for r in other.results]
    from eval.compare import compare_loaded
    from eval.run_files import RunFilesError

    with pytest.raises(RunFilesError, match="share no question id"):
        compare_loaded(read_run(local_run), other)
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "compare", str(local_run), str(local_run), "--max-drop", "-1"])
    assert exit_info.value.code == 2
