"""The news development set (`eval/news/`): load it, and check it.

Layout:
- `articles/`: one article per `.txt` file in the service's corpus format (first line `date YYYY-MM-DD`); the
  folder is a corpus as it stands, so the whole set is indexed as one corpus and articles compete.
- `articles.jsonl`: one line per article: `article` (file stem = document id), `title`, `date`, `split`
  (`validation` or `train`), `source` (`wikinews` or `written for this set`), and for Wikinews `url`, `licence`,
  `attribution`.
- `questions.jsonl`: `id`, `article`, `split` (the article's), `question`, `answers` (each verbatim in the article),
  `evidence` (verbatim sentences holding the answers), `answerable`. Unanswerable questions have empty answers
  and evidence; their `article` is the one they are plausibly about, which fixes their split.

The checker (`qa eval news-check`) proves every answer and evidence string is in its article, the split is by
article, and the seed article (the test set) is not in the set.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, model_validator

from eval.jsonl import Row, read_jsonl
from qa.config import PROJECT_ROOT
from qa.documents import Document
from qa.ingest import load_corpus

NEWS_DIR = PROJECT_ROOT / "eval" / "news"
SPLITS = ("validation", "train")


class NewsSetError(ValueError):
    """The news set is malformed; the message names the file and line."""


class NewsArticle(BaseModel):
    article: str = Field(min_length=1)
    title: str = Field(min_length=1)
    date: str | None = None
    split: str
    source: str = Field(description="'wikinews' or 'written for this set'")
    url: str | None = None
    licence: str | None = None
    attribution: str | None = None

    @model_validator(mode="after")
    def _known_split_and_attribution(self) -> "NewsArticle":
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {self.split!r}")
        if self.source == "wikinews" and not (self.url and self.licence and self.attribution):
            raise ValueError("a Wikinews article needs its url, licence and attribution")
        if self.source not in ("wikinews", "written for this set"):
            raise ValueError("source must be 'wikinews' or 'written for this set'")
        return self


NonBlank = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, pattern=r"\S")]


class NewsQuestion(BaseModel):
    id: str = Field(min_length=1)
    article: str = Field(min_length=1)
    split: str
    question: str = Field(min_length=3)
    answers: list[NonBlank]
    evidence: list[NonBlank]
    answerable: bool

    @model_validator(mode="after")
    def _answers_match_answerable(self) -> "NewsQuestion":
        if self.answerable and not (self.answers and self.evidence):
            raise ValueError("an answerable question needs answers and evidence")
        if not self.answerable and (self.answers or self.evidence):
            raise ValueError("an unanswerable question has empty answers and evidence")
        return self


@dataclass
class NewsSet:
    folder: Path
    articles: dict[str, NewsArticle]
    questions: list[NewsQuestion]
    documents: dict[str, Document]

    @property
    def corpus_dir(self) -> Path:
        return self.folder / "articles"

    def split(self, name: str) -> list[NewsQuestion]:
        return [q for q in self.questions if name in ("all", q.split)]


def _read_jsonl(path: Path, model: type[Row]) -> list[Row]:
    return read_jsonl(path, model, NewsSetError)


def load_news_set(folder: Path = NEWS_DIR) -> NewsSet:
    """Read the set; raises NewsSetError naming the file (and line) of the first structural problem."""
    folder = Path(folder)
    articles_dir = folder / "articles"
    if not articles_dir.is_dir():
        raise NewsSetError(f"{articles_dir}: no articles folder")
    manifest = _read_jsonl(folder / "articles.jsonl", NewsArticle)
    articles = {a.article: a for a in manifest}
    if len(articles) != len(manifest):
        twice = [name for name, n in Counter(a.article for a in manifest).items() if n > 1]
        raise NewsSetError(f"{folder / 'articles.jsonl'}: articles listed twice: {twice[:5]}")
    corpus = load_corpus(articles_dir)
    if corpus.skipped:
        raise NewsSetError(f"unreadable article: {corpus.skipped[0]}")
    documents = {d.id: d for d in corpus.documents}
    missing = sorted(set(articles) - set(documents))
    if missing:
        raise NewsSetError(f"{articles_dir}: article file missing for {missing[:5]} (listed in articles.jsonl)")
    unlisted = sorted(set(documents) - set(articles))
    if unlisted:
        raise NewsSetError(f"{folder / 'articles.jsonl'}: no line for article file(s) {unlisted[:5]}")
    questions = _read_jsonl(folder / "questions.jsonl", NewsQuestion)
    for number, q in enumerate(questions, start=1):
        if q.article not in articles:
            raise NewsSetError(f"{folder / 'questions.jsonl'}:{number}: unknown article {q.article!r}")
        if q.split != articles[q.article].split:
            # Structural: a question filed under the other split would leak a validation article into training.
            raise NewsSetError(
                f"{folder / 'questions.jsonl'}:{number} ({q.id}): split {q.split!r} but its article "
                f"{q.article} is in {articles[q.article].split!r}"
            )
    return NewsSet(folder, articles, questions, documents)


def check_news_set(news: NewsSet, seeds_dir: Path | None = PROJECT_ROOT / "seeds") -> list[str]:
    """Every problem with the set's content (empty: none). Structural problems already raised in loading."""
    where = news.folder / "questions.jsonl"
    problems = []
    ids = Counter(q.id for q in news.questions)
    problems += [f"{where}: question id {i!r} used {n} times" for i, n in ids.items() if n > 1]
    seen_questions: dict[str, str] = {}
    for number, q in enumerate(news.questions, start=1):
        at = f"{where}:{number} ({q.id})"
        text = news.documents[q.article].text
        key = " ".join(q.question.lower().split())
        if key in seen_questions:
            problems.append(f"{at}: same question as {seen_questions[key]}")
        seen_questions[key] = q.id
        for answer in q.answers:
            if answer not in text:
                problems.append(f"{at}: answer {answer!r} is not verbatim in {q.article}")
            elif not any(answer in e for e in q.evidence):
                problems.append(f"{at}: answer {answer!r} is in no evidence string")
        for evidence in q.evidence:
            if evidence not in text:
                problems.append(f"{at}: evidence {evidence[:60]!r} is not verbatim in {q.article}")
    if seeds_dir is not None and Path(seeds_dir).is_dir():
        seed_texts = {d.id: d.text for d in load_corpus(Path(seeds_dir)).documents}
        for doc_id, seed_text in seed_texts.items():
            probe = seed_text.strip()[:200]
            for document in news.documents.values():
                if document.id == doc_id or probe in document.text:
                    problems.append(f"seed article {doc_id} (the test set) is in the news set as {document.id}")
    return problems


def describe(news: NewsSet) -> dict[str, Any]:
    """Counts per split: articles (Wikinews / written), questions, answerable, unanswerable."""
    summary: dict[str, Any] = {}
    for split in SPLITS:
        arts = [a for a in news.articles.values() if a.split == split]
        qs = news.split(split)
        summary[split] = {
            "articles": len(arts),
            "wikinews_articles": sum(a.source == "wikinews" for a in arts),
            "written_articles": sum(a.source != "wikinews" for a in arts),
            "questions": len(qs),
            "answerable": sum(q.answerable for q in qs),
            "unanswerable": sum(not q.answerable for q in qs),
        }
    total = len(news.questions)
    summary["questions"] = total
    summary["unanswerable_share"] = sum(not q.answerable for q in news.questions) / max(1, total)
    return summary
