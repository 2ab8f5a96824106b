"""SQuAD-layout data sets and the fixed article split that the reader's training (lab/) and its evaluations (eval/)
share.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

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
                        f"{path}: article #{a_index} paragraph #{p_index} question #{q_index} needs 'id' and 'question'"
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
                examples.append(QAExample(str(qa["id"]), title, question, context, tuple(answers), source))
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
