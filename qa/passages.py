"""Sentence-aware passage splitting: a few sentences per passage, consecutive passages overlapping."""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable

from qa.documents import Document, Passage


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each sentence, trimmed of surrounding white space.

    Paragraph breaks always end a sentence: news paragraphs are units of their own.
    """
    spans: list[tuple[int, int]] = []
    offset = 0
    for paragraph in text.split("\n"):
        if paragraph.strip():
            for sentence in _segmenter().segment(paragraph):
                start, end = offset + sentence.start, offset + sentence.end
                while start < end and text[start].isspace():
                    start += 1
                while end > start and text[end - 1].isspace():
                    end -= 1
                if end > start:
                    spans.append((start, end))
        offset += len(paragraph) + 1
    return spans


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
        passages.append(Passage(id=-1, doc_id=document.id, start=start, end=end, text=document.text[start:end]))
        if j >= len(spans):
            break
        i = max(i + 1, min(i + step, j))
    return passages


def split_corpus(documents: Iterable[Document], sentences: int = 3, overlap: int = 1, max_chars: int = 1200) -> list[Passage]:
    """Passages of every document, numbered 0..n-1 in corpus order."""
    passages: list[Passage] = []
    for document in documents:
        for passage in split_document(document, sentences, overlap, max_chars):
            passages.append(passage.model_copy(update={"id": len(passages)}))
    return passages
