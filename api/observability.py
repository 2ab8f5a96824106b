"""Request ids, structured logs, body-size limits and Prometheus metrics, as one ASGI middleware."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = logging.getLogger("api.access")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to grep, easy to ship to a log store."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        payload.update(getattr(record, "fields", {}))
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "qa_request_seconds",
            "Request latency",
            ["route"],
            registry=self.registry,
            buckets=(0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.requests = Counter(
            "qa_requests_total", "Requests by route and status", ["route", "status"], registry=self.registry
        )
        self.outcomes = Counter(
            "qa_answers_total", "Questions answered vs abstained", ["outcome"], registry=self.registry
        )
        self.batch_size = Histogram(
            "qa_batch_questions",
            "Questions answered together in one model pass",
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64),
        )
        self.answer_cache = Counter(
            "qa_answer_cache_total",
            "Questions looked up in the answer cache, by result",
            ["result"],
            registry=self.registry,
        )
        self.retried = Counter(
            "qa_questions_retried_total",
            "Questions asked again because the answering replica holding them died (Ray Serve ingress)",
            registry=self.registry,
        )
        self.index_passages = Gauge("qa_index_passages", "Passages in the loaded index", registry=self.registry)
        self.index_documents = Gauge("qa_index_documents", "Documents in the loaded index", registry=self.registry)


class RequestContextMiddleware:
    """Gives every request an id (echoed in X-Request-ID), caps the body size, logs and measures it."""

    def __init__(
        self,
        app,
        metrics: Metrics,
        max_body_bytes: int,
        upload_body_bytes: int | None = None,
        upload_guard: Callable[[dict[str, str]], tuple[int, str] | None] | None = None,
    ):
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        # Document uploads carry files: their own, larger cap (the file limit plus the multipart framing), and a
        # check of who is uploading before any of the body is read.
        self.upload_body_bytes = upload_body_bytes or max_body_bytes
        self.upload_guard = upload_guard

    @staticmethod
    def _is_upload(scope) -> bool:
        return scope.get("method") == "POST" and scope.get("path", "").rstrip("/") == "/documents"

    def _limit(self, scope) -> int:
        return self.upload_body_bytes if self._is_upload(scope) else self.max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        supplied = headers.get("x-request-id", "")
        request_id = supplied if _SAFE_ID.match(supplied) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500}
        route = scope.get("path", "")

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode())]
            await send(message)

        limit = self._limit(scope)
        declared = headers.get("content-length")
        refusal = self.upload_guard(headers) if self.upload_guard and self._is_upload(scope) else None
        if refusal is not None:
            await self._refuse(send_with_id, request_id, *refusal)
        elif declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(send_with_id, request_id, limit)
        else:
            received = {"bytes": 0}

            async def limited_receive():
                message = await receive()
                if message["type"] == "http.request":
                    received["bytes"] += len(message.get("body", b""))
                    if received["bytes"] > limit:
                        raise _BodyTooLarge()
                return message

            try:
                await self.app(scope, limited_receive, send_with_id)
            except _BodyTooLarge:
                await self._too_large(send_with_id, request_id, limit)
        elapsed = time.perf_counter() - started
        label = _route_label(route)
        self.metrics.latency.labels(label).observe(elapsed)
        self.metrics.requests.labels(label, str(status_holder["status"])).inc()
        log.info(
            "%s %s -> %s",
            scope.get("method"),
            route,
            status_holder["status"],
            extra={"fields": {"status": status_holder["status"], "ms": round(elapsed * 1000, 1), "path": route}},
        )
        request_id_var.reset(token)

    async def _too_large(self, send, request_id: str, limit: int) -> None:
        await self._refuse(send, request_id, 413, f"request body larger than {limit} bytes")

    async def _refuse(self, send, request_id: str, status: int, message: str) -> None:
        body = json.dumps({"error": message, "status": status, "request_id": request_id}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


def _route_label(path: str) -> str:
    # Bounded label values: unknown paths share one label so metrics cannot be blown up by scanners.
    known = (
        "/ask",
        "/health",
        "/ready",
        "/metrics",
        "/v1/chat/completions",
        "/v1/models",
        "/docs",
        "/openapi.json",
        "/documents",
        "/",
    )
    if path.startswith("/documents/"):
        return "/documents/{doc_id}"
    return path if path in known else "other"
