"""Request and error bodies of the HTTP API (responses reuse qa.schemas)."""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, Field

# Categories of Unicode that are never part of a real question: control, format (zero-width,
# bidi overrides), surrogates, private use and unassigned code points.
_REJECTED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_ALLOWED_CONTROLS = {"\n", "\t", "\r"}


def clean_question(value: str, max_chars: int) -> str:
    """NFC-normalise and check a question; ValueError names the limit that was broken."""
    if not isinstance(value, str):
        raise ValueError("question must be a string")
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise ValueError("question must not be empty")
    if len(text) > max_chars:
        raise ValueError(f"question is {len(text)} characters; the limit is {max_chars}")
    for ch in text:
        if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) in _REJECTED_CATEGORIES:
            raise ValueError(f"question contains a control or invisible character (U+{ord(ch):04X})")
    if not any(ch.isalnum() for ch in text):
        raise ValueError("question must contain at least one letter or digit")
    return " ".join(text.split())


class AskRequest(BaseModel):
    # Checked once, by clean_question (api.answering), against the server's limits.
    question: str = Field(
        description="the question, in plain text (limits: see QA_MAX_QUESTION_CHARS)",
        examples=["When was the CQC visit?"],
    )
    top_k: int | None = Field(None, description="passages to read (at most the server's QA_MAX_PASSAGES_READ)")
    history: list[str] | None = Field(
        None,
        description="the conversation's earlier questions, oldest first (at most QA_MAX_HISTORY_QUESTIONS): a "
        "follow-up such as 'What was it rated?' is searched with them; answers still come from the corpus only",
        examples=[["When was the CQC visit to the maternity unit?"]],
    )
    history_turns: int | None = Field(
        None,
        description="earlier questions searched with a follow-up besides the first (0: none); default QA_HISTORY_TURNS",
    )

    model_config = {"extra": "forbid", "strict": True}


class ErrorResponse(BaseModel):
    error: str = Field(description="what went wrong, for a person to read")
    status: int
    request_id: str | None = None
