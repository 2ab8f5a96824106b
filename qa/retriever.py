"""Hybrid retrieval: dense (FAISS) and BM25 rankings fused by reciprocal rank fusion."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.documents import Passage
from qa.embedder import Embedder
from qa.index import CorpusIndex, bm25_tokenize


@dataclass(frozen=True)
class RetrievedPassage:
    passage: Passage
    score: float  # fused RRF score
    dense_rank: int | None  # 1-based, None when not in that ranking's candidates
    bm25_rank: int | None


class HybridRetriever:
    def __init__(self, index: CorpusIndex, embedder: Embedder, candidates: int = 20, rrf_k: int = 60):
        self.index = index
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k

    def dense_ranking(self, question_vectors: np.ndarray, k: int) -> list[list[int]]:
        k = min(k, self.index.dense.ntotal)
        _, ids = self.index.dense.search(question_vectors, k)
        return [[int(i) for i in row if i >= 0] for row in ids]

    def bm25_ranking(self, questions: list[str], k: int) -> list[list[int]]:
        k = min(k, len(self.index.passages))
        tokens = bm25_tokenize(questions)
        ids, scores = self.index.bm25.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        # Passages sharing no term with the question score 0: they are not evidence.
        return [[int(i) for i, s in zip(row, srow) if s > 0] for row, srow in zip(ids, scores)]

    def retrieve_many(self, questions: list[str], top_k: int) -> list[list[RetrievedPassage]]:
        if not questions:
            return []
        dense = self.dense_ranking(self.embedder.embed(questions), self.candidates)
        sparse = self.bm25_ranking(questions, self.candidates)
        results = []
        for dense_ids, bm25_ids in zip(dense, sparse):
            dense_rank = {pid: r for r, pid in enumerate(dense_ids, start=1)}
            bm25_rank = {pid: r for r, pid in enumerate(bm25_ids, start=1)}
            fused = {
                pid: sum(1.0 / (self.rrf_k + ranks[pid]) for ranks in (dense_rank, bm25_rank) if pid in ranks)
                for pid in dense_rank.keys() | bm25_rank.keys()
            }
            ordered = sorted(fused, key=lambda pid: (-fused[pid], pid))[:top_k]
            results.append([
                RetrievedPassage(self.index.passages[pid], fused[pid], dense_rank.get(pid), bm25_rank.get(pid))
                for pid in ordered
            ])
        return results

    def retrieve(self, question: str, top_k: int) -> list[RetrievedPassage]:
        return self.retrieve_many([question], top_k)[0]
