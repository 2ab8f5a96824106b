"""Runs the pipeline off the event loop: a bounded worker pool, a bounded queue, a time limit per question."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from qa.config import Settings
from qa.pipeline import QAPipeline
from qa.schemas import QAResponse

log = logging.getLogger(__name__)


class NotReady(RuntimeError):
    """The index or models are not loaded (yet, or because loading failed: the message says which)."""


class Saturated(RuntimeError):
    """Too many questions are already waiting."""


class AnswerTimeout(RuntimeError):
    pass


class AnsweringService:
    def __init__(self, settings: Settings, pipeline_factory: Callable[[], QAPipeline]):
        self.settings = settings
        self._factory = pipeline_factory
        self.pipeline: QAPipeline | None = None
        self.error: str | None = None
        self.loading = False
        self._executor = ThreadPoolExecutor(settings.inference_workers, thread_name_prefix="inference")
        self._pending = 0
        self._lock = threading.Lock()
        self.rebuilding = False
        self.last_rebuild_error: str | None = None

    def load(self) -> None:
        """Build or load the pipeline; on failure keep the reason for /ready instead of crashing."""
        self.loading = True
        started = time.perf_counter()
        try:
            pipeline = self._factory()
        except Exception as exc:  # reported through /ready; the process stays up
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("service not ready: %s", self.error)
        else:
            self.pipeline, self.error = pipeline, None
            log.info("service ready in %.1fs (%d passages)", time.perf_counter() - started, len(pipeline.index.passages))
        finally:
            self.loading = False

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

    async def ask(self, question: str, top_k: int | None = None) -> QAResponse:
        pipeline = self._require_pipeline()
        with self._lock:
            if self._pending >= self.settings.max_pending:
                raise Saturated(f"{self._pending} questions already waiting")
            self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(self._executor, pipeline.ask, question, top_k)
            try:
                return await asyncio.wait_for(future, timeout=self.settings.request_timeout_s)
            except asyncio.TimeoutError as exc:
                raise AnswerTimeout(f"no answer within {self.settings.request_timeout_s:g}s") from exc
        finally:
            with self._lock:
                self._pending -= 1

    def shutdown(self) -> None:
        # Questions already running finish; nothing new starts.
        self._executor.shutdown(wait=True, cancel_futures=True)
