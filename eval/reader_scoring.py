"""The reader alone on SQuAD-layout examples with their gold paragraph: its best span and no-answer margin per
question, scored against gold. Used by `qa eval reader`, the open-corpus ceiling and training-time validation
(lab/), so it imports nothing beyond the reader, the metrics and tqdm."""

from __future__ import annotations

from typing import Iterable

from eval.squad_data import QAExample
from qa.metrics import ScoredQuestion, score_question
from qa.reader.model import Reader


def score_reader(
    reader: Reader, examples: Iterable[QAExample], chunk_size: int = 256, progress: bool = False
) -> list[ScoredQuestion]:
    """One ScoredQuestion per example; its no_answer_score is the reader's no-answer logit minus the best span's
    (logits: the unit of the reader's own threshold, `ReaderSettings.no_answer_threshold`)."""
    from tqdm.auto import tqdm

    examples = list(examples)
    scored: list[ScoredQuestion] = []
    bar = tqdm(total=len(examples), desc="reading", unit="q", disable=not progress)
    for i in range(0, len(examples), chunk_size):
        chunk = examples[i : i + chunk_size]
        found, no_answer_logits = reader.read_texts(
            [e.question for e in chunk], [e.context for e in chunk], answers_per_text=1
        )
        for example, answers, no_answer in zip(chunk, found, no_answer_logits):
            best_text = answers[0].text if answers else ""
            best_logit = answers[0].span_logit if answers else float(no_answer) - 1e3
            scored.append(score_question(example.qid, best_text, float(no_answer) - best_logit, example.answer_texts))
        bar.update(len(chunk))
    bar.close()
    return scored
