"""The official openai client, unchanged, against the live server."""

import openai
import pytest
from conftest import SEED_DOC_ID


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=60)


def test_models_list(client):
    assert [m.id for m in client.models.list().data] == ["newsqa-extractive"]


def test_completion_answers_with_source_and_citations(client):
    completion = client.chat.completions.create(
        model="newsqa-extractive", messages=[{"role": "user", "content": "When was the CQC visit?"}]
    )
    content = completion.choices[0].message.content
    assert "November 2023" in content and "2025-10-23" in content
    assert completion.choices[0].finish_reason == "stop"
    citations = completion.model_extra["citations"]
    assert any(c["text"] == "November 2023" and c["doc_id"] == SEED_DOC_ID for c in citations)


def test_streamed_completion(client):
    stream = client.chat.completions.create(
        model="newsqa-extractive",
        stream=True,
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "When was the CQC visit?"}],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "November 2023" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"]


def test_unanswerable_gets_the_fixed_sentence(client):
    completion = client.chat.completions.create(
        model="newsqa-extractive", messages=[{"role": "user", "content": "What is the capital of France?"}]
    )
    assert completion.choices[0].message.content == "The corpus holds no answer to this question."
    assert completion.model_extra["citations"] == []


def test_unknown_model_is_a_clear_error(client):
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hi"}])
