"""The one-process answering service: the live pipeline run off the event loop by a bounded worker pool, with a
bounded queue, a time limit per question, and batching of questions that wait together.

Batching is opportunistic: a free worker takes every queued question (up to `batch_max_questions`) and answers
them in one retrieval and reader pass, so a lone question never waits for company, while under load the
per-question cost drops (fewer, fuller model calls).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable, Protocol

from api.live_pipeline import LivePipeline, NotReady, ServiceStatus
from qa.config import Settings
from qa.corpus_store import AddResult, DocumentDetail, DocumentInfo, Overrides
from qa.pipeline import QAPipeline
from qa.schemas import QAResponse

log = logging.getLogger(__name__)


class Saturated(RuntimeError):
    """Too many questions are already waiting."""


class AnswerTimeout(RuntimeError):
    pass


@dataclass
class _Job:
    question: str
    passages_read: int | None
    history: tuple[str, ...]
    history_turns: int | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    abandoned: bool = False  # the caller gave up (time limit): skip it if not started


class Answering(Protocol):
    """What the HTTP routes need from whatever answers: this process's `AnsweringService`, or, on Ray Serve, the
    ingress's `RemoteAnswering` that forwards to answering replicas."""

    async def ask(
        self,
        question: str,
        passages_read: int | None = None,
        history: tuple[str, ...] = (),
        history_turns: int | None = None,
    ) -> QAResponse:
        """Answer a checked question; `history` (earlier questions, oldest first) steers a follow-up's retrieval."""
        ...

    async def current_status(self) -> ServiceStatus: ...

    async def reindex(self) -> bool:
        """Start rebuilding the index from the corpus folder; False when a rebuild is already running."""
        ...

    async def documents(self) -> list[DocumentInfo]: ...

    async def document(self, doc_id: str) -> DocumentDetail: ...

    async def add_document(self, name: str, raw: bytes, overrides: Overrides) -> AddResult:
        """Store and index a file (DocumentRefused with the HTTP status when it is refused)."""
        ...

    async def remove_document(self, doc_id: str) -> None: ...

    def start(self, load_in_background: bool) -> None: ...

    def shutdown(self) -> None: ...


class AnsweringService(LivePipeline):
    """The one-process service: the live pipeline, with a bounded queue and worker threads that batch it."""

    def __init__(self, settings: Settings, pipeline_factory: Callable[[], QAPipeline]):
        super().__init__(settings, pipeline_factory)
        self._pending = 0
        self._lock = threading.Lock()
        self._queue: deque[_Job] = deque()
        self._work = threading.Condition(self._lock)
        self._workers = [
            threading.Thread(target=self._work_loop, name=f"inference-{i}", daemon=True)
            for i in range(settings.inference_workers)
        ]
        for worker in self._workers:
            worker.start()
        self.on_batch: Callable[[int], None] | None = None  # e.g. a metrics hook: called with each batch size

    def start(self, load_in_background: bool) -> None:
        if load_in_background:
            self.load_in_background()
        else:
            self.load()
        self.watch_published_index()

    async def current_status(self) -> ServiceStatus:
        return self.status()

    async def reindex(self) -> bool:
        return self.reindex_in_background()

    # Document changes embed and write files: off the event loop, so questions keep being answered meanwhile.
    async def documents(self) -> list[DocumentInfo]:
        return self.document_list()

    async def document(self, doc_id: str) -> DocumentDetail:
        return self.document_detail(doc_id)

    async def add_document(self, name: str, raw: bytes, overrides: Overrides) -> AddResult:
        return await asyncio.to_thread(self.store_document, name, raw, overrides)

    async def remove_document(self, doc_id: str) -> None:
        await asyncio.to_thread(self.delete_document, doc_id)

    @property
    def pending(self) -> int:
        return self._pending

    async def ask(
        self,
        question: str,
        passages_read: int | None = None,
        history: tuple[str, ...] = (),
        history_turns: int | None = None,
    ) -> QAResponse:
        if self._stopping:
            raise NotReady("the service is shutting down")
        if (cached := self.cached_answer(question, passages_read, history, history_turns)) is not None:
            return cached
        loop = asyncio.get_running_loop()
        job = _Job(question, passages_read, history, history_turns, loop, loop.create_future())
        with self._lock:
            if self._stopping:
                raise NotReady("the service is shutting down")
            if self._pending >= self.settings.max_pending:
                raise Saturated(f"{self._pending} questions already waiting")
            self._pending += 1
            self._queue.append(job)
            self._work.notify()
        try:
            return await asyncio.wait_for(job.future, timeout=self.settings.request_timeout_s)
        except asyncio.TimeoutError as exc:
            job.abandoned = True
            raise AnswerTimeout(f"no answer within {self.settings.request_timeout_s:g}s") from exc

    def _next_batch(self) -> list[_Job] | None:
        """Wait for work; then take the oldest question and every queued one that can share its pass."""
        with self._work:
            while not self._queue and not self._stopping:
                self._work.wait()
            if not self._queue:
                return None  # stopping, and nothing left to answer
            first = self._queue.popleft()
            batch = [first]
            for job in list(self._queue):
                if len(batch) >= self.settings.batch_max_questions:
                    break
                if (job.passages_read, job.history_turns) == (first.passages_read, first.history_turns):
                    self._queue.remove(job)
                    batch.append(job)
            return batch

    def _work_loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            live = [job for job in batch if not job.abandoned]
            try:
                if live:
                    self._answer(live)
            except Exception:  # a worker must outlive any one batch; callers time out rather than hang forever
                log.exception("inference worker: batch of %d failed", len(live))
            finally:
                with self._lock:
                    self._pending -= len(batch)

    def _answer(self, jobs: list[_Job]) -> None:
        try:
            pipeline = self.require_pipeline()
            questions = [job.question for job in jobs]
            histories = [job.history for job in jobs]
            responses = pipeline.ask_many(questions, jobs[0].passages_read, histories, jobs[0].history_turns)
            for job, response in zip(jobs, responses):
                self.remember(pipeline, job.question, job.passages_read, job.history, job.history_turns, response)
        except Exception as exc:  # delivered to each caller, who turns it into an HTTP error
            for job in jobs:
                _deliver(job, None, exc)
            return
        if self.on_batch:
            self.on_batch(len(jobs))
        for job, response in zip(jobs, responses):
            _deliver(job, response, None)

    def shutdown(self) -> None:
        """Answer what is already queued or running, accept nothing new, then stop the workers."""
        with self._work:
            self._stopping = True
            self._work.notify_all()
        for worker in self._workers:
            worker.join(timeout=self.settings.request_timeout_s)


def _deliver(job: _Job, result: QAResponse | None, error: BaseException | None) -> None:
    """Hand a result to the caller's event loop (thread-safe); a caller whose loop has closed is gone."""
    try:
        job.loop.call_soon_threadsafe(_settle, job.future, result, error)
    except RuntimeError:
        log.debug("caller of %r left before its answer was ready", job.question[:60])


def _settle(future: asyncio.Future, result: QAResponse | None, error: BaseException | None) -> None:
    if future.done():  # the caller already gave up
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
