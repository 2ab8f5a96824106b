"""Questions that name a time are answered from statements about that time; order questions order by date."""

from __future__ import annotations

import pytest

from qa.time_scope import in_time_scope, order_asked, question_time, statement_times

ARTICLE = (
    "The vacancy rate is 8% this month. In 2020 the vacancy rate was 14%. "
    "The ward was rated 'good' in July 2024. Inspectors will return next spring."
)
DATE = "2025-10-23"


def _at(text: str) -> tuple[int, int]:
    start = ARTICLE.index(text)
    return start, start + len(text)


@pytest.mark.parametrize(
    "question, anchor, expected",
    [
        ("What was the vacancy rate in 2020?", DATE, ("2020-01-01", "2020-12-31")),
        ("How was the ward rated in July 2024?", DATE, ("2024-07-01", "2024-07-31")),
        ("How many patients did it see last year?", DATE, ("2024-01-01", "2024-12-31")),
        ("What is the vacancy rate?", DATE, None),
        ("What may happen in the spring?", DATE, None),  # a season alone is not a time the question is scoped to
    ],
)
def test_the_time_a_question_names(question, anchor, expected):
    found = question_time(question, anchor)
    if expected is None:
        assert found is None
    else:
        assert found is not None and (found.start.isoformat(), found.end.isoformat()) == expected


def test_statements_are_about_their_own_dates_else_the_articles():
    assert statement_times(ARTICLE, *_at("14%"), DATE)[0][0].isoformat() == "2020-01-01"
    first = statement_times(ARTICLE, *_at("8%"), DATE)[0]
    assert first[0].isoformat() == "2025-10-01"  # "this month"
    assert statement_times("No date here.", 0, 2, DATE)[0][0].isoformat() == DATE
    assert statement_times("No date here.", 0, 2, None) == []


def test_only_statements_about_the_asked_time_are_in_scope():
    question = "What was the vacancy rate in 2020?"
    assert in_time_scope(question, ARTICLE, *_at("14%"), DATE)
    assert not in_time_scope(question, ARTICLE, *_at("8%"), DATE)  # today's rate is no answer about 2020
    assert in_time_scope("What is the vacancy rate?", ARTICLE, *_at("8%"), DATE)  # no time named: no filter
    assert in_time_scope(question, ARTICLE, *_at("8%"), None)  # an undated article cannot be judged
    assert not in_time_scope("How was the ward rated in 2019?", ARTICLE, *_at("'good'"), DATE)


@pytest.mark.parametrize(
    "question, expected",
    [
        ("When was the most recent CQC visit?", "most recent"),
        ("When was the latest inspection?", "most recent"),
        ("When was the last inspection?", "most recent"),
        ("What happened last year?", None),
        ("When was the first CQC visit?", "earliest"),
        ("When was the CQC visit?", None),
    ],
)
def test_order_questions(question, expected):
    assert order_asked(question) == expected


EVENT_ARTICLE = (
    "The unit was rated 'requires improvement' in 2022. Inspectors visited in June 2024 for the inspection. "
    "After it, the unit was rated 'good' in August 2024. Staff numbers rose to 310 this month."
)


def test_questions_relative_to_an_event_date_it_from_the_article():
    from qa.time_scope import event_scope

    after = event_scope("How was the unit rated after the inspection?", EVENT_ARTICLE, DATE)
    assert after is not None and after[0].isoformat() == "2024-06-01"
    before = event_scope("How was the unit rated before the inspection?", EVENT_ARTICLE, DATE)
    assert before is not None and before[1].isoformat() == "2024-06-30"
    assert event_scope("What happened after the merger?", EVENT_ARTICLE, DATE) is None  # not in the article
    assert event_scope("How was the unit rated?", EVENT_ARTICLE, DATE) is None


def test_event_relative_scope_keeps_only_statements_on_the_asked_side():
    def at(text):
        start = EVENT_ARTICLE.index(text)
        return start, start + len(text)

    after = "How was the unit rated after the inspection?"
    before = "How was the unit rated before the inspection?"
    assert in_time_scope(after, EVENT_ARTICLE, *at("'good'"), DATE)
    assert not in_time_scope(after, EVENT_ARTICLE, *at("'requires improvement'"), DATE)
    assert in_time_scope(before, EVENT_ARTICLE, *at("'requires improvement'"), DATE)
    assert not in_time_scope(before, EVENT_ARTICLE, *at("'good'"), DATE)
