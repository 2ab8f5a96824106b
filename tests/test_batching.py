"""The answering service batches questions that wait together, without changing any answer."""

import asyncio

import pytest

from api.service import AnsweringService, AnswerTimeout, NotReady

QUESTIONS = [
    "When was the CQC visit?",
    "Who is the Trust’s chief nurse?",
    "How many births does Luton have annually?",
    "Who is the Trust’s director of midwifery?",
    "What is the capital of France?",
    "How much did the new clinical building cost?",
    "How many newly qualified midwives arrived this week?",
    "Which sites did the CQC visit in July?",
]


def _service(settings, pipeline, **overrides) -> AnsweringService:
    service = AnsweringService(settings.model_copy(update=overrides), lambda: pipeline)
    service.load()
    return service


def _summary(response):
    return response.abstained, [
        (a.text, a.citation.doc_id, a.citation.answer_start, a.citation.answer_end) for a in response.answers
    ]


def test_concurrent_questions_are_batched_and_answered_as_alone(settings, pipeline):
    service = _service(settings, pipeline, inference_workers=1, batch_max_questions=8)
    sizes: list[int] = []
    service.on_batch = sizes.append

    async def ask_all():
        return await asyncio.gather(*(service.ask(q) for q in QUESTIONS))

    try:
        responses = asyncio.run(ask_all())
    finally:
        service.shutdown()
    assert sum(sizes) == len(QUESTIONS)
    assert max(sizes) > 1, f"questions waiting together should share a pass (batches: {sizes})"
    for question, response in zip(QUESTIONS, responses):
        assert response.question == question
        assert _summary(response) == _summary(pipeline.ask(question)), question
    assert responses[0].answers[0].text in {"November 2023", "July"}
    assert responses[4].abstained


def test_batches_respect_the_size_limit_and_top_k(settings, pipeline):
    service = _service(settings, pipeline, inference_workers=1, batch_max_questions=3)
    sizes: list[int] = []
    service.on_batch = sizes.append

    async def ask_all():
        return await asyncio.gather(
            *(service.ask(q, passages_read=2 if i % 2 else None) for i, q in enumerate(QUESTIONS))
        )

    try:
        responses = asyncio.run(ask_all())
    finally:
        service.shutdown()
    assert max(sizes) <= 3 and sum(sizes) == len(QUESTIONS)
    assert [len(r.passages) for r in responses[1::2]] == [2] * 4
    assert all(len(r.passages) == settings.passages_read for r in responses[0::2])


def test_a_timed_out_question_does_not_stall_the_workers(settings, pipeline):
    slow = _service(settings, pipeline, inference_workers=1, request_timeout_s=0.001)
    with pytest.raises(AnswerTimeout, match="no answer within"):
        asyncio.run(slow.ask(QUESTIONS[0]))
    slow.settings = slow.settings.model_copy(update={"request_timeout_s": 30.0})
    try:
        response = asyncio.run(slow.ask(QUESTIONS[1]))
    finally:
        slow.shutdown()
    assert response.answers[0].text == "Liz Lees"


def test_shutdown_answers_what_is_queued_then_refuses(settings, pipeline):
    service = _service(settings, pipeline, inference_workers=1)

    async def ask_then_stop():
        tasks = [asyncio.ensure_future(service.ask(q)) for q in QUESTIONS[:4]]
        await asyncio.sleep(0)  # let every question reach the queue
        stopping = asyncio.get_running_loop().run_in_executor(None, service.shutdown)
        answered = await asyncio.gather(*tasks)
        await stopping
        return answered

    answered = asyncio.run(ask_then_stop())
    assert [r.question for r in answered] == QUESTIONS[:4]
    with pytest.raises(NotReady, match="shutting down"):
        asyncio.run(service.ask(QUESTIONS[0]))


def test_service_is_ready_only_after_a_warm_up_answer(settings, pipeline):
    """A pipeline that loads but cannot answer (here: its reader fails on first use) must leave /ready false."""
    from dataclasses import replace

    from qa.pipeline import QAPipeline

    class ReaderThatFails:
        settings = pipeline.reader.settings

        def read_many(self, *args, **kwargs):
            raise RuntimeError("inference session lost")

    broken = QAPipeline(pipeline.index, replace(pipeline.models, reader=ReaderThatFails()), pipeline.settings)
    service = AnsweringService(settings, lambda: broken)
    service.load()
    try:
        assert not service.ready
        assert "inference session lost" in service.error
    finally:
        service.shutdown()
    healthy = _service(settings, pipeline)
    try:
        assert healthy.ready and healthy.error is None
    finally:
        healthy.shutdown()


def test_a_repeated_question_is_answered_from_the_cache(settings, pipeline):
    service = _service(settings, pipeline, inference_workers=1)
    sizes: list[int] = []
    lookups: list[bool] = []
    service.on_batch, service.on_cache = sizes.append, lookups.append
    try:
        first = asyncio.run(service.ask(QUESTIONS[1]))
        again = asyncio.run(service.ask("  " + QUESTIONS[1].replace(" ", "  ")))
        fewer_passages = asyncio.run(service.ask(QUESTIONS[1], passages_read=2))
    finally:
        service.shutdown()
    assert lookups == [False, True, False] and sizes == [1, 1]  # the repeat skipped the reader
    assert _summary(again) == _summary(first) and again.passages == first.passages
    assert "read" in first.timings_ms and "read" not in again.timings_ms
    assert len(fewer_passages.passages) == 2


def test_the_cache_starts_afresh_with_another_index_build(settings, pipeline, seed_index_dir, tmp_path):
    import shutil

    from qa.index import load_index

    service = _service(settings, pipeline, inference_workers=1)
    lookups: list[bool] = []
    service.on_cache = lookups.append
    try:
        asyncio.run(service.ask(QUESTIONS[0]))
        shutil.copytree(seed_index_dir, tmp_path / "index")
        service.replace_pipeline(pipeline.with_index(load_index(tmp_path / "index")))  # e.g. after /admin/reindex
        asyncio.run(service.ask(QUESTIONS[0]))
        asyncio.run(service.ask(QUESTIONS[0]))
    finally:
        service.shutdown()
    assert lookups == [False, False, True]


def test_no_cache_when_it_is_off(settings, pipeline):
    service = _service(settings, pipeline, inference_workers=1, answer_cache_size=0)
    sizes: list[int] = []
    service.on_batch = sizes.append
    try:
        for _ in range(2):
            asyncio.run(service.ask(QUESTIONS[0]))
    finally:
        service.shutdown()
    assert sizes == [1, 1]


def test_the_cache_keeps_the_most_recently_used(pipeline):
    from api.answer_cache import AnswerCache

    cache = AnswerCache(max_entries=2)
    response = pipeline.ask(QUESTIONS[0])
    keys = [cache.key(q, 4, pipeline.index.path) for q in QUESTIONS[:3]]
    cache.put(keys[0], response)
    cache.put(keys[1], response)
    assert cache.get(keys[0]) is response  # now the most recent
    cache.put(keys[2], response)
    assert len(cache) == 2 and cache.get(keys[1]) is None and cache.get(keys[0]) is response
