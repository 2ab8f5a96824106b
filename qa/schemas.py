"""Typed answers, as every front end (HTTP, CLI, eval) receives them."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Citation(BaseModel):
    """Where an answer comes from. Offsets are characters into the document's text."""

    doc_id: str
    title: str
    date: str | None = None
    url: str | None = None
    passage: str = Field(description="the passage the answer was read from")
    passage_start: int
    passage_end: int
    answer_start: int
    answer_end: int
    page: int | None = Field(None, description="for a paged source (PDF): the 1-based page the answer starts on")


class ResolvedDate(BaseModel):
    """The calendar range a date expression in the answer means, read against its article's date."""

    start: str = Field(description="first day, YYYY-MM-DD")
    end: str = Field(description="last day, YYYY-MM-DD")
    granularity: str = Field(description="day, week, month, season, year or range")
    resolved_from: str = Field(description="the words resolved, verbatim from the answer")
    label: str = Field(description="the range in words, e.g. 'July 2025'")
    basis: str = Field(description="what it was resolved against, e.g. 'article date 2025-10-23'")


class Answer(BaseModel):
    text: str = Field(description="copied verbatim from the document: text == document[answer_start:answer_end]")
    score: float = Field(ge=0.0, le=1.0, description="calibrated probability that the answer is right")
    citation: Citation
    when: ResolvedDate | None = Field(
        None, description="when the answer is or holds a date expression and its article has a date: its resolution"
    )
    order: str | None = Field(
        None, description="when the question asks for the most recent or the earliest: why this answer is first"
    )


class RetrievedPassage(BaseModel):
    """A passage the reader looked at, so a person can check an answer or an abstention."""

    doc_id: str
    title: str
    date: str | None = None
    passage: str
    passage_start: int
    passage_end: int
    page: int | None = Field(None, description="for a paged source (PDF): the 1-based page the passage starts on")
    retrieval_score: float
    read: bool = Field(
        True,
        description="whether the reader read it (false: reading stopped once an earlier passage gave a sure answer)",
    )


class QAResponse(BaseModel):
    question: str
    answers: list[Answer]
    abstained: bool = Field(description="true when nothing in the corpus supports an answer")
    passages: list[RetrievedPassage] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    history_used: list[str] = Field(
        default_factory=list,
        description="earlier questions of the conversation that steered retrieval (empty: the question alone)",
    )
    history_used_positions: list[int] = Field(
        default_factory=list, description="their 0-based places in the history sent (oldest first)"
    )
    note: str | None = Field(None, description="why the question was not read, when it was not")
