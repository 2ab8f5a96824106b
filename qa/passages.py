"""Sentence-aware passage splitting: a few sentences per passage, consecutive passages overlapping."""

from __future__ import annotations

from typing import Iterable

from qa.documents import Document, Passage
from qa.sentences import sentence_spans


def split_document(document: Document, sentences: int = 3, overlap: int = 1, max_chars: int = 1200) -> list[Passage]:
    """Passages of up to `sentences` sentences (fewer when `max_chars` is reached), sharing `overlap`."""
    spans = sentence_spans(document.text)
    passages: list[Passage] = []
    step = max(1, sentences - overlap)
    i = 0
    while i < len(spans):
        j = i + 1
        while j < len(spans) and j - i < sentences and spans[j][1] - spans[i][0] <= max_chars:
            j += 1
        start, end = spans[i][0], spans[j - 1][1]
        passages.append(
            Passage(
                id=-1,
                doc_id=document.id,
                start=start,
                end=end,
                text=document.text[start:end],
                page=document.page_at(start),
            )
        )
        if j >= len(spans):
            break
        i = max(i + 1, min(i + step, j))
    return passages


def split_corpus(
    documents: Iterable[Document], sentences: int = 3, overlap: int = 1, max_chars: int = 1200, first_id: int = 0
) -> list[Passage]:
    """Passages of every document, numbered from `first_id` in corpus order."""
    passages: list[Passage] = []
    for document in documents:
        for passage in split_document(document, sentences, overlap, max_chars):
            passages.append(passage.model_copy(update={"id": first_id + len(passages)}))
    return passages
