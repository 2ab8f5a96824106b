"""The `qa` command: build the index, ask, serve, evaluate, train the reader.

The one front end above qa/, api/ and eval/; nothing imports it.
"""

from __future__ import annotations

import argparse
import importlib.util
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
    # Command-line flags override QA_* environment settings; a flag a subcommand lacks leaves the setting alone.
    for name, setting in (
        ("corpus_dir", "corpus_dir"),
        ("index_dir", "index_dir"),
        ("host", "host"),
        ("port", "port"),
        ("passages_read", "passages_read"),
        ("model", "reader_model"),
        ("backend", "reader_backend"),
        ("int8", "reader_int8"),
        ("decision", "decision_file"),
        ("workers", "index_workers"),
    ):
        value = getattr(args, name, None)
        if value is not None:
            overrides[setting] = value
    return Settings(**overrides)


def cmd_index(args) -> int:
    from qa.embedder import Embedder
    from qa.index import ensure_index

    settings = _settings(args)
    from qa.ingest import summarize_skipped

    settings = _settings(args)
    manifest = ensure_index(settings, Embedder.from_settings(settings), force=True).manifest
    print(f"indexed {manifest.documents} documents as {manifest.passages} passages into {settings.index_dir}")
    for reason in manifest.skipped_files:
        print(f"skipped {reason}", file=sys.stderr)
    if manifest.skipped_files:
        print(summarize_skipped(manifest.skipped_files), file=sys.stderr)
    return 0


def _store(settings):
    """The corpus store over the configured folders, and the index it changes, first brought level with the corpus
    folder (built if there is none yet, rebuilt if its settings or model changed)."""
    from qa.corpus_store import CorpusStore
    from qa.embedder import Embedder
    from qa.index import ensure_index

    embedder = Embedder.from_settings(settings)
    return CorpusStore(settings, embedder), ensure_index(settings, embedder, rebuild=True)


def cmd_add(args) -> int:
    """Add files (or every file of a folder), the same checks and outcomes as POST /documents."""
    from qa.corpus_store import Overrides, StoreError
    from qa.file_formats import UnreadableFile
    from qa.ingest import corpus_files

    settings = _settings(args)
    files: list[Path] = []
    for given in args.paths:
        if given.is_dir():
            files.extend(corpus_files(given))
        elif given.is_file():
            files.append(given)
        else:
            print(f"qa: error: {given}: no such file or folder", file=sys.stderr)
            return 2
    if len(files) > 1 and (args.title or args.date or args.url):
        print("qa: error: --title, --date and --url apply to one file at a time", file=sys.stderr)
        return 2
    try:
        overrides = Overrides(title=args.title, date=args.date, url=args.url).checked()
    except StoreError as exc:
        print(f"qa: error: {exc.reason}", file=sys.stderr)
        return 2
    store, index = _store(settings)  # each add changes the index the one before published, not one read again
    refused = 0
    named: dict[str, Path] = {}
    for path in files:
        if path.name in named:  # the second would replace the first: the rule for a file uploaded again
            refused += 1
            print(
                f"refused {path}: another file named {path.name} is in this add ({named[path.name]})", file=sys.stderr
            )
            continue
        named[path.name] = path
        try:
            result, index = store.add(path.name, path.read_bytes(), overrides, base=index)
        except (UnreadableFile, StoreError) as exc:
            refused += 1
            print(f"refused {path}: {exc.reason}", file=sys.stderr)
            continue
        except OSError as exc:
            refused += 1
            print(f"refused {path}: cannot be read ({exc.strerror or exc})", file=sys.stderr)
            continue
        print(f"{result.status} {result.doc_id} ({result.passages} passages) from {path} as {result.source}")
    if refused:
        print(f"{refused} of {len(files)} files refused", file=sys.stderr)
    return 1 if refused else 0


def cmd_remove(args) -> int:
    from qa.corpus_store import StoreError

    store, index = _store(_settings(args))
    status = 0
    for doc_id in args.doc_ids:
        try:
            index = store.remove(doc_id, base=index)
        except StoreError as exc:
            print(f"qa: error: {exc.reason}", file=sys.stderr)
            status = 1
            continue
        print(f"removed {doc_id}")
    return status


def cmd_list(args) -> int:
    from qa.corpus_store import list_documents
    from qa.index import load_index

    documents = list_documents(load_index(_settings(args).index_dir, verify=False))
    if args.json:
        print(json.dumps([d.model_dump() for d in documents], indent=2, ensure_ascii=False))
        return 0
    for d in documents:
        pages = f", {d.pages} pages" if d.pages else ""
        print(f"{d.doc_id}\t{d.type}{pages}\t{d.date or '-'}\t{d.passages} passages\t{d.title}")
    print(f"{len(documents)} documents", file=sys.stderr)
    return 0


def cmd_ask(args) -> int:
    from qa.pipeline import QAPipeline

    pipeline = QAPipeline.from_settings(_settings(args))
    response = pipeline.ask(args.question, args.passages_read)
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
    if args.replicas:
        from api.ray_serve import serve_replicas

        serve_replicas(settings, args.replicas, args.max_replicas)
        return 0
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_config=None, timeout_graceful_shutdown=30
    )
    return 0


def cmd_eval_seed(args) -> int:
    from eval.seed import evaluate_seed
    from qa.pipeline import QAPipeline

    report = evaluate_seed(
        QAPipeline.from_settings(_settings(args)), Path(args.file), Path(args.out), args.passages_read
    )
    return _print_report(report["summary"], args.out)


def cmd_eval_news(args) -> int:
    from eval.news import evaluate_news, news_settings
    from eval.news_set import load_news_set
    from qa.pipeline import QAPipeline

    news = load_news_set(Path(args.set))
    settings = news_settings(news, _settings(args), args.index_dir)
    if args.fit_decision:
        from eval.decision_fit import fit_decision

        result = fit_decision(
            QAPipeline.from_settings(settings),
            news,
            Path(args.out),
            Path(args.fit_decision),
            passages_read=args.passages_read,
            limit=args.limit,
        )
        return _print_report(result, args.out)
    splits = ("validation", "train") if args.split == "all" else (args.split,)
    report = evaluate_news(
        QAPipeline.from_settings(settings), news, Path(args.out), splits, args.passages_read, args.limit
    )
    return _print_report(report["summary"], args.out)


def cmd_eval_conversations(args) -> int:
    from eval.conversations import ConversationSetError, evaluate_conversations, load_conversations
    from eval.news import news_settings
    from eval.news_set import load_news_set
    from qa.pipeline import QAPipeline

    news = load_news_set(Path(args.set))
    try:
        conversations = load_conversations(Path(args.file), news)
    except ConversationSetError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 2
    pipeline = QAPipeline.from_settings(news_settings(news, _settings(args), args.index_dir))
    summary = evaluate_conversations(pipeline, conversations, Path(args.out), args.history_turns)
    return _print_report(summary, args.out)


def cmd_eval_dates(args) -> int:
    from eval.dates_eval import evaluate_dates, load_date_questions
    from eval.news import news_settings
    from eval.news_set import load_news_set
    from qa.ingest import load_corpus
    from qa.pipeline import QAPipeline

    questions = load_date_questions(Path(args.file))
    news = load_news_set(Path(args.set))
    base = _settings(args)
    news_pipeline = QAPipeline.from_settings(news_settings(news, base, args.news_index_dir))
    # The seed questions are asked of the service's own corpus, with the models already loaded.
    seed_pipeline = QAPipeline.from_settings(base, models=news_pipeline.models)
    documents = {**news.documents, **{d.id: d for d in load_corpus(base.corpus_dir).documents}}
    result = evaluate_dates(news_pipeline, seed_pipeline, questions, documents, Path(args.out), Path(args.file))
    return _print_report(result["summary"], args.out)


def cmd_eval_run(args) -> int:
    """An evaluator's set scored locally (over --corpus-dir, a SQuAD file's own contexts, or the configured corpus) or
    against a running service (--url)."""
    from eval.question_set import load_question_set
    from eval.run_files import SQUAD_KEYS
    from eval.run_set import run_set

    local_only = ("corpus_dir", "index_dir", "model", "backend", "int8", "decision")
    if args.url is not None:
        given = [f"--{name.replace('_', '-')}" for name in local_only if getattr(args, name) is not None]
        if given:
            print(f"qa: error: {', '.join(given)} apply to a local run, not with --url", file=sys.stderr)
            return 2
    elif args.api_key is not None or args.concurrency is not None:
        print("qa: error: --api-key and --concurrency apply with --url only", file=sys.stderr)
        return 2
    question_set = load_question_set(Path(args.set), args.format)
    summary = run_set(
        question_set,
        Path(args.out),
        _settings(args),
        corpus_dir=args.corpus_dir,
        index_dir=args.index_dir,
        url=args.url,
        api_key=args.api_key or os.environ.get("QA_EVAL_API_KEY") or None,
        passages_read=args.passages_read,
        concurrency=args.concurrency or 4,
    )
    shown = {key: summary[key] for key in (*SQUAD_KEYS, "exact_ci95", "f1_ci95") if key in summary}
    return _print_report(shown, args.out)


def cmd_eval_compare(args) -> int:
    from eval.compare import compare_runs, to_markdown

    comparison = compare_runs(Path(args.run_a), Path(args.run_b), args.max_drop)
    print(comparison.model_dump_json(indent=2) if args.json else to_markdown(comparison))
    return 1 if comparison.regression else 0


def cmd_eval_news_check(args) -> int:
    from eval.news_set import check_news_set, describe, load_news_set

    news = load_news_set(Path(args.set))
    problems = check_news_set(news)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(json.dumps(describe(news), indent=2))
    if problems:
        print(f"qa: error: {len(problems)} problem(s) in the news set", file=sys.stderr)
        return 1
    return 0


def cmd_eval_reader(args) -> int:
    from eval.reader_eval import evaluate_reader

    result = evaluate_reader(_reader(args, args.model), Path(args.squad_dir), Path(args.out), args.limit)
    return _print_report({k: v for k, v in result.items() if k != "data"}, args.out)


def cmd_eval_squad(args) -> int:
    from eval.squad_open import evaluate_squad_open

    result = evaluate_squad_open(
        Path(args.file),
        Path(args.out),
        version=args.version,
        limit=args.limit,
        all_articles=args.all_articles,
        squad_dir=Path(args.squad_dir),
        index_dir=args.index_dir,
        settings=_settings(args),
    )
    return _print_report(result["summary"], args.out)


def cmd_eval_answerability(args) -> int:
    from lab.answerability_probe import run_probe
    from qa.reader.model import Reader

    # The probe reads hidden states, which only the PyTorch runtime gives: fp32 on the CPU.
    result = run_probe(
        Reader.load(args.model, device="cpu", backend="torch"), Path(args.squad_dir), Path(args.out), args.limit
    )
    return _print_report({k: v for k, v in result.items() if k != "limit"}, args.out)


def _print_report(summary: dict, out: str) -> int:
    print(json.dumps(summary, indent=2))
    print(f"reports written to {out}", file=sys.stderr)
    return 0


def _reader(args, model_dir: Path | None, device: str | None = None):
    """The reader as configured (QA_READER_BACKEND, QA_READER_INT8, ...), with --backend/--int8 overriding."""
    from qa.config import Settings
    from qa.reader.model import Reader

    settings = Settings()
    overrides = {
        "reader_model": model_dir or settings.reader_model,
        "reader_int8": settings.reader_int8 if args.int8 is None else args.int8,
        "reader_backend": args.backend or settings.reader_backend,
    }
    return Reader.from_settings(settings.model_copy(update=overrides), device=device)


def cmd_bench(args) -> int:
    from bench.benchmarks import bench_api, bench_reader

    if args.target == "index":
        from bench.large_index import bench_large_index

        try:
            timed = _positive_int(args.questions) if args.questions is not None else 500
        except argparse.ArgumentTypeError as exc:
            print(f"error: index: --questions: {exc}", file=sys.stderr)
            return 2

        squad = Path(args.squad_dir)
        files = [squad / "dev-v2.0.json.gz", squad / "dev-v1.1.json.gz", *map(Path, args.train_files)]
        out = Path(args.out)
        result = bench_large_index(
            files,
            out / "index",
            out,
            _settings(args),
            questions=timed,
            max_documents=args.documents,
        )
    elif args.target == "corpus":
        from bench.corpus_changes import run_corpus_benchmark

        result = run_corpus_benchmark(
            args.corpus,
            Path(args.out if args.out != "eval/reports/large-index" else "eval/reports/corpus-changes"),
            _settings(args),
            Path(args.squad_dir),
            [Path(f) for f in args.train_files],
            repeats=args.repeat,
        )
    elif args.target == "pipeline":
        from bench.benchmarks import bench_pipeline
        from eval.seed import load_eval_set
        from qa.pipeline import QAPipeline

        questions = [row["question"] for row in load_eval_set(Path(args.file))]
        result = bench_pipeline(QAPipeline.from_settings(_settings(args)), questions, repeat=args.repeat)
    elif args.target == "reader":
        result = bench_reader(
            _reader(args, None, device="cpu"),
            passages=args.passages,
            words=args.words,
            runs=args.runs,
            squad_dir=Path(args.squad_dir),
        )
    else:
        from bench.benchmarks import load_bench_questions
        from eval.question_set import QuestionSetError

        questions = None
        if args.questions is not None:
            try:
                questions = load_bench_questions(Path(args.questions), args.split)
            except QuestionSetError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
        server_env = {}
        if args.corpus_dir:
            server_env["QA_CORPUS_DIR"] = str(Path(args.corpus_dir).resolve())
            default_index = _settings(args).model_cache_dir / f"bench-index-{Path(args.corpus_dir).resolve().name}"
            server_env["QA_INDEX_DIR"] = str(Path(args.index_dir).resolve() if args.index_dir else default_index)
        result = bench_api(
            url=args.url,
            concurrency=args.concurrency,
            duration_s=args.duration,
            max_requests=args.requests,
            api_key=args.api_key,
            kill_replica_after_s=args.kill_replica_after,
            questions=questions,
            server_env=server_env,
        )
    print(json.dumps(result, indent=2))
    failed = result.get("errors", 0) or result.get("wrong_answers", 0) or "error" in result.get("killed_replica", {})
    return 1 if failed else 0


def cmd_train_reader(args, rest: list[str]) -> int:
    from lab.train_reader import main as train_main

    return train_main(rest)


# Optional dependencies of the parts above the served path (pyproject.toml extras).
_EXTRAS = {"matplotlib": "eval", "sklearn": "eval,lab", "httpx": "eval"}


def _positive_int(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def _points(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number of points, 0 or more, not {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, not {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Extractive question answering over news articles.")
    parser.add_argument("--log-level", default=os.environ.get("QA_LOG_LEVEL", "WARNING"))
    sub = parser.add_subparsers(dest="command", required=True)

    def corpus_options(p):
        p.add_argument("--corpus-dir", type=Path, help="articles folder (default: seeds/ or QA_CORPUS_DIR)")
        p.add_argument("--index-dir", type=Path, help="index folder (default: index/ or QA_INDEX_DIR)")

    def reader_options(p):
        p.add_argument(
            "--backend", choices=["onnx", "torch"], help="reader runtime (default: QA_READER_BACKEND or onnx)"
        )
        p.add_argument(
            "--int8",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="int8-quantised reader weights (default: QA_READER_INT8, on)",
        )

    p = sub.add_parser("index", help="build the index from the corpus folder")
    corpus_options(p)
    p.add_argument(
        "--workers",
        type=_positive_int,
        help="embed on this many Ray Data workers (scale extra; RAY_ADDRESS joins a cluster; default: this process)",
    )
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("add", help="add files to the corpus (or replace those of the same name); no rebuild")
    corpus_options(p)
    p.add_argument("paths", nargs="+", type=Path, metavar="FILE|FOLDER", help=".txt .md .html .htm .pdf .docx")
    p.add_argument("--title", help="title, over what the file says (one file)")
    p.add_argument("--date", help="publication date YYYY-MM-DD, over what the file says (one file)")
    p.add_argument("--url", help="the article's address (one file)")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("remove", help="remove documents from the corpus (their files and passages); no rebuild")
    corpus_options(p)
    p.add_argument("doc_ids", nargs="+", metavar="DOC_ID")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("list", help="the documents the index answers from")
    corpus_options(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("ask", help="answer one question")
    corpus_options(p)
    p.add_argument("question")
    p.add_argument("--passages", "--top-k", dest="passages_read", type=_positive_int, help="passages read")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="run the HTTP service")
    corpus_options(p)
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--replicas",
        type=_positive_int,
        help="run this many replicas on Ray Serve (needs the scale extra; default: one process)",
    )
    p.add_argument(
        "--max-replicas",
        type=_positive_int,
        help="with --replicas: autoscale between --replicas and this many on the questions in hand",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", help="run an evaluation and write reports (qa eval TARGET --help)")
    evals = p.add_subparsers(dest="target", required=True)

    def model_options(p, decision: bool = True):
        """The reader an evaluation runs (--model, runtime, int8) and, where answers are decided, --decision."""
        p.add_argument("--model", type=Path, help="reader folder (default: the shipped reader)")
        reader_options(p)
        if decision:
            p.add_argument("--decision", type=Path, help="answer decision JSON (default: the one beside the reader)")

    p = evals.add_parser("seed", help="the seed-article questions end to end (the test set)")
    corpus_options(p)
    p.add_argument("--file", default="eval/seed_qa.jsonl", help="eval set (JSONL)")
    model_options(p)
    p.add_argument("--passages", "--top-k", dest="passages_read", type=_positive_int, help="passages read per question")
    p.add_argument("--out", default="eval/reports/seed", help="report folder")
    p.set_defaults(func=cmd_eval_seed)

    p = evals.add_parser("news", help="the news development set end to end, one index of all its articles")
    p.add_argument("--set", default="eval/news", help="news set folder")
    p.add_argument(
        "--index-dir", type=Path, help="index of the set's articles (default: QA_MODEL_CACHE_DIR/news-index)"
    )
    p.add_argument("--split", choices=["validation", "train", "all"], default="validation")
    p.add_argument("--limit", type=_positive_int, help="a fixed slice of at most this many questions per split")
    model_options(p)
    p.add_argument(
        "--fit-decision",
        metavar="FILE",
        help="fit the answer decision on news validation, compare feature sets, write it to FILE",
    )
    p.add_argument("--passages", "--top-k", dest="passages_read", type=_positive_int, help="passages read per question")
    p.add_argument("--out", default="eval/reports/news", help="report folder")
    p.set_defaults(func=cmd_eval_news)

    p = evals.add_parser(
        "conversations", help="follow-up questions with and without their conversation, and their rewrites"
    )
    p.add_argument("--file", default="eval/conversations/conversations.jsonl", help="conversation set (JSONL)")
    p.add_argument("--set", default="eval/news", help="news set folder (the articles the conversations are about)")
    p.add_argument(
        "--index-dir", type=Path, help="index of the set's articles (default: QA_MODEL_CACHE_DIR/news-index)"
    )
    p.add_argument(
        "--history-turns",
        type=_non_negative_int,
        help="earlier questions searched with a follow-up besides the first (default: QA_HISTORY_TURNS)",
    )
    model_options(p)
    p.add_argument("--out", default="eval/reports/conversations", help="report folder")
    p.set_defaults(func=cmd_eval_conversations)

    p = evals.add_parser("dates", help="date questions over the news set and the seed article: resolved dates")
    corpus_options(p)
    p.add_argument("--file", default="eval/dates/questions.jsonl", help="date questions (JSONL)")
    p.add_argument("--set", default="eval/news", help="news set folder")
    p.add_argument("--news-index-dir", type=Path, help="index of the news set (default: QA_MODEL_CACHE_DIR/news-index)")
    model_options(p)
    p.add_argument("--out", default="eval/reports/dates", help="report folder")
    p.set_defaults(func=cmd_eval_dates)

    p = evals.add_parser(
        "run",
        help="score your own question set (JSONL, CSV, SQuAD JSON) locally or against a running service",
        description="Score a question set: locally over --corpus-dir (default: the configured corpus; a SQuAD file "
        "without one: its own contexts, in a temporary index) or against a running service (--url). Writes "
        "summary.json (the official SQuAD 2.0 keys, 0-100), predictions.json, na_prob.json, gold.json, "
        "per_question.jsonl, report.md and threshold.png to --out.",
    )
    p.add_argument("--set", required=True, metavar="FILE", help="questions: .jsonl, .csv, .tsv or SQuAD .json[.gz]")
    p.add_argument("--format", choices=["jsonl", "csv", "tsv", "squad"], help="override the format the name implies")
    p.add_argument("--out", required=True, metavar="DIR", help="run folder to write")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--corpus-dir", type=Path, help="local run over this corpus folder (its own index)")
    where.add_argument("--url", help="ask the running service at this address (POST /ask)")
    p.add_argument("--index-dir", type=Path, help="local run: index folder (default: one of its own for --corpus-dir)")
    p.add_argument("--api-key", help="with --url: bearer key (default: $QA_EVAL_API_KEY)")
    p.add_argument("--concurrency", type=_positive_int, help="with --url: questions in flight at once (default 4)")
    p.add_argument("--passages", "--top-k", dest="passages_read", type=_positive_int, help="passages read per question")
    model_options(p)
    p.set_defaults(func=cmd_eval_run)

    p = evals.add_parser(
        "compare",
        help="compare two runs question by question; exit 1 when B's F1 drops more than --max-drop",
        description="Pair two run folders by question id: F1 and exact match, a paired bootstrap interval for the F1 "
        "difference, McNemar's exact test, the questions that got worse and better. Exit status 1 when B's F1 is "
        "more than --max-drop points below A's, 0 otherwise, 2 on bad input.",
    )
    p.add_argument("run_a", metavar="RUN_A", help="the baseline run folder")
    p.add_argument("run_b", metavar="RUN_B", help="the run folder to judge")
    p.add_argument(
        "--max-drop", type=_points, default=1.0, metavar="POINTS", help="F1 points (0-100) B may lose (default 1.0)"
    )
    p.add_argument("--json", action="store_true", help="the comparison as JSON instead of Markdown")
    p.set_defaults(func=cmd_eval_compare)

    p = evals.add_parser("news-check", help="check the news set: verbatim answers and evidence, split by article")
    p.add_argument("--set", default="eval/news", help="news set folder")
    p.set_defaults(func=cmd_eval_news_check)

    p = evals.add_parser("reader", help="the reader alone on held-out SQuAD 2.0 articles (gold paragraph)")
    p.add_argument("--squad-dir", default="../shared/data/squad", help="folder of the SQuAD dev sets")
    model_options(p, decision=False)
    p.add_argument("--limit", type=int, help="score at most this many questions")
    p.add_argument("--out", default="eval/reports/reader", help="report folder")
    p.set_defaults(func=cmd_eval_reader)

    p = evals.add_parser("squad", help="open-corpus SQuAD: retrieval and reading over every paragraph")
    p.add_argument("--file", default="../shared/data/squad/dev-v2.0.json.gz", help="SQuAD JSON file")
    p.add_argument("--squad-dir", default="../shared/data/squad", help="folder of the SQuAD dev sets")
    p.add_argument("--index-dir", type=Path, help="index of the SQuAD paragraphs")
    p.add_argument("--version", choices=["2.0", "1.1"], default=None)
    p.add_argument("--limit", type=int, help="score at most this many questions")
    p.add_argument("--all-articles", action="store_true", help="score every article, not only held-out ones")
    model_options(p)
    p.add_argument("--out", default="eval/reports/squad", help="report folder")
    p.set_defaults(func=cmd_eval_squad)

    p = evals.add_parser("answerability", help="probe the reader's no-answer decision (PyTorch fp32, about 20 min)")
    p.add_argument("--squad-dir", default="../shared/data/squad", help="folder of the SQuAD dev sets")
    p.add_argument("--model", type=Path, help="reader folder (default: the shipped reader)")
    p.add_argument("--limit", type=int, help="score at most this many questions")
    p.add_argument("--out", default="eval/reports/answerability", help="report folder")
    p.set_defaults(func=cmd_eval_answerability)

    p = sub.add_parser("bench", help="benchmarks that print their figures")
    p.add_argument("target", choices=["pipeline", "reader", "api", "index", "corpus"])
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
    p.add_argument(
        "--kill-replica-after",
        type=float,
        metavar="S",
        help="api: SIGKILL one answering replica of a local `qa serve --replicas N` S seconds into the load",
    )
    p.add_argument("--file", default="eval/seed_qa.jsonl", help="pipeline: questions to time (JSONL)")
    p.add_argument(
        "--repeat", type=_positive_int, default=3, help="pipeline: times through the questions; corpus: change rounds"
    )
    p.add_argument(
        "--train-files",
        nargs="*",
        default=["../shared/data/qa-train/squad_train_v1.1_rest.json.gz"],
        help="index: SQuAD-layout training files whose paragraphs join the dev paragraphs",
    )
    p.add_argument(
        "--questions",
        help="index: dev questions timed and scored (a number, default 500); api: a question file to cycle through "
        "(JSONL with 'question', CSV, SQuAD JSON), so every request is a new question",
    )
    p.add_argument("--split", help="api: with a JSONL --questions file, only rows whose 'split' is this")
    p.add_argument("--corpus-dir", help="api: the started server's corpus folder (default: seeds/)")
    p.add_argument("--index-dir", help="api: the started server's index folder (default: one in the model cache)")
    p.add_argument("--documents", type=_positive_int, help="index: only the first N paragraphs (a quicker comparison)")
    p.add_argument("--workers", type=_positive_int, help="index: embed on N Ray Data workers (default: this process)")
    p.add_argument(
        "--out",
        default="eval/reports/large-index",
        help="index, corpus: report folder (corpus: default eval/reports/corpus-changes)",
    )
    p.add_argument(
        "--corpus",
        choices=["seed", "squad", "both"],
        default="seed",
        help="corpus: add, replace and remove on the seed corpus, the ~36k-passage SQuAD corpus, or both",
    )
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("train-reader", help="train the reader (see python -m lab.train_reader --help)", add_help=False)
    p.set_defaults(func=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] == "train-reader":
        return cmd_train_reader(None, argv[1:])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from eval.asking import RemoteError
    from eval.dates_eval import DateSetError
    from eval.news_set import NewsSetError
    from eval.question_set import QuestionSetError
    from eval.run_files import RunFilesError
    from eval.seed import EvalSetError
    from eval.squad_data import DatasetError
    from qa.index import IndexProblem
    from qa.ingest import CorpusError
    from qa.parallel_embedding import ParallelEmbeddingError
    from qa.reader.settings import ReaderLoadError

    if args.command == "eval" and importlib.util.find_spec("matplotlib") is None:
        # Checked up front: the reports' plots come at the end of a run that may take minutes.
        print("qa: error: qa eval needs the eval extra: pip install -e '.[eval]'", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except (
        CorpusError,
        IndexProblem,
        ParallelEmbeddingError,
        DatasetError,
        DateSetError,
        EvalSetError,
        NewsSetError,
        QuestionSetError,
        ReaderLoadError,
        RemoteError,
        RunFilesError,
    ) as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        extra = _EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"qa: error: this command needs {exc.name}: pip install -e '.[{extra}]'", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
