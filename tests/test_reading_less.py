"""Reading each sentence once (overlapping passages merged) and stopping once an answer is sure."""

import pytest

from qa.documents import Passage
from qa.reader.merge import MergedText, merge_overlapping
from qa.sentences import sentence_spans

DOCUMENT = (
    "The trust board met on Tuesday in the town hall. "
    "Inspectors from the Care Quality Commission visited the maternity unit in November 2023. "
    "They rated the unit as requiring improvement. "
    "The chief nurse, Maya Okafor, said staffing had improved since the spring. "
    "A new birth centre will open in July 2025 at a cost of £4.5m. "
    "The centre will have eight rooms. "
    "Councillors asked about car parking at the site. "
    "The board will meet again in March."
)


def _passages(doc_id: str, text: str, sentences: int = 4, overlap: int = 2) -> list[Passage]:
    """Passages as the index cuts them: `sentences` per passage, neighbours sharing `overlap`."""
    spans = sentence_spans(text)
    out: list[Passage] = []
    step = sentences - overlap
    for i in range(0, len(spans), step):
        first, last = spans[i], spans[min(i + sentences, len(spans)) - 1]
        out.append(Passage(id=len(out), doc_id=doc_id, start=first[0], end=last[1], text=text[first[0] : last[1]]))
        if i + sentences >= len(spans):
            break
    return out


def test_overlapping_passages_of_a_document_become_one_text_in_retrieval_order():
    cut = _passages("a", DOCUMENT)
    assert len(cut) >= 3 and cut[0].end > cut[1].start  # neighbours share sentences
    other = Passage(id=99, doc_id="b", start=0, end=20, text="Another article text")
    # Retrieval order: passage 2 first, then another article, then passages 0 and 1 of the first.
    read = [cut[2], other, cut[0], cut[1]]
    merged = merge_overlapping(read)
    assert [m.members for m in merged] == [(0, 2, 3), (1,)]  # chained overlaps merge; best-ranked first
    first = merged[0]
    assert first.text == DOCUMENT[first.start : first.end]
    assert (first.start, first.end) == (cut[0].start, cut[2].end)
    # Every sentence of the union once: fewer characters than the passages read one by one.
    assert len(first.text) < sum(len(cut[i].text) for i in (0, 1, 2))
    assert merged[1] == MergedText.of(1, other)


def test_passages_that_do_not_overlap_stay_apart():
    cut = _passages("a", DOCUMENT, sentences=2, overlap=0)
    merged = merge_overlapping([cut[0], cut[2], cut[1]])
    assert [m.members for m in merged] == [(0,), (1,), (2,)]  # touching passages save nothing merged
    assert merge_overlapping([]) == []


def test_the_citing_passage_is_the_best_ranked_that_holds_the_span_whole():
    cut = _passages("a", DOCUMENT)
    read = [cut[1], cut[0]]
    merged = merge_overlapping(read)[0]
    nurse = DOCUMENT.index("Maya Okafor")
    # The chief nurse's name is in both passages: the better-ranked (cut[1], read first) cites it.
    assert cut[1].start <= nurse and nurse + 11 <= cut[0].end
    assert merged.citing_member(read, nurse, nurse + 11) == 0
    tuesday = DOCUMENT.index("Tuesday")
    assert merged.citing_member(read, tuesday, tuesday + 7) == 1  # only in cut[0]
    # A span from cut[0]'s first sentence into cut[1]'s last: no one passage holds it.
    assert merged.citing_member(read, cut[0].start, cut[1].end) is None


@pytest.mark.parametrize("merge", [True, False])
def test_merged_reading_cites_passages_at_true_offsets(reader, merge):
    cut = _passages("a", DOCUMENT)
    read = [cut[1], cut[0], cut[2]]
    previous = reader.merge_overlaps
    reader.merge_overlaps = merge
    try:
        answers = reader.read("What is the name of the chief nurse?", read, answers_per_question=10)
    finally:
        reader.merge_overlaps = previous
    assert answers and answers[0].text == "Maya Okafor"
    for answer in answers:
        assert answer.passage is read[answer.passage_rank]
        assert answer.passage.text[answer.start : answer.end] == answer.text
        assert DOCUMENT[answer.document_start : answer.document_end] == answer.text
    if merge:
        # Read once in a merged window, the span is cited from the best-ranked passage holding it whole. Unmerged,
        # each passage is scored on its own and the better-scoring copy is the one cited.
        assert answers[0].passage_rank == 0


def test_merged_reading_reads_fewer_tokens(reader, monkeypatch):
    cut = _passages("a", DOCUMENT)
    widths: list[int] = []
    forward = type(reader)._forward

    def counting(self, input_ids, attention_mask, token_type_ids):
        widths.append(int(attention_mask.sum()))
        return forward(self, input_ids, attention_mask, token_type_ids)

    monkeypatch.setattr(type(reader), "_forward", counting)
    tokens = {}
    for merge in (False, True):
        widths.clear()
        monkeypatch.setattr(reader, "merge_overlaps", merge)
        reader.read("Who is the chief nurse?", cut)
        tokens[merge] = sum(widths)
    assert tokens[True] < 0.8 * tokens[False]


def test_reading_stops_once_enough_and_reads_every_text_otherwise(reader):
    other = "The library in Carrow reopened after repairs. Its new roof cost £300,000."
    read = [
        Passage(id=0, doc_id="a", start=0, end=len(DOCUMENT), text=DOCUMENT),
        Passage(id=1, doc_id="b", start=0, end=len(other), text=other),
    ]
    asked: list[int] = []

    def enough(i, new_answers):
        asked.append(i)
        return True  # the first text always suffices

    question = "What did the library's new roof cost?"
    stopped = reader.read_many([question], [read], 10, enough=enough)[0]
    assert asked == [0]  # asked once: after the first text, never after the second
    assert stopped and all(a.passage_rank == 0 for a in stopped)
    asked.clear()
    never = reader.read_many([question, question], [read, read[:1]], 10, enough=lambda i, new: asked.append(i))
    assert sorted(asked) == [0, 0, 1]  # once per text read: two for the first question, one for the second
    everything = reader.read_many([question], [read], 10)[0]
    assert [a.text for a in never[0]] == [a.text for a in everything]
    assert any(a.passage_rank == 1 for a in everything)
    assert everything[0].text == "£300,000"


def test_pipeline_stops_reading_once_sure_and_otherwise_reads_everything(pipeline, monkeypatch):
    import json
    from pathlib import Path

    seed_qa = Path(__file__).resolve().parent.parent / "eval" / "seed_qa.jsonl"
    questions = [json.loads(line)["question"] for line in seed_qa.read_text(encoding="utf-8").splitlines()][:12]
    texts_read: list[int] = []
    read_texts = type(pipeline.reader).read_texts

    def counting(self, qs, texts, n=5):
        texts_read.append(len(texts))
        return read_texts(self, qs, texts, n)

    monkeypatch.setattr(type(pipeline.reader), "read_texts", counting)
    everything = [pipeline.score(pipeline.read(q, read_all=True)) for q in questions]
    all_texts = sum(texts_read)
    texts_read.clear()
    assert pipeline.stop_reading_at is None  # off by default: every passage retrieved is read
    stop_at = max(pipeline.answer_threshold, 0.5)
    monkeypatch.setattr(pipeline.settings, "early_stop", True)
    monkeypatch.setattr(pipeline.settings, "stop_reading_at", stop_at)
    assert pipeline.stop_reading_at == stop_at
    stopped = [pipeline.score(pipeline.read(q)) for q in questions]
    assert sum(texts_read) < all_texts
    for full, early in zip(everything, stopped):
        assert all(a.passage.text[a.start : a.end] == a.text for a in early)
        if not early or early[0].score < stop_at:  # never sure enough: every text was read
            assert [a.text for a in early] == [a.text for a in full]
    monkeypatch.setattr(pipeline.settings, "early_stop", False)
    assert pipeline.stop_reading_at is None


def test_a_readings_decision_scoring_is_built_once(pipeline, monkeypatch):
    """The rescoring (dating the question against each article, checking its names there) is built once per reading:
    by the early stop when it reads, else by the first `score`; `decide` and later `score` calls reuse it."""
    built: list[str] = []
    scorer = type(pipeline)._scorer

    def counting(self, question, retrieved):
        built.append(question)
        return scorer(self, question, retrieved)

    monkeypatch.setattr(type(pipeline), "_scorer", counting)
    reading = pipeline.read("When was the CQC visit?")
    assert built == []  # no early stop (the default): nothing scored while reading
    first = pipeline.score(reading)
    assert pipeline.score(reading) == first and pipeline.decide(reading)
    assert built == ["When was the CQC visit?"]
    monkeypatch.setattr(pipeline.settings, "early_stop", True)
    monkeypatch.setattr(pipeline.settings, "stop_reading_at", 0.99)
    early = pipeline.read("When was the CQC visit?")
    pipeline.decide(early)
    assert built == ["When was the CQC visit?"] * 2  # the early stop's scorer served the decision too
