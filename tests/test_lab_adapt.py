"""Data for adapting the reader to news: only news-train articles, answers at their offsets, no leak of the set's
articles through the Wikinews QA data."""

from __future__ import annotations

import json

import numpy as np

from eval.news_set import NEWS_DIR, load_news_set
from eval.squad_data import QAExample
from lab.adapt_news import conversation_train_examples, news_train_examples, qamr_examples
from lab.negatives import retrieved_negatives


def test_news_train_examples_use_train_articles_only_with_answers_at_their_offsets():
    news = load_news_set(NEWS_DIR)
    examples = news_train_examples(NEWS_DIR, np.random.default_rng(0))
    train_articles = {a for a, meta in news.articles.items() if meta.split == "train"}
    assert examples and {e.title for e in examples} <= train_articles
    gold = {q.id: q for q in news.split("train")}
    positives = [e for e in examples if e.answers]
    negatives = [e for e in examples if not e.answers]
    assert len(positives) >= 150 and len(negatives) >= 150
    for e in positives:
        text, start = e.answers[0]
        assert e.context[start : start + len(text)] == text
        # The labelled mention is the one inside an evidence sentence, not an earlier use of the same words.
        evidence = [ev for ev in gold[e.qid.rsplit("-", 1)[0]].evidence if ev in e.context]
        assert any(e.context.find(ev) <= start and start + len(text) <= e.context.find(ev) + len(ev) for ev in evidence)
        assert e.context in news.documents[e.title].text
    for e in negatives:
        question = gold[e.qid.rsplit("-", 1)[0]]
        # A no-answer passage holds none of the question's gold answers.
        assert not any(a in e.context for a in question.answers)


def test_other_article_negatives_come_from_another_train_article_and_hold_no_answer():
    news = load_news_set(NEWS_DIR)
    train_articles = {a for a, meta in news.articles.items() if meta.split == "train"}
    gold = {q.id: q for q in news.split("train")}
    examples = news_train_examples(NEWS_DIR, np.random.default_rng(0), other_article_negatives=1)
    others = [e for e in examples if "-x" in e.qid]
    # Nearly every train question finds a passage of another article sharing its words.
    assert len(others) >= 0.9 * len(gold)
    for e in others:
        question = gold[e.qid.rsplit("-", 1)[0]]
        assert not e.answers and e.question == question.question
        assert e.title != question.article and e.title in train_articles
        assert e.context in news.documents[e.title].text
        assert not any(a.lower() in e.context.lower() for a in question.answers)


def test_retrieved_negatives_rank_by_the_question_and_skip_own_document_and_answers():
    pool = [
        ("own", "The chief executive of Aldmoor Trust is Ann Lee."),
        ("b", "The chief executive of Brindle Trust is Ben Moss, who joined in May."),
        ("c", "Ann Lee, chief executive, visited the Brindle ward."),
        ("d", "Bus routes were cut in the spring."),
    ]
    question = QAExample("q1", "own", "Who is the chief executive of Aldmoor Trust?", pool[0][1], (("Ann Lee", 30),))
    negatives = retrieved_negatives([question], pool, per_question=2)
    # "own" is the question's document and "c" names its answer: neither is a negative; "d" shares no word.
    assert [n.title for n in negatives] == ["b"]
    assert negatives[0].context == pool[1][1] and not negatives[0].answers
    assert retrieved_negatives([question], pool, per_question=0) == []


def test_training_conversations_are_read_as_the_service_reads_follow_ups():
    from eval.conversations import load_conversations
    from qa.conversation import conversation_context, reader_question

    path = NEWS_DIR.parent / "conversations" / "train.jsonl"
    news = load_news_set(NEWS_DIR)
    conversations = load_conversations(path, news, split="train")  # train articles only, answers verbatim
    examples = conversation_train_examples([path], NEWS_DIR, np.random.default_rng(0))
    by_id = {e.qid: e for e in examples}
    first = conversations[0]
    follow_up = first.turns[1]
    window = conversation_context(follow_up.question, (first.turns[0].question,), 2)
    expected = reader_question(follow_up.question, window)
    # The follow-up is read with its subject after it, exactly as the pipeline builds it, never on its own.
    assert expected != follow_up.question and expected.startswith(follow_up.question)
    positive = by_id[f"{first.id}-t2-p0"]
    assert positive.question == expected
    text, start = positive.answers[0]
    assert positive.context[start : start + len(text)] == text and text in follow_up.answers
    unanswerable = [e for e in examples if "-u" in e.qid]
    assert len(unanswerable) >= sum(len(c.unanswerable) for c in conversations)
    assert all(not e.answers and e.title in news.articles for e in unanswerable)
    assert {news.articles[e.title].split for e in examples} == {"train"}


def test_training_conversation_files_read_as_the_service_reads_them():
    """Both training files: train articles only, answers verbatim, every follow-up (answerable or not) a follow-up
    to the service's detector and every first question and answerable rewrite self-contained; the second file asks new
    questions, not the first file's again."""
    from eval.conversations import load_conversations
    from qa.conversation import needs_history

    news = load_news_set(NEWS_DIR)
    folder = NEWS_DIR.parent / "conversations"
    first, second = (load_conversations(folder / name, news, split="train") for name in ("train.jsonl", "train2.jsonl"))
    ids = [c.id for c in first + second]
    assert len(ids) == len(set(ids)) and len(second) >= 170
    for conversation in first + second:
        opening, *follow_ups = conversation.turns
        assert opening.kind == "first" and not needs_history(opening.question)
        for turn in follow_ups:
            assert turn.kind == "follow-up" and needs_history(turn.question), turn.question
            assert turn.rewrite and not needs_history(turn.rewrite), turn.rewrite
        for item in conversation.unanswerable:
            # (Their rewrites only pick the near-miss passages; the detector may read a few as follow-ups.)
            assert needs_history(item.question), item.question
    # Short follow-ups ("And a year earlier?") recur; the self-contained questions must not.
    asked_before = {t.rewrite or t.question for c in first for t in c.turns}
    assert not asked_before & {t.rewrite or t.question for c in second for t in c.turns}
    examples = conversation_train_examples(
        [folder / "train.jsonl", folder / "train2.jsonl"], NEWS_DIR, np.random.default_rng(0)
    )
    assert {e.qid.split("-t")[0] for e in examples} >= {c.id for c in second}


def test_qamr_articles_sharing_a_sentence_with_the_news_set_are_dropped(tmp_path):
    news = load_news_set(NEWS_DIR)
    sentence = next(s for s in news.documents["GUM_news_crane"].text.split("\n") if len(s) > 80)
    data = {
        "data": [
            {
                "title": "leaky",
                "paragraphs": [
                    {
                        "context": "Intro. " + sentence,
                        "qas": [{"id": "1", "question": "What?", "answers": [{"text": "Intro", "answer_start": 0}]}],
                    }
                ],
            },
            {
                "title": "clean",
                "paragraphs": [
                    {
                        "context": "A wholly different story about a regional bus strike.",
                        "qas": [
                            {
                                "id": "2",
                                "question": "What strike?",
                                "answers": [{"text": "a regional bus strike", "answer_start": 30}],
                            }
                        ],
                    }
                ],
            },
        ]
    }
    path = tmp_path / "qamr.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    kept, dropped = qamr_examples(path, NEWS_DIR, limit=10, rng=np.random.default_rng(0))
    assert dropped == ["leaky"]
    assert [e.title for e in kept] == ["clean"]


def test_weight_average_interpolates_and_refuses_other_architectures(tmp_path):
    import pytest
    import torch
    from safetensors.torch import load_file, save_file

    from lab.weight_average import average_readers

    start, adapted = tmp_path / "start", tmp_path / "adapted"
    for folder, value in ((start, 0.0), (adapted, 2.0)):
        folder.mkdir()
        save_file({"w": torch.full((2, 3), value, dtype=torch.float16)}, str(folder / "model.safetensors"))
    (adapted / "reader_config.json").write_text("{}", encoding="utf-8")
    out = average_readers(start, adapted, 0.25, tmp_path / "mix")
    mixed = load_file(str(out / "model.safetensors"))["w"]
    assert mixed.dtype == torch.float16 and torch.allclose(mixed.float(), torch.full((2, 3), 0.5))
    assert (out / "reader_config.json").exists()  # settings and tokenizer come from the adapted folder
    save_file({"w": torch.zeros(3, 3, dtype=torch.float16)}, str(start / "model.safetensors"))
    with pytest.raises(ValueError, match="not the same architecture"):
        average_readers(start, adapted, 0.5, tmp_path / "mix2")
    with pytest.raises(ValueError, match="alpha"):
        average_readers(start, adapted, 1.5, tmp_path / "mix3")
    with pytest.raises(ValueError, match="would overwrite the reader"):
        average_readers(start, adapted, 0.5, adapted)
    assert (adapted / "model.safetensors").exists()


def _small_news_set(folder):
    """Two train articles of the news set with their questions: enough windows for a few tiny batches."""
    import shutil

    news = load_news_set(NEWS_DIR)
    chosen = sorted(a for a, meta in news.articles.items() if meta.split == "train")[:2]
    (folder / "articles").mkdir(parents=True)
    for name in chosen:
        shutil.copy(NEWS_DIR / "articles" / f"{name}.txt", folder / "articles" / f"{name}.txt")
    rows = [json.loads(line) for line in (NEWS_DIR / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    (folder / "articles.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows if r["article"] in chosen), encoding="utf-8"
    )
    questions = [q.model_dump() for q in news.questions if q.article in chosen]
    (folder / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    return folder


def test_adaptation_stopped_after_a_stage_resumes_to_the_same_weights_as_an_unbroken_run(tmp_path):
    import pytest
    import torch

    from lab.adapt_news import adapt
    from qa.config import PROJECT_ROOT

    news_dir = _small_news_set(tmp_path / "news")
    base = PROJECT_ROOT / "qa" / "models" / "reader"

    def run(out, max_stages, learning_rate=2e-5):
        return adapt(
            base, news_dir, out, [], None, news_repeat=1, epochs=1, batch_size=4, stage_batches=2,
            max_stages=max_stages, learning_rate=learning_rate,
        )  # fmt: skip

    broken = run(tmp_path / "broken", 1)
    assert broken["batches_done"] == 2 and not broken["finished"]
    resumed = run(tmp_path / "broken", 1)  # started again: continues from batch 2
    unbroken = run(tmp_path / "unbroken", 2)
    assert resumed["batches_done"] == unbroken["batches_done"] == 4
    first = torch.load(tmp_path / "broken" / "train_state.pt", weights_only=False)
    second = torch.load(tmp_path / "unbroken" / "train_state.pt", weights_only=False)
    assert first["losses"] == second["losses"]
    assert all(torch.equal(first["model"][k], second["model"][k]) for k in first["model"])
    with pytest.raises(SystemExit, match="other data or settings"):
        run(tmp_path / "broken", 1, learning_rate=1e-4)


def test_follow_up_windows_learn_the_teachers_reading_of_the_rewrite_at_the_same_passage_tokens():
    """Soft targets (lab.distill): the teacher's logits reading the rewrite land on the follow-up window's [CLS] and
    passage tokens, shifted by the difference in question lengths; other windows get none; the loss is 0 when the
    student reads as the teacher and positive otherwise."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from lab.distill import conversation_teacher_questions, distillation_loss, soft_targets
    from lab.train_reader import TrainConfig, build_features
    from qa.reader.settings import packaged_reader_dir
    from qa.reader.windows import tokenize_windows

    context = "The ward opened in March 2024 at Ollerby Royal Infirmary. It has 20 beds and a garden."
    follow_up = "How many beds does it have? ward opened at Ollerby Royal Infirmary"
    rewrite = "How many beds does the new ward at Ollerby Royal Infirmary have?"
    examples = [
        QAExample("f", "t", follow_up, context, (("20", context.index("20 beds")),)),
        QAExample("s", "t", "When did the ward open?", context, (("March 2024", context.index("March 2024")),)),
    ]
    model_dir = packaged_reader_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    teacher = AutoModelForQuestionAnswering.from_pretrained(str(model_dir), dtype=torch.float32)
    config = TrainConfig(squad_dir="", out="", max_length=96, stride=32)
    feats = build_features(tokenizer, examples, config, np.random.default_rng(0), example_index=True)
    assert list(feats["example"]) == [0, 1]
    soft = soft_targets(teacher, tokenizer, feats, examples, {follow_up: rewrite}, 96, 32)
    assert not soft["soft_mask"][1].any()
    mask = soft["soft_mask"][0]
    passage = np.flatnonzero(feats["token_type_ids"][0] == 1)[:-1]
    assert mask[0] and mask[passage].all() and mask.sum() == len(passage) + 1

    taught = tokenize_windows(tokenizer, [rewrite], [context], 96, 32)
    with torch.no_grad():
        logits = teacher(**{k: torch.from_numpy(getattr(taught, k)) for k in feats if k in MODEL_KEYS})
    shift = int(np.flatnonzero(taught.token_type_ids[0] == 1)[0] - passage[0])
    np.testing.assert_allclose(soft["soft_start"][0, passage], logits.start_logits[0, passage + shift], atol=1e-4)

    tensors = {k: torch.from_numpy(v[:1]) for k, v in soft.items()}
    same = distillation_loss(tensors["soft_start"], tensors["soft_end"], tensors, temperature=2.0)
    other = distillation_loss(tensors["soft_end"], tensors["soft_start"], tensors, temperature=2.0)
    assert float(same) < 1e-6 < float(other)
    # The training conversations give every follow-up read with its conversation a rewrite to learn from.
    teachers = conversation_teacher_questions([NEWS_DIR.parent / "conversations" / "train.jsonl"], NEWS_DIR)
    assert len(teachers) > 900 and all(r and q != r for q, r in teachers.items())


MODEL_KEYS = ("input_ids", "attention_mask", "token_type_ids")
