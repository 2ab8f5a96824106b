"""The `qa` command: build the index, ask, serve, evaluate, train the reader.

The one front end above qa/, api/ and eval/; nothing imports it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models come from installed packages, never a hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _settings(args):
    from qa.config import Settings

    overrides = {}
    for name in ("corpus_dir", "index_dir", "host", "port", "top_k"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


def cmd_index(args) -> int:
    from qa.embedder import Embedder
    from qa.index import build_index
    from qa.ingest import load_corpus

    settings = _settings(args)
    corpus = load_corpus(settings.corpus_dir)
    manifest = build_index(
        corpus, settings.index_dir, Embedder(settings.embedding_model), corpus_dir=settings.corpus_dir,
        sentences=settings.passage_sentences, overlap=settings.passage_overlap,
        max_chars=settings.passage_max_chars, index_type=settings.index_type,
    )
    print(f"indexed {manifest.documents} documents as {manifest.passages} passages into {settings.index_dir}")
    for reason in manifest.skipped_files:
        print(f"skipped {reason}", file=sys.stderr)
    return 0


def cmd_ask(args) -> int:
    from qa.pipeline import QAPipeline

    pipeline = QAPipeline.from_settings(_settings(args))
    response = pipeline.ask(args.question, top_k=args.top_k)
    if args.json:
        print(response.model_dump_json(indent=2))
        return 0
    if response.abstained:
        print("No answer in the corpus.")
    for answer in response.answers:
        c = answer.citation
        print(f"{answer.text}   (score {answer.score:.2f})")
        print(f"  from: {c.title} [{c.doc_id}{', ' + c.date if c.date else ''}] chars {c.answer_start}-{c.answer_end}")
        print(f"  passage: {c.passage}")
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from api.app import create_app
    from api.observability import configure_logging

    settings = _settings(args)
    configure_logging()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                timeout_graceful_shutdown=30)
    return 0


def cmd_eval(args) -> int:
    out = Path(args.out)
    if args.target == "seed":
        from eval.seed import evaluate_seed
        from qa.pipeline import QAPipeline

        report = evaluate_seed(QAPipeline.from_settings(_settings(args)), Path(args.file), out, args.top_k)
        print(json.dumps(report["summary"], indent=2))
    elif args.target == "reader":
        from eval.reader_eval import evaluate_reader

        result = evaluate_reader(_reader(args, args.model), Path(args.squad_dir), out, args.limit)
        print(json.dumps({k: v for k, v in result.items() if k != "data"}, indent=2))
    elif args.target == "squad":
        from eval.squad_open import evaluate_squad_open

        result = evaluate_squad_open(Path(args.file), out, version=args.version, limit=args.limit,
                                     all_articles=args.all_articles, squad_dir=Path(args.squad_dir))
        print(json.dumps(result["summary"], indent=2))
    elif args.target == "answerability":
        from eval.answerability_probe import run_probe
        from qa.reader.model import Reader

        # The probe reads hidden states, which only the PyTorch runtime gives: fp32 on the CPU.
        result = run_probe(Reader.load(args.model, device="cpu", backend="torch"), Path(args.squad_dir), out, args.limit)
        print(json.dumps({k: v for k, v in result.items() if k != "limit"}, indent=2))
    print(f"reports written to {out}", file=sys.stderr)
    return 0


def _reader(args, model_dir: Path | None, device: str | None = None):
    """The reader as configured (QA_READER_BACKEND, QA_READER_INT8, ...), with --backend/--int8 overriding."""
    from qa.config import Settings
    from qa.reader.model import Reader

    settings = Settings()
    overrides = {"reader_model": model_dir or settings.reader_model, "reader_int8": settings.reader_int8 if args.int8 is None else args.int8,
                 "reader_backend": args.backend or settings.reader_backend}
    return Reader.from_settings(settings.model_copy(update=overrides), device=device)


def cmd_bench(args) -> int:
    from eval.bench import bench_api, bench_reader

    if args.target == "reader":
        result = bench_reader(_reader(args, None, device="cpu"), passages=args.passages, words=args.words,
                              runs=args.runs, squad_dir=Path(args.squad_dir))
    else:
        result = bench_api(url=args.url, concurrency=args.concurrency, duration_s=args.duration,
                           max_requests=args.requests, api_key=args.api_key)
    print(json.dumps(result, indent=2))
    return 0 if result.get("errors", 0) == 0 and result.get("wrong_answers", 0) == 0 else 1


def cmd_train_reader(args, rest: list[str]) -> int:
    from qa.reader.train import main as train_main

    return train_main(rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Extractive question answering over news articles.")
    parser.add_argument("--log-level", default=os.environ.get("QA_LOG_LEVEL", "WARNING"))
    sub = parser.add_subparsers(dest="command", required=True)

    def corpus_options(p):
        p.add_argument("--corpus-dir", type=Path, help="articles folder (default: seeds/ or QA_CORPUS_DIR)")
        p.add_argument("--index-dir", type=Path, help="index folder (default: index/ or QA_INDEX_DIR)")

    def reader_options(p):
        p.add_argument("--backend", choices=["onnx", "torch"], help="reader runtime (default: QA_READER_BACKEND or onnx)")
        p.add_argument("--int8", action=argparse.BooleanOptionalAction, default=None,
                       help="int8-quantised reader weights (default: QA_READER_INT8, on)")

    p = sub.add_parser("index", help="build the index from the corpus folder")
    corpus_options(p)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer one question")
    corpus_options(p)
    p.add_argument("question")
    p.add_argument("--top-k", type=int)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="run the HTTP service")
    corpus_options(p)
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", help="run an evaluation and write reports")
    p.add_argument("target", choices=["seed", "reader", "squad", "answerability"],
                   help="answerability: probe the reader's no-answer decision (PyTorch fp32, about 20 min)")
    corpus_options(p)
    p.add_argument("--file", default="eval/seed_qa.jsonl", help="eval set (seed) or SQuAD JSON file (squad)")
    p.add_argument("--squad-dir", default="../shared/data/squad", help="folder of the SQuAD dev sets")
    p.add_argument("--model", type=Path, help="reader folder (default: the shipped reader)")
    reader_options(p)
    p.add_argument("--version", choices=["2.0", "1.1"], default=None)
    p.add_argument("--limit", type=int, help="score at most this many questions")
    p.add_argument("--all-articles", action="store_true", help="squad: score every article, not only held-out ones")
    p.add_argument("--top-k", type=int)
    p.add_argument("--out", default="eval/reports/latest", help="report folder")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="benchmarks that print their figures")
    p.add_argument("target", choices=["reader", "api"])
    p.add_argument("--squad-dir", default="../shared/data/squad")
    p.add_argument("--passages", type=int, default=4)
    p.add_argument("--words", type=int, default=150)
    p.add_argument("--runs", type=int, default=50)
    reader_options(p)
    p.add_argument("--url", help="api: a running server (default: start one on a free loopback port)")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--duration", type=float, default=30.0, help="api: seconds to run")
    p.add_argument("--requests", type=int, default=200, help="api: at most this many requests")
    p.add_argument("--api-key")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("train-reader", help="train the reader (see python -m qa.reader.train --help)", add_help=False)
    p.set_defaults(func=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] == "train-reader":
        return cmd_train_reader(None, argv[1:])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from eval.seed import EvalSetError
    from qa.index import IndexProblem
    from qa.ingest import CorpusError
    from qa.pipeline import IndexStaleError
    from qa.reader.data import DatasetError
    from qa.reader.model import ReaderLoadError

    try:
        return args.func(args)
    except (CorpusError, IndexProblem, IndexStaleError, DatasetError, EvalSetError, ReaderLoadError) as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
