"""Getting the service's answers to a question set: from the pipeline in this process, or from a running service's
`/ask` over HTTP. Both give one `Outcome` per question (the public `QAResponse`, its latency), so one scorer reads
both; the local pipeline also gives the best span whatever the threshold (`forced`), which `/ask` does not expose.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from datetime import datetime, timezone
from typing import Sequence

from pydantic import BaseModel, Field, ValidationError
from tqdm.auto import tqdm

from eval.question_set import EvalQuestion
from qa.pipeline import QAPipeline
from qa.schemas import QAResponse

MAX_RETRY_WAIT_S = 300.0  # per question: how long a busy service may keep answering 503 before the run gives up
TIMEOUT_RETRIES = 2  # a 504 (no answer within the service's time limit) is asked again this many times


class ForcedSpan(BaseModel):
    """The best span the reader found whatever the threshold, with the answer decision's score."""

    text: str
    score: float


class Outcome(BaseModel):
    id: str
    response: QAResponse
    latency_ms: float = Field(description="local: retrieval, reading and deciding; HTTP: the answered request")
    forced: ForcedSpan | None = Field(None, description="local runs only: /ask does not expose it")
    retries: int = Field(0, description="HTTP: requests asked again after 503 (busy) or 504 (timed out)")


class RemoteError(RuntimeError):
    """The service at --url cannot be used for this run; the message names the address and why."""


class LocalAsker:
    """Answers through a pipeline in this process, as the service would."""

    def __init__(self, pipeline: QAPipeline, passages_read: int | None = None):
        self.pipeline = pipeline
        self.passages_read = passages_read

    def ask(self, qid: str, question: str) -> Outcome:
        started = time.perf_counter()
        reading = self.pipeline.read(question, self.passages_read)
        response = self.pipeline.respond(reading, 1000 * (time.perf_counter() - started))
        latency_ms = 1000 * (time.perf_counter() - started)
        scored = self.pipeline.score(reading)
        forced = ForcedSpan(text=scored[0].text, score=scored[0].score) if scored else None
        return Outcome(id=qid, response=response, latency_ms=latency_ms, forced=forced)

    def ask_all(self, questions: Sequence[EvalQuestion], desc: str = "questions") -> list[Outcome]:
        return [self.ask(q.id, q.question) for q in tqdm(questions, desc=desc, unit="q")]


def _retry_after_s(value: str | None) -> float:
    """Seconds a 503's Retry-After asks for (a number, or an HTTP date); 1 when absent or unreadable."""
    if not value:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _error_text(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("error", body)) if isinstance(body, dict) else str(body)[:200]


async def _ask_one(client, url: str, question: EvalQuestion, top_k: int | None) -> Outcome:
    import httpx

    body: dict[str, object] = {"question": question.question}
    if top_k is not None:
        body["top_k"] = top_k
    retries, waited, timeouts = 0, 0.0, 0
    while True:
        started = time.perf_counter()
        try:
            reply = await client.post("/ask", json=body)
        except httpx.TransportError as exc:
            raise RemoteError(f"{url}: no answer to /ask ({type(exc).__name__}: {exc})") from exc
        latency_ms = 1000 * (time.perf_counter() - started)
        if reply.status_code == 503:
            wait = min(_retry_after_s(reply.headers.get("retry-after")), 30.0)
            if waited + wait > MAX_RETRY_WAIT_S:
                raise RemoteError(f"{url}: still busy after {waited:.0f}s of retries (503: {_error_text(reply)})")
            retries, waited = retries + 1, waited + wait
            await asyncio.sleep(wait)
            continue
        if reply.status_code == 504 and timeouts < TIMEOUT_RETRIES:
            retries, timeouts = retries + 1, timeouts + 1
            continue
        if reply.status_code in (401, 403):
            raise RemoteError(
                f"{url}/ask refused the request ({reply.status_code}: {_error_text(reply)}); pass a key with --api-key"
            )
        if reply.status_code != 200:
            raise RemoteError(
                f"{url}/ask answered {reply.status_code} to question {question.id!r}: {_error_text(reply)}"
            )
        try:
            response = QAResponse.model_validate(reply.json())
        except (ValueError, ValidationError) as exc:
            raise RemoteError(f"{url}/ask: not a QA response for question {question.id!r} ({exc})") from exc
        return Outcome(id=question.id, response=response, latency_ms=latency_ms, retries=retries)


async def _ask_all(
    url: str, questions: Sequence[EvalQuestion], api_key: str | None, top_k: int | None, concurrency: int, desc: str
) -> list[Outcome]:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120.0, limits=limits) as client:
        try:
            health = await client.get("/health", timeout=10.0)
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise RemoteError(f"--url {url} does not answer ({type(exc).__name__}: {exc})") from exc
        if health.status_code != 200:
            raise RemoteError(f"--url {url} is not a QA service (GET /health answered {health.status_code})")
        results: list[Outcome | None] = [None] * len(questions)
        next_index = iter(range(len(questions)))
        bar = tqdm(total=len(questions), desc=desc, unit="q")

        async def worker() -> None:
            # Workers take questions in order, so at most `concurrency` are in flight at once.
            for i in next_index:
                results[i] = await _ask_one(client, url, questions[i], top_k)
                bar.update(1)

        tasks = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(questions)))]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:  # one failure ends the run: stop the others before the client closes
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            bar.close()
    return [outcome for outcome in results if outcome is not None]


def ask_service(
    url: str,
    questions: Sequence[EvalQuestion],
    api_key: str | None = None,
    passages_read: int | None = None,
    concurrency: int = 4,
    desc: str = "questions",
) -> list[Outcome]:
    """Ask every question of the service at `url` (`POST /ask`), `concurrency` at a time; a 503 is asked again after
    its Retry-After. RemoteError when the service does not answer, refuses the key or a question."""
    if not url.startswith(("http://", "https://")):
        raise RemoteError(f"--url {url}: expected an http:// or https:// address")
    return asyncio.run(_ask_all(url.rstrip("/"), questions, api_key, passages_read, concurrency, desc))
