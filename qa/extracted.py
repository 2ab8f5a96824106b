"""The one answer type from the reader to the caller: a span of a passage, with its offsets in the document.

The reader makes them, the answer decision rescores them, and the pipeline turns the kept ones into the public
`qa.schemas.Answer` (JSON) at the boundary. A plain dataclass, so the training path stays free of pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol


class PassageLike(Protocol):
    """What the reader needs of a passage: its text, and where it sits in its document."""

    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ExtractedAnswer:
    """A candidate answer: `text == passage.text[start:end]` and `text == document.text[document_start:document_end]`.

    Units: `span_logit` and `no_answer_logit` are the reader's logits and `margin` their difference; `score` is
    always a probability that the answer is right: the reader's calibration when it leaves the reader, the answer
    decision's once the pipeline has scored it.
    """

    text: str
    start: int  # characters into the passage
    end: int
    passage_rank: int  # 0-based place of the passage among those read for the question
    span_logit: float
    no_answer_logit: float
    score: float
    passage: PassageLike | None = None  # None when the reader read bare texts (training, SQuAD scoring)
    features: Mapping[str, float] = field(default_factory=dict)  # what the answer decision saw, once scored

    @property
    def margin(self) -> float:
        """How far the span beats its passage's no-answer logit (negative: the model prefers no answer)."""
        return self.span_logit - self.no_answer_logit

    @property
    def doc_id(self) -> str:
        return self._passage().doc_id

    @property
    def document_start(self) -> int:
        return self._passage().start + self.start

    @property
    def document_end(self) -> int:
        return self._passage().start + self.end

    def _passage(self) -> PassageLike:
        if self.passage is None:
            raise ValueError("this answer was read from a bare text, not a passage of a document")
        return self.passage
