"""Questions about a time, and questions about order.

- A question that names a time ("in 2020", "in July 2024", "last year") is answered only from statements about
  that time: the dates written in the answer's sentence, or, when the sentence has none, the article's own date
  (a statement in an article of 2025 with no date of its own is about 2025). Today's vacancy rate is no answer to
  "What was the vacancy rate in 2020?"; when no confident answer is about that time, the service abstains.
  Relative times in the question ("last year") are read against each answer's article date, as a reader of that
  article would; a document without a date cannot be judged and keeps its answers.
- A question that asks for the most recent or the earliest ("When was the most recent CQC visit?", "the first
  ...") orders the confident answers by the time they are about, and says so on the first answer.
- A question about a time relative to an event ("before the inspection", "after the move") takes the event's date
  from the answer's article: the dates written in the sentences that name the event. When they agree on one date,
  only statements from that date on (after, since, following) or up to it (before, until, prior to) are answers;
  when the article names the event with no date, or with several, the question is answered as if unscoped.
"""

from __future__ import annotations

import re
from datetime import date

from qa.dates import MONTH_PATTERN as _MONTH
from qa.dates import YEAR_PATTERN as _YEAR
from qa.dates import Resolution, find_dates, resolve, sentence_around, sentences
from qa.decision import content_words

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
# "before the inspection", "after its move", "since the CQC visit": a relation and the event's words.
_EVENT = re.compile(
    r"\b(before|after|since|prior to|following|until|ahead of)\s+(?:the|its|their|his|her|this|that)\s+"
    r"([A-Za-z][\w\-]*(?:\s+[A-Za-z][\w\-]*)?)",
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


def event_scope(question: str, text: str, article_date: str | None) -> tuple[date, date] | None:
    """The range a question relative to an event asks about, with the event dated from the article `text`: from
    the event on (after, since, following) or up to it (before, until, prior to, ahead of). None when the question
    names no event relation, or the article dates the event nowhere or ambiguously."""
    match = _EVENT.search(question)
    if match is None or article_date is None:
        return None
    event_words = content_words(match.group(2))
    if not event_words:
        return None
    dated = {
        (found.start, found.end)
        for sentence in sentences(text)
        if event_words <= content_words(sentence)
        for found in find_dates(sentence, article_date)
    }
    if len(dated) != 1:
        return None
    event_start, event_end = dated.pop()
    if match.group(1).lower() in ("after", "since", "following"):
        return event_start, date.max
    return date.min, event_end


def asked_range(question: str, text: str, article_date: str | None) -> tuple[date, date] | None:
    """The range a question asks about, read in an article (`text`, `article_date`): the time it names, or the side
    of an event it names; None when it names neither, or the article cannot date it."""
    if article_date is None:
        return None
    if _QUESTION_TIME.search(question):
        named = question_time(question, article_date)
        return (named.start, named.end) if named else None
    if _EVENT.search(question):
        return event_scope(question, text, article_date)
    return None


def about_range(text: str, start: int, end: int, article_date: str | None, asked: tuple[date, date]) -> bool:
    """Whether the statement holding text[start:end] is about a time within `asked`."""
    first, last = asked
    return any(s <= last and first <= e for s, e in statement_times(text, start, end, article_date))


def in_time_scope(question: str, text: str, start: int, end: int, article_date: str | None) -> bool:
    """Whether the statement holding text[start:end] is about the time the question names (True when the question
    names none, or the article has no date to read it against)."""
    asked = asked_range(question, text, article_date)
    return asked is None or about_range(text, start, end, article_date, asked)


def order_asked(question: str) -> str | None:
    """'most recent' or 'earliest' when the question asks for one of several dated things, else None."""
    if _MOST_RECENT.search(question):
        return "most recent"
    if _EARLIEST.search(question):
        return "earliest"
    return None
