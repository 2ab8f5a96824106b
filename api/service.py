"""Runs the pipeline off the event loop: a bounded worker pool, a bounded queue, a time limit per question,
and batching of questions that wait together.

Batching is opportunistic: a free worker takes every queued question (up to `batch_max_questions`) and answers
them in one retrieval and reader pass, so a lone question never waits for company, while under load the
per-question cost drops (fewer, fuller model calls).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from qa.config import Settings
from qa.index import current_build_dir, ensure_index, load_index
from qa.pipeline import QAPipeline
from qa.schemas import QAResponse

log = logging.getLogger(__name__)


class NotReady(RuntimeError):
    """The index or models are not loaded (yet, or because loading failed: the message says which)."""


class Saturated(RuntimeError):
    """Too many questions are already waiting."""


class AnswerTimeout(RuntimeError):
    pass


@dataclass
class _Job:
    question: str
    passages_read: int | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    abandoned: bool = False  # the caller gave up (time limit): skip it if not started


class AnsweringService:
    def __init__(self, settings: Settings, pipeline_factory: Callable[[], QAPipeline]):
        self.settings = settings
        self._factory = pipeline_factory
        self.pipeline: QAPipeline | None = None
        self.error: str | None = None
        self.loading = False
        self._pending = 0
        self._lock = threading.Lock()
        self._queue: deque[_Job] = deque()
        self._work = threading.Condition(self._lock)
        self._stopping = False
        self._workers = [
            threading.Thread(target=self._work_loop, name=f"inference-{i}", daemon=True)
            for i in range(settings.inference_workers)
        ]
        for worker in self._workers:
            worker.start()
        self.rebuilding = False
        self.last_rebuild_error: str | None = None
        self.on_batch: Callable[[int], None] | None = None  # e.g. a metrics hook: called with each batch size

    def load(self) -> None:
        """Build or load the pipeline; on failure keep the reason for /ready instead of crashing."""
        self.loading = True
        started = time.perf_counter()
        try:
            pipeline = self._factory()
            warm_s = pipeline.warm_up()  # /ready turns true only once the first answer is fast
        except Exception as exc:  # reported through /ready; the process stays up
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("service not ready: %s", self.error)
        else:
            self.pipeline, self.error = pipeline, None
            log.info(
                "service ready in %.1fs (%d passages; warm-up %.1fs)",
                time.perf_counter() - started,
                len(pipeline.index.passages),
                warm_s,
            )
        finally:
            self.loading = False

    def watch_published_index(self) -> threading.Thread | None:
        """Switch to an index build that another process published (its `CURRENT` pointer moved), e.g. a replica
        that ran /admin/reindex over the shared index folder: checked every `index_poll_s` seconds."""
        if not self.settings.index_poll_s:
            return None
        thread = threading.Thread(target=self._watch_loop, name="index-watch", daemon=True)
        thread.start()
        return thread

    def _watch_loop(self) -> None:
        failed: Path | None = None
        while not self._stopping:
            time.sleep(self.settings.index_poll_s)
            pipeline = self.pipeline
            published = current_build_dir(self.settings.index_dir)
            if pipeline is None or self.rebuilding or published is None or published in (pipeline.index.path, failed):
                continue
            try:
                switched = pipeline.with_index(load_index(self.settings.index_dir))
                switched.warm_up()
            except Exception as exc:  # a build still being checked or removed: keep answering from the current one
                failed = published
                log.warning(
                    "published index %s not usable yet (%s); still serving %s", published, exc, pipeline.index.path
                )
                continue
            self.replace_pipeline(switched)
            log.info("switched to the published index %s (%d passages)", published, len(switched.index.passages))

    def load_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.load, name="pipeline-loader", daemon=True)
        thread.start()
        return thread

    def rebuild_in_background(self, rebuild: Callable[[], QAPipeline]) -> bool:
        """Rebuild the index (and reload) in a thread while the current pipeline keeps answering; swap at the end.
        Returns False when a rebuild is already running."""
        with self._lock:
            if self.rebuilding:
                return False
            self.rebuilding = True

        def run() -> None:
            try:
                pipeline = rebuild()
                pipeline.warm_up()
            except Exception as exc:  # the old index keeps serving; the failure is reported in /ready
                self.last_rebuild_error = f"{type(exc).__name__}: {exc}"
                log.error("index rebuild failed, still serving the previous index: %s", self.last_rebuild_error)
            else:
                self.replace_pipeline(pipeline)
                self.last_rebuild_error = None
                log.info("index rebuilt and swapped in (%d passages)", len(pipeline.index.passages))
            finally:
                self.rebuilding = False

        threading.Thread(target=run, name="index-rebuild", daemon=True).start()
        return True

    def reindex_in_background(self) -> bool:
        """Rebuild the index from the corpus folder and swap it in under the loaded models (not reloaded).
        Returns False when a rebuild is already running; NotReady before the first load."""
        pipeline = self._require_pipeline()
        return self.rebuild_in_background(
            lambda: pipeline.with_index(ensure_index(self.settings, pipeline.models.embedder, force=True))
        )

    def replace_pipeline(self, pipeline: QAPipeline) -> None:
        """Swap in a pipeline (e.g. over a rebuilt index); questions in flight finish on the old one."""
        self.pipeline, self.error = pipeline, None

    @property
    def ready(self) -> bool:
        return self.pipeline is not None

    @property
    def pending(self) -> int:
        return self._pending

    def _require_pipeline(self) -> QAPipeline:
        pipeline = self.pipeline
        if pipeline is None:
            raise NotReady(self.error or "the index and models are still loading")
        return pipeline

    async def ask(self, question: str, passages_read: int | None = None) -> QAResponse:
        self._require_pipeline()
        loop = asyncio.get_running_loop()
        job = _Job(question, passages_read, loop, loop.create_future())
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
                if job.passages_read == first.passages_read:
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
            pipeline = self._require_pipeline()
            responses = pipeline.ask_many([job.question for job in jobs], jobs[0].passages_read)
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
