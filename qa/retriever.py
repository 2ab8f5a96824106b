"""Hybrid retrieval: dense (FAISS) and BM25 rankings fused by reciprocal rank fusion; for a follow-up in a
conversation, also the rankings of the question searched with its earlier questions (qa.conversation)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from qa.conversation import HistoryWindow, expanded_query, names_a_new_subject
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
    # For a follow-up in a conversation: the passage is in the conversation's topic article (what the earlier
    # questions alone retrieve best). False outside conversations.
    on_topic: bool = False


@dataclass(frozen=True)
class _Ranking:
    ids: list[int]
    weight: float
    dense: bool


class HybridRetriever:
    def __init__(
        self,
        index: CorpusIndex,
        embedder: Embedder,
        candidates_per_retriever: int,
        rrf_k: int,
        history_query_weight: float = 2.0,
        history_ranking_weight: float = 3.0,
        topic_ranking_weight: float = 2.0,
        topic_passages: int = 1,
        topic_depth: int = 200,
    ):
        self.index = index
        self.embedder = embedder
        self.candidates_per_retriever = candidates_per_retriever  # taken from each ranking before fusion
        self.rrf_k = rrf_k
        self.history_query_weight = history_query_weight  # earlier questions' share of a follow-up's dense query
        self.history_ranking_weight = history_ranking_weight  # the expanded rankings' weight in the fusion
        self.topic_ranking_weight = topic_ranking_weight  # the weight of the rankings kept to the topic's articles
        self.topic_passages = topic_passages  # the earlier questions' best passages whose articles are the topic
        self.topic_depth = topic_depth  # how deep the question's own rankings are searched for topic passages

    def retrieve_many(self, questions: list[str], passages: int) -> list[list[RetrievalHit]]:
        """The `passages` best passages for each question, by fused rank."""
        if not questions:
            return []
        dense = self.index.dense_search(self.embedder.embed(questions), self.candidates_per_retriever)
        sparse = self.index.bm25_search(questions, self.candidates_per_retriever)
        return [self._fuse([_Ranking(d, 1.0, True), _Ranking(s, 1.0, False)], passages) for d, s in zip(dense, sparse)]

    def retrieve(self, question: str, passages: int) -> list[RetrievalHit]:
        return self.retrieve_many([question], passages)[0]

    def retrieve_in_conversation(self, question: str, window: HistoryWindow, passages: int) -> list[RetrievalHit]:
        """A follow-up's passages. Its own dense and BM25 rankings are fused with two more pairs:
        - the question searched with the window's earlier questions (dense: its vector plus their mean vector at
          `history_query_weight`; BM25: all their words);
        - its own rankings, searched deeper and kept to the conversation's topic: the articles of the passages the
          earlier questions alone retrieve best (a follow-up's own words, "what was it rated?", find ratings in
          every article; the topic says which article's rating).
        Without a window: `retrieve`."""
        if not window.questions:
            return self.retrieve(question, passages)
        vectors = self.embedder.embed([question, *window.questions])
        earlier = vectors[1:].mean(axis=0)
        mixed = _normalised(vectors[0] + self.history_query_weight * earlier)
        k = self.candidates_per_retriever
        deep = max(k, self.topic_depth)
        own_dense, expanded_dense, topic_dense = self.index.dense_search(
            np.stack([vectors[0], mixed, _normalised(earlier)]), deep
        )
        earlier_text = " ".join(window.questions)
        own_bm25, expanded_bm25, topic_bm25 = self.index.bm25_search(
            [question, expanded_query(question, window), earlier_text], deep
        )
        topic_hits = self._fuse(
            [_Ranking(topic_dense[:k], 1.0, True), _Ranking(topic_bm25[:k], 1.0, False)], self.topic_passages
        )
        topic = {hit.passage.doc_id for hit in topic_hits}
        in_topic = [pid for pid in own_dense if self.index.passage(pid).doc_id in topic][:k]
        in_topic_bm25 = [pid for pid in own_bm25 if self.index.passage(pid).doc_id in topic][:k]
        weight, topic_weight = self.history_ranking_weight, self.topic_ranking_weight
        hits = self._fuse(
            [
                _Ranking(own_dense[:k], 1.0, True),
                _Ranking(own_bm25[:k], 1.0, False),
                _Ranking(expanded_dense[:k], weight, True),
                _Ranking(expanded_bm25[:k], weight, False),
                _Ranking(in_topic, topic_weight, True),
                _Ranking(in_topic_bm25, topic_weight, False),
            ],
            passages,
        )
        if names_a_new_subject(question, window):  # it moves on: the earlier topic is a hint, not a bound
            return hits
        return [replace(hit, on_topic=hit.passage.doc_id in topic) for hit in hits]

    def _fuse(self, rankings: list[_Ranking], passages: int) -> list[RetrievalHit]:
        fused: dict[int, float] = {}
        dense_rank: dict[int, int] = {}
        bm25_rank: dict[int, int] = {}
        for ranking in rankings:
            best = dense_rank if ranking.dense else bm25_rank
            for rank, pid in enumerate(ranking.ids, start=1):
                fused[pid] = fused.get(pid, 0.0) + ranking.weight / (self.rrf_k + rank)
                best[pid] = min(rank, best.get(pid, rank))
        # Equal scores in corpus order, so a changed index ranks as a full build of the same files does.
        order = self.index.order
        ordered = sorted(fused, key=lambda pid: (-fused[pid], order[pid]))[:passages]
        return [
            RetrievalHit(self.index.passage(pid), fused[pid], dense_rank.get(pid), bm25_rank.get(pid))
            for pid in ordered
        ]


def _normalised(vector: np.ndarray) -> np.ndarray:
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)
