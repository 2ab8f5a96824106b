"""The reader's span decoding, windows and shipped quality."""

import numpy as np

from conftest import SQUAD_DIR, needs_squad
from qa.reader.decode import decode_spans
from qa.reader.windows import tokenize_windows

PASSAGE = (
    "An extensive programme of improvement followed unannounced visits by the Care Quality Commission (CQC) "
    "in November 2023, according to a report to the review group."
)


def test_answer_text_is_the_passage_at_its_offsets(reader):
    output = reader.read("When did the CQC visit?", [PASSAGE, "Luton is the largest maternity unit in the east of England."])
    assert output.spans, "the reader should propose spans"
    passages = [PASSAGE, "Luton is the largest maternity unit in the east of England."]
    for span in output.spans:
        assert passages[span.passage_index][span.start : span.end] == span.text
    assert output.spans[0].text == "November 2023"
    assert len(output.no_answer_logits) == 2


def test_empty_passage_list_gives_no_answer_not_an_error(reader):
    output = reader.read("When did the CQC visit?", [])
    assert output.spans == [] and output.no_answer_logits == []


def test_spans_never_leave_the_passage_or_enter_the_question(reader):
    tokenizer = reader.tokenizer
    question = "November 2023 question words"
    windows = tokenize_windows(tokenizer, [question], [PASSAGE], max_length=64, stride=16)
    rng = np.random.default_rng(0)
    # Random logits that favour the question tokens: decoding must still stay inside the passage.
    start = rng.normal(size=windows.input_ids.shape) + np.where(windows.context_mask, 0, 50)
    end = rng.normal(size=windows.input_ids.shape) + np.where(windows.context_mask, 0, 50)
    candidates, _ = decode_spans(windows, start, end, [PASSAGE], max_answer_tokens=10, top_k_per_window=20)
    assert candidates[0]
    for c in candidates[0]:
        assert 0 <= c.start < c.end <= len(PASSAGE)
        assert PASSAGE[c.start : c.end] == c.text


def test_long_passages_are_covered_by_overlapping_windows(reader):
    filler = " ".join(f"Sentence number {i} says nothing of note." for i in range(120))
    passage = filler + " The hospital opened its new wing in March 1999. " + filler
    windows = tokenize_windows(reader.tokenizer, ["When did the new wing open?"], [passage], max_length=128, stride=32)
    assert len(windows) > 5
    covered = np.zeros(len(passage), dtype=bool)
    for w in range(len(windows)):
        for s, e in zip(windows.char_starts[w], windows.char_ends[w]):
            if s >= 0:
                covered[s:e] = True
    assert all(covered[i] for i, ch in enumerate(passage) if not ch.isspace())
    output = reader.read("When did the hospital open its new wing?", [passage])
    assert output.spans[0].text == "March 1999"


@needs_squad
def test_shipped_reader_meets_its_floor_on_a_held_out_slice(reader, tmp_path):
    """~200 held-out SQuAD 2.0 questions (gold paragraph). Floors sit below the measured full-set figures."""
    from eval.reader_eval import evaluate_reader

    result = evaluate_reader(reader, SQUAD_DIR, tmp_path, limit=200)
    assert result["data"]["questions"] == 200
    assert result["forced_answer_has_ans"]["f1"] >= 70.0
    assert result["at_validation_threshold"]["f1"] >= 52.0
    assert (tmp_path / "reader_eval.json").exists() and (tmp_path / "reader_threshold.png").exists()


@needs_squad
def test_training_smoke_writes_a_loadable_model(tmp_path):
    from qa.reader.model import Reader
    from qa.reader.train import main

    out = tmp_path / "reader"
    assert main([
        "--squad-dir", str(SQUAD_DIR), "--out", str(out), "--limit", "12", "--stages", "squad:1:1e-4",
        "--max-length", "128", "--stride", "32", "--batch-size", "4",
    ]) == 0
    assert (out / "training_log.jsonl").read_text().count('"event": "epoch"') == 1
    loaded = Reader.load(out)
    assert loaded.read("Who?", ["Somebody did something."]).no_answer_logits
