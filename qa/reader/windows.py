"""Question+passage tokenisation into overlapping windows, shared by training and inference.

Each window is `[CLS] question [SEP] passage-slice [SEP]`; consecutive windows overlap by `stride`
tokens so an answer cut by one window boundary is whole in the next. Every window keeps, per token,
the character offsets into its passage (or -1 for question and special tokens), which is all span
decoding needs to map tokens back to text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

DEFAULT_MAX_LENGTH = 384
DEFAULT_STRIDE = 128
DEFAULT_MAX_QUESTION_TOKENS = 64
# The arrays of TokenWindows the span model takes, in its argument order.
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass
class Windows:
    """A batch of tokenised windows. Arrays are [n_windows, seq_len]."""

    input_ids: np.ndarray
    attention_mask: np.ndarray
    token_type_ids: np.ndarray
    # Character offsets into the window's passage; -1 outside the passage (question, special, padding).
    char_starts: np.ndarray
    char_ends: np.ndarray
    # Which input pair (question, passage) each window came from.
    pair_index: np.ndarray

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def context_mask(self) -> np.ndarray:
        return self.char_starts >= 0


def truncate_question(tokenizer, question: str, max_tokens: int) -> str:
    """Cut a question to its first `max_tokens` word pieces, at a character boundary."""
    encoded = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
    offsets = encoded["offset_mapping"]
    if len(offsets) <= max_tokens:
        return question
    return question[: offsets[max_tokens - 1][1]]


def tokenize_windows(
    tokenizer,
    questions: Sequence[str],
    passages: Sequence[str],
    max_length: int = DEFAULT_MAX_LENGTH,
    stride: int = DEFAULT_STRIDE,
    max_question_tokens: int = DEFAULT_MAX_QUESTION_TOKENS,
    pad_to_max_length: bool = False,
) -> Windows:
    """Tokenise (question, passage) pairs into windows that together cover every passage token."""
    if len(questions) != len(passages):
        raise ValueError("questions and passages must have the same length")
    if not questions:
        empty = np.zeros((0, 0), dtype=np.int64)
        return Windows(empty, empty, empty, empty, empty, np.zeros((0,), dtype=np.int64))
    questions = [truncate_question(tokenizer, q, max_question_tokens) for q in questions]
    encoded = tokenizer(
        list(questions),
        list(passages),
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length" if pad_to_max_length else "longest",
        return_token_type_ids=True,
    )
    n_windows = len(encoded["input_ids"])
    seq_len = len(encoded["input_ids"][0])
    char_starts = np.full((n_windows, seq_len), -1, dtype=np.int64)
    char_ends = np.full((n_windows, seq_len), -1, dtype=np.int64)
    for w in range(n_windows):
        sequence_ids = encoded.sequence_ids(w)
        for t, (offset, seq_id) in enumerate(zip(encoded["offset_mapping"][w], sequence_ids)):
            if seq_id == 1:
                char_starts[w, t], char_ends[w, t] = offset
    return Windows(
        input_ids=np.asarray(encoded["input_ids"], dtype=np.int64),
        attention_mask=np.asarray(encoded["attention_mask"], dtype=np.int64),
        token_type_ids=np.asarray(encoded["token_type_ids"], dtype=np.int64),
        char_starts=char_starts,
        char_ends=char_ends,
        pair_index=np.asarray(encoded["overflow_to_sample_mapping"], dtype=np.int64),
    )


def answer_token_span(windows: Windows, window: int, answer_start: int, answer_end: int) -> tuple[int, int] | None:
    """Token (start, end) of a character span inside one window, or None if the window does not hold it whole."""
    starts, ends = windows.char_starts[window], windows.char_ends[window]
    in_context = np.nonzero(starts >= 0)[0]
    if in_context.size == 0:
        return None
    first, last = in_context[0], in_context[-1]
    if starts[first] > answer_start or ends[last] < answer_end:
        return None
    # First context token that ends after the answer starts; last one that starts before it ends.
    start_token = first + int(np.argmax(ends[first : last + 1] > answer_start))
    end_candidates = np.nonzero((starts[first : last + 1] < answer_end))[0]
    end_token = first + int(end_candidates[-1])
    if end_token < start_token:
        return None
    return start_token, end_token
