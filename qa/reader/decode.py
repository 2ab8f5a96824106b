"""Span decoding: from start/end logits of each window to scored character spans of its passage.

The usual recipe (as in Haystack's ExtractiveReader): add start and end logits into one matrix, mask
every pair that is not a valid span, and take one top-k over the flattened matrix, with no Python loops
over token pairs. The [CLS] token's start+end logit is the window's no-answer score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.reader.windows import Windows

DEFAULT_MAX_ANSWER_TOKENS = 30
DEFAULT_ANSWERS_PER_WINDOW = 5
_MASKED = -1e9
_CHUNK = 64


@dataclass(frozen=True)
class SpanCandidate:
    """A candidate answer: `text == passage[start:end]`; `score` is the start+end logit sum."""

    pair_index: int
    start: int
    end: int
    text: str
    score: float


def decode_window_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    context_mask: np.ndarray,
    max_answer_tokens: int = DEFAULT_MAX_ANSWER_TOKENS,
    answers_per_window: int = DEFAULT_ANSWERS_PER_WINDOW,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best token spans of each window.

    Returns (start_tokens, end_tokens, scores), each [n_windows, k]; masked entries score <= _MASKED/2.
    A span is valid when both tokens are passage tokens, start <= end, and it is at most
    `max_answer_tokens` long.
    """
    n_windows, seq_len = start_logits.shape
    if n_windows == 0:
        empty = np.zeros((0, 0))
        return empty.astype(np.int64), empty.astype(np.int64), empty
    scores = start_logits[:, :, None] + end_logits[:, None, :]
    offsets = np.arange(seq_len)[None, :] - np.arange(seq_len)[:, None]  # end - start
    band = (offsets >= 0) & (offsets < max_answer_tokens)
    valid = band[None, :, :] & context_mask[:, :, None] & context_mask[:, None, :]
    scores = np.where(valid, scores, _MASKED)
    flat = scores.reshape(n_windows, -1)
    k = min(answers_per_window, flat.shape[1])
    best = np.argpartition(-flat, k - 1, axis=1)[:, :k]
    best_scores = np.take_along_axis(flat, best, axis=1)
    order = np.argsort(-best_scores, axis=1)
    best = np.take_along_axis(best, order, axis=1)
    best_scores = np.take_along_axis(best_scores, order, axis=1)
    return best // seq_len, best % seq_len, best_scores


def decode_spans(
    windows: Windows,
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    passages: list[str],
    max_answer_tokens: int = DEFAULT_MAX_ANSWER_TOKENS,
    answers_per_window: int = DEFAULT_ANSWERS_PER_WINDOW,
) -> tuple[list[list[SpanCandidate]], np.ndarray]:
    """Candidates per input pair (best first, duplicates across windows merged) and each pair's no-answer score.

    The pair's no-answer score is the lowest [CLS] score over its windows: the window that sees the
    answer best is the one that should speak on whether there is one (as in the SQuAD 2.0 BERT recipe).
    """
    n_pairs = len(passages)
    candidates: list[dict[tuple[int, int], SpanCandidate]] = [{} for _ in range(n_pairs)]
    null_scores = np.full(n_pairs, np.inf)
    # Chunks bound the [windows, seq, seq] score matrix to a few tens of MB.
    chunks = [
        decode_window_spans(
            start_logits[i : i + _CHUNK],
            end_logits[i : i + _CHUNK],
            windows.context_mask[i : i + _CHUNK],
            max_answer_tokens,
            answers_per_window,
        )
        for i in range(0, len(windows), _CHUNK)
    ]
    starts = [row for chunk in chunks for row in chunk[0]]
    ends = [row for chunk in chunks for row in chunk[1]]
    scores = [row for chunk in chunks for row in chunk[2]]
    cls_scores = start_logits[:, 0] + end_logits[:, 0] if len(windows) else np.zeros(0)
    for w in range(len(windows)):
        pair = int(windows.pair_index[w])
        null_scores[pair] = min(null_scores[pair], float(cls_scores[w]))
        for s_tok, e_tok, score in zip(starts[w], ends[w], scores[w]):
            if score <= _MASKED / 2:
                continue
            char_start = int(windows.char_starts[w, s_tok])
            char_end = int(windows.char_ends[w, e_tok])
            if char_start < 0 or char_end <= char_start:
                continue
            key = (char_start, char_end)
            existing = candidates[pair].get(key)
            if existing is None or existing.score < score:
                text = passages[pair][char_start:char_end]
                candidates[pair][key] = SpanCandidate(pair, char_start, char_end, text, float(score))
    null_scores[np.isinf(null_scores)] = 0.0
    ranked = [sorted(found.values(), key=lambda c: -c.score) for found in candidates]
    return ranked, null_scores
