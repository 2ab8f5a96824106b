"""The pipeline a server answers from, kept current: loaded once, then swapped for a rebuilt index (/admin/reindex)
or for one another process published in the shared index folder, while questions in flight finish on the old one.

Both ways of serving use it: the one-process service (`api.service`) and each Ray Serve answering replica
(`api.ray_serve`). `status()` is what /ready reports.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable, TypeVar

from pydantic import BaseModel

from api.answer_cache import AnswerCache, CacheKey
from qa.config import Settings
from qa.corpus_store import (
    AddResult,
    CorpusStore,
    DocumentDetail,
    DocumentInfo,
    Overrides,
    StoreError,
    get_document,
    list_documents,
)
from qa.file_formats import UnreadableFile
from qa.index import CorpusIndex, IndexProblem, build_running, current_build_dir, ensure_index, load_index
from qa.pipeline import QAPipeline
from qa.schemas import QAResponse

log = logging.getLogger(__name__)
T = TypeVar("T")


class NotReady(RuntimeError):
    """The index or models are not loaded (yet, or because loading failed: the message says which)."""


class DocumentRefused(RuntimeError):
    """A document change or lookup the service refuses, with the HTTP status that says why."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


_STORE_STATUS = {"not_found": 404, "conflict": 409, "busy": 503, "invalid": 422}
_FILE_STATUS = {"unsupported": 415, "too_large": 413, "unreadable": 422}


class IndexSummary(BaseModel):
    documents: int
    passages: int
    built_at: str
    embedding_model: str


class ServiceStatus(BaseModel):
    """Readiness as /ready reports it: the reason when not ready, the index answered from when ready."""

    ready: bool
    reason: str | None = None
    rebuilding: bool = False
    last_rebuild_error: str | None = None
    index: IndexSummary | None = None


class LivePipeline:
    def __init__(self, settings: Settings, pipeline_factory: Callable[[], QAPipeline]):
        self.settings = settings
        self._factory = pipeline_factory
        self.pipeline: QAPipeline | None = None
        self.error: str | None = None
        self.loading = False
        self.rebuilding = False
        self.last_rebuild_error: str | None = None
        self._rebuild_lock = threading.Lock()
        self._change_lock = threading.Lock()  # this process's document changes, one at a time, swapped in order
        self._swap_lock = threading.Lock()
        self._store: CorpusStore | None = None
        self._stopping = False
        self.answers = AnswerCache(settings.answer_cache_size)
        self.on_cache: Callable[[bool], None] | None = None  # e.g. a metrics hook: called with hit (True) or miss

    def cached_answer(
        self,
        question: str,
        passages_read: int | None,
        history: tuple[str, ...] = (),
        history_turns: int | None = None,
    ) -> QAResponse | None:
        """The response this question got from the current index build, if it was asked before with the same
        earlier questions steering it (timings: the lookup only, nothing was retrieved or read)."""
        pipeline = self.require_pipeline()
        if not self.answers.max_entries:
            return None
        started = time.perf_counter()
        response = self.answers.get(self._cache_key(pipeline, question, passages_read, history, history_turns))
        if self.on_cache:
            self.on_cache(response is not None)
        if response is None:
            return None
        return response.model_copy(
            update={"question": question, "timings_ms": {"total": 1000 * (time.perf_counter() - started)}}
        )

    def remember(
        self,
        pipeline: QAPipeline,
        question: str,
        passages_read: int | None,
        history: tuple[str, ...],
        history_turns: int | None,
        response: QAResponse,
    ) -> None:
        """Keep the response `pipeline` gave, under its index build."""
        self.answers.put(self._cache_key(pipeline, question, passages_read, history, history_turns), response)

    def _cache_key(
        self,
        pipeline: QAPipeline,
        question: str,
        passages_read: int | None,
        history: tuple[str, ...],
        history_turns: int | None,
    ) -> CacheKey:
        # Only the earlier questions that steer retrieval belong in the key: a self-contained question is the same
        # question whatever came before it, and shares its cached response.
        context = pipeline.conversation_context(question, history, history_turns).questions
        return self.answers.key(question, passages_read or self.settings.passages_read, pipeline.index.path, context)

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

    def load_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.load, name="pipeline-loader", daemon=True)
        thread.start()
        return thread

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
            if self._change_lock.locked():  # this process is making a change: it swaps in its own build
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
            if self.switch_to_published(switched):
                log.info("switched to the published index %s (%d passages)", published, len(switched.index.passages))

    def rebuild_in_background(self, rebuild: Callable[[], QAPipeline]) -> bool:
        """Rebuild the index (and reload) in a thread while the current pipeline keeps answering; swap at the end.
        Returns False when a rebuild is already running."""
        with self._rebuild_lock:
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
                self.last_rebuild_error = None
                if self.switch_to_published(pipeline):
                    log.info("index rebuilt and swapped in (%d passages)", len(pipeline.index.passages))
            finally:
                self.rebuilding = False

        threading.Thread(target=run, name="index-rebuild", daemon=True).start()
        return True

    def reindex_in_background(self) -> bool:
        """Rebuild the index from the corpus folder and swap it in under the loaded models (not reloaded).
        Returns False when a rebuild is already running, here or in another process sharing the index folder;
        NotReady before the first load."""
        pipeline = self.require_pipeline()
        if build_running(self.settings.index_dir):
            return False
        return self.rebuild_in_background(
            lambda: pipeline.with_index(ensure_index(self.settings, pipeline.models.embedder, force=True))
        )

    def _corpus_store(self, pipeline: QAPipeline) -> CorpusStore:
        if self._store is None:
            self._store = CorpusStore(self.settings, pipeline.models.embedder)
        return self._store

    def document_list(self) -> list[DocumentInfo]:
        """The documents the current index answers from."""
        return list_documents(self.require_pipeline().index)

    def document_detail(self, doc_id: str) -> DocumentDetail:
        try:
            return get_document(self.require_pipeline().index, doc_id)
        except StoreError as exc:
            raise DocumentRefused(_STORE_STATUS[exc.kind], exc.reason) from exc

    def store_document(self, name: str, raw: bytes, overrides: Overrides) -> AddResult:
        """Store a file in the corpus folder and index it; the new index is answered from as soon as it is
        published (questions in flight finish on the old one). DocumentRefused says why a file is refused."""
        try:
            return self._change(lambda store, base: store.add(name, raw, overrides, base=base))
        except UnreadableFile as exc:
            raise DocumentRefused(_FILE_STATUS[exc.kind], f"{name[:200]}: {exc.reason}") from exc

    def delete_document(self, doc_id: str) -> None:
        """Delete the document's file and take it out of the index: it is never cited again (the answer cache
        is per index build)."""
        self._change(lambda store, base: (None, store.remove(doc_id, base=base)))

    def _change(self, change: Callable[[CorpusStore, CorpusIndex], tuple[T, CorpusIndex]]) -> T:
        """One change to the corpus at a time in this process, made on the current index and swapped in before
        the next; the store's refusals as DocumentRefused with their HTTP status."""
        with self._change_lock:
            pipeline = self.require_pipeline()
            try:
                result, index = change(self._corpus_store(pipeline), pipeline.index)
            except StoreError as exc:
                raise DocumentRefused(_STORE_STATUS[exc.kind], exc.reason) from exc
            except IndexProblem as exc:
                raise DocumentRefused(503, f"the index cannot be changed now: {exc}") from exc
            except OSError as exc:  # the corpus or index folder cannot be written (disk full, permissions)
                raise DocumentRefused(507, f"the corpus folder could not be changed: {exc.strerror or exc}") from exc
            if index is not pipeline.index:
                self.switch_to_published(pipeline.with_index(index))
            return result

    def switch_to_published(self, pipeline: QAPipeline) -> bool:
        """Swap in a pipeline over a build of the shared index folder, only if that build is still the published
        one: a slow loader (the watcher, a rebuild) must never put back a build that a later change replaced (a
        removed document would be cited again). False when it was not swapped in; the newer build then is, by
        whoever published it or by the watcher."""
        with self._swap_lock:
            if current_build_dir(self.settings.index_dir) != pipeline.index.path:
                log.info("not switching to %s: a newer build has been published since", pipeline.index.path.name)
                return False
            self.replace_pipeline(pipeline)
            return True

    def replace_pipeline(self, pipeline: QAPipeline) -> None:
        """Swap in a pipeline (e.g. over a rebuilt index); questions in flight finish on the old one."""
        self.pipeline, self.error = pipeline, None

    @property
    def ready(self) -> bool:
        return self.pipeline is not None

    def require_pipeline(self) -> QAPipeline:
        pipeline = self.pipeline
        if pipeline is None:
            raise NotReady(self.error or "the index and models are still loading")
        return pipeline

    def status(self) -> ServiceStatus:
        pipeline = self.pipeline
        if pipeline is None:
            return ServiceStatus(ready=False, reason=self.error or "loading the index and models")
        manifest = pipeline.index.manifest
        return ServiceStatus(
            ready=True,
            rebuilding=self.rebuilding,
            last_rebuild_error=self.last_rebuild_error,
            index=IndexSummary(
                documents=manifest.documents,
                passages=manifest.passages,
                built_at=manifest.built_at,
                embedding_model=manifest.embedding_model,
            ),
        )
