"""Fault injection against real servers: bad index states keep the process up with /ready false, a saturated
server answers 503 with Retry-After, and SIGTERM lets questions in flight finish."""

import shutil
import signal
import threading
import time

import httpx
from conftest import SEEDS, LiveServer

from qa.index import current_build_dir


def start(tmp_path, env, name):
    live = LiveServer({"QA_CORPUS_DIR": str(SEEDS), **env}, tmp_path / f"{name}.log")
    return live


def wait_for(live, predicate, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            r = httpx.get(live.url + "/ready", timeout=2)
            if predicate(r):
                return r
        except httpx.HTTPError:
            pass
        assert live.process.poll() is None, live.log_path.read_text()[-2000:]
        time.sleep(0.3)
    raise AssertionError("condition not reached; log: " + live.log_path.read_text()[-2000:])


def assert_not_ready_but_alive(live, fragment):
    """The server stays up with /ready false for `fragment`'s reason; it is stopped afterwards."""
    try:
        _check_not_ready_but_alive(live, fragment)
    finally:
        live.stop()


def _check_not_ready_but_alive(live, fragment):
    r = wait_for(live, lambda r: r.status_code == 503 and "loading" not in r.json()["reason"])
    assert fragment in r.json()["reason"], r.json()
    ask = httpx.post(live.url + "/ask", json={"question": "When was the CQC visit?"})
    assert ask.status_code == 503 and "not ready" in ask.json()["error"] and ask.headers["retry-after"]
    assert httpx.get(live.url + "/health").status_code == 200
    time.sleep(1)
    assert live.process.poll() is None, "no crash loop: the process stays up"


def test_missing_index_with_auto_build_off(tmp_path):
    live = start(tmp_path, {"QA_INDEX_DIR": str(tmp_path / "none"), "QA_AUTO_BUILD": "false"}, "missing")
    assert_not_ready_but_alive(live, "qa index")


def test_corrupt_index_file(tmp_path, seed_index_dir):
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir)
    (current_build_dir(index_dir) / "passages.jsonl").write_text("garbage\n")
    live = start(tmp_path, {"QA_INDEX_DIR": str(index_dir), "QA_AUTO_BUILD": "false"}, "corrupt")
    assert_not_ready_but_alive(live, "passages.jsonl is corrupt")


def test_changed_corpus_is_reported_when_auto_build_is_off(tmp_path, seed_index_dir):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "extra.txt").write_text("date 2025-11-01\nThe new ward opened on Monday.", encoding="utf-8")
    live = LiveServer(
        {"QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(seed_index_dir), "QA_AUTO_BUILD": "false"},
        tmp_path / "stale.log",
    )
    assert_not_ready_but_alive(live, "corpus changed")


def test_saturation_gives_503_with_retry_after_and_sigterm_drains(tmp_path, seed_index_dir):
    live = start(
        tmp_path, {"QA_INDEX_DIR": str(seed_index_dir), "QA_MAX_PENDING": "1", "QA_INFERENCE_WORKERS": "1"}, "busy"
    )
    try:
        live.wait_ready()
        results = []

        def call():
            r = httpx.post(live.url + "/ask", json={"question": "When was the CQC visit?"}, timeout=60)
            results.append(r)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in results)
        assert 200 in codes and 503 in codes, codes
        busy = next(r for r in results if r.status_code == 503)
        assert busy.headers["retry-after"] == "1" and "busy" in busy.json()["error"]

        # SIGTERM with a question in flight: it still gets its answer, then the process exits cleanly.
        in_flight = []
        t = threading.Thread(
            target=lambda: in_flight.append(
                httpx.post(live.url + "/ask", json={"question": "Who is the Trust’s chief nurse?"}, timeout=60)
            )
        )
        t.start()
        time.sleep(0.05)
        live.process.send_signal(signal.SIGTERM)
        t.join()
        assert in_flight and in_flight[0].status_code == 200 and in_flight[0].json()["answers"][0]["text"] == "Liz Lees"
        # uvicorn re-raises the signal after its graceful shutdown, so the status is 0 or "ended by SIGTERM".
        assert live.process.wait(timeout=60) in (0, -signal.SIGTERM)
        assert "finishing questions in flight" in live.log_path.read_text()
    finally:
        if live.process.poll() is None:
            live.stop()


def test_reindex_while_serving_swaps_atomically(tmp_path, seed_index_dir):
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir)
    live = start(tmp_path, {"QA_INDEX_DIR": str(index_dir)}, "reindex")
    try:
        live.wait_ready()
        before = httpx.get(live.url + "/ready").json()["index"]["built_at"]
        time.sleep(1.1)  # built_at has one-second resolution
        assert httpx.post(live.url + "/admin/reindex").status_code == 202
        answered = 0
        while httpx.get(live.url + "/ready").json().get("rebuilding"):
            r = httpx.post(live.url + "/ask", json={"question": "When was the CQC visit?"}, timeout=60)
            assert r.status_code == 200 and any(a["text"] == "November 2023" for a in r.json()["answers"])
            answered += 1
        after = httpx.get(live.url + "/ready").json()
        assert after["index"]["built_at"] != before and after["last_rebuild_error"] is None
        r = httpx.post(live.url + "/ask", json={"question": "When was the CQC visit?"}, timeout=60)
        assert r.status_code == 200 and any(a["text"] == "November 2023" for a in r.json()["answers"])
        assert answered >= 1, "questions were answered from the old index during the rebuild"
    finally:
        live.stop()


def test_a_second_server_switches_to_the_index_another_one_published(tmp_path, seed_index_dir):
    """Two servers over one index folder (as replicas share a published index): a reindex on one publishes a new
    build, the other switches to it within its poll interval, and every question meanwhile is answered."""
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(SEEDS, corpus)
    shutil.copytree(seed_index_dir, index_dir)
    env = {"QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": str(index_dir), "QA_INDEX_POLL_S": "0.5"}
    first = LiveServer(env, tmp_path / "first.log")
    second = LiveServer(env, tmp_path / "second.log")
    try:
        first.wait_ready()
        second.wait_ready()
        (corpus / "001_hospice_garden.txt").write_text(
            "date 2025-11-01 Wendham hospice opens a healing garden\n\n"
            "Wendham hospice opened a healing garden for patients and families on 3 November 2025. "
            "The garden was designed by the landscape architect Priya Okonkwo.\n",
            encoding="utf-8",
        )
        assert httpx.post(first.url + "/admin/reindex").status_code == 202
        deadline, answered = time.time() + 180, 0
        while httpx.get(second.url + "/ready").json()["index"]["documents"] != 2:
            assert time.time() < deadline, second.log_path.read_text()[-2000:]
            r = httpx.post(second.url + "/ask", json={"question": "Who is the Trust’s chief nurse?"}, timeout=60)
            assert r.status_code == 200 and r.json()["answers"][0]["text"] == "Liz Lees"
            answered += 1
        assert answered >= 1
        r = httpx.post(second.url + "/ask", json={"question": "Who designed the hospice garden?"}, timeout=60)
        assert r.status_code == 200 and "Priya Okonkwo" in [a["text"] for a in r.json()["answers"]]
        assert "switched to the published index" in second.log_path.read_text()
    finally:
        first.stop()
        second.stop()
