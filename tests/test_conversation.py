"""Follow-up questions in a conversation: earlier questions steer retrieval (never the answer), over the pipeline,
/ask, the OpenAI-compatible chat API (the official client, plain and streamed) and the web page.

The corpus is six similar hospital articles from the news set (three maternity inspections, a birth centre, a
Tallowmere inspection, a cancer centre), so a follow-up such as "Who is the director of midwifery there?" fits
several of them and only the conversation says which."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import openai
import pytest
from conftest import ARTIFACTS, CHROMIUM, ROOT, running_server

from qa.conversation import (
    HistoryWindow,
    conversation_context,
    history_window,
    is_housekeeping,
    names_a_new_subject,
    needs_history,
    reader_question,
)

ARTICLES = [
    "health_01_maternity_rating",
    "uk_h4_10_birth_centre",
    "uk_h6_03_maternity_cqc",
    "uk_h8_03_maternity_cqc",
    "uk_h5_03_tallowmere_cqc",
    "health_09_cancer_centre",
]
FIRST = "When did inspectors go back into the maternity unit at Wendham General Hospital?"
FOLLOW_UP = "Who is the director of midwifery there?"
RIGHT_ARTICLE, RIGHT_ANSWER = "health_01_maternity_rating", "Rhiannon Castellane"
# A follow-up that alone is answered from another hospital's article (each of them gives a rating).
RATED, RATINGS = "What was it rated?", {"inadequate", "requires improvement"}
HOUSEKEEPING = (
    "### Task:\nGenerate a concise, 3-5 word title with an emoji summarizing the chat history.\n"
    '### Output:\nJSON format: { "title": "your concise title here" }\n'
    f"<chat_history>\nUSER: {FIRST}\nASSISTANT: 5 and 6 November 2024\n</chat_history>"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hospitals")
    for name in ARTICLES:
        shutil.copy(ROOT / "eval" / "news" / "articles" / f"{name}.txt", folder / f"{name}.txt")
    return folder


@pytest.fixture(scope="module")
def hospitals(corpus, tmp_path_factory):
    from qa.config import Settings
    from qa.pipeline import QAPipeline

    return QAPipeline.from_settings(Settings(corpus_dir=corpus, index_dir=tmp_path_factory.mktemp("index")))


@pytest.fixture(scope="module")
def server(corpus, tmp_path_factory):
    env = {
        "QA_CORPUS_DIR": str(corpus),
        "QA_INDEX_DIR": str(tmp_path_factory.mktemp("served-index")),
        "QA_MAX_HISTORY_QUESTIONS": "5",
    }
    yield from running_server(env, tmp_path_factory.mktemp("logs") / "server.log")


@pytest.mark.parametrize(
    "question",
    ["What rating did it get this time?", "Who said that?", "And in 2024?", "Where is it?", "How many beds?",
     "When did this happen?", "What about the second one?", "Who runs the ward?",
     # Abbreviations every such article uses and numbers do not name a subject.
     "What did the CQC rate the practice that's closing?", "How many people did the earlier one in 1999 kill?",
     "What has the hospital's trust opened next to A&E to help?"],
)  # fmt: skip
def test_follow_ups_need_the_conversation(question):
    assert needs_history(question)


@pytest.mark.parametrize(
    "question",
    [FIRST, "Who is the chief nurse of Kestrelmoor and Wendham NHS Foundation Trust?",
     "How many babies a year does the Wendham General Hospital maternity unit deliver?",
     "Which drug that the Medicines Regulatory Agency approved in 2024 was withdrawn?"],
)  # fmt: skip
def test_self_contained_questions_do_not(question):
    assert not needs_history(question)


def test_housekeeping_prompts_are_recognised():
    assert is_housekeeping(HOUSEKEEPING)
    suggestions = "Suggest 3-5 relevant follow-up questions the user might ask.\n<chat_history>x</chat_history>"
    assert is_housekeeping(suggestions)
    assert not is_housekeeping("What task force did the council set up?")
    assert not is_housekeeping("Who generated the title of the report?")


def test_history_window_is_the_first_and_the_latest_questions():
    history = ["first?", "second?", "third?", "fourth?", "fifth?"]
    window = history_window(history, 2)
    assert window.questions == ("first?", "fourth?", "fifth?") and window.positions == (0, 3, 4)
    assert history_window(["same?", "Same?", "other?"], 5).questions == ("same?", "other?")
    assert history_window(history, 0).questions == ()
    assert conversation_context(FIRST, history, 2).questions == ()  # self-contained: searched alone


def test_the_reader_reads_what_earlier_questions_were_about_not_their_asking_words():
    window = HistoryWindow(
        ("Which hospital in Caldmoor had the longest handover delays?", "How many midwives have they taken on?"),
        (0, 2),
    )
    read = reader_question("How many of them had only just qualified?", window)
    assert read.startswith("How many of them had only just qualified? ")
    assert "hospital in Caldmoor had the longest handover delays" in read and "midwives have they taken on" in read
    assert "Which" not in read and read.count("How many") == 1 and read.count("?") == 1
    assert reader_question("Who chairs the board?", HistoryWindow((), ())) == "Who chairs the board?"


def test_a_follow_up_is_answered_from_the_conversations_article(hospitals):
    alone = hospitals.ask(RATED)
    # The premise: alone, the question fits another hospital's article better.
    assert alone.answers and alone.answers[0].citation.doc_id != RIGHT_ARTICLE
    rated = hospitals.ask(RATED, history=[FIRST])
    assert rated.answers[0].citation.doc_id == RIGHT_ARTICLE and rated.answers[0].text.strip("'") in RATINGS
    followed = hospitals.ask(FOLLOW_UP, history=[FIRST])
    assert followed.history_used == [FIRST] and followed.history_used_positions == [0]
    assert followed.answers[0].citation.doc_id == RIGHT_ARTICLE
    assert followed.answers[0].text == RIGHT_ANSWER
    assert hospitals.ask(FOLLOW_UP, history=[FIRST], history_turns=0).history_used == []


def test_a_follow_up_is_bound_to_the_conversations_article_unless_it_names_another_subject(hospitals):
    window = conversation_context(FOLLOW_UP, [FIRST], 2)
    hits = hospitals.retriever.retrieve_in_conversation(FOLLOW_UP, window, 4)
    assert {hit.passage.doc_id for hit in hits if hit.on_topic} == {RIGHT_ARTICLE}
    assert any(not hit.on_topic for hit in hits)  # other articles are read, and ranked after the topic's answers
    moving_on = "And what about the Tallowmere cancer centre?"
    assert names_a_new_subject(moving_on, window) and not names_a_new_subject(FOLLOW_UP, window)
    assert not names_a_new_subject("And what was Wendham General rated?", window)  # named before: same subject
    hits = hospitals.retriever.retrieve_in_conversation(moving_on, conversation_context(moving_on, [FIRST], 2), 4)
    assert not any(hit.on_topic for hit in hits)
    # Plain retrieval knows no conversation.
    assert not any(hit.on_topic for hit in hospitals.retriever.retrieve(FIRST, 4))


def test_a_self_contained_question_is_answered_as_without_a_conversation(hospitals):
    question = "How many babies a year does the Wendham General Hospital maternity unit deliver?"
    with_history = hospitals.ask(question, history=["Who leads the Tallowmere cancer service?", FOLLOW_UP])
    alone = hospitals.ask(question)
    assert with_history.history_used == []
    assert [a.model_dump() for a in with_history.answers] == [a.model_dump() for a in alone.answers]
    assert [p.model_dump() for p in with_history.passages] == [p.model_dump() for p in alone.passages]


def test_the_conversation_is_never_quoted_as_an_answer(hospitals):
    # An earlier question holding a made-up name: the answer still comes from a corpus passage at its offsets.
    history = ["Is Zebedee Quillfeather the director of midwifery at Wendham General Hospital?"]
    response = hospitals.ask(FOLLOW_UP, history=history)
    for answer in response.answers:
        document = hospitals.index.documents[answer.citation.doc_id]
        assert document.text[answer.citation.answer_start : answer.citation.answer_end] == answer.text
        assert "Zebedee" not in answer.text


def test_housekeeping_prompt_gets_a_quick_no_answer(hospitals):
    response = hospitals.ask(HOUSEKEEPING)
    assert response.abstained and response.answers == [] and response.passages == []
    assert response.note and "housekeeping" in response.note


def test_ask_with_history_over_http(server):
    body = {"question": FOLLOW_UP, "history": [FIRST]}
    data = httpx.post(server.url + "/ask", json=body, timeout=60).json()
    assert data["history_used"] == [FIRST]
    assert data["answers"][0]["citation"]["doc_id"] == RIGHT_ARTICLE
    rated = httpx.post(server.url + "/ask", json={"question": RATED, "history": [FIRST]}, timeout=60).json()
    assert rated["answers"][0]["citation"]["doc_id"] == RIGHT_ARTICLE
    alone = httpx.post(server.url + "/ask", json={"question": RATED}, timeout=60).json()
    # Cached per conversation context: the same question alone is not served the follow-up's answer.
    assert alone["history_used"] == [] and alone["answers"][0]["citation"]["doc_id"] != RIGHT_ARTICLE


@pytest.mark.parametrize(
    ("history", "reason"),
    [
        (["q1?", "q2?", "q3?", "q4?", "q5?", "q6?"], "history has 6 questions; the limit is 5"),
        ([1, 2], "history"),
        (["When was it?", "   "], "history[1]: question must not be empty"),
        ("When was the visit?", "history"),
        ([["nested"]], "history"),
    ],
)
def test_bad_histories_are_refused_with_the_reason(server, history, reason):
    response = httpx.post(server.url + "/ask", json={"question": FOLLOW_UP, "history": history}, timeout=30)
    assert response.status_code == 422
    assert reason in response.text


def test_history_turns_out_of_range_is_refused(server):
    response = httpx.post(
        server.url + "/ask", json={"question": FOLLOW_UP, "history": [FIRST], "history_turns": 99}, timeout=30
    )
    assert response.status_code == 422 and "history_turns" in response.text


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=60)


def _chat(first_answer: str) -> list[dict]:
    return [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": FIRST},
        # The service's own earlier answer, with a made-up claim: assistant turns are never facts.
        {"role": "assistant", "content": first_answer},
        {"role": "user", "content": FOLLOW_UP},
    ]


def test_multi_turn_chat_answers_the_follow_up_from_the_conversations_article(client):
    messages = _chat("5 and 6 November 2024. The director of midwifery is Zebedee Quillfeather.")
    completion = client.chat.completions.create(model="newsqa-extractive", messages=messages)
    content = completion.choices[0].message.content or ""
    assert RIGHT_ANSWER in content and "Zebedee" not in content
    assert completion.model_extra["citations"][0]["doc_id"] == RIGHT_ARTICLE
    assert completion.model_extra["history_used"] == [FIRST]


def test_multi_turn_chat_streamed(client):
    stream = client.chat.completions.create(
        model="newsqa-extractive",
        messages=_chat("5 and 6 November 2024"),
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert RIGHT_ANSWER in text
    assert chunks[-1].model_extra["citations"][0]["doc_id"] == RIGHT_ARTICLE


def test_chat_housekeeping_prompt_gets_the_no_answer_sentence(client):
    messages = [{"role": "user", "content": FIRST}, {"role": "user", "content": HOUSEKEEPING}]
    completion = client.chat.completions.create(model="newsqa-extractive", messages=messages)
    assert completion.choices[0].message.content == "The corpus holds no answer to this question."
    assert completion.model_extra["citations"] == []


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed (apt-get install chromium)")
def test_web_page_keeps_the_conversation_until_a_new_one(server, chromium):
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(server.url + "/")
    ask = page.get_by_role("button", name="Ask", exact=True)
    page.get_by_label("Your question").fill(FIRST)
    ask.click()
    page.wait_for_selector("#turns li")
    page.get_by_label("Your question").fill(FOLLOW_UP)
    ask.click()
    page.wait_for_selector("#followup-note")
    assert FIRST in page.locator("#followup-note").inner_text()
    assert RIGHT_ANSWER in page.locator("mark.highlight").all_inner_texts()
    assert page.locator("#turns li").count() == 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-conversation.png"), full_page=True)
    page.get_by_role("button", name="New conversation").click()
    assert page.locator("#conversation").is_hidden() and page.locator("#turns li").count() == 0
    page.get_by_label("Your question").fill(FOLLOW_UP)
    ask.click()
    page.wait_for_selector("#turns li")
    assert page.locator("#followup-note").count() == 0  # a new conversation: the question is read alone
    context.close()


def test_conversation_set_scores_unanswerable_follow_ups_beside_the_conversation(news_index_dir, tmp_path):
    """The shipped set loads (its verbatim checks pass), and `qa eval conversations` asks each unanswerable follow-up
    after its turn without changing the history of the turns after it; an abstention scores 1 there."""
    from eval.conversations import (
        CONVERSATIONS_FILE,
        ConversationSetError,
        evaluate_conversations,
        load_conversations,
    )
    from eval.news import news_settings
    from eval.news_set import NEWS_DIR, load_news_set
    from qa.config import Settings
    from qa.pipeline import QAPipeline

    news = load_news_set(NEWS_DIR)
    conversations = load_conversations(CONVERSATIONS_FILE, news)
    assert sum(len(c.unanswerable) for c in conversations) >= 100
    pipeline = QAPipeline.from_settings(news_settings(news, Settings(), news_index_dir))
    two = [c for c in conversations if c.unanswerable][:2]
    summary = evaluate_conversations(pipeline, two, tmp_path / "out")
    rows = json.loads((tmp_path / "out" / "conversations_eval.json").read_text())["turns"]
    unanswerable = [r for r in rows if r["kind"] == "unanswerable follow-up with conversation"]
    assert len(unanswerable) == sum(len(c.unanswerable) for c in two)
    assert all(r["f1"] == float(not r["prediction"]) and not r["answerable"] for r in unanswerable)
    # The follow-up after it is asked with the conversation's own questions, not the inserted one.
    first = two[0]
    after = first.unanswerable[0].after_turn
    asked_after = [
        r for r in rows if r["conversation"] == first.id and r["turn"] == after + 1 and "with conversation" in r["kind"]
    ]
    assert all(first.unanswerable[0].question not in r["history_used"] for r in asked_after)
    assert summary["unanswerable follow-up with conversation"]["turns"] == len(unanswerable)
    # No span is right for an unanswerable turn: it has no forced F1 (not a misleading 0); answerable turns do.
    assert all(r["forced_f1"] is None for r in unanswerable)
    assert summary["unanswerable follow-up with conversation"]["forced_f1"] is None
    assert 0.0 <= summary["follow-up with conversation"]["forced_f1"] <= 1.0
    assert 0.0 <= summary["all follow-ups with conversation"]["f1"] <= 1.0

    # A follow-up placed after a turn the conversation does not have is refused with the line and the reason.
    broken = tmp_path / "broken.jsonl"
    line = first.model_dump(mode="json")
    line["unanswerable"][0]["after_turn"] = len(first.turns) + 1
    broken.write_text(json.dumps(line) + "\n")
    with pytest.raises(ConversationSetError, match="past the last turn"):
        load_conversations(broken, news)


def test_conversation_retrieval_grid_measures_each_setting(news_index_dir, tmp_path):
    """`python -m lab.conversation_retrieval` (how the history settings were chosen on the training conversations):
    one row per combination, and the conversation's questions find follow-ups' evidence that the follow-ups alone
    do not."""
    from eval.conversations import CONVERSATIONS_FILE
    from eval.news_set import NEWS_DIR
    from lab.conversation_retrieval import measure

    subset = tmp_path / "ten.jsonl"
    subset.write_text("".join(CONVERSATIONS_FILE.read_text(encoding="utf-8").splitlines(keepends=True)[:10]))
    grid = {
        "history_turns": [0, 1],
        "history_query_weight": [2.0],
        "history_ranking_weight": [3.0],
        "topic_ranking_weight": [2.0],
    }
    alone, with_history = measure(subset, NEWS_DIR, "validation", grid, index_dir=news_index_dir)
    assert (alone.history_turns, with_history.history_turns) == (0, 1)
    assert alone.follow_ups == with_history.follow_ups >= 30
    assert with_history.evidence_read > alone.evidence_read + 0.2
    assert with_history.first_passage_right_article > alone.first_passage_right_article
    assert with_history.evidence_read <= with_history.evidence_in_6 <= 1.0
