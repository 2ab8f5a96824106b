"""OpenAI-compatible chat completions over the same answering path as /ask.

The assistant message is only the extracted answer(s) and their source (title, date) in a fixed frame,
or a fixed sentence when the service abstains: never generated text. Structured citations ride along
in the extra `citations` field.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.answering import answer, checked_question
from api.models import ErrorResponse, clean_question
from api.security import require_api_key
from qa.conversation import is_housekeeping
from qa.pipeline import HOUSEKEEPING_NOTE
from qa.schemas import Answer, QAResponse

MODEL_ID = "newsqa-extractive"
NO_ANSWER = "The corpus holds no answer to this question."

router = APIRouter(prefix="/v1", tags=["openai-compatible"], dependencies=[Depends(require_api_key)])
_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (401, 404, 413, 422, 503, 504)}


class ChatMessage(BaseModel):
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if isinstance(self.content, list):
            return " ".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return ""


class ChatCompletionRequest(BaseModel):
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    # Accepted for compatibility; extraction has no sampling, so they change nothing.
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    n: int | None = None
    user: str | None = None
    # This service's own: earlier questions searched with a follow-up besides the subject's (default QA_HISTORY_TURNS).
    history_turns: int | None = Field(None, ge=0, le=20)

    model_config = {"extra": "allow"}


def _earlier_questions(request: Request, messages: list[ChatMessage]) -> tuple[str, ...]:
    """The conversation's earlier user questions, oldest first, the most recent QA_MAX_HISTORY_QUESTIONS. Clients
    resend the whole chat every turn, so an earlier turn that cannot be a question (empty, a pasted document over
    the length limit, a housekeeping prompt) is left out rather than refusing every later turn."""
    settings = request.app.state.settings
    kept = []
    for message in messages:
        text = message.text()
        if not text.strip() or is_housekeeping(text):
            continue
        try:
            kept.append(clean_question(text, settings.max_question_chars))
        except ValueError:
            continue
    return tuple(kept[-settings.max_history_questions :])


def render_answers(response: QAResponse) -> str:
    """The fixed framing: each answer as copied from the corpus, then its source."""
    if response.abstained:
        return NO_ANSWER
    return "\n".join(_render(a) for a in response.answers)


def _render(item: Answer) -> str:
    source = item.citation.title + (f", {item.citation.date}" if item.citation.date else "")
    if item.citation.page is not None:
        source += f", page {item.citation.page}"
    when = ""
    if item.when and item.citation.date:
        published = date.fromisoformat(item.citation.date)
        when = f" ({item.when.label}, from an article of {published.day} {published.strftime('%B %Y')})"
    order = f" [{item.order}]" if item.order else ""  # why this answer comes first, for "most recent" questions
    return f"{item.text}{when} (source: {source}){order}"


def _citations(response: QAResponse) -> list[dict]:
    return [{"text": a.text, "score": a.score, **a.citation.model_dump()} for a in response.answers]


@router.get("/models", summary="The one model this service offers")
async def list_models() -> dict:
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "newsqa"}]}


@router.post("/chat/completions", responses=_ERRORS, summary="Answer the latest user message (OpenAI chat API)")
async def chat_completions(request: Request, body: ChatCompletionRequest):
    if body.model != MODEL_ID:
        raise HTTPException(404, f"model '{body.model}' does not exist; use '{MODEL_ID}' (GET /v1/models)")
    # The conversation is its user turns: assistant turns are the service's own earlier answers (never facts), and
    # system, developer and tool turns are instructions this extractive service does not follow.
    user_messages = [m for m in body.messages if m.role == "user"]
    if not user_messages:
        raise HTTPException(422, "messages must include a message with role 'user'")
    latest = user_messages[-1].text()
    if is_housekeeping(latest):
        # A front end's title/tags/follow-up prompt: a quick no-answer, never a span read from its pasted chat.
        response = QAResponse(question=latest[:200], answers=[], abstained=True, note=HOUSEKEEPING_NOTE)
    else:
        question = checked_question(request, latest)
        earlier = _earlier_questions(request, user_messages[:-1])
        response = await answer(request, question, None, earlier, body.history_turns)
    completion_id = "chatcmpl-" + uuid.uuid4().hex
    created = int(time.time())
    content = render_answers(response)
    extra = {
        "citations": _citations(response),
        "abstained": response.abstained,
        "history_used": response.history_used,
    }
    if not body.stream:
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_ID,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            **extra,
        }

    def chunk(delta: dict, finish: Literal["stop"] | None = None, **more) -> str:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **more,
        }
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    def events():
        yield chunk({"role": "assistant", "content": ""})
        yield chunk({"content": content})
        yield chunk({}, "stop", **extra)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
