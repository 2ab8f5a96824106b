"""Benchmarks that print their figures: reader CPU latency, and /ask latency and load over a live server."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from bench.server import ServerProcess, kill_an_answering_replica
from eval.report import percentiles

if TYPE_CHECKING:
    from qa.pipeline import QAPipeline
    from qa.reader.model import Reader

SEED_QUESTIONS = [
    ("When was the CQC visit?", "November 2023"),
    ("Who is the Trust’s chief nurse?", "Liz Lees"),
    ("How many births does Luton have annually?", "5,200"),
    ("Who is the Trust’s director of midwifery?", "Emma Hardwick"),
    ("What is the capital of France?", None),  # must abstain
]


def _passages_of_about(words: int, count: int, squad_dir: Path | None) -> list[str]:
    """Real paragraphs of about `words` words: held-out SQuAD ones when available, else the seed article."""
    texts: list[str] = []
    if squad_dir and (squad_dir / "dev-v2.0.json.gz").exists():
        from eval.squad_data import test_examples

        texts = sorted({e.context for e in test_examples(squad_dir)}, key=lambda t: abs(len(t.split()) - words))
    if len(texts) < count:
        seed = (Path(__file__).resolve().parent.parent / "seeds" / "000_8b6f645272f1e33c.txt").read_text(
            encoding="utf-8"
        )
        tokens = seed.split()
        texts += [" ".join(tokens[i : i + words]) for i in range(0, len(tokens) - words, words // 2)]
    return texts[:count]


def bench_reader(
    reader: "Reader", passages: int = 4, words: int = 150, runs: int = 50, squad_dir: Path | None = None
) -> dict[str, Any]:
    """Median (and tail) time for one question over `passages` passages of about `words` words."""
    from qa.documents import Passage

    texts = [
        Passage(id=i, doc_id=f"bench-{i}", start=0, end=len(t), text=t)
        for i, t in enumerate(_passages_of_about(words, passages, squad_dir))
    ]
    question = "What did the report say?"
    for _ in range(5):
        reader.read(question, texts)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        reader.read(question, texts)
        timings.append(1000 * (time.perf_counter() - started))
    import torch

    return {
        "passages": len(texts),
        "mean_words": statistics.mean(len(t.text.split()) for t in texts),
        "runs": runs,
        "backend": reader.backend,
        "int8": reader.int8,
        "torch_threads": torch.get_num_threads(),
        "latency_ms": percentiles(timings),
    }


def bench_pipeline(pipeline: "QAPipeline", questions: list[str], repeat: int = 3) -> dict[str, Any]:
    """In-process latency of `pipeline.ask` (models loaded, warmed up) over `questions`, `repeat` times: the whole
    answer and each stage (retrieve, read, decide), as the service's inference worker sees them."""
    pipeline.warm_up()
    totals: list[float] = []
    stages: dict[str, list[float]] = {"retrieve": [], "read": [], "decide": []}
    for _ in range(repeat):
        for question in questions:
            started = time.perf_counter()
            reading = pipeline.read(question)
            read_at = time.perf_counter()
            pipeline.decide(reading)
            totals.append(1000 * (time.perf_counter() - started))
            stages["retrieve"].append(reading.timings_ms["retrieve"])
            stages["read"].append(reading.timings_ms["read"])
            stages["decide"].append(1000 * (time.perf_counter() - read_at))
    settings = pipeline.settings
    return {
        "questions": len(questions),
        "repeat": repeat,
        "passages_read": settings.passages_read,
        "embedder_backend": settings.embedder_backend,
        "reader_backend": pipeline.reader.backend,
        "reader_int8": pipeline.reader.int8,
        "latency_ms": percentiles(totals),
        "stage_p50_ms": {name: float(statistics.median(values)) for name, values in stages.items()},
    }


def _check(body: dict, expected: str | None) -> bool:
    if expected is None:
        return body["abstained"] is True
    return any(expected in a["text"] for a in body["answers"])


class _BenchQuestion(BaseModel):
    """A JSONL line of a question file: its question, and its split when the file has them (news set)."""

    question: str = Field(min_length=1, pattern=r"\S")
    split: str | None = None


def load_bench_questions(path: Path, split: str | None = None) -> list[str]:
    """The questions of a question file, in file order, distinct: JSONL lines with a "question" (and, with
    `split`, only those whose "split" is that, as in the news set's questions.jsonl), or any set
    `qa eval run` reads (CSV, TSV, SQuAD JSON)."""
    from eval.jsonl import read_jsonl
    from eval.question_set import QuestionSetError, load_question_set

    path = Path(path)
    if path.suffix == ".jsonl":
        rows = read_jsonl(path, _BenchQuestion, QuestionSetError)
        questions = [row.question.strip() for row in rows if split is None or row.split == split]
    else:
        if split is not None:
            raise QuestionSetError(f"{path}: --split needs a JSONL file with a 'split' field")
        questions = [q.question for q in load_question_set(path).questions]
    questions = list(dict.fromkeys(questions))
    if not questions:
        raise QuestionSetError(f"{path}: no questions{f' in split {split!r}' if split else ''}")
    return questions


def bench_api(
    url: str | None = None,
    concurrency: int = 1,
    duration_s: float = 30.0,
    max_requests: int = 200,
    api_key: str | None = None,
    kill_replica_after_s: float | None = None,
    questions: list[str] | None = None,
    server_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Latency (and, with concurrency > 1, throughput) of /ask. By default the seed questions, each answer checked
    against the expected one; with `questions`, each request asks the next of them (cycling; the report counts
    repeats), so answering is timed rather than the answer cache, and answers are not checked.
    With `kill_replica_after_s`, one answering replica of a local Ray Serve deployment is killed that long into the
    load (the report names its pid): every question must still be answered. `server_env`: settings for the server
    this starts when no `url` is given (e.g. QA_CORPUS_DIR)."""
    import httpx

    server = None
    if url is None:
        server = ServerProcess(env=server_env)
        server.wait_ready()
        url = server.url
    asked: list[tuple[str, str | None]] = [(q, None) for q in questions] if questions else list(SEED_QUESTIONS)
    answered = {"answers": 0, "abstained": 0}
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    wrong: list[str] = []
    lock = threading.Lock()
    deadline = time.time() + duration_s
    issued = {"n": 0}
    killed: dict[str, Any] = {}

    def kill_a_replica() -> None:
        time.sleep(kill_replica_after_s or 0.0)
        if time.time() >= deadline or issued["n"] >= max_requests:
            killed["error"] = "the load ended before the kill; give it a longer --duration or more --requests"
            return
        try:
            killed["pid"] = kill_an_answering_replica()
            killed["at_s"] = round(time.perf_counter() - started, 1)
        except RuntimeError as exc:
            killed["error"] = str(exc)

    def worker() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            while time.time() < deadline:
                with lock:
                    if issued["n"] >= max_requests:
                        return
                    index = issued["n"]
                    issued["n"] += 1
                question, expected = asked[index % len(asked)]
                started = time.perf_counter()
                try:
                    response = client.post("/ask", json={"question": question})
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status, response = 0, None
                    wrong.append(f"{question}: {type(exc).__name__}")
                elapsed = 1000 * (time.perf_counter() - started)
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 200 and response is not None:
                        latencies.append(elapsed)
                        body = response.json()
                        answered["abstained" if body["abstained"] else "answers"] += 1
                        if not questions and not _check(body, expected):
                            wrong.append(question)

    try:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:  # warm-up
            # Warm-up on other questions than the timed ones, so none of those is in the answer cache.
            for question, _ in SEED_QUESTIONS:
                client.post("/ask", json={"question": question})
        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        killer = threading.Thread(target=kill_a_replica) if kill_replica_after_s is not None else None
        for t in threads:
            t.start()
        if killer:
            killer.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        if killer:
            killer.join()
    finally:
        if server:
            server.stop()
    total = sum(statuses.values())
    return {
        "url": url,
        # The seed questions over and over: with the server's answer cache on (the default), after the first
        # round this measures the cache; --questions FILE (or QA_ANSWER_CACHE_SIZE=0) measures answering.
        "distinct_questions": len(asked),
        "repeated_requests": max(0, sum(statuses.values()) - len(asked)),
        "concurrency": concurrency,
        **({"killed_replica": killed} if kill_replica_after_s is not None else {}),
        "requests": total,
        "wall_s": wall,
        "throughput_rps": total / wall if wall else 0.0,
        "answered": answered["answers"],
        "abstained": answered["abstained"],
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": total - statuses.get(200, 0),
        "wrong_answers": len(wrong),
        "wrong_examples": wrong[:5],
        "latency_ms": percentiles(latencies),
    }
