"""Shared fixtures: a real index over seeds/, a real pipeline, and real servers on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.server import ServerProcess

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_DOC_ID = "000_8b6f645272f1e33c"
SHARED = Path(os.environ.get("QA_SHARED_DIR", ROOT.parent / "shared"))
SQUAD_DIR = SHARED / "data" / "squad"
ARTIFACTS = ROOT / "test-artifacts"


def run_qa(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The `qa` command line in a real process, from the project root, with `env` over this process's environment.
    Tests of a refused input check its exit status 2, the reason on stderr and that no traceback reached it."""
    return subprocess.run(
        [sys.executable, "-m", "qa_cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


needs_squad = pytest.mark.skipif(
    not (SQUAD_DIR / "dev-v2.0.json.gz").exists(), reason=f"SQuAD data not found in {SQUAD_DIR}"
)


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory) -> Path:
    from qa.config import Settings
    from qa.embedder import Embedder
    from qa.index import build_index, index_options
    from qa.ingest import load_corpus

    index_dir = tmp_path_factory.mktemp("index")
    build_index(
        load_corpus(SEEDS), index_dir, Embedder(), corpus_dir=SEEDS, progress=False, **index_options(Settings())
    )
    return index_dir


@pytest.fixture(scope="session")
def settings(seed_index_dir):
    from qa.config import Settings

    return Settings(corpus_dir=SEEDS, index_dir=seed_index_dir, auto_build=False)


@pytest.fixture(scope="session")
def news_index_dir(tmp_path_factory) -> Path:
    """One index folder for the news set's 217 articles, shared by the tests that ask over all of them: the first
    builds it (about 45 s), the others find it fresh."""
    return tmp_path_factory.mktemp("news-index")


@pytest.fixture(scope="session")
def pipeline(settings):
    from qa.pipeline import QAPipeline

    return QAPipeline.from_settings(settings)


@pytest.fixture(scope="session")
def reader(pipeline):
    return pipeline.reader


LiveServer = ServerProcess  # the name the tests use
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, and none of Chromium's background connections: this machine's network is closed.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def chromium():
    """A headless Debian Chromium driven by Playwright, for the browser tests (which skip without it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def running_server(env: dict[str, str], log_path: Path):
    live = ServerProcess(env, log_path)
    try:
        live.wait_ready(timeout=120.0)
        yield live
    finally:
        live.stop()


def served_copy(seed_index_dir: Path, tmp_path_factory, name: str) -> dict[str, str]:
    """A copy of the seed corpus and its index for a server of its own: servers take uploads and removals (the
    API fuzzer sends them too), which must never touch the repository's seeds/ or the shared seed index."""
    work = tmp_path_factory.mktemp(name)
    shutil.copytree(SEEDS, work / "corpus")
    shutil.copytree(seed_index_dir, work / "index")
    return {"QA_INDEX_DIR": str(work / "index"), "QA_CORPUS_DIR": str(work / "corpus")}


@pytest.fixture(scope="session")
def server(seed_index_dir, tmp_path_factory):
    yield from running_server(
        served_copy(seed_index_dir, tmp_path_factory, "served"), tmp_path_factory.mktemp("logs") / "server.log"
    )


@pytest.fixture(scope="session")
def secured_server(seed_index_dir, tmp_path_factory):
    yield from running_server(
        {**served_copy(seed_index_dir, tmp_path_factory, "secured"), "QA_API_KEYS": '["key-one", "key-two"]'},
        tmp_path_factory.mktemp("logs") / "secured.log",
    )
