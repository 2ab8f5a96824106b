from conftest import SEED_DOC_ID


def test_cqc_question_is_answered_with_the_date_and_cited(pipeline):
    response = pipeline.ask("When was the CQC visit?")
    assert not response.abstained
    texts = [a.text for a in response.answers]
    assert "November 2023" in texts
    for answer in response.answers:
        c = answer.citation
        document = pipeline.index.documents[c.doc_id]
        assert document.text[c.answer_start : c.answer_end] == answer.text
        assert document.text[c.passage_start : c.passage_end] == c.passage
        assert c.passage_start <= c.answer_start < c.answer_end <= c.passage_end
        assert 0.0 <= answer.score <= 1.0
    top = next(a for a in response.answers if a.text == "November 2023")
    assert top.citation.doc_id == SEED_DOC_ID and top.citation.date == "2025-10-23"


def test_out_of_corpus_question_abstains(pipeline):
    response = pipeline.ask("What is the capital of France?")
    assert response.abstained and response.answers == []
    assert response.passages, "the passages looked at are still returned for a person to check"


def test_duplicate_answers_are_merged(pipeline):
    response = pipeline.ask("Who is the Trust’s chief nurse?")
    texts = [a.text.lower() for a in response.answers]
    assert texts[0] == "liz lees"
    assert len(texts) == len(set(texts))
    spans = [(a.citation.doc_id, a.citation.answer_start, a.citation.answer_end) for a in response.answers]
    for i, a in enumerate(spans):
        for b in spans[i + 1 :]:
            assert not (a[0] == b[0] and a[1] < b[2] and b[1] < a[2]), "overlapping answers should be merged"
