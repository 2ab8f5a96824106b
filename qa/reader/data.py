"""SQuAD-layout data sets and the fixed article split used to train and score the reader.

The split is by article title, never by question (a model must be scored on articles it never saw):
- test: the last 12 articles of the SQuAD 2.0 dev file, in file order (the same titles are excluded
  from SQuAD 1.1 dev too); never trained on, never used to choose anything;
- validation: the 4 SQuAD 2.0 dev articles just before them, used to pick the epoch, the abstain
  threshold and the score calibration;
- train: every other SQuAD 2.0 / 1.1 dev article plus the extra sets in data/qa-train/.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

TEST_ARTICLE_COUNT = 12
VALIDATION_ARTICLE_COUNT = 4


class DatasetError(ValueError):
    """A data file that cannot be read as SQuAD layout; the message names the file and the problem."""


@dataclass(frozen=True)
class QAExample:
    """One question over one context. `answers` holds (text, char_start) pairs; empty if unanswerable."""

    qid: str
    title: str
    question: str
    context: str
    answers: tuple[tuple[str, int], ...] = field(default=())
    source: str = ""

    @property
    def is_impossible(self) -> bool:
        return not self.answers

    @property
    def answer_texts(self) -> list[str]:
        return [text for text, _ in self.answers]


def read_squad_json(path: Path) -> dict:
    """Read a SQuAD-layout JSON file (optionally gzipped); clear errors for missing or malformed files."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            payload = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable SQuAD JSON file ({exc})") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise DatasetError(f"{path}: expected a JSON object with a 'data' list of articles")
    return payload


def iter_articles(path: Path) -> Iterator[dict]:
    payload = read_squad_json(path)
    for index, article in enumerate(payload["data"]):
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise DatasetError(f"{path}: article #{index} has no 'paragraphs' list")
        yield article


def article_titles(path: Path) -> list[str]:
    return [str(article.get("title", "")) for article in iter_articles(path)]


def load_examples(path: Path, titles: set[str] | None = None, exclude: set[str] | None = None) -> list[QAExample]:
    """Flatten a SQuAD-layout file into examples, optionally keeping or dropping articles by title.

    Answers whose offsets do not point at their text are re-aligned to the first exact match,
    or dropped when the text is absent.
    """
    examples: list[QAExample] = []
    source = Path(path).name
    for a_index, article in enumerate(iter_articles(path)):
        title = str(article.get("title", ""))
        if titles is not None and title not in titles:
            continue
        if exclude is not None and title in exclude:
            continue
        for p_index, paragraph in enumerate(article["paragraphs"]):
            context = paragraph.get("context")
            qas = paragraph.get("qas")
            if not isinstance(context, str) or not isinstance(qas, list):
                raise DatasetError(
                    f"{path}: article #{a_index} paragraph #{p_index} needs a 'context' string and a 'qas' list"
                )
            for q_index, qa in enumerate(qas):
                question = qa.get("question")
                if not isinstance(question, str) or "id" not in qa:
                    raise DatasetError(
                        f"{path}: article #{a_index} paragraph #{p_index} question #{q_index} "
                        "needs 'id' and 'question'"
                    )
                answers: list[tuple[str, int]] = []
                if not qa.get("is_impossible", False):
                    for answer in qa.get("answers", []):
                        text, start = answer.get("text", ""), answer.get("answer_start", -1)
                        if not text:
                            continue
                        if context[start : start + len(text)] != text:
                            start = context.find(text)
                            if start < 0:
                                continue
                        if (text, start) not in answers:
                            answers.append((text, start))
                    if not answers:
                        continue  # answerable in name only: nothing usable to learn or score
                examples.append(
                    QAExample(str(qa["id"]), title, question, context, tuple(answers), source)
                )
    return examples


@dataclass(frozen=True)
class ArticleSplit:
    test_titles: list[str]
    validation_titles: list[str]

    @classmethod
    def from_squad2_dev(cls, squad_dir: Path) -> "ArticleSplit":
        titles = article_titles(Path(squad_dir) / "dev-v2.0.json.gz")
        if len(titles) < TEST_ARTICLE_COUNT + VALIDATION_ARTICLE_COUNT + 1:
            raise DatasetError(f"{squad_dir}/dev-v2.0.json.gz: too few articles ({len(titles)}) for the split")
        test = titles[-TEST_ARTICLE_COUNT:]
        validation = titles[-(TEST_ARTICLE_COUNT + VALIDATION_ARTICLE_COUNT) : -TEST_ARTICLE_COUNT]
        return cls(test_titles=test, validation_titles=validation)

    @property
    def held_out(self) -> set[str]:
        return set(self.test_titles) | set(self.validation_titles)


def test_examples(squad_dir: Path) -> list[QAExample]:
    split = ArticleSplit.from_squad2_dev(squad_dir)
    return load_examples(Path(squad_dir) / "dev-v2.0.json.gz", titles=set(split.test_titles))


def validation_examples(squad_dir: Path) -> list[QAExample]:
    split = ArticleSplit.from_squad2_dev(squad_dir)
    return load_examples(Path(squad_dir) / "dev-v2.0.json.gz", titles=set(split.validation_titles))


def squad_training_examples(squad_dir: Path) -> list[QAExample]:
    """SQuAD 2.0 dev training articles (with their unanswerable questions) plus SQuAD 1.1 dev articles
    that 2.0 dev does not hold; held-out titles are excluded from both files."""
    squad_dir = Path(squad_dir)
    split = ArticleSplit.from_squad2_dev(squad_dir)
    v2 = load_examples(squad_dir / "dev-v2.0.json.gz", exclude=split.held_out)
    v2_titles = set(article_titles(squad_dir / "dev-v2.0.json.gz"))
    v1_path = squad_dir / "dev-v1.1.json.gz"
    v1 = load_examples(v1_path, exclude=v2_titles) if v1_path.exists() else []
    return v2 + v1


def extra_training_examples(extra_dir: Path, split: ArticleSplit | None = None) -> list[QAExample]:
    """Every SQuAD-layout file in data/qa-train/, minus any held-out title (defensive: none should match)."""
    examples: list[QAExample] = []
    held_out = split.held_out if split else set()
    for path in sorted(Path(extra_dir).glob("*.json*")):
        examples.extend(load_examples(path, exclude=held_out))
    return examples


def count_by_answerability(examples: Iterable[QAExample]) -> tuple[int, int]:
    answerable = unanswerable = 0
    for example in examples:
        if example.is_impossible:
            unanswerable += 1
        else:
            answerable += 1
    return answerable, unanswerable


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
        negatives.append(QAExample(example.qid + "_distractor", example.title, example.question, context, (), example.source))
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
                question = example.question[:first_word_end] + example.question[first_word_end:].replace(mention, candidate, 1)
                negatives.append(QAExample(example.qid + "_swap", example.title, question, example.context, (), example.source))
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
        crops.append(QAExample(example.qid + "_crop", example.title, example.question, example.context[begin:end],
                               answers, example.source))
    return crops
