"""The answer decision: how likely each read span is to be right, and whether to answer at all.

The reader's own calibration was fitted on Wikipedia (SQuAD validation articles) and scores one span against its
one passage. News questions fail differently, so the decision can also use evidence that does not depend on the
reader's training domain: where retrieval ranked the passage, whether several passages agree on the span, how many
of the question's content words sit around the span, and whether the span is the kind of thing the question asks
for (a date for "when", a number for "how many"). A small logistic model combines them; it is fitted on the news
validation split (`qa eval news --fit-decision`) and stored as JSON beside the reader weights it was fitted with.
Without that file the decision is the reader's calibration alone (the `margin` feature), as before.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from pydantic import BaseModel, Field

from qa.extracted import ExtractedAnswer
from qa.metrics import normalize_answer

DECISION_FILE = "answer_decision.json"
# Ordinary words a question may capitalise inside a name (built by lab/common_words.py).
COMMON_WORDS_FILE = Path(__file__).parent / "models" / "common_words.txt"

# Every feature the pipeline can compute for a span; a decision model uses a subset of them, by name.
FEATURES = (
    "margin",  # span logit minus its passage's no-answer logit (the reader's own evidence)
    "margin_gap",  # margin minus the best margin of a span saying something else (how clear the winner is)
    "answering_passages",  # read passages whose best span beats their no-answer score, capped at 5
    "log_rank",  # log of the passage's 1-based retrieval rank
    "found_by_both",  # 1 when dense and BM25 retrieval both returned the passage
    "agreement",  # other read passages whose spans say the same (normalised) thing, capped at 3
    "context_overlap",  # share of the question's content words in the span's sentence and its neighbours
    "answer_in_question",  # share of the span's words already in the question (an echo, not an answer)
    "type_match",  # 1 when the question asks for a type (date, number, name) and the span is one
    "type_mismatch",  # 1 when the question asks for a type and the span is not one
    "names_missing",  # 1 when the span's article never mentions a name the question gives
)

_STOPWORDS = frozenset(
    "a an the of to in on at for by with from and or but is are was were be been being do does did has have had "
    "what which who whom whose when where why how many much it its this that these those there their they them "
    "he she his her we our you your i me my as into about after before over under than then so not no any some "
    "will would can could should may might shall must one ones s".split()
)
_WORD = re.compile(r"[A-Za-z0-9£$€%]+(?:['’][A-Za-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+")
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE_SPAN = re.compile(
    rf"\b(?:{_MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tomorrow|"
    r"spring|summer|autumn|winter|week|weeks|month|months|year|years|day|days|decade|century|"
    r"(?:1[5-9]|20)\d\d|\d{1,2}(?:st|nd|rd|th)?)\b",
    re.IGNORECASE,
)
_NUMBER_SPAN = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|hundred|hundreds|thousand|thousands|million|millions|billion|dozen|half|"
    r"quarter|third)\b",
    re.IGNORECASE,
)
_NAME_SPAN = re.compile(r"(?:^|\s)[A-Z][a-z'’\-]+")
# Unicode words: "Müller" and "Zürich" are names as much as "Miller".
_QUESTION_WORD = re.compile(r"[^\W_][\w'’\-]*")
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")
_ARTICLE_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def content_words(text: str) -> set[str]:
    """Stemmed, lower-cased words of `text` without stop words."""
    words = [w.lower() for w in _WORD.findall(text)]
    return set(_stemmer().stemWords([w for w in words if w not in _STOPWORDS]))


def question_names(question: str) -> list[str]:
    """The parts of the names a question gives, lower-cased: its capitalised words after the first (which is
    capitalised anyway), possessives removed, hyphenated and apostrophised names split ("Rees-Dwyer": "rees",
    "dwyer"). Left out: ordinary words capitalised as part of a name (common_words: "University", "Hospitals",
    "Trust"), short all-capitals abbreviations ("CEO", "NHS", "ICU") and parts under three letters ("Dr", "St"): an
    article about the thing may call it "the Luton and Dunstable Hospital", spell out "chief executive", or take
    them as read. "Brackenford Hospitals NHS Trust" gives brackenford."""
    names: list[str] = []
    for place, match in enumerate(_QUESTION_WORD.finditer(question)):
        word = _POSSESSIVE.sub("", match.group())
        if place == 0 or not word[:1].isupper() or word.lower() in _STOPWORDS:
            continue
        if word.isupper() and len(word) <= 4:
            continue  # "CEO", "NHS", "ICU": an article may spell it out or take it as read
        for part in _ARTICLE_WORD.findall(word.lower()):  # split as the article's words are
            if len(part) >= 3 and part not in names and part not in common_words():
                names.append(part)
    return names


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Words English also writes in lower case, not only capitalised ("university", "hospital", "trust"; not
    "luton" or "january"): lab/common_words.py."""
    return frozenset(COMMON_WORDS_FILE.read_text(encoding="utf-8").split())


@lru_cache(maxsize=512)
def _article_words(title: str, text: str) -> tuple[frozenset[str], frozenset[str]]:
    """An article's lower-cased words and their stems (cached: an article is checked for every question that
    reads it, and the strings' hashes are kept by Python, so a cache hit costs no reading)."""
    words = frozenset(_ARTICLE_WORD.findall(f"{title}\n{text}".lower()))
    return words, frozenset(_stemmer().stemWords(list(words)))


def names_missing(names: Sequence[str], title: str, text: str) -> float:
    """1.0 when the article never mentions one of `names` (question_names), as a word, by its stem ("New
    Zealanders" against "New Zealand") or as the place a people's name comes from ("Asian": Asia); 0.0 otherwise,
    and when the question gives no names. Any one name, not a share: "Brackenford" missing matters as much when the
    question also says "Hospitals Trust", which every trust's article says.

    Why: a question about a trust, person or place the article does not mention is not answered by it, however
    well a span fits the question's shape ("Who is the chief executive of X?" read against Y's chief executive);
    the reader scores one passage and cannot know that the name never occurs anywhere in its article."""
    if not names:
        return 0.0
    words, stems = _article_words(title, text)
    stem = _stemmer().stemWord

    def mentioned(part: str) -> bool:
        # A people's name for a place counts as the place ("Asian": Asia, "Tunisian": Tunisia).
        return part in words or stem(part) in stems or (part.endswith("an") and part[:-1] in words)

    return float(not all(mentioned(name) for name in names))


def expected_type(question: str) -> str | None:
    """The kind of answer the question asks for: 'date', 'number', 'name', or None when it does not say."""
    q = question.lower()
    if re.search(
        r"\bhow (many|much|long|old|far|big|often)\b|\bwhat (percentage|proportion|number|share|"
        r"amount|cost|price|age|rate)\b|\bwhat was the (cost|price|number|percentage)\b",
        q,
    ):
        return "number"
    if re.search(r"\bwhen\b|\bwhat (year|date|day|month|time)\b|\bwhich (year|date|day|month)\b|\bhow soon\b", q):
        return "date"
    if re.search(r"^\s*(who|whom|whose)\b|\bwho (is|was|are|were|leads|led|runs|ran|said|told|chairs)\b", q):
        return "name"
    return None


def span_has_type(span: str, kind: str) -> bool:
    if kind == "date":
        return bool(_DATE_SPAN.search(span))
    if kind == "number":
        return bool(_NUMBER_SPAN.search(span))
    if kind == "name":
        return bool(_NAME_SPAN.search(span))
    return False


def _sentence_window(passage: str, start: int, end: int) -> tuple[int, int]:
    """Offsets of the sentence holding passage[start:end] with one sentence either side."""
    bounds = [0] + [m.end() for m in _SENTENCE_END.finditer(passage)] + [len(passage)]
    holding = next((i for i in range(len(bounds) - 1) if bounds[i] <= start < bounds[i + 1]), 0)
    first = bounds[max(0, holding - 1)]
    last = bounds[min(len(bounds) - 1, holding + 2)]
    return first, max(last, end)


def span_features(
    question: str,
    spans: Sequence[ExtractedAnswer],
    passages: Sequence[str],
    ranks: Sequence[int],
    found_by_both: Sequence[bool],
    articles: Sequence[tuple[str, str]] | None = None,
) -> list[dict[str, float]]:
    """Every FEATURES value for each reader span (`spans`: ExtractedAnswers, with passage_rank/start/end/
    text/margin). `passages`, `ranks` (1-based), `found_by_both` and `articles` (the (title, text) of the passage's
    article; None: the passage alone stands for its article) are per read passage."""
    question_words = content_words(question)
    names = question_names(question)
    missing_by_passage = [
        names_missing(names, *(articles[i] if articles is not None else ("", passage)))
        for i, passage in enumerate(passages)
    ]
    kind = expected_type(question)
    # Passages that hold a confident-enough span with this normalised text (the reader's top spans per passage).
    passages_saying: dict[str, set[int]] = {}
    best_margin: dict[str, float] = {}
    for span in spans:
        key = normalize_answer(span.text)
        best_margin[key] = max(best_margin.get(key, -1e9), span.margin)
        if span.margin > 0:
            passages_saying.setdefault(key, set()).add(span.passage_rank)
    answering = len({i for said in passages_saying.values() for i in said})
    rows = []
    for span in spans:
        passage = passages[span.passage_rank]
        first, last = _sentence_window(passage, span.start, span.end)
        # Question words around the span, not in it: the span answers, its context matches the question.
        context = content_words(passage[first : span.start] + " " + passage[span.end : last])
        answer_words = content_words(span.text)
        key = normalize_answer(span.text)
        has_type = span_has_type(span.text, kind) if kind else False
        others = [m for k, m in best_margin.items() if k != key]
        rows.append(
            {
                "margin": float(span.margin),
                "margin_gap": float(min(30.0, span.margin - max(others))) if others else 30.0,
                "answering_passages": float(min(5, answering)),
                "log_rank": math.log(ranks[span.passage_rank]),
                "found_by_both": float(found_by_both[span.passage_rank]),
                "agreement": float(min(3, len(passages_saying.get(key, set()) - {span.passage_rank}))),
                "context_overlap": len(question_words & context) / len(question_words) if question_words else 0.0,
                "answer_in_question": len(answer_words & question_words) / len(answer_words) if answer_words else 1.0,
                "type_match": float(bool(kind) and has_type),
                "type_mismatch": float(bool(kind) and not has_type),
                "names_missing": missing_by_passage[span.passage_rank],
            }
        )
    return rows


class DecisionModel(BaseModel):
    """P(span right) = sigmoid(intercept + sum(weight * (feature - mean) / scale)); answer when >= threshold."""

    features: list[str] = Field(description="names from qa.decision.FEATURES")
    weights: list[float]
    intercept: float
    means: list[float] = Field(default_factory=list, description="feature centring (empty: 0)")
    scales: list[float] = Field(default_factory=list, description="feature scaling (empty: 1)")
    threshold: float = Field(ge=0.0, le=1.0, description="minimum probability to answer")
    stop_reading_at: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="a question's remaining passages are not read once an answer reaches this probability "
        "(None: read them all); chosen with the weights",
    )
    fitted_on: str = Field("", description="where the weights and threshold were chosen")
    figures: dict = Field(default_factory=dict, description="validation figures at fitting time")

    def model_post_init(self, _context) -> None:
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise ValueError(f"unknown decision features {unknown}; known: {list(FEATURES)}")
        if len(self.weights) != len(self.features):
            raise ValueError("weights: one per feature is needed")
        for name in ("means", "scales"):
            if getattr(self, name) and len(getattr(self, name)) != len(self.features):
                raise ValueError(f"{name}: one per feature is needed (or none)")
        if any(not s > 0 for s in self.scales):
            raise ValueError("scales: every scale must be positive")
        if not all(math.isfinite(w) for w in [*self.weights, self.intercept]):
            raise ValueError("weights and intercept must be finite numbers")

    def probability(self, features: dict[str, float]) -> float:
        means = self.means or [0.0] * len(self.features)
        scales = self.scales or [1.0] * len(self.features)
        z = self.intercept + sum(
            w * (features[name] - m) / s for name, w, m, s in zip(self.features, self.weights, means, scales)
        )
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    @classmethod
    def reader_calibration(cls, slope: float, intercept: float, threshold: float) -> "DecisionModel":
        """The reader's own calibration as a decision: its margin alone."""
        return cls(
            features=["margin"],
            weights=[slope],
            intercept=intercept,
            threshold=threshold,
            fitted_on="reader calibration (SQuAD validation articles)",
        )

    @classmethod
    def load(cls, path: Path) -> "DecisionModel":
        try:
            return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, ValueError) as exc:
            raise ValueError(f"{path}: unreadable answer decision ({exc})") from exc

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return path
