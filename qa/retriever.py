"""Hybrid retrieval: dense (FAISS) and BM25 rankings fused by reciprocal rank fusion."""

from __future__ import annotations

from dataclasses import dataclass

from qa.documents import Passage
from qa.embedder import Embedder
from qa.index import CorpusIndex


@dataclass(frozen=True)
class RetrievalHit:
    """A passage the retriever found for a question, with the fused score and each ranking's place for it."""

    passage: Passage
    score: float  # fused RRF score
    dense_rank: int | None  # 1-based, None when not in that ranking's candidates
    bm25_rank: int | None


class HybridRetriever:
    def __init__(self, index: CorpusIndex, embedder: Embedder, candidates_per_retriever: int, rrf_k: int):
        self.index = index
        self.embedder = embedder
        self.candidates_per_retriever = candidates_per_retriever  # taken from each ranking before fusion
        self.rrf_k = rrf_k

    def retrieve_many(self, questions: list[str], passages: int) -> list[list[RetrievalHit]]:
        """The `passages` best passages for each question, by fused rank."""
        if not questions:
            return []
        dense = self.index.dense_search(self.embedder.embed(questions), self.candidates_per_retriever)
        sparse = self.index.bm25_search(questions, self.candidates_per_retriever)
        results = []
        for dense_ids, bm25_ids in zip(dense, sparse):
            dense_rank = {pid: r for r, pid in enumerate(dense_ids, start=1)}
            bm25_rank = {pid: r for r, pid in enumerate(bm25_ids, start=1)}
            fused = {
                pid: sum(1.0 / (self.rrf_k + ranks[pid]) for ranks in (dense_rank, bm25_rank) if pid in ranks)
                for pid in dense_rank.keys() | bm25_rank.keys()
            }
            # Equal scores in corpus order, so a changed index ranks as a full build of the same files does.
            order = self.index.order
            ordered = sorted(fused, key=lambda pid: (-fused[pid], order[pid]))[:passages]
            results.append(
                [
                    RetrievalHit(self.index.passage(pid), fused[pid], dense_rank.get(pid), bm25_rank.get(pid))
                    for pid in ordered
                ]
            )
        return results

    def retrieve(self, question: str, passages: int) -> list[RetrievalHit]:
        return self.retrieve_many([question], passages)[0]
