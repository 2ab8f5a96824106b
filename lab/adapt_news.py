"""Continue training a reader on news, on these CPUs: the news set's train split (questions over passages cut
as the service cuts them, with negatives from other passages of the same article), Wikinews QA (QAMR), and a
replay of SQuAD training questions so Wikipedia skills are not forgotten.

    python -m lab.adapt_news --base-model qa/models/reader --news-set eval/news \
        --news-qa ../shared/data/news-qa/qamr_wikinews_dev.json.gz --squad-dir ../shared/data/squad --out runs/news

Training runs in stages of `--stage-batches` batches; after each one the whole state is saved
(out/train_state.pt), so a run can be stopped (or stop itself with `--max-stages`) and resumed by starting the same
command again: it continues with exactly the batches the unbroken run would have taken. Run it in the background:

    nohup python -m lab.adapt_news ... --max-stages 3 > runs/news/log.txt 2>&1 &

One checkpoint per epoch is saved (out/epoch-N), its own abstain threshold and calibration re-chosen on the SQuAD
validation articles (as training does); choose among them on news validation with
`qa eval news --model out/epoch-N --fit-decision ...`, never on the seed article. QAMR articles that share a
sentence with any news-set article are dropped, so no validation article is trained on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from eval.squad_data import QAExample, load_examples, squad_training_examples
from lab.negatives import retrieved_negatives
from lab.train_reader import TrainConfig, build_features, epoch_batches, save_model, set_seed, train_step

log = logging.getLogger(__name__)


def _norm(text: str) -> str:
    return re.sub(r"\W+", "", text.lower())


def _answer_positions(text: str, evidence: Sequence[str], answers: Sequence[str]) -> list[tuple[str, int]]:
    """Each answer where an evidence sentence in `text` says it, not an earlier mention of the same words."""
    return [(a, text.find(e) + e.find(a)) for e in evidence if e in text for a in answers if a in e]


def _answerable_examples(
    qid: str,
    question: str,
    article: str,
    passages: Sequence,
    evidence: Sequence[str],
    answers: Sequence[str],
    negatives: int,
    rng: np.random.Generator,
    source: str,
) -> list[QAExample]:
    """Every passage holding an evidence string with an answer inside it, as a positive; up to `negatives` other
    passages holding no gold answer, drawn at random, as no-answer examples."""
    positives: list[QAExample] = []
    others = []
    for p in passages:
        spans = _answer_positions(p.text, evidence, answers)
        if spans:
            positives.append(QAExample(f"{qid}-p{len(positives)}", article, question, p.text, tuple(spans[:1]), source))
        elif not any(a in p.text for a in answers):
            others.append(p)
    # Drawn even when `negatives` is 0, so every caller takes the same random numbers whatever it asks for.
    drawn = rng.permutation(len(others))[:negatives]
    return positives + [QAExample(f"{qid}-n{i}", article, question, others[i].text, (), source) for i in drawn]


def _closest_passages(text: str, passages: Sequence, count: int) -> list:
    """The `count` passages sharing the most content words with `text` (a near-miss question's no-answer examples)."""
    from qa.decision import content_words

    words = content_words(text)
    return sorted(passages, key=lambda p: -len(words & content_words(p.text)))[:count]


def _question_examples(
    qid: str,
    asked_as: str,
    question,
    passages: Sequence,
    negatives: int,
    near_misses: int,
    rng: np.random.Generator,
    source: str,
) -> list[QAExample]:
    """A news-set question's examples, asked as `asked_as` over its article's `passages`: an answerable one as
    `_answerable_examples`; an unanswerable one as no-answer examples over the `near_misses` passages closest to the
    question's own words."""
    if question.answerable:
        return _answerable_examples(
            qid, asked_as, question.article, passages, question.evidence, question.answers, negatives, rng, source
        )
    closest = _closest_passages(question.question, passages, near_misses)
    return [QAExample(f"{qid}-u{i}", question.article, asked_as, p.text, (), source) for i, p in enumerate(closest)]


def _service_passages(news, service) -> Callable[[str], list]:
    """An article's passages cut as the service cuts them (`service`: its Settings), each article cut once."""
    from qa.passages import split_document

    cut: dict[str, list] = {}

    def passages_of(article: str) -> list:
        if article not in cut:
            cut[article] = split_document(
                news.documents[article], service.passage_sentences, service.passage_overlap, service.passage_max_chars
            )
        return cut[article]

    return passages_of


def news_train_examples(
    news_dir: Path,
    rng: np.random.Generator,
    negatives_per_question: int = 2,
    sentences: int | None = None,
    overlap: int | None = None,
    max_chars: int | None = None,
    other_article_negatives: int = 0,
    question_limit: int | None = None,
) -> list[QAExample]:
    """News-set train-split questions (a random `question_limit` of them when given) over service-shaped passages
    of their own article.

    Answerable: every passage holding an evidence string with an answer inside it is a positive; up to
    `negatives_per_question` other passages of the article that hold no gold answer are no-answer examples.
    Unanswerable: the article's passages sharing the most words with the question are no-answer examples.
    Every question also gets `other_article_negatives` no-answer examples from other train articles: the passages
    BM25 ranks highest for it there (holding none of its answers), as open retrieval would hand them over.
    """
    from eval.news_set import load_news_set
    from qa.config import Settings
    from qa.passages import split_document

    service = Settings()  # the service's passage shape unless told otherwise
    sentences = sentences or service.passage_sentences
    overlap = service.passage_overlap if overlap is None else overlap
    max_chars = max_chars or service.passage_max_chars
    news = load_news_set(news_dir)
    examples: list[QAExample] = []
    passages = {doc_id: split_document(doc, sentences, overlap, max_chars) for doc_id, doc in news.documents.items()}
    # By the article's split: a validation article is never trained on.
    train_questions = [q for q in news.questions if news.articles[q.article].split == "train"]
    if question_limit and question_limit < len(train_questions):
        chosen = sorted(rng.choice(len(train_questions), size=question_limit, replace=False))
        train_questions = [train_questions[i] for i in chosen]
    for q in train_questions:
        examples += _question_examples(
            q.id, q.question, q, passages[q.article], negatives_per_question, negatives_per_question, rng, "news-train"
        )
    if other_article_negatives:
        as_examples = [
            QAExample(q.id, q.article, q.question, "", tuple((a, 0) for a in q.answers), "news-train")
            for q in train_questions
        ]
        pool = [
            (doc_id, p.text)
            for doc_id, doc_passages in passages.items()
            if news.articles[doc_id].split == "train"
            for p in doc_passages
        ]
        examples += retrieved_negatives(as_examples, pool, other_article_negatives)
    return examples


def conversation_train_examples(
    paths: Sequence[Path],
    news_dir: Path,
    rng: np.random.Generator,
    negatives_per_question: int = 1,
    history_turns: int | None = None,
) -> list[QAExample]:
    """Training conversations over train articles (`eval/conversations/train.jsonl`, `train2.jsonl`: one or more
    files, read in order), each follow-up read as the
    service reads it: the follow-up with the subject of the conversation's earlier questions after it
    (`qa.conversation.reader_question`, with the service's history window). Answerable follow-ups: the article's
    passages holding their evidence are positives, `negatives_per_question` other passages no-answer examples.
    Unanswerable follow-ups: the passages sharing the most words with their rewrite (the near miss) are no-answer
    examples. First turns and rewrites are added as plain questions over the same passages."""
    from eval.conversations import load_conversations
    from eval.news_set import load_news_set
    from qa.config import Settings
    from qa.conversation import conversation_context, reader_question

    service = Settings()
    turns = service.history_turns if history_turns is None else history_turns
    news = load_news_set(news_dir)
    conversations = [c for path in paths for c in load_conversations(Path(path), news, split="train")]
    passages_of = _service_passages(news, service)

    examples: list[QAExample] = []
    for conversation in conversations:
        history: list[str] = []
        for position, turn in enumerate(conversation.turns):
            qid = f"{conversation.id}-t{position + 1}"
            window = conversation_context(turn.question, tuple(history), turns)
            article_passages = passages_of(turn.article)
            read_as = reader_question(turn.question, window)
            examples += _answerable_examples(
                qid,
                read_as,
                turn.article,
                article_passages,
                turn.evidence,
                turn.answers,
                negatives_per_question,
                rng,
                "conv",
            )
            if turn.rewrite:
                examples += _answerable_examples(
                    f"{qid}-rw",
                    turn.rewrite,
                    turn.article,
                    article_passages,
                    turn.evidence,
                    turn.answers,
                    0,
                    rng,
                    "conv",
                )
            history.append(turn.question)
        questions = [t.question for t in conversation.turns]
        for number, item in enumerate(conversation.unanswerable, start=1):
            article = conversation.turns[item.after_turn - 1].article
            window = conversation_context(item.question, tuple(questions[: item.after_turn]), turns)
            read_as = reader_question(item.question, window)
            closest = _closest_passages(item.rewrite, passages_of(article), max(1, negatives_per_question))
            for i, p in enumerate(closest):
                examples.append(QAExample(f"{conversation.id}-u{number}-{i}", article, read_as, p.text, (), "conv"))
    return examples


def synthetic_follow_up_examples(
    news_dir: Path,
    rng: np.random.Generator,
    limit: int,
    negatives_per_question: int = 1,
    history_turns: int | None = None,
) -> list[QAExample]:
    """Follow-ups made from the news set's train questions (`lab.synthetic_follow_ups`: the question without its
    name, after another question of the article that gives it), a random `limit` of them, read as the service reads
    a follow-up, over service-shaped passages of their article: answerable ones as `_answerable_examples`,
    unanswerable ones over the passages closest to the original question."""
    from eval.news_set import load_news_set
    from lab.synthetic_follow_ups import read_as, synthetic_follow_ups
    from qa.config import Settings

    service = Settings()
    turns = service.history_turns if history_turns is None else history_turns
    news = load_news_set(news_dir)
    train = [q for q in news.questions if news.articles[q.article].split == "train"]
    made = synthetic_follow_ups([(q.article, q.question) for q in train], rng, turns)
    if limit < len(made):
        made = [made[i] for i in sorted(rng.choice(len(made), size=limit, replace=False))]
    by_key = {(q.article, q.question): q for q in train}
    passages_of = _service_passages(news, service)
    examples: list[QAExample] = []
    for item in made:
        q = by_key[(item.article, item.original)]
        examples += _question_examples(
            f"{q.id}-sf",
            read_as(item, turns),
            q,
            passages_of(q.article),
            negatives_per_question,
            max(1, negatives_per_question),
            rng,
            "synthetic-follow-up",
        )
    return examples


def qamr_examples(
    path: Path, news_dir: Path, limit: int, rng: np.random.Generator
) -> tuple[list[QAExample], list[str]]:
    """A random sample of QAMR Wikinews questions, minus every article that shares a sentence with the news set."""
    news_text = " ".join(
        _norm(p.read_text(encoding="utf-8")) for p in sorted((Path(news_dir) / "articles").glob("*.txt"))
    )
    examples = load_examples(path)
    dropped = set()
    for title in sorted({e.title for e in examples}):
        contexts = {e.context for e in examples if e.title == title}
        sentences = [s for c in contexts for s in re.split(r"(?<=[.!?])\s+", c) if len(_norm(s)) > 40]
        if any(_norm(s) in news_text for s in sentences):
            dropped.add(title)
    kept = [e for e in examples if e.title not in dropped]
    if limit and len(kept) > limit:
        kept = [kept[i] for i in sorted(rng.choice(len(kept), size=limit, replace=False))]
    return kept, sorted(dropped)


def recalibrate_on_squad_validation(model_dir: Path, squad_dir: Path, reader=None) -> dict:
    """Re-choose the reader's own abstain threshold and calibration on the SQuAD validation articles, as training
    does (continued training moves the logits' scale). Writes reader_config.json; returns the figures."""
    from eval.reader_scoring import score_reader
    from eval.squad_data import validation_examples
    from lab.train_reader import fit_calibration
    from qa.metrics import best_threshold, evaluate_scored
    from qa.reader.model import Reader
    from qa.reader.settings import ReaderSettings

    reader = reader or Reader.load(model_dir, device="cpu", backend="torch")
    scored = score_reader(reader, validation_examples(Path(squad_dir)), progress=True)
    threshold, _ = best_threshold(scored, "f1")
    slope, intercept = fit_calibration(scored)
    settings = ReaderSettings.load(model_dir)
    settings.no_answer_threshold, settings.calibration_slope, settings.calibration_intercept = (
        threshold,
        slope,
        intercept,
    )
    settings.save(model_dir)
    figures = evaluate_scored(scored, threshold)
    return {
        "squad_validation_best_f1": figures["best_f1"],
        "squad_validation_forced_has_ans_f1": figures["forced_answer_has_ans"]["f1"],
        "no_answer_threshold": threshold,
        "probability_threshold": settings.probability_threshold,
    }


def _fingerprint(settings: dict, feats: dict[str, np.ndarray], plan: list[list[np.ndarray]]) -> str:
    """What a resumed run must share with the run that saved the state: its settings, windows and batch order."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    # Soft targets are the base model's logits: floats that may differ in the last bit between machines; the base
    # model and the windows they come from are already in the fingerprint.
    for key in sorted(set(feats) - {"soft_start", "soft_end"}):
        digest.update(np.ascontiguousarray(feats[key]).tobytes())
    for epoch in plan:
        for batch in epoch:
            digest.update(np.asarray(batch, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _save_state(path: Path, state: dict) -> None:
    """Write the training state whole or not at all: a run killed while saving resumes from the previous stage."""
    import torch

    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def adapt(
    base_model: Path,
    news_dir: Path,
    out: Path,
    news_qa: Sequence[Path],
    squad_dir: Path | None,
    qamr_limit: int = 3000,
    squad_limit: int = 2000,
    news_repeat: int = 2,
    epochs: int = 2,
    learning_rate: float = 2e-5,
    batch_size: int = 32,
    seed: int = 42,
    max_length: int = 384,
    passage_sentences: int | None = None,
    passage_overlap: int | None = None,
    negatives_per_question: int = 2,
    stage_batches: int = 100,
    max_stages: int | None = None,
    recalibrate: bool = True,
    other_document_negatives: int = 0,
    conversations: Sequence[Path] = (),
    news_limit: int | None = None,
    synthetic_follow_ups: int = 0,
    distill_weight: float = 0.0,
    distill_temperature: float = 2.0,
) -> dict:
    """Continue training in stages of `stage_batches` batches. After each stage the whole training state (weights,
    optimiser, schedule, random state, losses) is saved in `out/train_state.pt`; started again with the same
    arguments, a run resumes where the last stage ended (the data and batch order are rebuilt from the seed and
    checked against the saved fingerprint). `max_stages` stops after that many stages (resume later). Each epoch
    ends with a checkpoint `out/epoch-N`. `distill_weight` > 0 (with `conversations`): each follow-up window also
    learns the base model's reading of its rewrite over the same passage (lab.distill), at that weight."""
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from qa.reader.settings import ReaderSettings

    started = time.time()
    set_seed(seed)
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    news = news_train_examples(
        news_dir,
        rng,
        negatives_per_question,
        sentences=passage_sentences,
        overlap=passage_overlap,
        other_article_negatives=other_document_negatives,
        question_limit=news_limit,
    )
    conversation_examples = (
        conversation_train_examples(conversations, news_dir, rng, negatives_per_question) if conversations else []
    )
    if synthetic_follow_ups:
        conversation_examples += synthetic_follow_up_examples(
            news_dir, rng, synthetic_follow_ups, negatives_per_question
        )
    qamr, dropped = [], []
    for path in news_qa:
        found, gone = qamr_examples(Path(path), news_dir, qamr_limit // max(1, len(news_qa)), rng)
        qamr += found
        dropped += gone
    squad = []
    if squad_dir:
        pool = squad_training_examples(Path(squad_dir))
        squad = [pool[i] for i in sorted(rng.choice(len(pool), size=min(squad_limit, len(pool)), replace=False))]
        if other_document_negatives:
            # Answerable replay questions only: another Wikipedia article may well answer an unanswerable one.
            paragraphs = sorted({(e.title, e.context) for e in pool})
            answerable = [e for e in squad if not e.is_impossible]
            squad += retrieved_negatives(answerable, paragraphs, other_document_negatives)
    data = {
        "news_train_examples": len(news),
        "news_train_unanswerable_examples": sum(e.is_impossible for e in news),
        "news_repeat": news_repeat,
        "other_document_negatives": other_document_negatives,
        "news_question_limit": news_limit,
        "synthetic_follow_ups": synthetic_follow_ups,
        "conversation_examples": len(conversation_examples),
        "conversation_unanswerable_examples": sum(e.is_impossible for e in conversation_examples),
        "negatives_per_question": negatives_per_question,
        "qamr_examples": len(qamr),
        "qamr_articles_dropped_as_news_set_overlap": dropped,
        "squad_replay_examples": len(squad),
    }
    log.info("data: %s", data)
    news += conversation_examples  # read as news questions are: repeated --news-repeat times

    tokenizer = AutoTokenizer.from_pretrained(str(base_model))
    model = AutoModelForQuestionAnswering.from_pretrained(str(base_model), dtype=torch.float32)
    settings = ReaderSettings.load(base_model)
    config = TrainConfig(squad_dir=str(squad_dir or ""), out=str(out), max_length=max_length, batch_size=batch_size)
    distilling = bool(distill_weight and conversations)
    parts = [
        build_features(tokenizer, news, config, rng, repeat_unanswerable=1, example_index=distilling)
        for _ in range(news_repeat)
    ]
    if qamr or squad:
        parts += [build_features(tokenizer, qamr + squad, config, rng, example_index=distilling)]
    if distilling:
        from lab.distill import conversation_teacher_questions, soft_targets

        teachers = conversation_teacher_questions(conversations, news_dir)
        teacher = AutoModelForQuestionAnswering.from_pretrained(str(base_model), dtype=torch.float32)
        sources = [news] * news_repeat + ([qamr + squad] if qamr or squad else [])
        for part, examples in zip(parts, sources):
            part.update(soft_targets(teacher, tokenizer, part, examples, teachers, max_length, config.stride))
            del part["example"]
        data["distilled_windows"] = int(sum(p["soft_mask"].any(axis=1).sum() for p in parts))
        del teacher
    feats = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    lengths = feats["attention_mask"].sum(axis=1)
    # Every epoch's batches are drawn up front, so a resumed run takes exactly the batches the first one would have.
    plan = [epoch_batches(lengths, batch_size, rng, group_by_length=True) for _ in range(epochs)]
    steps_per_epoch = len(plan[0])
    total = steps_per_epoch * epochs
    run_settings = {
        "base_model": str(base_model),
        "data": data,
        "epochs": epochs,
        "learning_rate": learning_rate,
        "batch_size": batch_size,
        "seed": seed,
        "max_length": max_length,
        **({"distill_weight": distill_weight, "distill_temperature": distill_temperature} if distilling else {}),
    }
    fingerprint = _fingerprint(run_settings, feats, plan)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / max(1, total // 10), max(0.0, (total - step) / max(1, total - total // 10))),
    )
    state_path = out / "train_state.pt"
    step, history, losses, elapsed_before = 0, [], [], 0.0
    if state_path.exists():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        if state["fingerprint"] != fingerprint:
            raise SystemExit(
                f"{state_path} was saved by a run with other data or settings; use another --out to start afresh"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        step, history, losses = state["step"], state["history"], state["losses"]
        elapsed_before = state["elapsed_s"]
        log.info("resuming at batch %d of %d from %s", step, total, state_path)

    def save_state() -> None:
        _save_state(
            state_path,
            {
                "fingerprint": fingerprint,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "step": step,
                "history": history,
                "losses": losses,
                "elapsed_s": elapsed_before + time.time() - started,
            },
        )

    stages_run = 0
    progress = tqdm(total=total, initial=step, desc="adapting", unit="batch")
    while step < total:
        model.train()
        epoch, within = divmod(step, steps_per_epoch)
        idx = plan[epoch][within]
        losses.append(
            train_step(
                model,
                feats,
                idx,
                int(lengths[idx].max()),
                optimizer,
                scheduler,
                distill_weight=distill_weight if distilling else 0.0,
                temperature=distill_temperature,
            )
        )
        step += 1
        progress.update(1)
        epoch_done = step % steps_per_epoch == 0
        if epoch_done:
            model.eval()
            checkpoint = out / f"epoch-{epoch + 1}"
            save_model(model, tokenizer, settings, checkpoint)
            entry = {
                "epoch": epoch + 1,
                "steps": step,
                "train_loss": float(np.mean(losses[-steps_per_epoch:])),
                "elapsed_s": round(elapsed_before + time.time() - started, 1),
                "checkpoint": str(checkpoint),
            }
            if squad_dir and recalibrate:
                from qa.reader.model import Reader

                reader = Reader(model, tokenizer, ReaderSettings.load(checkpoint), device="cpu", batch_size=32)
                entry.update(recalibrate_on_squad_validation(checkpoint, squad_dir, reader))
            history.append(entry)
            log.info("%s", entry)
        if epoch_done or step % stage_batches == 0:
            save_state()
            stages_run += 1
            if max_stages and stages_run >= max_stages and step < total:
                log.info("stopped after %d stage(s) at batch %d of %d; run again to resume", stages_run, step, total)
                break
    progress.close()
    summary = {
        **run_settings,
        "windows": int(len(lengths)),
        "batches_per_epoch": steps_per_epoch,
        "batches_done": step,
        "finished": step >= total,
        "elapsed_s": round(elapsed_before + time.time() - started, 1),
        "history": history,
        "note": "each checkpoint's threshold and calibration re-chosen on SQuAD validation when --squad-dir is "
        "given (unless --no-recalibrate); the answer decision is re-fitted on news validation",
    }
    (out / "adapt_summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Continue training a reader on news (CPU-sized).")
    parser.add_argument("--base-model", type=Path, required=True, help="reader folder to continue from")
    parser.add_argument("--news-set", type=Path, default=Path("eval/news"))
    parser.add_argument("--news-qa", type=Path, nargs="*", default=[], help="SQuAD-layout Wikinews QA files (QAMR)")
    parser.add_argument("--squad-dir", type=Path, help="SQuAD dev folder, for replay of training articles")
    parser.add_argument("--out", type=Path, help="output folder (checkpoints epoch-N)")
    parser.add_argument("--seed", type=int, default=42, help="data sampling, negatives and batch order")
    parser.add_argument("--news-limit", type=int, help="a random sample of this many news train questions")
    parser.add_argument("--qamr-limit", type=int, default=3000)
    parser.add_argument("--squad-limit", type=int, default=2000)
    parser.add_argument("--news-repeat", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--passage-sentences", type=int, help="news passages' sentences (default: the service's)")
    parser.add_argument("--passage-overlap", type=int, help="news passages' shared sentences (default: the service's)")
    parser.add_argument("--negatives", type=int, default=2, help="no-answer passages per news question")
    parser.add_argument(
        "--other-document-negatives",
        type=int,
        default=0,
        help="no-answer passages per question from other documents, ranked by BM25 (news and SQuAD replay)",
    )
    parser.add_argument(
        "--conversations",
        type=Path,
        nargs="+",
        default=[],
        help="training conversations over train articles (eval/conversations/train.jsonl): follow-ups read as the "
        "service reads them",
    )
    parser.add_argument(
        "--synthetic-follow-ups",
        type=int,
        default=0,
        help="this many follow-ups made from news train questions (lab.synthetic_follow_ups), read as the service "
        "reads a follow-up",
    )
    parser.add_argument(
        "--distill-follow-ups",
        type=float,
        default=0.0,
        metavar="WEIGHT",
        help="with --conversations: each follow-up also learns the base model's reading of its rewrite (lab.distill), "
        "at this weight beside the gold answer's loss",
    )
    parser.add_argument("--distill-temperature", type=float, default=2.0)
    parser.add_argument("--stage-batches", type=int, default=100, help="batches per stage (state saved after each)")
    parser.add_argument("--max-stages", type=int, help="stop after this many stages; run again to resume")
    parser.add_argument(
        "--no-recalibrate", action="store_true", help="skip the SQuAD-validation threshold after each epoch"
    )
    parser.add_argument("--threads", type=int)
    parser.add_argument(
        "--recalibrate-only",
        action="store_true",
        help="only re-choose --base-model's threshold and calibration on SQuAD validation (needs --squad-dir)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.recalibrate_only:
        if not args.squad_dir:
            parser.error("--recalibrate-only needs --squad-dir")
        print(json.dumps(recalibrate_on_squad_validation(args.base_model, args.squad_dir), indent=2))
        return 0
    if not args.out:
        parser.error("--out is required")
    summary = adapt(
        args.base_model,
        args.news_set,
        args.out,
        args.news_qa,
        args.squad_dir,
        args.qamr_limit,
        args.squad_limit,
        args.news_repeat,
        args.epochs,
        args.lr,
        passage_sentences=args.passage_sentences,
        passage_overlap=args.passage_overlap,
        negatives_per_question=args.negatives,
        stage_batches=args.stage_batches,
        max_stages=args.max_stages,
        recalibrate=not args.no_recalibrate,
        other_document_negatives=args.other_document_negatives,
        conversations=args.conversations,
        news_limit=args.news_limit,
        synthetic_follow_ups=args.synthetic_follow_ups,
        seed=args.seed,
        distill_weight=args.distill_follow_ups,
        distill_temperature=args.distill_temperature,
    )
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
