"""Dates in answers resolved against the article's date: a table of expressions, and the seed article end to end."""

from __future__ import annotations

import pytest

from qa.dates import resolve, sentence_around

A = "2025-10-23"  # the seed article's date: a Thursday
# (span, article date, sentence, expected (start, end, granularity) or None when unresolvable)
TABLE = [
    # Full dates and months with years need no anchor.
    ("November 2023", A, "", ("2023-11-01", "2023-11-30", "month")),
    ("in July 2024", A, "", ("2024-07-01", "2024-07-31", "month")),
    ("14 May 2024", A, "", ("2024-05-14", "2024-05-14", "day")),
    ("May 14, 2024", A, "", ("2024-05-14", "2024-05-14", "day")),
    ("3rd March 2026", A, "", ("2026-03-03", "2026-03-03", "day")),
    ("2024-02-29", A, "", ("2024-02-29", "2024-02-29", "day")),
    ("31 February 2024", A, "", None),  # no such day
    ("2020", A, "", ("2020-01-01", "2020-12-31", "year")),
    ("in 2019", A, "", ("2019-01-01", "2019-12-31", "year")),
    # Ranges.
    ("between March and May 2024", A, "", ("2024-03-01", "2024-05-31", "range")),
    ("from November to February 2025", A, "", ("2024-11-01", "2025-02-28", "range")),
    ("between 2020 and 2022", A, "", ("2020-01-01", "2022-12-31", "range")),
    ("2021-2023", A, "", ("2021-01-01", "2023-12-31", "range")),
    # A bare month: the most recent at or before the article date, unless the sentence looks ahead.
    ("July", A, "The CQC made a two-day visit in July at both sites.", ("2025-07-01", "2025-07-31", "month")),
    ("October", A, "Figures published in October showed a rise.", ("2025-10-01", "2025-10-31", "month")),
    ("December", A, "The ward closed in December.", ("2024-12-01", "2024-12-31", "month")),
    ("December", A, "The ward will close in December.", ("2025-12-01", "2025-12-31", "month")),
    ("March", A, "The new unit is due to open in March.", ("2026-03-01", "2026-03-31", "month")),
    ("January", "2026-01-10", "Work started in January.", ("2026-01-01", "2026-01-31", "month")),
    ("January", "2025-12-20", "The scanner is set to arrive in January.", ("2026-01-01", "2026-01-31", "month")),
    # A day and month without a year: month and year boundaries.
    ("14 May", A, "It reopened on 14 May.", ("2025-05-14", "2025-05-14", "day")),
    ("2 November", A, "Inspectors visited on 2 November.", ("2024-11-02", "2024-11-02", "day")),
    ("2 November", A, "Inspectors will return on 2 November.", ("2025-11-02", "2025-11-02", "day")),
    ("1 July", "2026-03-12", "The crisis line is due to open on 1 July.", ("2026-07-01", "2026-07-01", "day")),
    ("30 December", "2026-01-02", "The board met on 30 December.", ("2025-12-30", "2025-12-30", "day")),
    # Relative days, weeks, months, years.
    ("yesterday", A, "", ("2025-10-22", "2025-10-22", "day")),
    ("tomorrow", "2025-12-31", "", ("2026-01-01", "2026-01-01", "day")),
    ("last week", A, "", ("2025-10-13", "2025-10-19", "week")),
    ("next week", A, "", ("2025-10-27", "2025-11-02", "week")),
    ("last month", A, "", ("2025-09-01", "2025-09-30", "month")),
    ("next month", A, "We move into our new unit next month.", ("2025-11-01", "2025-11-30", "month")),
    ("next month", "2025-12-15", "", ("2026-01-01", "2026-01-31", "month")),
    ("last month", "2026-01-05", "", ("2025-12-01", "2025-12-31", "month")),
    ("last year", A, "", ("2024-01-01", "2024-12-31", "year")),
    ("this year", A, "", ("2025-01-01", "2025-12-31", "year")),
    ("next year", A, "", ("2026-01-01", "2026-12-31", "year")),
    ("three weeks ago", A, "", ("2025-10-02", "2025-10-02", "day")),
    ("two years ago", A, "", ("2023-01-01", "2023-12-31", "year")),
    ("in six weeks", A, "", ("2025-12-04", "2025-12-04", "day")),
    ("in three months", A, "", ("2026-01-01", "2026-01-31", "month")),
    ("less than three weeks away", A, "The move is less than three weeks away.", ("2025-10-23", "2025-11-13", "range")),
    ("within six months", A, "", ("2025-10-23", "2026-04-23", "range")),
    ("by the end of the year", A, "", ("2025-12-01", "2025-12-31", "month")),
    # Weekdays: the article's Thursday is 23 October 2025.
    ("on Tuesday", A, "The board met on Tuesday.", ("2025-10-21", "2025-10-21", "day")),
    ("Tuesday", A, "The board will meet on Tuesday.", ("2025-10-28", "2025-10-28", "day")),
    ("next Monday", A, "", ("2025-10-27", "2025-10-27", "day")),
    ("last Thursday", A, "", ("2025-10-16", "2025-10-16", "day")),
    ("Thursday", A, "The report was published on Thursday.", ("2025-10-23", "2025-10-23", "day")),
    # Seasons (meteorological: spring March-May, winter December-February).
    ("this summer", A, "", ("2025-06-01", "2025-08-31", "season")),
    ("next spring", A, "", ("2026-03-01", "2026-05-31", "season")),
    ("last winter", A, "", ("2024-12-01", "2025-02-28", "season")),
    ("this winter", "2026-01-15", "", ("2025-12-01", "2026-02-28", "season")),
    ("spring 2024", A, "", ("2024-03-01", "2024-05-31", "season")),
    ("the summer of 2019", A, "", ("2019-06-01", "2019-08-31", "season")),
    ("autumn", A, "The consultation will run in the autumn.", ("2025-09-01", "2025-11-30", "season")),
    # Relative to an event named earlier in the sentence.
    (
        "the following day",
        A,
        "The CQC visited on 14 May 2024 and returned the following day.",
        ("2024-05-15", "2024-05-15", "day"),
    ),
    # Unresolvable: no date expression, an event date never given, no article date, "may" the verb.
    ("the following day", A, "Inspectors returned the following day.", None),
    ("the chief nurse", A, "", None),
    ("£170m", A, "", None),
    ("five-storey", A, "", None),
    ("July", None, "", None),
    ("may", A, "Patients may wait longer.", None),
    ("soon", A, "", None),
    # Ranges between two dates, with or without years; days of one month.
    ("between January 2019 and June 2023", A, "", ("2019-01-01", "2023-06-30", "range")),
    (
        "from 1 October to 24 December",
        A,
        "The offer runs from 1 October to 24 December.",
        ("2025-10-01", "2025-12-24", "range"),
    ),
    (
        "from November 20 to December 11",
        "2015-07-01",
        "The referendum is to be held from November 20 to December 11.",
        ("2015-11-20", "2015-12-11", "range"),
    ),
    ("5 and 6 November 2024", A, "", ("2024-11-05", "2024-11-06", "range")),
    ("12-14 March", A, "The course ran on 12-14 March.", ("2025-03-12", "2025-03-14", "range")),
    # "this year" is the article's year.
    ("in April this year", A, "", ("2025-04-01", "2025-04-30", "month")),
    ("February 6 - this year", "2015-03-10", "", ("2015-02-06", "2015-02-06", "day")),
    # "the following day" after a date written without its year.
    (
        "the following day",
        "2026-01-22",
        "The vote was on 19 January and the result came the following day.",
        ("2026-01-20", "2026-01-20", "day"),
    ),
    # The tense nearest the span decides, not a future word elsewhere in the sentence.
    (
        "on August 10",
        "2016-01-05",
        "Broadcasts began on August 10 and will continue through the spring.",
        ("2015-08-10", "2015-08-10", "day"),
    ),
    ("in September", "2025-06-12", "Most tests are due in September.", ("2025-09-01", "2025-09-30", "month")),
    (
        "in the autumn",
        "2025-06-12",
        "It expects around 150 newly qualified nurses to join in the autumn.",
        ("2025-09-01", "2025-11-30", "season"),
    ),
    (
        "in February",
        "2025-06-12",
        "A decision is expected to be made by the board in February.",
        ("2026-02-01", "2026-02-28", "month"),
    ),
    (
        "On Wednesday",
        "2015-09-18",
        "On Wednesday, he and his father are to travel to the United Nations.",
        ("2015-09-23", "2015-09-23", "day"),
    ),
]


@pytest.mark.parametrize("span, article_date, sentence, expected", TABLE, ids=[f"{r[0]}|{r[1]}" for r in TABLE])
def test_expression_table(span, article_date, sentence, expected):
    found = resolve(span, article_date, sentence)
    if expected is None:
        assert found is None
        return
    assert found is not None
    assert (found.start.isoformat(), found.end.isoformat(), found.granularity) == expected
    assert found.resolved_from in span  # the words resolved come from the answer itself
    assert found.basis.startswith(f"article date {article_date}")


def test_labels_and_sentences():
    assert resolve("July", A, "visited in July").label == "July 2025"
    assert resolve("14 May 2024", A).label == "14 May 2024"
    assert resolve("last winter", A).label == "winter 2024-25"
    text = "First sentence. The CQC made a visit in July at both sites. Last one."
    start = text.index("July")
    assert sentence_around(text, start, start + 4) == "The CQC made a visit in July at both sites."


def test_seed_answers_carry_resolved_dates(pipeline):
    cqc = pipeline.ask("When was the CQC visit?")
    when = {a.text: a.when for a in cqc.answers}
    assert when["November 2023"].start == "2023-11-01" and when["November 2023"].granularity == "month"
    assert when["July"].start == "2025-07-01" and when["July"].label == "July 2025"
    assert when["July"].basis.startswith("article date 2025-10-23")
    soon = pipeline.ask("How soon is the move into the new clinical building?").answers[0]
    assert "less than three weeks" in soon.text
    assert (soon.when.start, soon.when.end, soon.when.granularity) == ("2025-10-23", "2025-11-13", "range")
    # "When is the move...?" is answered by the chief executive's "next month": the same move, same article date.
    move = pipeline.ask("When is the move into the new building?").answers[0]
    assert move.when is not None and move.when.start.startswith("2025-1")
    # An answer without a date is unchanged.
    storeys = pipeline.ask("How much did the new clinical building cost?")
    assert storeys.answers and storeys.answers[0].when is None


def test_order_questions_put_the_most_recent_or_the_earliest_first(pipeline):
    answers = pipeline.ask("When was the CQC visit?").answers
    dated = [a for a in answers if a.when]
    assert len(dated) >= 2, "the seed question has two dated answers (November 2023 and July 2025)"
    recent = pipeline._ordered(answers, "most recent")
    assert recent[0].when.label == "July 2025" and recent[0].order.startswith("most recent first: July 2025")
    assert "November 2023" in recent[0].order and recent[1].order is None
    earliest = pipeline._ordered(answers, "earliest")
    assert earliest[0].when.label == "November 2023" and earliest[0].order.startswith("earliest first")
    assert sorted(a.text for a in recent) == sorted(a.text for a in answers)  # reordered, nothing lost


def test_a_question_about_another_time_abstains(pipeline):
    # The seed article states the unit's ratings of 2024; nothing about 2019.
    assert pipeline.ask("What was the maternity unit rated in 2019?").abstained
    assert not pipeline.ask("When was the CQC visit?").abstained  # no time named: answered as before
