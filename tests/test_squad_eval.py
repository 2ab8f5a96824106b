"""The open-corpus SQuAD benchmark on a fixed slice, with floors that catch regressions."""

import gzip
import json

import pytest
from conftest import SQUAD_DIR, needs_squad

from eval.squad_data import DatasetError
from eval.squad_open import evaluate_squad_open


@needs_squad
def test_squad_slice_meets_floors_and_writes_reports(tmp_path):
    result = evaluate_squad_open(SQUAD_DIR / "dev-v2.0.json.gz", tmp_path, limit=200, squad_dir=SQUAD_DIR)
    s = result["summary"]
    assert s["questions"] == 200 and s["scored_articles"] == "held-out test articles"
    assert s["corpus_documents"] == 1204
    assert s["retrieval"]["recall_at_k"]["5"] >= 0.92  # measured 0.962
    # Measured 52.4 with the session-8 reader and its news-fitted decision (58.2 with the session-5 ones on the same
    # slice and code): HasAns F1 60.0 -> 66.2, NoAns 56.3 -> 37.5. The decision is fitted on news, the product's
    # domain; on Wikipedia it now answers more unanswerable questions (eval/README.md, "Open-corpus SQuAD 2.0").
    # Session 11's reader (chosen on news validation) costs more here: 50.6 -> 45.9 on this slice on one machine
    # (53.0 -> 51.1 on 1,000 questions); the floor catches a regression beyond that.
    assert s["open_corpus"]["at_threshold"]["f1"] >= 42.0
    assert s["gold_paragraph_ceiling"]["forced_answer_has_ans"]["f1"] >= 72.0  # measured 76.9
    report = json.loads((tmp_path / "squad_eval.json").read_text())
    assert set(report["summary"]) >= {
        "open_corpus",
        "gold_paragraph_ceiling",
        "retrieval",
        "latency_ms",
        "citation_accuracy",
    }
    assert len(report["questions"]) == 200
    for name in ("squad_eval.md", "squad_threshold.png", "squad_recall_at_k.png", "squad_latency.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_malformed_dataset_names_the_problem(tmp_path):
    bad = tmp_path / "bad.json.gz"
    with gzip.open(bad, "wt") as handle:
        handle.write('{"version": "x", "data": [{"title": "T"}]}')
    with pytest.raises(DatasetError, match="bad.json.gz: article #0 has no 'paragraphs' list"):
        evaluate_squad_open(bad, tmp_path / "out", squad_dir=SQUAD_DIR)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DatasetError, match="broken.json: not a readable SQuAD JSON file"):
        evaluate_squad_open(broken, tmp_path / "out", squad_dir=SQUAD_DIR)
