"""Synthetic training examples for the reader: unanswerable pairs (distractor paragraphs, swapped entities) and
answerable passage crops shaped like the service's passages."""

from __future__ import annotations

import re
from typing import Sequence

from eval.squad_data import QAExample


def distractor_negatives(examples: Sequence[QAExample], rate: float, rng) -> list[QAExample]:
    """Unanswerable examples made by pairing answerable questions with another paragraph of the same
    article that holds none of their answers.

    The real SQuAD 2.0 unanswerable questions are few (about 3,500 in training); these teach the
    no-answer score what a retrieved-but-wrong passage looks like, which is what the service meets
    most often when it reads several retrieved passages.
    """
    contexts_by_article: dict[tuple[str, str], list[str]] = {}
    for example in examples:
        group = contexts_by_article.setdefault((example.source, example.title), [])
        if not group or group[-1] != example.context:
            if example.context not in group:
                group.append(example.context)
    negatives: list[QAExample] = []
    for example in examples:
        if example.is_impossible or rng.random() >= rate:
            continue
        others = [c for c in contexts_by_article[(example.source, example.title)] if c != example.context]
        if not others:
            continue
        context = others[int(rng.integers(len(others)))]
        lowered = context.lower()
        if any(text.lower() in lowered for text in example.answer_texts):
            continue
        negatives.append(
            QAExample(example.qid + "_distractor", example.title, example.question, context, (), example.source)
        )
    return negatives


# Names (capitalised runs, allowing "of"/"the"/"de"/"and" inside) and numbers: what a swap replaces.
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:(?:of|the|de|and)\s+)?[A-Z][a-z]+)*\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\d\b|\b\d\b")


# Capitalised only because they start a sentence: not names.
_NOT_NAME_STARTS = frozenset(
    "The A An In On At For By With From As It Its This That These Those He She They We His Her Their After Before "
    "During When While Although However Since Between Under Over Some Many Most Other".split()
)


def _mentions(text: str) -> list[tuple[str, bool]]:
    """(mention, is_number) for every name and number in `text`."""
    names = [m.group(0) for m in _NAME.finditer(text)]
    names = [n for n in names if n.split()[0] not in _NOT_NAME_STARTS]
    return [(n, False) for n in names] + [(m.group(0), True) for m in _NUMBER.finditer(text)]


def _kind(mention: str, is_number: bool) -> tuple[bool, int]:
    """Swap like for like: numbers of as many characters, names of as many words."""
    return is_number, len(mention) if is_number else len(mention.split())


def swapped_entity_negatives(examples: Sequence[QAExample], rate: float, rng) -> list[QAExample]:
    """Unanswerable examples made by swapping a name or number that an answerable question shares with its
    paragraph for one of the same kind (a name of as many words; a number as long) from another article's
    paragraphs that this paragraph never mentions.

    This is one of the ways SQuAD 2.0's writers made unanswerable questions ("entity swap"): the question
    still reads naturally and matches the paragraph word for word elsewhere, so only checking what it is
    about tells the two apart. The question's first word is skipped (capitalised, but not a name).
    """
    pools: dict[tuple[bool, int], list[str]] = {}
    seen: set[str] = set()
    for example in examples:
        if example.context in seen:
            continue
        seen.add(example.context)
        for mention, is_number in _mentions(example.context):
            pools.setdefault(_kind(mention, is_number), []).append(mention)
    pools = {key: sorted(set(values)) for key, values in pools.items()}
    negatives: list[QAExample] = []
    for example in examples:
        if example.is_impossible or rng.random() >= rate:
            continue
        first_word_end = len(example.question.split(" ", 1)[0])
        shared = [(m, n) for m, n in _mentions(example.question[first_word_end:]) if m in example.context]
        if not shared:
            continue
        mention, is_number = shared[int(rng.integers(len(shared)))]
        pool = pools.get(_kind(mention, is_number), [])
        context = example.context.lower()
        for _ in range(10 if pool else 0):  # a few draws: most candidates are absent from any one paragraph
            candidate = pool[int(rng.integers(len(pool)))]
            if candidate.lower() not in context and candidate != mention:
                question = example.question[:first_word_end] + example.question[first_word_end:].replace(
                    mention, candidate, 1
                )
                negatives.append(
                    QAExample(example.qid + "_swap", example.title, question, example.context, (), example.source)
                )
                break
    return negatives


def passage_crops(examples: Sequence[QAExample], rate: float, rng, sentences: int = 3) -> list[QAExample]:
    """Answerable examples cut to `sentences` consecutive sentences that hold the answer, as the service's
    passages are (qa.passages): the question's subject is then often named only outside the crop, which
    full SQuAD paragraphs never teach the reader to accept. The answer's sentence takes a random place."""
    from qa.sentences import sentence_spans

    crops: list[QAExample] = []
    for example in examples:
        if example.is_impossible or rng.random() >= rate:
            continue
        spans = sentence_spans(example.context)
        if len(spans) <= sentences:
            continue
        text, start = example.answers[0]
        holding = next((i for i, (s, e) in enumerate(spans) if s <= start < e), None)
        if holding is None:
            continue
        first = min(max(0, holding - int(rng.integers(sentences))), len(spans) - sentences)
        begin, end = spans[first][0], spans[first + sentences - 1][1]
        answers = tuple((t, s - begin) for t, s in example.answers if begin <= s and s + len(t) <= end)
        if not answers:
            continue  # the answer runs past the crop
        crops.append(
            QAExample(
                example.qid + "_crop",
                example.title,
                example.question,
                example.context[begin:end],
                answers,
                example.source,
            )
        )
    return crops


def retrieved_negatives(
    examples: Sequence[QAExample], pool: Sequence[tuple[str, str]], per_question: int
) -> list[QAExample]:
    """No-answer examples from *other* documents: for each question, the `per_question` texts of `pool`
    ((title, text) pairs) that BM25 ranks highest for it, skipping its own document (same title) and any text
    that holds one of its answers.

    This is what open retrieval hands the reader and what in-document negatives never show it: a passage about
    another trust, another hospital or another year that matches the question's words ("the chief executive of
    Norbridge ..." read in an article about Caldmoor's chief executive). Answering from it is the service's most
    costly kind of wrong answer.
    """
    from qa.index import bm25_index, bm25_tokenize, bm25_tokens

    if per_question <= 0 or not pool or not examples:
        return []
    retriever = bm25_index(bm25_tokens([text for _, text in pool]))
    depth = min(len(pool), 10 * per_question + 10)
    rows, scores = retriever.retrieve(
        bm25_tokenize([e.question for e in examples]), k=depth, show_progress=False, n_threads=1
    )
    negatives: list[QAExample] = []
    for example, row, row_scores in zip(examples, rows, scores):
        answers = [a.lower() for a in example.answer_texts]
        taken = 0
        for index, score in zip(row, row_scores):
            title, text = pool[int(index)]
            if score <= 0 or taken >= per_question:
                break
            if title == example.title or any(a and a in text.lower() for a in answers):
                continue
            negatives.append(QAExample(f"{example.qid}-x{taken}", title, example.question, text, (), example.source))
            taken += 1
    return negatives
