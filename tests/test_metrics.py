from qa.metrics import (
    best_threshold,
    forced_answer_metrics,
    normalize_answer,
    score_prediction,
    score_question,
    squad_metrics,
)


def test_normalisation_strips_case_punctuation_articles_and_space():
    assert normalize_answer("The  Care-Quality, Commission!") == "carequality commission"
    assert normalize_answer("an apple a day") == "apple day"


def test_em_and_f1_take_the_best_gold_answer():
    em, f1 = score_prediction("November 2023", ["in November 2023", "November 2023"])
    assert (em, f1) == (1.0, 1.0)
    em, f1 = score_prediction("November", ["November 2023"])
    assert em == 0.0 and abs(f1 - 2 / 3) < 1e-9


def test_unanswerable_scores_one_only_for_empty_prediction():
    assert score_prediction("", []) == (1.0, 1.0)
    assert score_prediction("something", []) == (0.0, 0.0)


def test_squad_metrics_split_has_and_no_answer():
    items = [
        score_question("a", "Paris", -5.0, ["Paris"]),  # answered correctly
        score_question("b", "Lyon", 2.0, ["Paris"]),  # abstains at threshold 0: wrong
        score_question("c", "Nice", 3.0, []),  # abstains: right
        score_question("d", "Nice", -1.0, []),  # answers an unanswerable: wrong
    ]
    m = squad_metrics(items, threshold=0.0)
    assert m["f1"] == 50.0 and m["HasAns_f1"] == 50.0 and m["NoAns_f1"] == 50.0
    assert m["abstain_rate"] == 0.5
    assert forced_answer_metrics(items)["f1"] == 50.0


def test_best_threshold_finds_the_optimum_by_hand():
    items = [
        score_question("a", "x", -3.0, ["x"]),
        score_question("b", "y", -1.0, []),
        score_question("c", "z", 1.0, ["z"]),
        score_question("d", "w", 2.0, []),
    ]
    # Answer a and c, abstain on b and d: needs threshold between... not possible in one cut.
    # Cuts: abstain all -> 2/4; answer a -> 3/4; answer a,b -> 2/4; a,b,c -> 3/4; all -> 2/4.
    threshold, score = best_threshold(items)
    assert score == 75.0
    assert squad_metrics(items, threshold)["f1"] == 75.0
