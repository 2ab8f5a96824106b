"""What a change to a living corpus costs: the time to add an 800-word news page and a 20-page PDF report, and to
remove one, against a full rebuild of the same corpus, on the seed corpus and on the large SQuAD corpus (every
SQuAD paragraph we have: about 36,000 passages); and the peak memory of a process that makes one add (`qa add`).

`qa bench corpus [--corpus seed|squad|both]` prints the figures and writes them to OUT/corpus_changes.json.
The changes go through the same code as POST /documents and `qa add` (`qa.corpus_store.CorpusStore`), with the
models already loaded, as in a running service.
"""

from __future__ import annotations

import json
import logging
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.sample_documents import news_page_html, report_pdf
from eval.report import write_json
from qa.config import Settings
from qa.corpus_store import CorpusStore
from qa.embedder import Embedder
from qa.index import build_index, index_options, load_index
from qa.ingest import load_corpus

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent


def _prepare_seed(folder: Path) -> None:
    shutil.copytree(ROOT / "seeds", folder)


def _prepare_squad(folder: Path, squad_dir: Path, train_files: list[Path]) -> None:
    """The large-index benchmark's corpus (every SQuAD paragraph once) as one .jsonl collection file."""
    from bench.large_index import union_corpus

    files = [squad_dir / "dev-v2.0.json.gz", squad_dir / "dev-v1.1.json.gz", *train_files]
    corpus, _ = union_corpus(files)
    folder.mkdir(parents=True)
    with (folder / "squad-paragraphs.jsonl").open("w", encoding="utf-8") as handle:
        for document in corpus.documents:
            record = {"id": document.id, "title": document.title, "text": document.text}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _timed(call) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def _child_add(corpus_dir: Path, index_dir: Path, file: Path) -> dict[str, Any]:
    """One add in a fresh process, as `qa add` makes it: its wall time and peak resident memory."""
    code = (
        "import json, resource, sys, time\n"
        "from pathlib import Path\n"
        "from qa.config import Settings\n"
        "from qa.corpus_store import CorpusStore\n"
        "from qa.embedder import Embedder\n"
        "started = time.perf_counter()\n"
        "settings = Settings(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]))\n"
        "store = CorpusStore(settings, Embedder.from_settings(settings))\n"
        "path = Path(sys.argv[3])\n"
        "result, _ = store.add(path.name, path.read_bytes())\n"
        "print(json.dumps({'status': result.status, 'process_s': time.perf_counter() - started,\n"
        "                  'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(corpus_dir), str(index_dir), str(file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_corpus(
    name: str, corpus_dir: Path, work: Path, embedder: Embedder, settings: Settings, repeats: int
) -> dict[str, Any]:
    index_dir = work / f"{name}-index"
    shutil.rmtree(index_dir, ignore_errors=True)
    settings = settings.model_copy(update={"corpus_dir": corpus_dir, "index_dir": index_dir})
    corpus = load_corpus(corpus_dir)
    log.info("%s corpus: full build of %d documents", name, len(corpus.documents))
    manifest, full_s = _timed(
        lambda: build_index(corpus, index_dir, embedder, corpus_dir=corpus_dir, **index_options(settings))
    )
    store = CorpusStore(settings, embedder)
    index = load_index(index_dir)
    page = news_page_html(800).encode()
    pdf = report_pdf(pages=20)
    timings: dict[str, list[float]] = {"add_html_s": [], "add_pdf_s": [], "remove_html_s": [], "remove_pdf_s": []}
    passages: dict[str, int] = {}
    for _ in range(repeats):
        (added, index), seconds = _timed(lambda base=index: store.add("bench-news-page.html", page, base=base))
        timings["add_html_s"].append(seconds)
        passages["html"] = added.passages
        (added, index), seconds = _timed(lambda base=index: store.add("bench-report.pdf", pdf, base=base))
        timings["add_pdf_s"].append(seconds)
        passages["pdf"] = added.passages
        index, seconds = _timed(lambda base=index: store.remove("bench-news-page", base=base))
        timings["remove_html_s"].append(seconds)
        index, seconds = _timed(lambda base=index: store.remove("bench-report", base=base))
        timings["remove_pdf_s"].append(seconds)
    sample = work / "bench-news-page.html"
    sample.write_bytes(page)
    child = _child_add(corpus_dir, index_dir, sample)
    store.remove("bench-news-page")
    return {
        "corpus": name,
        "documents": manifest.documents,
        "passages": manifest.passages,
        "full_build_s": round(full_s, 2),
        "added_passages": passages,
        **{key: [round(v, 3) for v in values] for key, values in timings.items()},
        "qa_add_process": {k: round(v, 2) if isinstance(v, float) else v for k, v in child.items()},
    }


def run_corpus_benchmark(
    which: str, out: Path, settings: Settings, squad_dir: Path, train_files: list[Path], repeats: int = 3
) -> dict[str, Any]:
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    embedder = Embedder.from_settings(settings)
    embedder.embed(["warm up"])  # the runtime's first-use start is not part of any figure
    results = []
    if which in ("seed", "both"):
        _prepare_seed(work / "seed-corpus")
        results.append(bench_corpus("seed", work / "seed-corpus", work, embedder, settings, repeats))
    if which in ("squad", "both"):
        _prepare_squad(work / "squad-corpus", squad_dir, train_files)
        results.append(bench_corpus("squad", work / "squad-corpus", work, embedder, settings, repeats))
    report = {
        "repeats": repeats,
        "benchmark_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "corpora": results,
    }
    write_json(out / "corpus_changes.json", report)
    shutil.rmtree(work, ignore_errors=True)
    return report
