"""The public answering pipeline: retrieve passages, read spans, decide what to answer.

`QAPipeline.ask()` is the one function the HTTP service, the CLI and the evaluations call.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from qa.config import Settings
from qa.dates import resolve, sentence_around
from qa.decision import DECISION_FILE, DecisionModel, span_features
from qa.embedder import Embedder
from qa.index import CorpusIndex, IndexMissingError, build_index, load_index, read_manifest, staleness
from qa.ingest import Corpus, load_corpus
from qa.metrics import normalize_answer
from qa.reader.model import ExtractedSpan, Reader, ReaderLoadError, packaged_reader_dir
from qa.retriever import HybridRetriever
from qa.retriever import RetrievedPassage as RetrievedHit
from qa.schemas import Answer, Citation, QAResponse, ResolvedDate, RetrievedPassage

log = logging.getLogger(__name__)


class IndexStaleError(RuntimeError):
    pass


def index_options(settings: Settings) -> dict:
    """The settings an index is built with, and checked against to tell whether it is stale."""
    return dict(sentences=settings.passage_sentences, overlap=settings.passage_overlap,
                max_chars=settings.passage_max_chars, index_type=settings.index_type)


def stale_reasons(index_dir: Path, corpus: Corpus, embedder: Embedder, settings: Settings) -> list[str]:
    """Why the index in `index_dir` does not serve this corpus with these settings (empty: it does).
    A damaged manifest raises IndexCorruptError."""
    try:
        manifest = read_manifest(index_dir)
    except IndexMissingError:
        return ["no index built yet"]
    return staleness(manifest, corpus.fingerprint, embedder.name, **index_options(settings))


def ensure_index(settings: Settings, embedder: Embedder, rebuild: bool | None = None, force: bool = False) -> CorpusIndex:
    """Load the index, building it first when missing, or rebuilding when stale and auto_build is on
    (always, with `force`)."""
    corpus = load_corpus(settings.corpus_dir)
    reasons = stale_reasons(settings.index_dir, corpus, embedder, settings)
    if force:
        reasons = reasons or ["rebuild requested"]
        rebuild = True
    if reasons:
        allowed = settings.auto_build if rebuild is None else rebuild
        if not allowed:
            raise IndexStaleError(f"index in {settings.index_dir} is out of date: {'; '.join(reasons)}; run `qa index`")
        log.info("building the index: %s", "; ".join(reasons))
        build_index(corpus, settings.index_dir, embedder, corpus_dir=settings.corpus_dir, **index_options(settings))
    return load_index(settings.index_dir)


@dataclass
class Reading:
    """What retrieval and the reader found for one question, before the answer decision."""

    question: str
    retrieved: list[RetrievedHit]
    spans: list[ExtractedSpan]  # best first, calibrated probability in .probability
    timings_ms: dict[str, float]


@dataclass(frozen=True)
class ScoredSpan:
    """A reader span with the answer decision's probability that it is right, and the features behind it."""

    span: ExtractedSpan
    probability: float
    features: dict[str, float]


def load_decision(settings: Settings, reader: Reader) -> DecisionModel:
    """The answer decision fitted for this reader (QA_DECISION_FILE, else answer_decision.json beside the reader
    weights); without one, the reader's own calibration and validation threshold."""
    path = settings.decision_file or Path(settings.reader_model or packaged_reader_dir()) / DECISION_FILE
    if settings.decision_file is None and not path.is_file():
        s = reader.settings
        return DecisionModel.reader_calibration(s.calibration_slope, s.calibration_intercept, s.probability_threshold)
    try:
        return DecisionModel.load(path)
    except ValueError as exc:
        raise ReaderLoadError(str(exc)) from exc


@dataclass
class _Candidate:
    text: str
    probability: float
    doc_id: str
    doc_start: int
    doc_end: int
    passage_index: int


def _overlaps(a: _Candidate, b: _Candidate) -> bool:
    return a.doc_id == b.doc_id and a.doc_start < b.doc_end and b.doc_start < a.doc_end


class QAPipeline:
    def __init__(self, index: CorpusIndex, retriever: HybridRetriever, reader: Reader, settings: Settings,
                 decision: DecisionModel | None = None):
        self.index = index
        self.retriever = retriever
        self.reader = reader
        self.settings = settings
        self.decision = decision or load_decision(settings, reader)

    @classmethod
    def from_settings(cls, settings: Settings, build_if_needed: bool | None = None, force_rebuild: bool = False) -> "QAPipeline":
        if settings.torch_threads:
            import torch

            torch.set_num_threads(settings.torch_threads)
        embedder = Embedder(settings.embedding_model)
        index = ensure_index(settings, embedder, build_if_needed, force=force_rebuild)
        retriever = HybridRetriever(index, embedder, settings.candidates_per_retriever, settings.rrf_k)
        reader = Reader.from_settings(settings)
        return cls(index, retriever, reader, settings)

    @property
    def answer_threshold(self) -> float:
        if self.settings.answer_threshold is not None:
            return self.settings.answer_threshold
        return self.decision.threshold

    def read(self, question: str, top_k: int | None = None) -> Reading:
        """Retrieve and read, before any answer decision: every candidate span with its calibrated score."""
        return self.read_many([question], top_k)[0]

    def read_many(self, questions: list[str], top_k: int | None = None,
                  retrieved: list[list[RetrievedHit]] | None = None) -> list[Reading]:
        """`read` for a batch of questions: one embedding call and one batched reader pass.
        `retrieved` (the retriever's ranking per question, e.g. a deeper one an evaluation already holds)
        skips retrieval; its first top_k passages are read."""
        top_k = top_k or self.settings.top_k
        started = time.perf_counter()
        if retrieved is None:
            retrieved = self.retriever.retrieve_many(questions, top_k)
        retrieved = [hits[:top_k] for hits in retrieved]
        retrieved_at = time.perf_counter()
        outputs = self.reader.read_many(
            questions, [[r.passage.text for r in hits] for hits in retrieved], top_k=5 * top_k
        )
        timings = {"retrieve": 1000 * (retrieved_at - started), "read": 1000 * (time.perf_counter() - retrieved_at)}
        return [Reading(q, hits, out.spans, dict(timings)) for q, hits, out in zip(questions, retrieved, outputs)]

    def ask(self, question: str, top_k: int | None = None) -> QAResponse:
        return self.ask_many([question], top_k)[0]

    def warm_up(self) -> float:
        """Answer one throw-away question so lazy initialisation (thread pools, kernels, caches) happens now,
        not in the first caller's request (about 4 s here). Returns the seconds it took."""
        started = time.perf_counter()
        self.ask("What happened?")
        return time.perf_counter() - started

    def ask_many(self, questions: list[str], top_k: int | None = None) -> list[QAResponse]:
        """Answer several questions with one batched retrieval and reader pass (the service batches
        questions that arrive together); each response is what `ask` would have returned alone."""
        started = time.perf_counter()
        readings = self.read_many(questions, top_k)
        total_ms = 1000 * (time.perf_counter() - started)
        return [self._response(reading, total_ms) for reading in readings]

    def _response(self, reading: Reading, total_ms: float) -> QAResponse:
        answers = self.decide(reading)
        passages = [
            RetrievedPassage(
                doc_id=r.passage.doc_id, title=self.index.documents[r.passage.doc_id].title,
                date=self.index.documents[r.passage.doc_id].date, passage=r.passage.text,
                passage_start=r.passage.start, passage_end=r.passage.end, retrieval_score=r.score,
            )
            for r in reading.retrieved
        ]
        return QAResponse(
            question=reading.question, answers=answers, abstained=not answers, passages=passages,
            timings_ms={**reading.timings_ms, "total": total_ms},
        )

    def score(self, reading: "Reading") -> list[ScoredSpan]:
        """Every span of a reading with the answer decision's probability, most probable first."""
        if not reading.spans:
            return []
        retrieved = reading.retrieved
        rows = span_features(
            reading.question, reading.spans, [r.passage.text for r in retrieved], list(range(1, len(retrieved) + 1)),
            [r.dense_rank is not None and r.bm25_rank is not None for r in retrieved],
        )
        scored = [ScoredSpan(span, self.decision.probability(row), row) for span, row in zip(reading.spans, rows)]
        return sorted(scored, key=lambda s: -s.probability)

    def decide(self, reading: "Reading") -> list[Answer]:
        """Keep spans above the threshold; merge duplicates (same normalised text, or overlapping in a document)."""
        retrieved = reading.retrieved
        kept: list[_Candidate] = []
        seen_texts: set[str] = set()
        for scored in self.score(reading):
            span = scored.span
            if scored.probability < self.answer_threshold:
                break
            passage = retrieved[span.passage_index].passage
            candidate = _Candidate(
                span.text, scored.probability, passage.doc_id,
                passage.start + span.start, passage.start + span.end, span.passage_index,
            )
            key = normalize_answer(candidate.text)
            if not key or key in seen_texts or any(_overlaps(candidate, other) for other in kept):
                continue
            seen_texts.add(key)
            kept.append(candidate)
            if len(kept) >= self.settings.max_answers:
                break
        answers = []
        for candidate in kept:
            passage = retrieved[candidate.passage_index].passage
            document = self.index.documents[candidate.doc_id]
            # The invariant every client relies on: the answer is the document's own text at these offsets.
            assert document.text[candidate.doc_start : candidate.doc_end] == candidate.text
            # A date in the answer, read against the article's date and the tense of its sentence.
            when = resolve(candidate.text, document.date,
                           sentence_around(document.text, candidate.doc_start, candidate.doc_end))
            answers.append(
                Answer(
                    text=candidate.text, score=round(candidate.probability, 4),
                    citation=Citation(
                        doc_id=document.id, title=document.title, date=document.date, url=document.url,
                        passage=passage.text, passage_start=passage.start, passage_end=passage.end,
                        answer_start=candidate.doc_start, answer_end=candidate.doc_end,
                    ),
                    when=ResolvedDate(start=when.start.isoformat(), end=when.end.isoformat(), granularity=when.granularity,
                                      resolved_from=when.resolved_from, label=when.label, basis=when.basis)
                    if when else None,
                )
            )
        return answers
