"""The data that flows through the pipeline: articles and the passages cut from them."""

from __future__ import annotations

from bisect import bisect_right

from pydantic import BaseModel, Field


class Document(BaseModel):
    """One article. Every offset elsewhere points into `text`."""

    id: str
    title: str
    text: str
    date: str | None = Field(None, description="YYYY-MM-DD when known")
    url: str | None = None
    source: str = Field("", description="file the article came from, relative to the corpus folder")
    page_starts: list[int] | None = Field(
        None, description="for a paged source (PDF): where each page starts in `text`, page 1 first"
    )
    file_sha256: str | None = Field(None, description="checksum of the file's bytes (the same file again is one)")
    added_at: str | None = Field(None, description="when the file entered the corpus folder (UTC, ISO 8601)")

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character `offset`, for a paged source; None otherwise."""
        if not self.page_starts:
            return None
        return max(1, bisect_right(self.page_starts, offset))


class Passage(BaseModel):
    """A few consecutive sentences of a document: `text == document.text[start:end]`."""

    id: int
    doc_id: str
    start: int
    end: int
    text: str
    page: int | None = Field(None, description="the page the passage starts on, for a paged source (PDF)")
