"""Ray Serve scale-out: `qa serve --replicas 2` on a local Ray cluster answers as one process does; a reindex on one
replica is picked up by every replica without a failed request; an answering replica killed in the middle of a
16-client load loses no question. Skipped, with the reason, where Ray is not installed or cannot start."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from conftest import ROOT, SEEDS

from bench.server import free_port, kill_an_answering_replica

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
        "QA_ANSWER_CACHE_SIZE": "0",  # every question goes through a reader, so a killed replica has some in hand
        "QA_REQUEST_TIMEOUT_S": "90",  # one replica answers 16 clients while the replacement loads on the same cores
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


def test_documents_added_and_removed_through_the_ingress_reach_every_replica(replicas):
    """The same /documents routes behind Ray Serve: the replica asked stores the file and publishes the change, the
    other follows (QA_INDEX_POLL_S); after the removal no replica cites it."""
    from bench.sample_documents import REPORT_ANSWER_PAGE, REPORT_FACTS, report_pdf

    url, corpus, log_path = replicas
    question = next(iter(REPORT_FACTS))
    added = httpx.post(url + "/documents", files={"file": ("ray-report.pdf", report_pdf(pages=3))}, timeout=120)
    assert added.status_code == 201 and added.json()["status"] == "added", added.text
    assert (corpus / "ray-report.pdf").exists()
    deadline, agreeing = time.time() + 120, 0
    while agreeing < 8:  # requests land on either replica: several in a row must cite the new document
        assert time.time() < deadline, log_path.read_text()[-3000:]
        answers = httpx.post(url + "/ask", json={"question": question}, timeout=60).json()["answers"]
        cited = bool(answers) and answers[0]["citation"]["doc_id"] == "ray-report"
        agreeing = agreeing + 1 if cited and answers[0]["citation"]["page"] == REPORT_ANSWER_PAGE else 0
    listed = httpx.get(url + "/documents", timeout=30).json()["documents"]
    assert "ray-report" in {d["doc_id"] for d in listed}
    refused = httpx.post(url + "/documents", files={"file": ("x.exe", b"MZ")}, timeout=30)
    assert refused.status_code == 415 and "unsupported type" in refused.json()["error"]
    assert httpx.delete(url + "/documents/ray-report", timeout=120).status_code == 200
    deadline, clean = time.time() + 120, 0
    while clean < 8:
        assert time.time() < deadline, log_path.read_text()[-3000:]
        response = httpx.post(url + "/ask", json={"question": question}, timeout=60).json()
        cites = any(a["citation"]["doc_id"] == "ray-report" for a in response["answers"])
        clean = 0 if cites else clean + 1
    assert httpx.delete(url + "/documents/ray-report", timeout=30).status_code == 404


def _retried(url: str) -> float:
    metrics = httpx.get(url + "/metrics", timeout=30).text
    return sum(
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("qa_questions_retried_total")
    )


def _answering_replicas() -> int:
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return sum("ServeReplica:newsqa:Answerer" in line for line in listing.splitlines())


def test_a_replica_killed_mid_load_loses_no_question(replicas):
    """16 clients ask without pause; one answering replica is SIGKILLed with questions in hand. The ingress asks
    those again, so every request gets its usual answer; Serve then starts a replacement."""
    url, _, log_path = replicas
    # What the replicas answer undisturbed (they serve whatever index the earlier tests left them).
    expected = {q: _texts(httpx.post(url + "/ask", json={"question": q}, timeout=60)) for q in QUESTIONS}
    results: list[tuple[str, int, list[str] | str]] = []
    lock = threading.Lock()
    started = threading.Event()

    def client(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            for i in range(12):
                question = QUESTIONS[(offset + i) % len(QUESTIONS)]
                response = http.post("/ask", json={"question": question})
                started.set()
                body = _texts(response) if response.status_code == 200 else response.text
                with lock:
                    results.append((question, response.status_code, body))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    assert started.wait(120)
    time.sleep(1.0)  # the load is on: both replicas hold questions
    assert _answering_replicas() == 2
    kill_an_answering_replica()
    for thread in threads:
        thread.join()
    failed = [(q, status, body) for q, status, body in results if status != 200]
    assert not failed, f"{len(failed)} of {len(results)} failed, e.g. {failed[:2]}"
    assert len(results) == 16 * 12
    assert all(body == expected[q] for q, _, body in results)
    assert _retried(url) > 0, "the kill should have caught questions in hand"
    deadline = time.time() + 180
    while _answering_replicas() < 2:  # Serve replaces the dead replica
        assert time.time() < deadline, log_path.read_text()[-3000:]
        time.sleep(1)


def test_replica_options():
    from api.ray_serve import answerer_options, replica_environment

    fixed = answerer_options(2)
    assert fixed["num_replicas"] == 2 and "autoscaling_config" not in fixed
    assert fixed["max_queued_requests"] == 64  # beyond it the ingress answers 503 "busy"
    scaling = answerer_options(2, max_replicas=6)
    assert "num_replicas" not in scaling
    assert scaling["autoscaling_config"]["min_replicas"] == 2 and scaling["autoscaling_config"]["max_replicas"] == 6
    env = replica_environment({"QA_TOP_K": "4", "PATH": "/bin", "HF_HUB_OFFLINE": "1"}, replicas=2, local=True)
    assert env["QA_TOP_K"] == "4" and env["HF_HUB_OFFLINE"] == "1" and "PATH" not in env
    assert int(env["QA_TORCH_THREADS"]) == max(1, (os.cpu_count() or 1) // 2)
    assert "QA_TORCH_THREADS" not in replica_environment({}, replicas=2, local=False)
    assert replica_environment({"QA_TORCH_THREADS": "3"}, replicas=2, local=True)["QA_TORCH_THREADS"] == "3"


class _Reply:
    """A stand-in for a DeploymentResponse: awaiting it gives `outcome`, or raises it."""

    def __init__(self, outcome):
        self.outcome, self.cancelled = outcome, False

    def __await__(self):
        if False:  # a generator without suspending
            yield
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome

    def cancel(self):
        self.cancelled = True


class _Method:
    def __init__(self, outcomes):
        self.outcomes, self.calls = list(outcomes), 0

    def remote(self, *args):
        self.calls += 1
        return _Reply(self.outcomes.pop(0))


class _Handle:
    def __init__(self, answer=(), status=(), reindex=()):
        self.answer, self.status, self.reindex = _Method(answer), _Method(status), _Method(reindex)


def test_the_ingress_asks_once_more_when_a_replica_dies_and_maps_refusals(settings, pipeline):
    import asyncio

    from ray.exceptions import ActorDiedError
    from ray.serve.exceptions import BackPressureError

    from api.live_pipeline import NotReady, ServiceStatus
    from api.ray_serve import RemoteAnswering
    from api.service import Saturated

    response = pipeline.ask(QUESTIONS[0])
    handle = _Handle(answer=[ActorDiedError(), response])
    remote = RemoteAnswering(handle, settings)
    retries: list[int] = []
    remote.on_retry = lambda: retries.append(1)
    assert asyncio.run(remote.ask(QUESTIONS[0])) is response
    assert handle.answer.calls == 2 and retries == [1]

    handle = _Handle(answer=[ActorDiedError(), ActorDiedError(), response])
    with pytest.raises(NotReady, match="2 answering replicas died"):  # once more, not a third replica
        asyncio.run(RemoteAnswering(handle, settings).ask(QUESTIONS[0]))
    assert handle.answer.calls == 2

    full = BackPressureError(num_queued_requests=64, max_queued_requests=64)
    with pytest.raises(Saturated):
        asyncio.run(RemoteAnswering(_Handle(answer=[full]), settings).ask(QUESTIONS[0]))
    with pytest.raises(ValueError, match="a bug"):  # anything else is not retried
        asyncio.run(RemoteAnswering(_Handle(answer=[ValueError("a bug")]), settings).ask("q"))

    ready = ServiceStatus(ready=True)
    handle = _Handle(status=[ready, full, ActorDiedError()])
    remote = RemoteAnswering(handle, settings)
    assert asyncio.run(remote.current_status()) is ready
    assert asyncio.run(remote.current_status()) is ready  # busy replicas: the last status stands
    assert asyncio.run(remote.current_status()) is ready
    fresh = RemoteAnswering(_Handle(status=[full]), settings)
    status = asyncio.run(fresh.current_status())
    assert not status.ready and "no answering replica is up yet" in (status.reason or "")

    with pytest.raises(Saturated):
        asyncio.run(RemoteAnswering(_Handle(reindex=[full]), settings).reindex())
    with pytest.raises(NotReady):
        asyncio.run(RemoteAnswering(_Handle(reindex=[ActorDiedError()]), settings).reindex())
