"""Read each retrieved sentence once: overlapping passages of one document are merged into one text.

Passages share sentences with their neighbours (QA_PASSAGE_OVERLAP), and retrieval often returns neighbours
together, so reading the passages one by one reads the shared sentences twice or more. The reader instead reads
each run of overlapping passages as one text (their union in the document) and cites every span it finds there
to the best-ranked of those passages that holds the span whole, so citations stay passages of the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from qa.extracted import PassageLike


@dataclass(frozen=True)
class MergedText:
    """The union of overlapping passages of one document: `text` is the document's text[start:end]."""

    doc_id: str
    start: int
    end: int
    text: str
    members: tuple[int, ...]  # indexes into the passages read, best-ranked (lowest index) first

    @classmethod
    def of(cls, index: int, passage: PassageLike) -> "MergedText":
        """One passage read alone."""
        return cls(passage.doc_id, passage.start, passage.end, passage.text, (index,))

    def citing_member(self, passages: Sequence[PassageLike], start: int, end: int) -> int | None:
        """The best-ranked member passage holding document characters [start, end) whole, or None."""
        for index in self.members:
            passage = passages[index]
            if passage.start <= start and end <= passage.end:
                return index
        return None


def merge_overlapping(passages: Sequence[PassageLike]) -> list[MergedText]:
    """Texts that cover every passage once, in the order of their best-ranked member (retrieval order).

    Passages of one document whose character ranges overlap (directly or through a chain) become one text; a
    passage that overlaps nothing is its own text. Passages that only touch are not merged: that saves no reading.
    """
    by_document: dict[str, list[int]] = {}
    for index, passage in enumerate(passages):
        by_document.setdefault(passage.doc_id, []).append(index)
    merged: list[MergedText] = []
    for doc_id, indexes in by_document.items():
        ordered = sorted(indexes, key=lambda i: (passages[i].start, passages[i].end))
        group = [ordered[0]]
        text, start, end = passages[ordered[0]].text, passages[ordered[0]].start, passages[ordered[0]].end
        for index in ordered[1:]:
            passage = passages[index]
            if passage.start < end:  # overlaps the run so far: extend it by the passage's unseen tail
                if passage.end > end:
                    text += passage.text[end - passage.start :]
                    end = passage.end
                group.append(index)
                continue
            merged.append(MergedText(doc_id, start, end, text, tuple(sorted(group))))
            group = [index]
            text, start, end = passage.text, passage.start, passage.end
        merged.append(MergedText(doc_id, start, end, text, tuple(sorted(group))))
    merged.sort(key=lambda m: m.members[0])
    return merged
