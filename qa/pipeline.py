"""The answering pipeline: retrieve passages, read answers, decide what to answer.

`QAPipeline.from_settings()` is the one place settings are wired into a pipeline, for the CLI, the HTTP service and
the evaluations; `QAPipeline.ask()` is the one function they call. The loaded models (`Models`) are apart from
the index, so a rebuilt index is swapped in with `with_index()` without loading the models again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Callable, Sequence

from qa.config import Settings
from qa.conversation import NO_HISTORY, HistoryWindow, conversation_context, is_housekeeping, reader_question
from qa.dates import resolve, sentence_around
from qa.decision import DECISION_FILE, DecisionModel, span_features
from qa.embedder import Embedder
from qa.extracted import ExtractedAnswer
from qa.index import CorpusIndex, ensure_index
from qa.ingest import Corpus
from qa.metrics import normalize_answer
from qa.reader.model import Reader
from qa.reader.settings import ReaderLoadError, packaged_reader_dir
from qa.retriever import HybridRetriever, RetrievalHit
from qa.schemas import Answer, Citation, QAResponse, ResolvedDate, RetrievedPassage
from qa.time_scope import about_range, asked_range, order_asked, statement_times

log = logging.getLogger(__name__)

HOUSEKEEPING_NOTE = "a chat front end's housekeeping prompt (title, tags, follow-ups): not a question about the corpus"


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


@dataclass(frozen=True)
class Models:
    """The loaded models: slow to load, independent of the index, shared by every pipeline over any index."""

    embedder: Embedder
    reader: Reader
    decision: DecisionModel

    @classmethod
    def load(cls, settings: Settings) -> "Models":
        if settings.torch_threads:
            import torch

            torch.set_num_threads(settings.torch_threads)
        reader = Reader.from_settings(settings)
        return cls(Embedder.from_settings(settings), reader, load_decision(settings, reader))


@dataclass
class Reading:
    """What retrieval and the reader found for one question, before the answer decision."""

    question: str
    retrieved: list[RetrievalHit]
    answers: list[ExtractedAnswer]  # best first by the reader's calibrated score
    timings_ms: dict[str, float]
    history: HistoryWindow = NO_HISTORY  # earlier questions that steered retrieval (a follow-up in a conversation)
    housekeeping: bool = False  # a chat front end's own prompt: not read, not answered
    # Per retrieved passage, whether the reader read it (False: reading stopped early on a sure answer).
    read: list[bool] = field(default_factory=list)
    # The answer decision's rescoring for this question and these passages, with the decision it was built for: built
    # once (it dates the question against each article read and checks the question's names in it), then reused by
    # the early stop, `score`, `decide` and the evaluations.
    rescore: Callable[[Sequence[ExtractedAnswer]], list[ExtractedAnswer]] | None = field(default=None, repr=False)
    rescore_decision: DecisionModel | None = field(default=None, repr=False)


def _on_topic_ranks(retrieved: Sequence[RetrievalHit]) -> set[int]:
    """Places, among the passages read, of those in a follow-up's conversation topic article (none otherwise)."""
    return {rank for rank, hit in enumerate(retrieved) if hit.on_topic}


def _overlaps(a: ExtractedAnswer, b: ExtractedAnswer) -> bool:
    return a.doc_id == b.doc_id and a.document_start < b.document_end and b.document_start < a.document_end


class QAPipeline:
    def __init__(self, index: CorpusIndex, models: Models, settings: Settings):
        self.index = index
        self.models = models
        self.settings = settings
        self.retriever = HybridRetriever(
            index,
            models.embedder,
            settings.candidates_per_retriever,
            settings.rrf_k,
            settings.history_query_weight,
            settings.history_ranking_weight,
            settings.topic_ranking_weight,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        build_if_needed: bool | None = None,
        force_rebuild: bool = False,
        models: Models | None = None,
        corpus: Corpus | None = None,
    ) -> "QAPipeline":
        """Load the models (unless given) and the index of the corpus folder (or of `corpus`), building or
        rebuilding it as the settings allow."""
        models = models or Models.load(settings)
        index = ensure_index(settings, models.embedder, build_if_needed, force=force_rebuild, corpus=corpus)
        return cls(index, models, settings)

    def with_index(self, index: CorpusIndex) -> "QAPipeline":
        """The same models over another index (a rebuilt one)."""
        return QAPipeline(index, self.models, self.settings)

    @property
    def reader(self) -> Reader:
        return self.models.reader

    @property
    def decision(self) -> DecisionModel:
        return self.models.decision

    @property
    def stop_reading_at(self) -> float | None:
        """The answer probability at which a question's remaining passages are not read (None: read them all):
        QA_STOP_READING_AT, else the decision's, never below the answer threshold; QA_EARLY_STOP=false reads all."""
        if not self.settings.early_stop:
            return None
        chosen = self.settings.stop_reading_at
        if chosen is None:
            chosen = self.decision.stop_reading_at
        return None if chosen is None else max(chosen, self.answer_threshold)

    @property
    def answer_threshold(self) -> float:
        if self.settings.answer_threshold is not None:
            return self.settings.answer_threshold
        return self.decision.threshold

    def read(
        self,
        question: str,
        passages_read: int | None = None,
        history: Sequence[str] = (),
        history_turns: int | None = None,
        read_all: bool = False,
    ) -> Reading:
        """Retrieve and read, before any answer decision: every candidate answer with the reader's score."""
        return self.read_many(
            [question], passages_read, histories=[history], history_turns=history_turns, read_all=read_all
        )[0]

    def read_many(
        self,
        questions: list[str],
        passages_read: int | None = None,
        retrieved: list[list[RetrievalHit]] | None = None,
        histories: Sequence[Sequence[str]] | None = None,
        history_turns: int | None = None,
        read_all: bool = False,
    ) -> list[Reading]:
        """`read` for a batch of questions: one embedding call and one batched reader pass.
        `retrieved` (the retriever's ranking per question, e.g. a deeper one an evaluation already holds)
        skips retrieval; its first `passages_read` passages are read. `histories` (per question, the conversation's
        earlier user questions, oldest first) steer retrieval for a question that needs them
        (qa.conversation); `history_turns` overrides QA_HISTORY_TURNS. A question stops being read once an answer
        is as sure as the decision's `stop_reading_at` (`read_all` reads every passage retrieved, as a decision
        fit must)."""
        passages_read = passages_read or self.settings.passages_read
        histories = histories or [()] * len(questions)
        started = time.perf_counter()
        housekeeping = [is_housekeeping(q) for q in questions]
        windows = [self.conversation_context(q, h, history_turns) for q, h in zip(questions, histories)]
        if retrieved is None:
            plain = [i for i, w in enumerate(windows) if not w.questions and not housekeeping[i]]
            found: dict[int, list[RetrievalHit]] = dict(
                zip(plain, self.retriever.retrieve_many([questions[i] for i in plain], passages_read))
            )
            for i, window in enumerate(windows):
                if window.questions:
                    found[i] = self.retriever.retrieve_in_conversation(questions[i], window, passages_read)
            retrieved = [found.get(i, []) for i in range(len(questions))]
        retrieved = [hits[:passages_read] for hits in retrieved]
        retrieved_at = time.perf_counter()
        # A follow-up is read together with the question that named its subject ("Who is the director there?" reads
        # with "When did inspectors visit Wendham General Hospital?"): alone it fits a span of any article's passage.
        reader_questions = [reader_question(q, w) for q, w in zip(questions, windows)]
        stop_at = None if read_all else self.stop_reading_at
        enough = None
        texts_read = [0] * len(questions)  # per question, texts read before reading stopped (early stop only)
        scorers: list[Callable[[Sequence[ExtractedAnswer]], list[ExtractedAnswer]] | None] = [None] * len(questions)
        if stop_at is not None:
            scorers = [self._scorer(q, hits) for q, hits in zip(questions, retrieved)]
            # A follow-up's answer comes from its conversation's article when it can (`score`): only those count.
            counted = [_on_topic_ranks(hits) for hits in retrieved]

            def enough(i: int, new_answers: list[ExtractedAnswer]) -> bool:
                texts_read[i] += 1
                rescore = scorers[i]
                assert rescore is not None
                return any(
                    answer.score >= stop_at and (not counted[i] or answer.passage_rank in counted[i])
                    for answer in rescore(new_answers)
                )

        found_answers = self.reader.read_many(
            reader_questions,
            [[hit.passage for hit in hits] for hits in retrieved],
            answers_per_question=self.settings.answers_per_passage * passages_read,
            enough=enough,
        )
        timings = {"retrieve": 1000 * (retrieved_at - started), "read": 1000 * (time.perf_counter() - retrieved_at)}
        read_flags = [[True] * len(hits) for hits in retrieved]
        if enough is not None:
            for i, hits in enumerate(retrieved):
                texts = self.reader.reading_order([hit.passage for hit in hits])
                read = {member for text in texts[: texts_read[i]] for member in text.members}
                read_flags[i] = [rank in read for rank in range(len(hits))]
        return [
            Reading(q, hits, answers, dict(timings), window, chore, read, rescore, self.decision if rescore else None)
            for q, hits, answers, window, chore, read, rescore in zip(
                questions, retrieved, found_answers, windows, housekeeping, read_flags, scorers
            )
        ]

    def conversation_context(
        self, question: str, history: Sequence[str], history_turns: int | None = None
    ) -> HistoryWindow:
        """The earlier questions that will steer this question's retrieval (none for a self-contained question);
        `history_turns` overrides QA_HISTORY_TURNS."""
        turns = self.settings.history_turns if history_turns is None else history_turns
        return conversation_context(question, tuple(history), turns)

    def ask(
        self,
        question: str,
        passages_read: int | None = None,
        history: Sequence[str] = (),
        history_turns: int | None = None,
    ) -> QAResponse:
        return self.ask_many([question], passages_read, [history], history_turns)[0]

    def warm_up(self) -> float:
        """Answer one throw-away question so lazy initialisation (thread pools, kernels, caches) happens now,
        not in the first caller's request (about 4 s here). Returns the seconds it took."""
        started = time.perf_counter()
        self.ask("What happened?")
        return time.perf_counter() - started

    def ask_many(
        self,
        questions: list[str],
        passages_read: int | None = None,
        histories: Sequence[Sequence[str]] | None = None,
        history_turns: int | None = None,
    ) -> list[QAResponse]:
        """Answer several questions with one batched retrieval and reader pass (the service batches
        questions that arrive together); each response is what `ask` would have returned alone."""
        started = time.perf_counter()
        readings = self.read_many(questions, passages_read, histories=histories, history_turns=history_turns)
        total_ms = 1000 * (time.perf_counter() - started)
        return [self.respond(reading, total_ms) for reading in readings]

    def respond(self, reading: Reading, total_ms: float) -> QAResponse:
        """The public response to a reading: the passages read, the answers the decision keeps, the timings (the
        evaluations time `read` + `respond` and keep the reading for the best span whatever the threshold)."""
        passages = []
        for rank, hit in enumerate(reading.retrieved):
            document = self.index.documents[hit.passage.doc_id]
            passages.append(
                RetrievedPassage(
                    doc_id=hit.passage.doc_id,
                    title=document.title,
                    date=document.date,
                    passage=hit.passage.text,
                    passage_start=hit.passage.start,
                    passage_end=hit.passage.end,
                    page=hit.passage.page,
                    retrieval_score=hit.score,
                    read=reading.read[rank] if rank < len(reading.read) else not reading.housekeeping,
                )
            )
        answers = [] if reading.housekeeping else self.decide(reading)
        return QAResponse(
            question=reading.question,
            answers=answers,
            abstained=not answers,
            passages=passages,
            timings_ms={**reading.timings_ms, "total": total_ms},
            history_used=list(reading.history.questions),
            history_used_positions=list(reading.history.positions),
            note=HOUSEKEEPING_NOTE if reading.housekeeping else None,
        )

    def score(self, reading: Reading) -> list[ExtractedAnswer]:
        """Every candidate of a reading that is about the time the question names, if any (qa.time_scope), rescored
        by the answer decision (its `score` and `features`), most probable first."""
        if not reading.answers:
            return []
        if reading.rescore is None or reading.rescore_decision is not self.decision:
            reading.rescore = self._scorer(reading.question, reading.retrieved)
            reading.rescore_decision = self.decision
        scored = reading.rescore(reading.answers)
        on_topic = _on_topic_ranks(reading.retrieved)
        if on_topic:
            # A follow-up asks about the conversation's subject: its article's answers come first, and when none of
            # them is sure enough the follow-up is not answered from another article.
            return sorted(scored, key=lambda answer: (answer.passage_rank not in on_topic, -answer.score))
        return sorted(scored, key=lambda answer: -answer.score)

    def _scorer(
        self, question: str, retrieved: Sequence[RetrievalHit]
    ) -> Callable[[Sequence[ExtractedAnswer]], list[ExtractedAnswer]]:
        """A function that rescores candidates of this question over these passages with the answer decision,
        dropping those about another time than the one asked."""
        texts = [hit.passage.text for hit in retrieved]
        ranks = list(range(1, len(retrieved) + 1))
        found_by_both = [hit.dense_rank is not None and hit.bm25_rank is not None for hit in retrieved]
        documents = [self.index.documents[hit.passage.doc_id] for hit in retrieved]
        articles = [(document.title, document.text) for document in documents]
        in_scope = self._time_scope_filter(question)

        def rescore(answers: Sequence[ExtractedAnswer]) -> list[ExtractedAnswer]:
            rows = span_features(question, answers, texts, ranks, found_by_both, articles)
            return [
                replace(answer, score=self.decision.probability(row), features=row)
                for answer, row in zip(answers, rows)
                if in_scope(answer)
            ]

        return rescore

    def _time_scope_filter(self, question: str) -> Callable[[ExtractedAnswer], bool]:
        """A test that is False for a statement about another time than the one the question names. The asked range
        is worked out once per article (dating an event reads the whole article), not once per candidate."""
        asked: dict[str, tuple[date, date] | None] = {}

        def in_scope(answer: ExtractedAnswer) -> bool:
            document = self.index.documents[answer.doc_id]
            if document.id not in asked:
                asked[document.id] = asked_range(question, document.text, document.date)
            scope = asked[document.id]
            return scope is None or about_range(
                document.text, answer.document_start, answer.document_end, document.date, scope
            )

        return in_scope

    def decide(self, reading: Reading) -> list[Answer]:
        """Keep answers above the threshold (those `score` leaves: about the time asked, if any); merge duplicates
        (same normalised text, or overlapping in a document); order by date when the question asks for the most
        recent or the earliest."""
        kept: list[ExtractedAnswer] = []
        seen_texts: set[str] = set()
        for candidate in self.score(reading):
            if candidate.score < self.answer_threshold:
                break
            key = normalize_answer(candidate.text)
            if not key or key in seen_texts or any(_overlaps(candidate, other) for other in kept):
                continue
            seen_texts.add(key)
            kept.append(candidate)
            if len(kept) >= self.settings.answers_returned:
                break
        answers = [self._public_answer(candidate) for candidate in kept]
        order = order_asked(reading.question)
        return self._ordered(answers, order) if order else answers

    def _ordered(self, answers: list[Answer], order: str) -> list[Answer]:
        """Answers by the time they are about (their own date, else their sentence's, else the article's), the most
        recent or the earliest first; the first says why. Unchanged when fewer than two have a time."""
        times: list[tuple[str, str, str] | None] = []
        for answer in answers:
            c = answer.citation
            if answer.when is not None:
                times.append((answer.when.start, answer.when.end, answer.when.label))
                continue
            document = self.index.documents[c.doc_id]
            found = statement_times(document.text, c.answer_start, c.answer_end, document.date)
            times.append((found[0][0].isoformat(), found[0][1].isoformat(), found[0][0].isoformat()) if found else None)
        dated = [(t, a) for t, a in zip(times, answers) if t is not None]
        if len(dated) < 2:
            return answers
        recent = order == "most recent"
        dated.sort(key=lambda item: item[0][1] if recent else item[0][0], reverse=recent)
        others = [t[2] for t, _ in dated[1:]]
        first_time, first = dated[0]
        reason = f"{order} first: {first_time[2]}, {'later' if recent else 'earlier'} than {', '.join(others)}"
        ordered = [first.model_copy(update={"order": reason})] + [a for _, a in dated[1:]]
        return ordered + [a for t, a in zip(times, answers) if t is None]

    def _public_answer(self, answer: ExtractedAnswer) -> Answer:
        """The JSON shape of an answer, with its citation and the date it names, if any."""
        passage = answer.passage
        assert passage is not None  # the pipeline reads passages of documents
        document = self.index.documents[answer.doc_id]
        # The invariant every client relies on: the answer is the document's own text at these offsets.
        assert document.text[answer.document_start : answer.document_end] == answer.text
        # A date in the answer, read against the article's date and the tense of its sentence.
        when = resolve(
            answer.text, document.date, sentence_around(document.text, answer.document_start, answer.document_end)
        )
        return Answer(
            text=answer.text,
            score=round(answer.score, 4),
            citation=Citation(
                doc_id=document.id,
                title=document.title,
                date=document.date,
                url=document.url,
                passage=passage.text,
                passage_start=passage.start,
                passage_end=passage.end,
                answer_start=answer.document_start,
                answer_end=answer.document_end,
                page=document.page_at(answer.document_start),
            ),
            when=ResolvedDate(
                start=when.start.isoformat(),
                end=when.end.isoformat(),
                granularity=when.granularity,
                resolved_from=when.resolved_from,
                label=when.label,
                basis=when.basis,
            )
            if when
            else None,
        )
