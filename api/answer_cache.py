"""Responses to questions already answered from the same index build, kept for the next time they are asked.

Staff at many sites, and chat front ends, ask the same few questions again and again ("when was the CQC visit?").
The pipeline gives the same response to the same question, passages read and index build, so a repeated question
can cost a dictionary lookup instead of a retrieval and reader pass. The key holds the index build's folder: after
a reindex, or a switch to a build another process published, nothing cached before is served again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from qa.schemas import QAResponse

CacheKey = tuple[str, int, str, tuple[str, ...]]


class AnswerCache:
    """Least recently used responses, at most `max_entries` (0: off); safe to share between threads."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[CacheKey, QAResponse] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(question: str, passages_read: int, index_path: Path, context: tuple[str, ...] = ()) -> CacheKey:
        return (" ".join(question.split()), passages_read, str(index_path), tuple(" ".join(q.split()) for q in context))

    def get(self, key: CacheKey) -> QAResponse | None:
        if not self.max_entries:
            return None
        with self._lock:
            response = self._entries.get(key)
            if response is not None:
                self._entries.move_to_end(key)
            return response

    def put(self, key: CacheKey, response: QAResponse) -> None:
        if not self.max_entries:
            return
        with self._lock:
            self._entries[key] = response
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
