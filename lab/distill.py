"""Soft targets for follow-ups: the reader reading the self-contained rewrite teaches it to read the follow-up.

A follow-up ("How many beds does it have?") is read as the service reads it, with its subject after it; its
training conversation also gives the same question made self-contained (the rewrite). The reader reads rewrites
better and more surely (forced F1 0.848 against 0.762 on the validation conversations where the evidence is read),
so the teacher, a frozen reader, reads the rewrite over the same passage, and its start and end logits over the
[CLS] (no answer) and passage tokens become the follow-up window's soft targets: the student learns to be as sure,
and of the same spans, when reading the follow-up (`python -m lab.adapt_news --distill-follow-ups`).

The passage is tokenised the same way after either question, so a passage token has the same word piece in both
windows and only its position moves by the difference in question lengths.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from eval.squad_data import QAExample
from qa.reader.windows import tokenize_windows

log = logging.getLogger(__name__)

SOFT_KEYS = ("soft_start", "soft_end", "soft_mask")


def conversation_teacher_questions(
    paths: Sequence[Path], news_dir: Path, history_turns: int | None = None
) -> dict[str, str]:
    """For every follow-up of the training conversations (answerable or not) that the service reads with its
    conversation: the question as the reader reads it -> its self-contained rewrite."""
    from eval.conversations import load_conversations
    from eval.news_set import load_news_set
    from qa.config import Settings
    from qa.conversation import conversation_context, reader_question

    turns = Settings().history_turns if history_turns is None else history_turns
    news = load_news_set(news_dir)
    teachers: dict[str, str] = {}
    for path in paths:
        for conversation in load_conversations(Path(path), news, split="train"):
            questions = [t.question for t in conversation.turns]
            asked = [(t.question, t.rewrite, questions[:i]) for i, t in enumerate(conversation.turns) if t.rewrite]
            asked += [(u.question, u.rewrite, questions[: u.after_turn]) for u in conversation.unanswerable]
            for question, rewrite, history in asked:
                window = conversation_context(question, tuple(history), turns)
                if window.questions and rewrite:
                    teachers[reader_question(question, window)] = rewrite
    return teachers


def _passage_positions(input_ids: np.ndarray, token_type_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Positions of a window's passage tokens (second segment, without its closing [SEP])."""
    positions = np.flatnonzero((token_type_ids == 1) & (attention_mask == 1))
    return positions[:-1]


def soft_targets(
    teacher,
    tokenizer,
    feats: Mapping[str, np.ndarray],
    examples: Sequence[QAExample],
    teacher_questions: Mapping[str, str],
    max_length: int,
    stride: int,
    batch_size: int = 64,
) -> dict[str, np.ndarray]:
    """Per training window (`feats`, with "example": the index into `examples` of each window's example): the
    teacher's start and end logits reading the example's teacher question over the same passage, placed at the
    window's [CLS] and passage positions ("soft_mask" True there); no targets (mask all False) for windows whose
    question has no teacher question, whose passage needed more than one window, or whose passage tokens differ."""
    import torch
    from tqdm.auto import tqdm

    count, width = feats["input_ids"].shape
    targets = {
        "soft_start": np.zeros((count, width), dtype=np.float32),
        "soft_end": np.zeros((count, width), dtype=np.float32),
        "soft_mask": np.zeros((count, width), dtype=bool),
    }
    rows = [w for w in range(count) if examples[int(feats["example"][w])].question in teacher_questions]
    skipped = 0
    teacher.eval()
    for begin in tqdm(range(0, len(rows), batch_size), desc="teacher reading rewrites", unit="batch"):
        chunk = rows[begin : begin + batch_size]
        pairs = [examples[int(feats["example"][w])] for w in chunk]
        windows = tokenize_windows(
            tokenizer, [teacher_questions[e.question] for e in pairs], [e.context for e in pairs], max_length, stride
        )
        with torch.no_grad():
            output = teacher(
                input_ids=torch.from_numpy(windows.input_ids),
                attention_mask=torch.from_numpy(windows.attention_mask),
                token_type_ids=torch.from_numpy(windows.token_type_ids),
            )
        start_logits, end_logits = output.start_logits.float().numpy(), output.end_logits.float().numpy()
        per_pair = np.bincount(windows.pair_index, minlength=len(chunk))
        for t, pair in enumerate(windows.pair_index):
            w = chunk[int(pair)]
            student = _passage_positions(feats["input_ids"][w], feats["token_type_ids"][w], feats["attention_mask"][w])
            taught = _passage_positions(windows.input_ids[t], windows.token_type_ids[t], windows.attention_mask[t])
            if per_pair[pair] != 1 or not np.array_equal(feats["input_ids"][w][student], windows.input_ids[t][taught]):
                skipped += 1
                continue
            for key, logits in (("soft_start", start_logits), ("soft_end", end_logits)):
                targets[key][w, 0] = logits[t, 0]
                targets[key][w, student] = logits[t, taught]
            targets["soft_mask"][w, 0] = True
            targets["soft_mask"][w, student] = True
    log.info(
        "soft targets for %d windows (%d skipped: several windows or other passage tokens)",
        len(rows) - skipped,
        skipped,
    )
    return targets


def distillation_loss(start_logits, end_logits, soft: Mapping, temperature: float):
    """Mean over the windows with soft targets of KL(teacher || student) over [CLS] and passage tokens, start and end
    averaged, times temperature squared (so its gradient scale does not depend on the temperature); 0 when the
    batch has none. `soft` holds torch tensors cut to the batch's width."""
    import torch

    mask = soft["soft_mask"]
    rows = mask.any(dim=1)
    if not bool(rows.any()):
        return start_logits.new_zeros(())
    mask = mask[rows]
    total = start_logits.new_zeros(())
    for logits, key in ((start_logits, "soft_start"), (end_logits, "soft_end")):
        student = (logits.float()[rows] / temperature).masked_fill(~mask, float("-inf"))
        teacher = (soft[key][rows] / temperature).masked_fill(~mask, float("-inf"))
        log_p = torch.log_softmax(teacher, dim=1)
        log_q = torch.log_softmax(student, dim=1)
        total = total + (log_p.exp() * (log_p - log_q)).masked_fill(~mask, 0.0).sum(dim=1).mean()
    return total / 2 * temperature**2
