"""Scale out on Ray Serve: answering replicas behind one thin ingress that retries a question whose replica died.

Two deployments make the application:
- `Answerer` (N replicas, or autoscaled): the models and the index, loaded read-only from the configured index folder,
  the one published location. Questions that reach a replica together are answered in one pass by Ray Serve's own
  batching (`serve.batch`). A reindex on any replica publishes a new build there and every replica switches to it
  (`QA_INDEX_POLL_S`) without dropping the questions in flight.
- `Ingress`: the same FastAPI app as `qa serve` (routes, checks, errors, auth, metrics) over `RemoteAnswering`,
  which forwards each question to an answering replica through a deployment handle. When that replica dies with the
  question in hand (a crash, an OOM kill, a node lost), Serve drops it from routing and the ingress asks again, so
  the caller sees an answer, not an error. Questions change nothing, so asking twice is safe.

On one machine `qa serve --replicas N` starts a local Ray cluster; with `RAY_ADDRESS` set it joins an existing one,
where the replicas spread over the nodes (the index folder must then be shared storage).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from typing import Any, Callable

from ray import serve
from ray.exceptions import RayActorError, RayTaskError
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle

from api.live_pipeline import DocumentRefused, LivePipeline, NotReady, ServiceStatus
from api.service import AnswerTimeout, Saturated
from qa.config import Settings
from qa.corpus_store import AddResult, DocumentDetail, DocumentInfo, Overrides
from qa.pipeline import QAPipeline
from qa.schemas import QAResponse

log = logging.getLogger(__name__)

APP_NAME = "newsqa"
# Environment a replica needs to build the same pipeline as this process (settings and offline model loading).
_FORWARDED = ("HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM")


def answer_grouped(
    pipeline: QAPipeline,
    questions: list[str],
    passages_read: list[int | None],
    histories: list[tuple[str, ...]],
    history_turns: list[int | None],
) -> list[QAResponse]:
    """One batched pass per distinct (passages read, history window) setting; responses in the questions' order."""
    settings = list(zip(passages_read, history_turns))
    responses: dict[int, QAResponse] = {}
    for read, turns in dict.fromkeys(settings):
        positions = [i for i, asked in enumerate(settings) if asked == (read, turns)]
        answered = pipeline.ask_many([questions[i] for i in positions], read, [histories[i] for i in positions], turns)
        responses.update(zip(positions, answered))
    return [responses[i] for i in range(len(questions))]


class Answerer:
    """One answering replica. It takes traffic only once its constructor has loaded and warmed the pipeline. A
    replica that cannot load (no index and no corpus to build one, unreadable weights) fails its start: Serve
    reports why and tries again, and when every try fails `qa serve --replicas` stops with that reason (the
    one-process `qa serve` instead stays up and reports it on /ready).

    Its batch sizes and cache lookups go to Ray's metrics (`qa_batch_questions`, `qa_answer_cache_total`, exported
    by each Ray node's metrics agent), not to the ingress's /metrics."""

    def __init__(self, batch_max_questions: int) -> None:
        from ray.serve import metrics

        settings = Settings()
        self.live = LivePipeline(settings, lambda: QAPipeline.from_settings(settings))
        batches = metrics.Histogram(
            "qa_batch_questions", "Questions answered together in one model pass", boundaries=[1, 2, 4, 8, 16, 32, 64]
        )
        lookups = metrics.Counter(
            "qa_answer_cache_total", "Questions looked up in the answer cache, by result", tag_keys=("result",)
        )
        self.on_batch = batches.observe
        self.live.on_cache = lambda hit: lookups.inc(tags={"result": "hit" if hit else "miss"})
        self.live.load()
        if not self.live.ready:
            raise RuntimeError(f"the answering replica could not load: {self.live.error}")
        self.live.watch_published_index()
        self._answer_batch.set_max_batch_size(batch_max_questions)  # type: ignore[attr-defined,misc]

    async def answer(
        self,
        question: str,
        passages_read: int | None,
        history: tuple[str, ...] = (),
        history_turns: int | None = None,
    ) -> QAResponse:
        """A question asked before of this index build is answered from the cache, else in the next batch."""
        if (cached := self.live.cached_answer(question, passages_read, history, history_turns)) is not None:
            return cached
        return await self._answer_batch(question, passages_read, tuple(history), history_turns)  # type: ignore[call-arg,misc]

    # Serve's typing knows one-argument batches only; each argument arrives as a list.
    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.002)  # type: ignore[arg-type]
    async def _answer_batch(  # type: ignore[misc]
        self,
        questions: list[str],
        passages_read: list[int | None],
        histories: list[tuple[str, ...]],
        history_turns: list[int | None],
    ) -> list[QAResponse]:
        pipeline = self.live.require_pipeline()
        # Off the replica's event loop, so health checks and status calls are answered during a pass.
        responses = await asyncio.to_thread(
            answer_grouped, pipeline, questions, passages_read, histories, history_turns
        )
        for question, read, history, turns, response in zip(
            questions, passages_read, histories, history_turns, responses
        ):
            self.live.remember(pipeline, question, read, history, turns, response)
        self.on_batch(len(questions))
        return responses

    async def status(self) -> ServiceStatus:
        return self.live.status()

    async def reindex(self) -> bool:
        return self.live.reindex_in_background()

    # Document changes: the replica asked writes the shared corpus folder and publishes a new index build; the
    # others switch to it (QA_INDEX_POLL_S). A refusal travels back as (status, reason), not as an exception.
    async def documents(self) -> list[DocumentInfo]:
        return self.live.document_list()

    async def document(self, doc_id: str) -> DocumentDetail | tuple[int, str]:
        return await _refusal_as_value(lambda: self.live.document_detail(doc_id))

    async def add_document(self, name: str, raw: bytes, overrides: Overrides) -> AddResult | tuple[int, str]:
        return await _refusal_as_value(lambda: self.live.store_document(name, raw, overrides))

    async def remove_document(self, doc_id: str) -> None | tuple[int, str]:
        return await _refusal_as_value(lambda: self.live.delete_document(doc_id))


async def _refusal_as_value(call: Callable[[], Any]) -> Any:
    try:
        return await asyncio.to_thread(call)
    except DocumentRefused as exc:
        return (exc.status, exc.reason)


def _replica_died(exc: BaseException) -> bool:
    return isinstance(exc, RayActorError) or (
        isinstance(exc, RayTaskError) and isinstance(getattr(exc, "cause", None), RayActorError)
    )


class RemoteAnswering:
    """The ingress's answering service: each question goes to an answering replica; one whose replica died with it
    in hand is asked once more (another replica, after a short pause) within the question's time limit. Once, not
    more: a question that itself crashed its replica must not take down the others one by one."""

    # /ready and /metrics go through the replicas' queues like questions: when a status call is slow (the replicas
    # are busy) or refused, the last status a replica gave stands for this long before the ingress says not ready.
    STATUS_TIMEOUT_S = 5.0
    STATUS_STALE_AFTER_S = 60.0

    def __init__(self, answerer: DeploymentHandle, settings: Settings, attempts: int = 2) -> None:
        self.answerer = answerer
        self.settings = settings
        self.attempts = attempts
        self.on_retry: Callable[[], None] | None = None  # e.g. a metrics hook: called for each question asked again
        self._last_status: tuple[float, ServiceStatus] | None = None

    def start(self, load_in_background: bool) -> None:
        """Nothing to load: the answering replicas load themselves."""

    def shutdown(self) -> None:
        """Nothing to stop: Serve drains the replicas."""

    async def ask(
        self,
        question: str,
        passages_read: int | None = None,
        history: tuple[str, ...] = (),
        history_turns: int | None = None,
    ) -> QAResponse:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.request_timeout_s
        for attempt in range(1, self.attempts + 1):
            response = self.answerer.answer.remote(question, passages_read, history, history_turns)
            try:
                return await asyncio.wait_for(_result(response), timeout=max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError as exc:
                response.cancel()
                raise AnswerTimeout(f"no answer within {self.settings.request_timeout_s:g}s") from exc
            except BackPressureError as exc:
                raise Saturated("every answering replica has a full queue") from exc
            except Exception as exc:
                if not _replica_died(exc):
                    raise
                if attempt == self.attempts:
                    raise NotReady(f"{attempt} answering replicas died with this question in hand") from exc
                if self.on_retry:
                    self.on_retry()
                log.warning("an answering replica died with a question in hand; asking again (%d)", attempt)
                await asyncio.sleep(0.1 * attempt)
        raise AssertionError("unreachable")

    async def current_status(self) -> ServiceStatus:
        loop = asyncio.get_running_loop()
        response = self.answerer.status.remote()
        try:
            status = await asyncio.wait_for(_result(response), timeout=self.STATUS_TIMEOUT_S)
        except (asyncio.TimeoutError, BackPressureError) as exc:
            response.cancel()
            reason = "the answering replicas are busy" if self._last_status else "no answering replica is up yet"
            return self._recent_status(loop.time(), f"{reason} ({type(exc).__name__})")
        except Exception as exc:
            if not _replica_died(exc):
                raise
            return self._recent_status(loop.time(), "the answering replica asked has just died; retry shortly")
        self._last_status = (loop.time(), status)
        return status

    def _recent_status(self, now: float, reason: str) -> ServiceStatus:
        if self._last_status and now - self._last_status[0] <= self.STATUS_STALE_AFTER_S:
            return self._last_status[1]
        return ServiceStatus(ready=False, reason=reason)

    async def documents(self) -> list[DocumentInfo]:
        return await self._call("documents")

    async def document(self, doc_id: str) -> DocumentDetail:
        return _raise_refusal(await self._call("document", doc_id))

    async def add_document(self, name: str, raw: bytes, overrides: Overrides) -> AddResult:
        return _raise_refusal(await self._call("add_document", name, raw, overrides))

    async def remove_document(self, doc_id: str) -> None:
        _raise_refusal(await self._call("remove_document", doc_id))

    async def _call(self, method: str, *args: Any) -> Any:
        """One call to an answering replica (not retried: a change must not be made twice)."""
        try:
            return await _result(getattr(self.answerer, method).remote(*args))
        except BackPressureError as exc:
            raise Saturated("every answering replica has a full queue") from exc
        except Exception as exc:
            if _replica_died(exc):
                raise NotReady("the answering replica asked died; ask again") from exc
            raise

    async def reindex(self) -> bool:
        return await self._call("reindex")


async def _result(response: Any) -> Any:
    return await response


def _raise_refusal(value: Any) -> Any:
    if isinstance(value, tuple):
        status, reason = value
        raise DocumentRefused(status, reason)
    return value


class Ingress:
    """The HTTP front: the FastAPI app over `RemoteAnswering`, built on the replica (`__serve_build_asgi_app__`)."""

    def __init__(self, answerer: DeploymentHandle) -> None:
        self.answerer = answerer

    def __serve_build_asgi_app__(self) -> Any:
        from api.app import create_app

        settings = Settings()
        answering = RemoteAnswering(self.answerer, settings)
        app = create_app(settings, service=answering)
        answering.on_retry = app.state.metrics.retried.inc
        return app


def answerer_options(
    replicas: int, max_replicas: int | None = None, batch_max_questions: int = 8, max_pending: int = 64
) -> dict[str, Any]:
    """Serve options for the answering replicas: `replicas` fixed, or with `max_replicas` autoscaling between the
    two on the questions each has in hand (one batched pass holds `batch_max_questions`; more only wait)."""
    options: dict[str, Any] = {
        "name": "Answerer",
        "max_ongoing_requests": 2 * batch_max_questions,  # one pass running, the next one filling
        "max_queued_requests": max_pending,  # beyond this the ingress answers 503 "busy"
        "ray_actor_options": {"num_cpus": 0},  # the reader sizes its own threads; Ray should not ration cores
        "health_check_period_s": 2,
    }
    if max_replicas and max_replicas > replicas:
        options["autoscaling_config"] = {
            "min_replicas": replicas,
            "max_replicas": max_replicas,
            "target_ongoing_requests": batch_max_questions,
            "upscale_delay_s": 10,
            "downscale_delay_s": 120,
        }
    else:
        options["num_replicas"] = replicas
    return options


def application(settings: Settings, replicas: int, max_replicas: int | None = None) -> Any:
    answerer: Any = serve.deployment(
        Answerer,
        **answerer_options(replicas, max_replicas, settings.batch_max_questions, settings.max_pending),
    )
    ingress: Any = serve.deployment(
        serve.ingress()(Ingress),
        name="Ingress",
        num_replicas=1,  # it only forwards; add replicas (and a load balancer) for more than one node's traffic
        max_ongoing_requests=4 * settings.max_pending,
        ray_actor_options={"num_cpus": 0},
    )
    return ingress.bind(answerer.bind(settings.batch_max_questions))


def replica_environment(settings_env: dict[str, str], replicas: int, local: bool) -> dict[str, str]:
    """The QA_ settings and offline-loading flags every replica gets. On a local cluster, replicas share this
    machine's cores: unless QA_TORCH_THREADS says otherwise, each gets its share rather than all of them."""
    env = {k: v for k, v in settings_env.items() if k.startswith("QA_") or k in _FORWARDED}
    if local and "QA_TORCH_THREADS" not in env:
        env["QA_TORCH_THREADS"] = str(max(1, (os.cpu_count() or 1) // replicas))
    return env


def serve_replicas(settings: Settings, replicas: int, max_replicas: int | None = None) -> None:
    """Run `replicas` answering replicas (autoscaling up to `max_replicas`) behind the ingress, on a local Ray
    cluster (or the one RAY_ADDRESS names), until SIGINT or SIGTERM."""
    import ray

    address = os.environ.get("RAY_ADDRESS")
    ray.init(
        address=address,
        runtime_env={"env_vars": replica_environment(dict(os.environ), replicas, local=not address)},
        include_dashboard=False,
        logging_level=logging.WARNING,
    )
    serve.start(http_options={"host": settings.host, "port": settings.port})
    serve.run(application(settings, replicas, max_replicas), name=APP_NAME, route_prefix="/")
    log.info("serving on http://%s:%d with %d answering replicas", settings.host, settings.port, replicas)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    log.info("shutting down the replicas")
    serve.shutdown()
    ray.shutdown()
