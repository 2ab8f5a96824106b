"""Shared fixtures: a real index over seeds/, a real pipeline, and real servers on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_DOC_ID = "000_8b6f645272f1e33c"
SHARED = Path(os.environ.get("QA_SHARED_DIR", ROOT.parent / "shared"))
SQUAD_DIR = SHARED / "data" / "squad"
ARTIFACTS = ROOT / "test-artifacts"

needs_squad = pytest.mark.skipif(not (SQUAD_DIR / "dev-v2.0.json.gz").exists(), reason=f"SQuAD data not found in {SQUAD_DIR}")


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory) -> Path:
    from qa.embedder import Embedder
    from qa.index import build_index
    from qa.ingest import load_corpus

    index_dir = tmp_path_factory.mktemp("index")
    build_index(load_corpus(SEEDS), index_dir, Embedder(), corpus_dir=SEEDS, progress=False)
    return index_dir


@pytest.fixture(scope="session")
def settings(seed_index_dir):
    from qa.config import Settings

    return Settings(corpus_dir=SEEDS, index_dir=seed_index_dir, auto_build=False)


@pytest.fixture(scope="session")
def pipeline(settings):
    from qa.pipeline import QAPipeline

    return QAPipeline.from_settings(settings)


@pytest.fixture(scope="session")
def reader(pipeline):
    return pipeline.reader


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, **env, "QA_PORT": str(self.port), "QA_HOST": "127.0.0.1"}
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qa_cli", "serve"], cwd=ROOT, env=full_env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 120.0, headers: dict | None = None) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early; log: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server not ready in {timeout}s; log: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=30)
        finally:
            self._log.close()


def _running_server(env: dict[str, str], log_path: Path):
    live = LiveServer(env, log_path)
    try:
        live.wait_ready()
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="session")
def server(seed_index_dir, tmp_path_factory):
    yield from _running_server({"QA_INDEX_DIR": str(seed_index_dir), "QA_CORPUS_DIR": str(SEEDS)},
                               tmp_path_factory.mktemp("logs") / "server.log")


@pytest.fixture(scope="session")
def secured_server(seed_index_dir, tmp_path_factory):
    yield from _running_server({"QA_INDEX_DIR": str(seed_index_dir), "QA_CORPUS_DIR": str(SEEDS),
                                "QA_API_KEYS": '["key-one", "key-two"]'},
                               tmp_path_factory.mktemp("logs") / "secured.log")
