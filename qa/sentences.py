"""Sentence boundaries in article text (pysbd, imported on first use). No pydantic, so the reader's training
(passage-shaped crops) can use it on a bare GPU machine with pysbd's wheel alone."""

from __future__ import annotations

from functools import lru_cache


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
