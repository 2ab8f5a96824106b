"""The reader's span decoding, windows and shipped quality."""

import numpy as np
from conftest import SQUAD_DIR, needs_squad

from qa.documents import Passage
from qa.reader.decode import decode_spans
from qa.reader.windows import tokenize_windows

PASSAGE = (
    "An extensive programme of improvement followed unannounced visits by the Care Quality Commission (CQC) "
    "in November 2023, according to a report to the review group."
)


def _passages(*texts: str, prefix: str = "") -> list[Passage]:
    """Passages of one document laid end to end after `prefix`, as the index cuts them."""
    passages, offset = [], len(prefix)
    for i, text in enumerate(texts):
        passages.append(Passage(id=i, doc_id="doc", start=offset, end=offset + len(text), text=text))
        offset += len(text) + 1
    return passages


def test_answers_carry_their_passage_and_document_offsets(reader):
    prefix = "Headline. "
    other = "Luton is the largest maternity unit in the east of England."
    document = prefix + PASSAGE + " " + other
    passages = _passages(PASSAGE, other, prefix=prefix)
    answers = reader.read("When did the CQC visit?", passages)
    assert answers, "the reader should propose answers"
    for answer in answers:
        assert answer.passage is passages[answer.passage_rank]
        assert answer.passage.text[answer.start : answer.end] == answer.text
        assert document[answer.document_start : answer.document_end] == answer.text
        assert 0.0 <= answer.score <= 1.0
    assert answers[0].text == "November 2023" and answers[0].doc_id == "doc"
    assert [a.score for a in answers] == sorted((a.score for a in answers), reverse=True)


def test_bare_texts_give_answers_and_one_no_answer_logit_each(reader):
    found, no_answer_logits = reader.read_texts(["When did the CQC visit?"] * 2, [PASSAGE, "Nothing here."], 3)
    assert len(found) == 2 and len(no_answer_logits) == 2 and 1 <= len(found[0]) <= 3
    assert found[0][0].passage is None and found[0][0].text == "November 2023"


def test_empty_passage_list_gives_no_answer_not_an_error(reader):
    assert reader.read("When did the CQC visit?", []) == []


def test_spans_never_leave_the_passage_or_enter_the_question(reader):
    tokenizer = reader.tokenizer
    question = "November 2023 question words"
    windows = tokenize_windows(tokenizer, [question], [PASSAGE], max_length=64, stride=16)
    rng = np.random.default_rng(0)
    # Random logits that favour the question tokens: decoding must still stay inside the passage.
    start = rng.normal(size=windows.input_ids.shape) + np.where(windows.context_mask, 0, 50)
    end = rng.normal(size=windows.input_ids.shape) + np.where(windows.context_mask, 0, 50)
    candidates, _ = decode_spans(windows, start, end, [PASSAGE], max_answer_tokens=10, answers_per_window=20)
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
    answers = reader.read("When did the hospital open its new wing?", _passages(passage))
    assert answers[0].text == "March 1999"


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
    from lab.train_reader import main
    from qa.reader.model import Reader

    out = tmp_path / "reader"
    assert (
        main(
            [
                "--squad-dir",
                str(SQUAD_DIR),
                "--out",
                str(out),
                "--limit",
                "12",
                "--stages",
                "squad:1:1e-4",
                "--max-length",
                "128",
                "--stride",
                "32",
                "--batch-size",
                "4",
            ]
        )
        == 0
    )
    assert (out / "training_log.jsonl").read_text().count('"event": "epoch"') == 1
    loaded = Reader.load(out)
    assert len(loaded.read_texts(["Who?"], ["Somebody did something."])[1]) == 1


def test_plain_epoch_batches_are_slices_of_one_permutation():
    from lab.train_reader import epoch_batches

    lengths = np.arange(10, 110)
    batches = epoch_batches(lengths, 32, np.random.default_rng(7))
    order = np.random.default_rng(7).permutation(100)
    assert [b.tolist() for b in batches] == [order[i * 32 : (i + 1) * 32].tolist() for i in range(3)]


def test_length_grouped_batches_cover_each_window_once_and_cut_padding():
    from lab.train_reader import epoch_batches

    rng = np.random.default_rng(0)
    lengths = rng.integers(40, 385, size=3200)
    plain = epoch_batches(lengths, 32, np.random.default_rng(1))
    grouped = epoch_batches(lengths, 32, np.random.default_rng(1), group_by_length=True)
    assert len(grouped) == len(plain) == 100
    assert all(len(b) == 32 for b in grouped)
    assert sorted(np.concatenate(grouped).tolist()) == list(range(3200))
    # Tokens computed (each batch padded to its longest window): grouping must cut them sharply.
    cost = lambda batches: sum(len(b) * lengths[b].max() for b in batches)  # noqa: E731
    assert cost(grouped) < 0.6 * cost(plain)


@needs_squad
def test_answerability_probe_command_writes_its_report(tmp_path):
    import json
    import subprocess
    import sys

    from conftest import ROOT

    out = tmp_path / "probe"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa_cli",
            "eval",
            "answerability",
            "--squad-dir",
            str(SQUAD_DIR),
            "--limit",
            "40",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((out / "answerability_probe.json").read_text())
    assert set(report["separation"]) == {"training articles", "validation articles", "test articles"}
    for split in report["separation"].values():
        assert split["questions"] == 40 and 0.0 <= split["margin_auc"] <= 1.0
    # The reader has seen its training articles: it must separate them far better than unseen ones.
    assert report["separation"]["training articles"]["margin_auc"] > report["separation"]["test articles"]["margin_auc"]
    assert len(report["verifiers"]) == 6 and all(
        0 <= r["test_f1_at_validation_threshold"] <= 100 for r in report["verifiers"]
    )
    assert "Minimum-Bayes-risk" in (out / "answerability_probe.md").read_text()


def test_swapped_entity_negatives_ask_about_something_the_paragraph_never_mentions():
    from eval.squad_data import QAExample
    from lab.negatives import swapped_entity_negatives

    paragraphs = [
        ("Tesla moved to Paris in 1882 and worked for Continental Edison.", "When did Tesla move to Paris?"),
        ("Marie Curie won the Nobel Prize in 1911 in Stockholm.", "Where did Marie Curie win in 1911?"),
        ("The Rhine flows through Basel and Cologne before 1815.", "Which city does the Rhine reach after Basel?"),
    ]
    examples = [QAExample(f"q{i}", f"t{i}", q, c, (("x", 0),)) for i, (c, q) in enumerate(paragraphs)]
    examples.append(QAExample("u", "t0", "Who built Paris?", paragraphs[0][0]))  # unanswerable: never swapped
    made = swapped_entity_negatives(examples, 1.0, np.random.default_rng(3))
    assert made and all(m.is_impossible and m.qid.endswith("_swap") for m in made)
    originals = {e.qid: e for e in examples}
    for negative in made:
        original = originals[negative.qid.removesuffix("_swap")]
        assert negative.context == original.context and negative.question != original.question
        # A name or number was swapped, and what came in is not in the paragraph.
        removed = set(original.question.replace("?", "").split()) - set(negative.question.replace("?", "").split())
        added = set(negative.question.replace("?", "").split()) - set(original.question.replace("?", "").split())
        assert removed and added and not any(word in negative.context for word in added)
        assert negative.question.split()[0] == original.question.split()[0]


def test_passage_crops_keep_the_answer_at_its_offsets_in_three_sentences():
    from eval.squad_data import QAExample
    from lab.negatives import passage_crops
    from qa.passages import sentence_spans

    context = (
        "The plant opened in 1990. It employed 400 people. Its owner was Acme Ltd. "
        "Production stopped in 2008. The site became a park. Visitors arrived by tram."
    )
    start = context.index("2008")
    examples = [QAExample(f"q{i}", "t", "When did production stop?", context, (("2008", start),)) for i in range(20)]
    crops = passage_crops(examples, 1.0, np.random.default_rng(0))
    assert len(crops) == 20 and len({c.context for c in crops}) > 1  # the answer's place in the crop varies
    for crop in crops:
        text, offset = crop.answers[0]
        assert crop.context[offset : offset + len(text)] == "2008" and crop.context in context
        assert len(sentence_spans(crop.context)) == 3
