"""Ray Serve scale-out: `qa serve --replicas 2` on a local Ray cluster answers as one process does, and a reindex on
one replica is picked up by every replica without a failed request. Skipped, with the reason, where Ray is not
installed or cannot start."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time

import httpx
import pytest
from conftest import ROOT, SEEDS

from bench.server import free_port

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="Ray Serve is not installed (pip install -e '.[scale]')"
)
QUESTIONS = [
    "When was the CQC visit?",
    "Who is the Trust’s chief nurse?",
    "How much did the new clinical building cost?",
    "How many storeys does the new facility have?",
    "What is the capital of France?",
    "What was the maternity unit rated in 2019?",
]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, seed_index_dir):
    work = tmp_path_factory.mktemp("ray-serve")
    corpus, index_dir = work / "corpus", work / "index"
    shutil.copytree(SEEDS, corpus)
    shutil.copytree(seed_index_dir, index_dir)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QA_")},
        "QA_PORT": str(port),
        "QA_CORPUS_DIR": str(corpus),
        "QA_INDEX_DIR": str(index_dir),
        "QA_INDEX_POLL_S": "0.5",
    }
    log_path = work / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "qa_cli", "serve", "--replicas", "2"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    try:
        while True:
            if process.poll() is not None:
                pytest.skip(f"Ray could not start here: {log_path.read_text()[-1500:]}")
            if time.time() > deadline:
                raise AssertionError("replicas not ready in 300 s: " + log_path.read_text()[-3000:])
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield url, corpus, log_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()


def _texts(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [answer["text"] for answer in response.json()["answers"]]


def test_two_replicas_answer_as_one_process(replicas, pipeline):
    url, _, _ = replicas
    for question in QUESTIONS * 2:  # twice: both replicas get questions
        served = _texts(httpx.post(url + "/ask", json={"question": question}, timeout=60))
        assert served == [a.text for a in pipeline.ask(question).answers], question


def test_a_reindex_reaches_every_replica_without_a_failed_request(replicas):
    url, corpus, log_path = replicas
    (corpus / "001_hospice_garden.txt").write_text(
        "date 2025-11-01 Wendham hospice opens a healing garden\n\n"
        "Wendham hospice opened a healing garden for patients and families on 3 November 2025. "
        "The garden was designed by the landscape architect Priya Okonkwo.\n",
        encoding="utf-8",
    )
    assert httpx.post(url + "/admin/reindex", timeout=30).status_code == 202
    deadline, agreeing, answered = time.time() + 240, 0, 0
    while agreeing < 8:  # /ready lands on either replica: several in a row must show the new index
        assert time.time() < deadline, log_path.read_text()[-3000:]
        assert _texts(httpx.post(url + "/ask", json={"question": "Who is the Trust’s chief nurse?"}, timeout=60)) == [
            "Liz Lees"
        ]
        answered += 1
        documents = httpx.get(url + "/ready", timeout=10).json()["index"]["documents"]
        agreeing = agreeing + 1 if documents == 2 else 0
    assert answered >= 1
    garden = httpx.post(url + "/ask", json={"question": "Who designed the hospice garden?"}, timeout=60)
    assert "Priya Okonkwo" in _texts(garden)


def test_autoscaling_options():
    from api.ray_serve import deployment_options

    fixed = deployment_options(2)
    assert fixed["num_replicas"] == 2 and "autoscaling_config" not in fixed
    scaling = deployment_options(2, max_replicas=6)
    assert "num_replicas" not in scaling
    assert scaling["autoscaling_config"]["min_replicas"] == 2 and scaling["autoscaling_config"]["max_replicas"] == 6
