"""The data that flows through the pipeline: articles and the passages cut from them."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Document(BaseModel):
    """One article. Every offset elsewhere points into `text`."""

    id: str
    title: str
    text: str
    date: str | None = Field(None, description="YYYY-MM-DD when known")
    url: str | None = None
    source: str = Field("", description="file the article came from")


class Passage(BaseModel):
    """A few consecutive sentences of a document: `text == document.text[start:end]`."""

    id: int
    doc_id: str
    start: int
    end: int
    text: str
