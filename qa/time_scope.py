"""Questions about a time, and questions about order.

- A question that names a time ("in 2020", "in July 2024", "last year") is answered only from statements about
  that time: the dates written in the answer's sentence, or, when the sentence has none, the article's own date
  (a statement in an article of 2025 with no date of its own is about 2025). Today's vacancy rate is no answer to
  "What was the vacancy rate in 2020?"; when no confident answer is about that time, the service abstains.
  Relative times in the question ("last year") are read against each answer's article date, as a reader of that
  article would; a document without a date cannot be judged and keeps its answers.
- A question that asks for the most recent or the earliest ("When was the most recent CQC visit?", "the first
  ...") orders the confident answers by the time they are about, and says so on the first answer.
Event-relative times ("before the inspection") are not handled: they need the event's own date first.
"""

from __future__ import annotations

import re
from datetime import date

from qa.dates import MONTH_PATTERN as _MONTH
from qa.dates import YEAR_PATTERN as _YEAR
from qa.dates import Resolution, find_dates, resolve, sentence_around

# Times a question can name: a year, a month of a year, a day, or a period next to the article's.
_QUESTION_TIME = re.compile(
    rf"\b(?:\d{{1,2}}\s+)?{_MONTH}(?:\s+\d{{1,2}},?)?\s+{_YEAR}\b|\b(?:in|during|for|of|by)\s+{_YEAR}\b"
    r"|\b(?:last|this|next|the previous|the past)\s+(?:year|month|week)\b",
)
_MOST_RECENT = re.compile(
    r"\b(?:most recent|latest|newest|last(?!\s+(?:year|month|week|weekend|night|day|time|spring|summer|autumn|"
    r"winter|decade)\b))\b",
    re.IGNORECASE,
)
_EARLIEST = re.compile(r"\b(?:first|earliest|earlier|original)\b", re.IGNORECASE)


def question_time(question: str, anchor: date | str) -> Resolution | None:
    """The time a question names, read against `anchor` (the answer's article date); None when it names none."""
    match = _QUESTION_TIME.search(question)
    return resolve(match.group(0), anchor, question) if match else None


def statement_times(text: str, start: int, end: int, article_date: str | None) -> list[tuple[date, date]]:
    """The times the statement holding text[start:end] is about: its sentence's dates, else the article date."""
    found = find_dates(sentence_around(text, start, end), article_date)
    if found:
        return [(r.start, r.end) for r in found]
    if article_date is None:
        return []
    day = date.fromisoformat(article_date)
    return [(day, day)]


def in_time_scope(question: str, text: str, start: int, end: int, article_date: str | None) -> bool:
    """Whether the statement holding text[start:end] is about the time the question names (True when the question
    names none, or the article has no date to read it against)."""
    if article_date is None or not _QUESTION_TIME.search(question):
        return True
    asked = question_time(question, article_date)
    if asked is None:
        return True
    return any(s <= asked.end and asked.start <= e for s, e in statement_times(text, start, end, article_date))


def order_asked(question: str) -> str | None:
    """'most recent' or 'earliest' when the question asks for one of several dated things, else None."""
    if _MOST_RECENT.search(question):
        return "most recent"
    if _EARLIEST.search(question):
        return "earliest"
    return None
