"""Follow-ups made from self-contained training questions (lab.synthetic_follow_ups): the name left out or pointed
back to, read after a question of the same article that gives it, as the service reads a follow-up, with the
original answers at their offsets."""

from __future__ import annotations

import numpy as np
import pytest

from eval.news_set import NEWS_DIR, load_news_set
from lab.adapt_news import synthetic_follow_up_examples
from lab.synthetic_follow_ups import names_in, read_as, synthetic_follow_ups, without_name
from qa.conversation import needs_history


def test_names_are_found_longest_first_without_opening_words_or_possessives():
    assert names_in("How many beds does Kestrelmoor and Wendham NHS Foundation Trust's new ward have?") == [
        "Kestrelmoor and Wendham NHS Foundation Trust"
    ]
    assert names_in("When did Dr Ana Ruiz join Wolderton Royal Infirmary?") == [
        "Wolderton Royal Infirmary",
        "Dr Ana Ruiz",
    ]
    assert names_in("What was the rating in June?") == ["June"]
    assert names_in("how many were there?") == []


@pytest.mark.parametrize(
    ("question", "name", "expected"),
    [
        ("How many infections did the Wolderton trust have?", "Wolderton", "How many infections did the trust have?"),
        (
            "What was the handover time at Elverstone County Hospital in December?",
            "Elverstone County Hospital",
            "What was the handover time there in December?",
        ),
        ("What is Kelpwood Hospice's weekly lottery worth?", "Kelpwood Hospice", "What is its weekly lottery worth?"),
        ("How much does Sallowmere County Council spend?", "Sallowmere County Council", "How much does it spend?"),
        ("How many Cresswold families get a travel budget?", "Cresswold", "How many families get a travel budget?"),
        ("Who runs Quillbeck Dial-a-Ride?", "Quillbeck Dial-a-Ride", "Who runs it?"),
        ("Who runs the ward?", "Quillbeck", None),
    ],
)
def test_a_name_is_left_out_or_pointed_back_to(question, name, expected):
    assert without_name(question, name) == expected


def test_follow_ups_come_after_a_question_of_their_article_that_gives_the_name():
    questions = [
        ("a1", "When did inspectors visit Wendham General Hospital?"),
        ("a1", "What rating did Wendham General Hospital get?"),
        ("a2", "How many beds does Brackenford General Hospital have?"),  # no other question of a2 names it
        ("a1", "Who chairs the board?"),
    ]
    made = synthetic_follow_ups(questions, np.random.default_rng(0), history_turns=2)
    assert {m.original for m in made} == {questions[0][1], questions[1][1]}
    for m in made:
        assert m.article == "a1" and m.name == "Wendham General Hospital"
        assert m.name not in m.follow_up and m.name in m.earlier and m.earlier != m.original
        assert needs_history(m.follow_up)
        # Read as the service reads a follow-up: the follow-up first, the earlier question's subject after it.
        reading = read_as(m, 2)
        assert reading.startswith(m.follow_up) and "Wendham General Hospital" in reading[len(m.follow_up) :]
    # Without a history window the service reads nothing extra, so nothing is made.
    assert synthetic_follow_ups(questions, np.random.default_rng(0), history_turns=0) == []


def test_synthetic_follow_up_examples_use_train_articles_with_answers_at_their_offsets():
    news = load_news_set(NEWS_DIR)
    examples = synthetic_follow_up_examples(NEWS_DIR, np.random.default_rng(0), limit=200)
    questions = {q.id: q for q in news.questions}
    assert 200 <= len(examples) <= 200 * 3
    assert {news.articles[e.title].split for e in examples} == {"train"}
    answerable = [e for e in examples if e.answers]
    assert answerable and any(not e.answers for e in examples)
    for example in answerable:
        original = questions[example.qid.rsplit("-sf", 1)[0]]
        text, start = example.answers[0]
        assert example.context[start : start + len(text)] == text and text in original.answers
        assert example.question != original.question
