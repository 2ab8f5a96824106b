"""Resolve the date or time expression in an answer against its article's date.

"July" in an article of 23 October 2025 means July 2025; "next month" means November 2025; "less than three weeks
away" means by 13 November 2025. The answer span never changes: the resolution is a structured range beside it.
python-dateutil does the calendar arithmetic and reads full dates; this module decides the anchor (the article's
date, or a date named earlier in the sentence for "the following day") and the direction (a bare month or weekday
is the most recent one at or before the article date, unless the sentence looks ahead: "will", "next", "is due",
"away"). An expression it cannot pin down gets no resolution, never a guess.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Callable

from dateutil.relativedelta import relativedelta

_MONTHS = (
    {name: i for i, name in enumerate(calendar.month_name) if name}
    | {name: i for i, name in enumerate(calendar.month_abbr) if name}
    | {"Sept": 9}
)
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
)
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
# Public names for modules that find dates in questions (qa.time_scope).
MONTH_PATTERN = _MONTH
YEAR_PATTERN = _YEAR
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "eighteen": 18,
    "twenty": 20,
}
_NUMBER = r"(?:\d{1,3}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|eighteen|twenty)"
_UNIT = r"(?:day|week|fortnight|month|year)s?"
# UK meteorological seasons: (first month, months long); winter starts in December.
_SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
_SEASON = r"(?:spring|summer|autumn|fall|winter)"
# Words that make a bare month, weekday or season point ahead of the article date.
_AHEAD = re.compile(
    r"\b(will|shall|'ll|would|next|due|is set to|are set to|set to|expects?|expected|plans? to|planned|"
    r"scheduled|coming|upcoming|away|from now|by the end of|going to|hopes? to|aims? to|"
    r"(?:(?:is|are)\s+)?to be(?:\s+[a-z]+)?|(?:is|are) to)\b",
    re.IGNORECASE,
)
# Words that put a statement in the past: the auxiliaries and common past tenses (a bare -ed is too often an
# adjective: "newly qualified", "the United Nations").
_PAST = re.compile(
    r"\b(was|were|had|did|said|began|made|took|came|went|saw|met|held|gave|told|found|left|won|lost|became|"
    r"brought|built|fell|rose|grew|paid|sent|spent|wrote|ran|announced|opened|visited|started|closed|published|"
    r"reported|agreed|rated|launched|confirmed|received|decided|arrived|moved|happened|introduced|completed|"
    r"revealed|inspected|returned|resumed|joined|approved|signed|issued|appointed|released|died|elected|voted)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Resolution:
    """A resolved expression: the calendar range it means, how precise it is, and why."""

    start: date
    end: date
    granularity: str  # day, week, month, season, year, range
    resolved_from: str  # the words resolved, verbatim from the answer
    basis: str

    @property
    def label(self) -> str:
        """How a person would say the range: "July 2025", "23 October 2025", "spring 2026"."""
        if self.granularity == "day":
            return f"{self.start.day} {calendar.month_name[self.start.month]} {self.start.year}"
        if self.granularity == "month":
            return f"{calendar.month_name[self.start.month]} {self.start.year}"
        if self.granularity == "year":
            return str(self.start.year)
        if self.granularity == "season":
            name = next(s for s, m in _SEASONS.items() if m == self.start.month and s != "fall")
            return (
                f"{name} {self.start.year}"
                if name != "winter"
                else f"winter {self.start.year}-{str(self.end.year)[2:]}"
            )
        return f"{_day_label(self.start)} to {_day_label(self.end)}"


def _day_label(day: date) -> str:
    return f"{day.day} {calendar.month_name[day.month]} {day.year}"


def _month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _season_range(year: int, season: str) -> tuple[date, date]:
    first = _SEASONS[season]
    start = date(year, first, 1)
    last = start + relativedelta(months=3) - timedelta(days=1)
    return start, last


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word.lower()]


def _day_number(word: str) -> int:
    """The day of a written day of the month: "14th" -> 14."""
    return int(re.sub(r"\D", "", word))


def _month_number(word: str) -> int:
    return _MONTHS[word.rstrip(".").title()]


_SENTENCE_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+|\n")


def sentences(text: str) -> list[str]:
    """`text` cut at sentence boundaries (the same boundaries as sentence_around)."""
    parts, first = [], 0
    for boundary in _SENTENCE_BOUNDARY.finditer(text):
        parts.append(text[first : boundary.start()])
        first = boundary.end()
    parts.append(text[first:])
    return [part for part in parts if part.strip()]


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence of `text` holding text[start:end] (to the next boundary after the span)."""
    first = max((m.end() for m in _SENTENCE_BOUNDARY.finditer(text, 0, start)), default=0)
    after = _SENTENCE_BOUNDARY.search(text, end)
    return text[first : after.start() if after else len(text)]


def _looks_ahead(sentence: str, span: str = "") -> bool:
    """Whether the statement holding `span` is about the future: the tense cue nearest before the span decides
    ("broadcasts began on 10 August and will continue" is past for "10 August"), else the nearest after it;
    a future cue beats a past one that overlaps it ("is expected", "to be brought")."""
    at = sentence.find(span) if span else -1
    if at < 0:
        return bool(_AHEAD.search(sentence))
    cues = [(m.start(), m.end(), True) for m in _AHEAD.finditer(sentence)]
    cues += [(m.start(), m.end(), False) for m in _PAST.finditer(sentence) if not _AHEAD.fullmatch(m.group(0))]
    before = [c for c in cues if c[1] <= at]
    if before:
        last_end = max(c[1] for c in before)
        return any(ahead for start, end, ahead in before if end == last_end) or any(
            ahead for start, end, ahead in before if start < last_end <= end
        )
    after = sorted((c for c in cues if c[0] >= at + len(span)), key=lambda c: (c[0], not c[2]))
    return bool(after) and after[0][2]


def _explicit_date_before(text: str, article: date, ahead: bool) -> date | None:
    """The last day-and-month date ("14 May 2024", "May 14, 2024", "14 May") written in `text`, for "the following
    day"; one without its year is the most recent at or before the article date (the next one when ahead)."""
    found = None
    pattern = rf"\b({_DAY})\s+({_MONTH})(?:,?\s+({_YEAR}))?\b|\b({_MONTH})\s+({_DAY})\b(?:,?\s+({_YEAR}))?"
    for m in re.finditer(pattern, text):
        day, month, year = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(5), m.group(4), m.group(6))
        if not month[0].isupper():
            continue
        try:
            month_number, day_number = _month_number(month), _day_number(day)
            found = (
                date(int(year), month_number, day_number)
                if year
                else _day_without_year(article, month_number, day_number, ahead)
            )
        except ValueError:
            continue
    return found


def _day_without_year(article: date, month: int, day: int, ahead: bool) -> date:
    """The most recent such day at or before the article date, or the first from it on when the sentence looks
    ahead. ValueError for a day that does not exist."""
    year = article.year
    if ahead and (month, day) < (article.month, article.day):
        year += 1
    if not ahead and (month, day) > (article.month, article.day):
        year -= 1
    return date(year, month, day)


def resolve(span: str, article_date: date | str | None, sentence: str = "") -> Resolution | None:
    """The date range `span` means, read in an article of `article_date`; `sentence` is the sentence the span
    sits in (its tense decides the direction of a bare month or weekday). None when the span holds no date
    expression this module can pin down, or the article has no date."""
    if article_date is None:
        return None
    if isinstance(article_date, str):
        try:
            article_date = date.fromisoformat(article_date)
        except ValueError:
            return None
    context = sentence or span
    ahead = _looks_ahead(context, span) or bool(_AHEAD.search(span))
    for rule in _RULES:
        match = rule.pattern.search(span)
        if not match:
            continue
        found = rule.resolve(match, article_date, ahead, context)
        if found is False:
            return None  # a date that cannot exist ("31 February 2024"): no weaker reading of it either
        if found is None:
            continue
        start, end, granularity, note = found
        basis = f"article date {article_date.isoformat()}" + (f"; {note}" if note else "")
        return Resolution(start, end, granularity, match.group(0).strip(), basis)
    return None


def find_dates(text: str, article_date: date | str | None) -> list[Resolution]:
    """Every date expression in `text` (a sentence), resolved against the article date, in the order written;
    where expressions overlap, the more specific reading wins ("between March and May 2024" once, not "May 2024")."""
    if article_date is None:
        return []
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, Resolution]] = []
    for rule in _RULES:
        for match in rule.pattern.finditer(text):
            start, end = match.span()
            if match.group(0).strip() == "" or any(start < e and s < end for s, e in taken):
                continue
            resolution = resolve(match.group(0), article_date, text)
            if resolution is not None:
                taken.append((start, end))
                found.append((start, resolution))
    return [resolution for _, resolution in sorted(found, key=lambda item: item[0])]


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern
    # (match, article_date, ahead, context) -> (start, end, granularity, note); None: not this rule's kind,
    # try the next; False: an impossible date, resolve nothing.
    resolve: Callable[..., Any]


def _rule(pattern: str):
    def wrap(function):
        _RULES.append(_Rule(re.compile(pattern, re.IGNORECASE), function))
        return function

    return wrap


_RULES: list[_Rule] = []


# Order matters: the most specific forms first, so "between March and May 2024" is not read as "May 2024".

# One end of a range: "24 December", "December 24", "December", each with an optional year.
_POINT = rf"(?:({_DAY})\s+({_MONTH})|({_MONTH})\s+({_DAY})(?![\d:])|({_MONTH}))(?:,?\s+({_YEAR}))?"


def _range_end(groups: tuple, year: int | None) -> tuple[int | None, int, int | None]:
    """(year, month, day) of one range end from its _POINT groups; `year` fills a missing one."""
    day_word = groups[0] or groups[3]
    month_word = groups[1] or groups[2] or groups[4]
    return (
        int(groups[5]) if groups[5] else year,
        _month_number(month_word),
        _day_number(day_word) if day_word else None,
    )


@_rule(
    rf"\b(?:between|from)\s+{_POINT}\s+(?:and|to|until|till|through)\s+{_POINT}"
    rf"|\b{_POINT}\s+(?:to|until|till|through|-|–)\s+{_POINT}"
)
def _date_range(m, article, ahead, context):
    groups = m.groups()
    first, last = (groups[0:6], groups[6:12]) if any(groups[0:12]) else (groups[12:18], groups[18:24])
    if not any(first[1:3] + first[4:5]) or not any(last[1:3] + last[4:5]):
        return None
    if any(w and not w[0].isupper() for w in (first[1], first[2], first[4], last[1], last[2], last[4])):
        return None  # "may", "march": verbs
    end_year, end_month, end_day = _range_end(last, None)
    try:
        if end_year is None:  # neither end has its year: the range read as one expression against the article
            start_month = _range_end(first, None)[1]
            # A range running through the article date is the current one; else past or ahead by the tense.
            end_year = article.year + (1 if start_month > end_month and article.month >= start_month else 0)
            current_end = date(end_year, end_month, end_day or calendar.monthrange(end_year, end_month)[1])
            if not current_end >= article >= date(end_year - (start_month > end_month), start_month, 1):
                end_year = _day_without_year(article, end_month, end_day or 1, ahead).year
        start_year, start_month, start_day = _range_end(first, None)
        if start_year is None:
            start_year = end_year - 1 if (start_month, start_day or 1) > (end_month, end_day or 1) else end_year
        start = date(start_year, start_month, start_day or 1)
        end = date(end_year, end_month, end_day) if end_day else _month_range(end_year, end_month)[1]
    except ValueError:
        return False
    if end < start:
        return None
    return start, end, "range", ""


@_rule(rf"\b({_DAY})\s*(?:and|-|–|to)\s*({_DAY})\s+({_MONTH})(?:,?\s+({_YEAR}))?\b")
def _day_range_in_month(m, article, ahead, context):
    if not m.group(3)[0].isupper():
        return None
    month, first, last = (
        _month_number(m.group(3)),
        _day_number(m.group(1)),
        _day_number(m.group(2)),
    )
    try:
        if m.group(4):
            year = int(m.group(4))
        else:
            year = _day_without_year(article, month, last, ahead).year
        start, end = date(year, month, first), date(year, month, last)
    except ValueError:
        return False
    return (start, end, "range", "") if start <= end else None


@_rule(rf"\b(?:({_DAY})\s+({_MONTH})|({_MONTH})(?:\s+({_DAY}))?)\s*[-–,]?\s*this\s+year\b")
def _this_year(m, article, ahead, context):
    month_word = m.group(2) or m.group(3)
    if not month_word[0].isupper():
        return None
    day_word = m.group(1) or m.group(4)
    month = _month_number(month_word)
    if day_word is None:
        start, end = _month_range(article.year, month)
        return start, end, "month", "this year: the article's year"
    try:
        day = date(article.year, month, _day_number(day_word))
    except ValueError:
        return False
    return day, day, "day", "this year: the article's year"


@_rule(rf"\b(?:between|from)\s+({_YEAR})\s+(?:and|to|until)\s+({_YEAR})\b|\b({_YEAR})\s*(?:-|–|to)\s*({_YEAR})\b")
def _year_range(m, article, ahead, context):
    first, last = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    if int(last) < int(first):
        return None
    return date(int(first), 1, 1), date(int(last), 12, 31), "range", ""


@_rule(rf"\b({_DAY})\s+({_MONTH}),?\s+({_YEAR})\b|\b({_MONTH})\s+({_DAY}),?\s+({_YEAR})\b|\b({_YEAR})-(\d\d)-(\d\d)\b")
def _full_date(m, article, ahead, context):
    try:
        if m.group(7):
            day = date(int(m.group(7)), int(m.group(8)), int(m.group(9)))
        elif m.group(1):
            day = date(int(m.group(3)), _month_number(m.group(2)), _day_number(m.group(1)))
        else:
            day = date(int(m.group(6)), _month_number(m.group(4)), _day_number(m.group(5)))
    except ValueError:
        return False
    return day, day, "day", ""


@_rule(rf"\b(?:the\s+)?(?:(?:end|close)\s+of\s+)({_MONTH})\s+({_YEAR})\b|\b({_MONTH})\s+({_YEAR})\b")
def _month_year(m, article, ahead, context):
    month, year = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    start, end = _month_range(int(year), _month_number(month))
    return start, end, "month", ""


@_rule(rf"\b(?:(?:the\s+)?(?:summer|spring|autumn|fall|winter)\s+of\s+({_YEAR})|({_SEASON})\s+({_YEAR}))\b")
def _season_year(m, article, ahead, context):
    if m.group(1):
        season = re.match(r"(?:the\s+)?(\w+)", m.group(0), re.IGNORECASE).group(1).lower()
        year = int(m.group(1))
    else:
        season, year = m.group(2).lower(), int(m.group(3))
    start, end = _season_range(year, season)
    return start, end, "season", ""


@_rule(r"\b(yesterday|today|tomorrow)\b")
def _adjacent_day(m, article, ahead, context):
    day = article + timedelta(days={"yesterday": -1, "today": 0, "tomorrow": 1}[m.group(1).lower()])
    return day, day, "day", ""


@_rule(r"\bthe\s+(following|next|previous)\s+day\b|\bthe\s+day\s+(after|before)\b")
def _day_after_named_date(m, article, ahead, context):
    # Relative to an event, not the article: only resolvable when the sentence names that event's date first.
    prefix = context[: context.find(m.group(0))] if m.group(0) in context else ""
    anchor = _explicit_date_before(prefix, article, ahead)
    if anchor is None:
        return None
    step = 1 if (m.group(1) or m.group(2)).lower() in ("following", "next", "after") else -1
    day = anchor + timedelta(days=step)
    return day, day, "day", f"the day {'after' if step > 0 else 'before'} {_day_label(anchor)}"


@_rule(rf"\b(less than|under|within|no more than|up to)\s+({_NUMBER})\s+({_UNIT})(?:\s+away|\s+time)?\b")
def _within(m, article, ahead, context):
    end = _shift(article, _number(m.group(2)), m.group(3))
    if end <= article:
        return None
    return article, end, "range", "within that time of the article"


@_rule(rf"\b(?:in\s+)?({_NUMBER})\s+({_UNIT})(?:['’]s?\s+time|\s+away|\s+from now)\b|\bin\s+({_NUMBER})\s+({_UNIT})\b")
def _after_interval(m, article, ahead, context):
    count, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    return _point(_shift(article, _number(count), unit), unit, "counted forward from the article date")


@_rule(rf"\b({_NUMBER})\s+({_UNIT})\s+(?:ago|earlier|before)\b")
def _before_interval(m, article, ahead, context):
    return _point(_shift(article, -_number(m.group(1)), m.group(2)), m.group(2), "counted back from the article date")


@_rule(r"\b(last|next|this|the coming|the past)\s+(week|month|year)\b")
def _relative_period(m, article, ahead, context):
    which, unit = m.group(1).lower(), m.group(2).lower()
    step = {"last": -1, "the past": -1, "next": 1, "the coming": 1, "this": 0}[which]
    if unit == "week":
        monday = article - timedelta(days=article.weekday()) + timedelta(weeks=step)
        return monday, monday + timedelta(days=6), "week", ""
    if unit == "month":
        first = date(article.year, article.month, 1) + relativedelta(months=step)
        start, end = _month_range(first.year, first.month)
        return start, end, "month", ""
    return date(article.year + step, 1, 1), date(article.year + step, 12, 31), "year", ""


@_rule(r"\b(?:the\s+)?(?:end|close)\s+of\s+(?:the\s+)?(year|month)\b")
def _end_of_period(m, article, ahead, context):
    if m.group(1).lower() == "year":
        return date(article.year, 12, 1), date(article.year, 12, 31), "month", "the end of the article's year"
    start, end = _month_range(article.year, article.month)
    return start, end, "month", "the end of the article's month"


@_rule(rf"\b(last|next|this|the coming|the past)?\s*({_SEASON})\b")
def _season(m, article, ahead, context):
    which, season = (m.group(1) or "").lower(), m.group(2).lower()
    # The season holding the article date, then step to the one asked for.
    candidates = [(_season_range(year, season)) for year in range(article.year - 2, article.year + 2)]
    current = next((s for s in candidates if s[0] <= article <= s[1]), None)
    past = [s for s in candidates if s[1] < article]
    future = [s for s in candidates if s[0] > article]
    if which == "this":
        chosen = current or (future[0] if ahead else past[-1])
    elif which in ("last", "the past"):
        chosen = past[-1]
    elif which in ("next", "the coming"):
        chosen = future[0]
    else:
        chosen = current or (future[0] if ahead else past[-1])
    note = (
        "" if which else ("the sentence looks ahead" if ahead else "the most recent one at or before the article date")
    )
    return chosen[0], chosen[1], "season", note


@_rule(
    rf"\b(?:the\s+)?(?:end|close)\s+of\s+({_MONTH})\b|\b(?:on\s+|in\s+|since\s+|by\s+|until\s+)?({_DAY})\s+({_MONTH})\b|\b({_MONTH})\s+({_DAY})\b(?!\s*,?\s*\d)|\b({_MONTH})\b"
)
def _month_or_day_without_year(m, article, ahead, context):
    month_word = m.group(1) or m.group(3) or m.group(4) or m.group(6)
    if not month_word[0].isupper():
        return None  # "may", "march": verbs, not months
    month = _month_number(month_word)
    day_word = m.group(2) or m.group(5)
    note = "the sentence looks ahead" if ahead else "the most recent one at or before the article date"
    if day_word:
        try:
            day = _day_without_year(article, month, _day_number(day_word), ahead)
        except ValueError:
            return False
        return day, day, "day", note
    year = article.year
    # The first such month from the article's month on, or the most recent one up to it.
    if ahead and month < article.month:
        year += 1
    if not ahead and month > article.month:
        year -= 1
    start, end = _month_range(year, month)
    return start, end, "month", note


@_rule(rf"\b(last|next|this|on)?\s*({_WEEKDAY})\b")
def _weekday(m, article, ahead, context):
    which = (m.group(1) or "").lower()
    target = _WEEKDAYS[m.group(2).lower()]
    back = (article.weekday() - target) % 7
    forward = (target - article.weekday()) % 7 or 7
    if which == "next" or (which != "last" and ahead):
        day, note = article + timedelta(days=forward), "the sentence looks ahead"
    else:
        day, note = (
            article - timedelta(days=back or (7 if which == "last" else 0)),
            "the most recent one at or before the article date",
        )
    return day, day, "day", note


@_rule(rf"\b(?:in\s+|since\s+|by\s+)?({_YEAR})\b")
def _year(m, article, ahead, context):
    year = int(m.group(1))
    return date(year, 1, 1), date(year, 12, 31), "year", ""


def _shift(day: date, count: int, unit: str) -> date:
    unit = unit.lower().rstrip("s")
    if unit == "day":
        return day + timedelta(days=count)
    if unit == "week":
        return day + timedelta(weeks=count)
    if unit == "fortnight":
        return day + timedelta(weeks=2 * count)
    if unit == "month":
        return day + relativedelta(months=count)
    return day + relativedelta(years=count)


def _point(day: date, unit: str, note: str):
    unit = unit.lower().rstrip("s")
    if unit in ("day", "week", "fortnight"):
        return day, day, "day", note
    if unit == "month":
        start, end = _month_range(day.year, day.month)
        return start, end, "month", note
    return date(day.year, 1, 1), date(day.year, 12, 31), "year", note
