"""The answer decision: features, the JSON model, the pipeline using it, and fitting it on news validation."""

from __future__ import annotations

import math

import pytest

from qa.decision import (
    DecisionModel,
    content_words,
    expected_type,
    names_missing,
    question_names,
    span_features,
    span_has_type,
)
from qa.extracted import ExtractedAnswer


def test_question_types_and_span_types():
    assert expected_type("When was the CQC visit?") == "date"
    assert expected_type("How many beds does the ward have?") == "number"
    assert expected_type("Who leads the maternity unit?") == "name"
    assert expected_type("What did the trust promise?") is None
    assert span_has_type("November 2023", "date") and span_has_type("last month", "date")
    assert not span_has_type("the chief nurse", "date")
    assert span_has_type("£170m", "number") and span_has_type("five", "number")
    assert span_has_type("Liz Lees", "name") and not span_has_type("staff", "name")
    assert content_words("How many visits did the inspectors make?") == {"visit", "inspector", "make"}


def _Span(passage_rank, start, end, text, margin):
    """A reader answer with this margin (span logit over a no-answer logit of 0)."""
    return ExtractedAnswer(text, start, end, passage_rank, span_logit=margin, no_answer_logit=0.0, score=0.5)


def test_span_features_measure_agreement_overlap_and_type():
    passages = ["The inspectors visited in November 2023. It was unannounced.", "A visit took place in November 2023."]
    spans = [
        _Span(0, 26, 39, "November 2023", 20.0),
        _Span(1, 22, 35, "November 2023", 12.0),
        _Span(0, 41, 44, "It ", -3.0),
    ]
    rows = span_features("When did the inspectors visit?", spans, passages, [1, 2], [True, False])
    first, second, echo = rows
    assert first["agreement"] == 1.0 and second["agreement"] == 1.0  # the other passage says the same
    assert first["type_match"] == 1.0 and first["type_mismatch"] == 0.0
    assert echo["type_mismatch"] == 1.0
    assert first["context_overlap"] == 1.0  # "inspector" and "visit" sit around the span
    assert first["log_rank"] == 0.0 and second["log_rank"] == pytest.approx(math.log(2))
    assert first["found_by_both"] == 1.0 and second["found_by_both"] == 0.0
    assert first["margin_gap"] == pytest.approx(23.0) and echo["margin_gap"] == pytest.approx(-23.0)
    assert first["answering_passages"] == 2.0


def test_question_names_are_its_capitalised_words_after_the_first():
    # Ordinary words capitalised inside a name are not checked: an article may call it something shorter.
    assert question_names("Who is the chief executive of Brackenford Hospitals NHS Trust?") == ["brackenford"]
    assert question_names("Who runs the Luton and Dunstable University Hospital?") == ["luton", "dunstable"]
    # Possessives go, hyphenated names split; asking words, titles and short abbreviations are not checked.
    assert question_names("When did Dr Rees-Dwyer's team visit St Wystan's in the UK? Which ward?") == [
        "rees",
        "dwyer",
        "wystan",
    ]
    assert question_names("Who is the CEO of the ICU?") == []
    assert question_names("Where did Dr Müller work before Zürich?") == ["müller", "zürich"]
    assert question_names("when was the cqc visit?") == []  # nothing capitalised: no name to check


def test_a_name_the_article_never_mentions_is_missing():
    names = question_names("Who is the chief executive of Brackenford Hospitals NHS Trust?")
    assert names_missing(names, "Brackenford trust appoints", "The NHS trust runs three hospitals.") == 0.0
    assert names_missing(names, "Wendham trust appoints", "Wendham Hospitals NHS Trust has a new chief.") == 1.0
    # One name missing is enough, however many others are there.
    both = question_names("When did Luton and Bedford hospitals merge?")
    assert names_missing(both, "Luton news", "Luton hospital merged.") == 1.0
    # A stem matches: "New Zealanders" is about New Zealand; no names, nothing missing.
    assert names_missing(question_names("What did New Zealanders vote for?"), "Flag vote", "New Zealand voted.") == 0.0
    assert names_missing([], "Anything", "Anything at all.") == 0.0
    # A people's name counts as its place; the title is part of the article.
    asian = question_names("Which South East Asian governments took in U.S. refugees?")
    assert names_missing(asian, "Boats", "Governments in South East Asia.") == 0.0
    assert names_missing(question_names("Where did the Kestrelmoor team go?"), "Kestrelmoor visit", "It went.") == 0.0


def test_names_missing_is_read_from_each_spans_own_article():
    passages = ["Dr Priya Ashdown is the chief executive.", "Dr Priya Ashdown is the chief executive."]
    spans = [_Span(0, 0, 16, "Dr Priya Ashdown", 9.0), _Span(1, 0, 16, "Dr Priya Ashdown", 9.0)]
    articles = [
        ("Wendham trust", "Wendham Hospitals NHS Trust: Dr Priya Ashdown is the chief executive."),
        ("Brackenford trust", "Brackenford Hospitals NHS Trust: Dr Priya Ashdown is the chief executive."),
    ]
    question = "Who is the chief executive of Brackenford Hospitals NHS Trust?"
    rows = span_features(question, spans, passages, [1, 2], [True, True], articles)
    assert [row["names_missing"] for row in rows] == [1.0, 0.0]
    # Without the articles, each passage stands for its own: neither names Brackenford.
    assert all(row["names_missing"] == 1.0 for row in span_features(question, spans, passages, [1, 2], [True, True]))


def test_decision_model_round_trip_and_errors(tmp_path):
    model = DecisionModel(
        features=["margin", "type_match"],
        weights=[0.5, 1.0],
        intercept=-1.0,
        means=[10.0, 0.0],
        scales=[2.0, 1.0],
        threshold=0.4,
        fitted_on="test",
    )
    path = model.save(tmp_path / "decision.json")
    loaded = DecisionModel.load(path)
    assert loaded == model
    z = -1.0 + 0.5 * (14.0 - 10.0) / 2.0 + 1.0
    assert loaded.probability({"margin": 14.0, "type_match": 1.0}) == pytest.approx(1 / (1 + math.exp(-z)))
    with pytest.raises(ValueError, match="unknown decision features"):
        DecisionModel(features=["shoe_size"], weights=[1.0], intercept=0.0, threshold=0.5)
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.json: unreadable answer decision"):
        DecisionModel.load(tmp_path / "bad.json")


def test_reader_calibration_as_a_decision_matches_the_reader(reader):
    s = reader.settings
    decision = DecisionModel.reader_calibration(s.calibration_slope, s.calibration_intercept, s.probability_threshold)
    for margin in (-20.0, 0.0, 15.5, 30.0):
        assert decision.probability({"margin": margin}) == pytest.approx(s.probability(margin))


def test_pipeline_answers_with_the_shipped_decision(pipeline, settings):
    from qa.pipeline import QAPipeline

    shipped = DecisionModel.load(_shipped_decision_path())
    assert pipeline.decision == shipped and pipeline.answer_threshold == shipped.threshold
    reading = pipeline.read("When was the CQC visit?")
    scored = pipeline.score(reading)
    assert [s.score for s in scored] == sorted((s.score for s in scored), reverse=True)
    assert all(set(s.features) >= set(shipped.features) for s in scored)
    answers = pipeline.decide(reading)
    assert answers and all(a.score >= shipped.threshold for a in answers)
    # QA_ANSWER_THRESHOLD still overrides the decision's own threshold.
    strict = QAPipeline(pipeline.index, pipeline.models, settings.model_copy(update={"answer_threshold": 1.0}))
    assert strict.decide(reading) == []


def _shipped_decision_path():
    from qa.decision import DECISION_FILE
    from qa.reader.model import packaged_reader_dir

    return packaged_reader_dir() / DECISION_FILE


def test_fit_decision_on_a_news_validation_slice(news_index_dir, tmp_path):
    from eval.decision_fit import FEATURE_SETS, fit_decision
    from eval.news import news_settings
    from eval.news_set import NEWS_DIR, load_news_set
    from qa.config import Settings
    from qa.pipeline import QAPipeline

    news = load_news_set(NEWS_DIR)
    pipeline = QAPipeline.from_settings(news_settings(news, Settings(), news_index_dir))
    result = fit_decision(pipeline, news, tmp_path / "out", tmp_path / "decision.json", limit=60)
    assert result["validation_questions"] == 60
    assert set(FEATURE_SETS) <= set(result["results"])
    fitted = DecisionModel.load(tmp_path / "decision.json")
    # The chosen set, then the names penalty when one was chosen (unscaled, a negative weight).
    penalty = result["names_penalty"]
    assert list(fitted.features) == list(FEATURE_SETS[result["chosen"]]) + (["names_missing"] if penalty else [])
    if penalty:
        assert fitted.weights[-1] == -penalty and fitted.means[-1] == 0.0 and fitted.scales[-1] == 1.0
    assert 0.0 <= fitted.threshold <= 1.0 and "news validation" in fitted.fitted_on
    assert "Compared" in (tmp_path / "out" / "decision_fit.md").read_text()
    # The stop level, when there is one, is an answer probability at or above the threshold that kept F1.
    stopping = result["stopping_early"]
    assert result["stop_reading_at"] == fitted.stop_reading_at
    assert stopping["overall_f1"] >= stopping["overall_f1_reading_all"] - stopping["tolerance"]
    if fitted.stop_reading_at is not None:
        assert fitted.threshold <= fitted.stop_reading_at <= 1.0 and stopping["texts_read"] < 1.0


def test_reading_stops_only_where_news_f1_holds():
    """The stop level is the lowest that keeps overall F1: stopping on a sure wrong span is refused."""
    import numpy as np

    from eval.decision_fit import QuestionSpans, choose_stop

    def question(qid, answerable, probabilities, f1):
        p = np.array(probabilities)
        return QuestionSpans(qid, "a", answerable, np.zeros((2, 1)), np.array(f1), p, np.array([0, 1])), p

    sure_and_right = question("q1", True, [0.9, 0.95], [1.0, 1.0])
    first_text_wrong = question("q2", True, [0.8, 0.85], [0.0, 1.0])  # stopping at 0.8 would answer wrongly
    unanswerable = question("q3", False, [0.3, 0.2], [0.0, 0.0])
    cases = [sure_and_right, first_text_wrong, unanswerable]
    stop_at, figures = choose_stop([q for q, _ in cases], [p for _, p in cases], threshold=0.5)
    assert stop_at is not None and 0.8 < stop_at <= 0.9
    assert figures["overall_f1"] == figures["overall_f1_reading_all"] == 1.0
    assert figures["texts_read"] == 5 / 6  # q1 stopped after its first text; q2 and q3 read both
    # Nothing to gain: a set where every question needs its second text gets no stop level.
    stop_at, figures = choose_stop([first_text_wrong[0]], [first_text_wrong[1]], threshold=0.5)
    assert stop_at is None and figures["texts_read"] == 1.0


def test_common_words_are_those_also_written_in_lower_case():
    from lab.common_words import common_words as build_common_words
    from lab.common_words import count_cases

    paragraphs = [
        "She went to the university. The university grew. A university opened in Luton. Luton University grew.",
        "The University of Luton and a new university. Universities are big; University is first here.",
    ]
    lower, capitalised = count_cases(paragraphs)
    assert lower["university"] == 4 and capitalised["university"] == 2  # "University is first" starts a sentence
    assert capitalised["luton"] == 2 and lower["luton"] == 0  # "Luton University grew" starts a sentence
    assert build_common_words(lower, capitalised) == ["university"]  # "the", "a" ... are too few (< 3)


def test_a_question_about_a_trust_the_corpus_never_names_gets_no_answer(pipeline):
    """Over the seed article (Bedfordshire Hospitals), a question naming another trust reads the seed's own chief
    officers; the names penalty is what declines them (without it the best would clear the bar)."""
    question = "Who is the chief executive of Brackenford Hospitals NHS Trust?"
    reading = pipeline.read(question)
    scored = pipeline.score(reading)
    assert scored and all(answer.features["names_missing"] == 1.0 for answer in scored)
    assert pipeline.decide(reading) == []
    decision = pipeline.decision
    assert "names_missing" in decision.features
    without_penalty = decision.model_copy(
        update={
            "features": decision.features[:-1],
            "weights": decision.weights[:-1],
            "means": decision.means[:-1],
            "scales": decision.scales[:-1],
        }
    )
    assert max(without_penalty.probability(a.features) for a in scored) >= decision.threshold
    # The same question about the trust the article is about is not penalised.
    own = pipeline.score(pipeline.read("Who is the chief nurse of Bedfordshire Hospitals NHS Foundation Trust?"))
    assert own and own[0].features["names_missing"] == 0.0
