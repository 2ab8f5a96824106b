"""Documents over HTTP, against a real server: uploads with an editor key answer their questions with the right
document and page; the same file twice is one document; a removed one is never cited again; bad files get a 4xx and
change nothing; who may write; and uploads and removals survive a restart, and a kill in the middle of an add."""

from __future__ import annotations

import shutil
import signal
import threading
import time

import httpx
import pytest
from conftest import SEED_DOC_ID, SEEDS, LiveServer

from bench.sample_documents import (
    NEWS_PAGE_FACTS,
    NEWS_PAGE_TITLE,
    REPORT_ANSWER_PAGE,
    REPORT_FACTS,
    board_paper_docx,
    docx_bomb,
    news_page_html,
    report_pdf,
    scanned_pdf,
)

READ = {"Authorization": "Bearer reader-key"}
EDIT = {"Authorization": "Bearer editor-key"}
UPLOAD_LIMIT = 3_000_000


def _environment(tmp_path, seed_index_dir) -> dict[str, str]:
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    shutil.copy(SEEDS / f"{SEED_DOC_ID}.txt", corpus_dir)
    shutil.copytree(seed_index_dir, tmp_path / "index")
    return {
        "QA_CORPUS_DIR": str(corpus_dir),
        "QA_INDEX_DIR": str(tmp_path / "index"),
        "QA_API_KEYS": '["reader-key"]',
        "QA_EDITOR_KEYS": '["editor-key"]',
        "QA_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
        "QA_INDEX_POLL_S": "0",
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory, seed_index_dir):
    tmp_path = tmp_path_factory.mktemp("documents")
    env = _environment(tmp_path, seed_index_dir)
    server = LiveServer(env, tmp_path / "server.log")
    server.wait_ready(timeout=180)
    server.env = env
    server.tmp_path = tmp_path
    yield server
    server.stop()


def _upload(base: str, name: str, raw: bytes, headers=EDIT, **form) -> httpx.Response:
    return httpx.post(base + "/documents", files={"file": (name, raw)}, data=form, headers=headers, timeout=120)


def _ask(url: str, question: str) -> dict:
    response = httpx.post(url + "/ask", json={"question": question}, headers=READ, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def _listed(url: str) -> dict[str, dict]:
    response = httpx.get(url + "/documents", headers=READ, timeout=30)
    assert response.status_code == 200, response.text
    return {d["doc_id"]: d for d in response.json()["documents"]}


def test_uploaded_page_and_pdf_answer_with_document_and_page(live):
    page = _upload(live.url, "harbourside-ward.html", news_page_html().encode())
    assert page.status_code == 201, page.text
    body = page.json()
    assert body["status"] == "added" and body["doc_id"] == "harbourside-ward" and body["title"] == NEWS_PAGE_TITLE
    assert body["date"] == "2025-03-14" and body["source"] == "harbourside-ward.html" and body["passages"] > 0

    report = _upload(live.url, "Westmoor report.pdf", report_pdf(pages=20), title="Westmoor inspection 2024")
    assert report.status_code == 201, report.text
    assert report.json()["doc_id"] == "Westmoor-report" and report.json()["title"] == "Westmoor inspection 2024"

    listed = _listed(live.url)
    assert listed["Westmoor-report"]["type"] == "pdf" and listed["Westmoor-report"]["pages"] == 20
    assert listed["harbourside-ward"]["type"] == "html" and listed["harbourside-ward"]["added_at"]
    assert SEED_DOC_ID in listed

    for question, expected in REPORT_FACTS.items():
        first = _ask(live.url, question)["answers"][0]
        assert expected in first["text"] or first["text"] in expected, (question, first["text"])
        citation = first["citation"]
        assert citation["doc_id"] == "Westmoor-report" and citation["page"] == REPORT_ANSWER_PAGE
        detail = httpx.get(live.url + "/documents/Westmoor-report", headers=READ, timeout=30).json()
        assert detail["text"][citation["answer_start"] : citation["answer_end"]] == first["text"]
    question, expected = next(iter(NEWS_PAGE_FACTS.items()))
    first = _ask(live.url, question)["answers"][0]
    assert first["text"] == expected and first["citation"]["doc_id"] == "harbourside-ward"
    assert first["citation"]["page"] is None

    chat = httpx.post(
        live.url + "/v1/chat/completions",
        json={"model": "newsqa-extractive", "messages": [{"role": "user", "content": next(iter(REPORT_FACTS))}]},
        headers=READ,
        timeout=60,
    ).json()
    assert chat["citations"][0]["page"] == REPORT_ANSWER_PAGE
    assert "page 2" in chat["choices"][0]["message"]["content"]


def test_the_same_file_twice_is_one_document(live):
    raw = board_paper_docx()
    first = _upload(live.url, "winter-plan.docx", raw)
    assert first.status_code == 201 and first.json()["status"] in ("added", "unchanged")
    count = len(_listed(live.url))
    again = _upload(live.url, "winter-plan.docx", raw)
    assert again.status_code == 201 and again.json()["status"] == "unchanged"
    assert len(_listed(live.url)) == count


def test_a_removed_document_is_never_cited_again_not_even_from_the_cache(live):
    assert _upload(live.url, "elm-clinic.txt", b"date 2025-02-02\nThe Elm Street clinic will close on 30 June, the "
                   b"practice manager Dana Brook said.").status_code == 201  # fmt: skip
    question = "When will the Elm Street clinic close?"
    cited = _ask(live.url, question)
    assert cited["answers"] and cited["answers"][0]["citation"]["doc_id"] == "elm-clinic"
    assert _ask(live.url, question)["timings_ms"].keys() == {"total"}  # asked again: from the answer cache
    removed = httpx.delete(live.url + "/documents/elm-clinic", headers=EDIT, timeout=60)
    assert removed.status_code == 200 and removed.json() == {"doc_id": "elm-clinic", "status": "removed"}
    after = _ask(live.url, question)
    assert all(a["citation"]["doc_id"] != "elm-clinic" for a in after["answers"])
    assert all(p["doc_id"] != "elm-clinic" for p in after["passages"])
    assert "elm-clinic" not in _listed(live.url)
    assert httpx.get(live.url + "/documents/elm-clinic", headers=READ).status_code == 404
    assert httpx.delete(live.url + "/documents/elm-clinic", headers=EDIT).status_code == 404


@pytest.mark.parametrize(
    "name, raw, status, reason",
    [
        ("notes.exe", b"MZ\x90\x00", 415, "unsupported type (.exe)"),
        ("scan.pdf", scanned_pdf(), 422, "no text layer"),
        ("locked.pdf", report_pdf(pages=2, encrypt_with="secret"), 422, "encrypted"),
        ("broken.pdf", report_pdf(pages=2)[:300], 422, "corrupt"),
        ("empty.txt", b"", 422, "empty"),
        ("bomb.docx", docx_bomb(60_000_000), 413, "decompression bomb"),
        ("huge.txt", b"word " * (UPLOAD_LIMIT // 5 + 10), 413, "larger than"),
        ("collection.jsonl", b'{"text": "a"}\n', 415, "collection"),
    ],
)
def test_bad_files_get_a_4xx_with_the_reason_and_change_nothing(live, name, raw, status, reason):
    corpus_dir = live.tmp_path / "corpus"
    before_files = sorted(p.name for p in corpus_dir.iterdir())
    before = _listed(live.url)
    response = _upload(live.url, name, raw)
    assert response.status_code == status, response.text
    assert reason in response.json()["error"] and response.json()["status"] == status
    assert _listed(live.url) == before
    assert sorted(p.name for p in corpus_dir.iterdir()) == before_files


def test_bad_form_fields_and_requests(live):
    assert _upload(live.url, "n.txt", b"Some text here.", date="14 March").status_code == 422
    assert _upload(live.url, "n.txt", b"Some text here.", url="javascript:alert(1)").status_code == 422
    no_file = httpx.post(live.url + "/documents", data={"title": "x"}, headers=EDIT, timeout=30)
    assert no_file.status_code == 422 and "file" in no_file.json()["error"]
    no_name = httpx.post(live.url + "/documents", files={"file": ("", b"text")}, headers=EDIT, timeout=30)
    assert no_name.status_code == 422
    assert httpx.delete(live.url + f"/documents/{SEED_DOC_ID}x", headers=EDIT).status_code == 404


def test_a_name_whose_id_is_taken_is_stored_beside_it(live):
    page = _upload(live.url, "ash-ward.txt", b"The Ash ward at Harbourside reopened in May after a deep clean.")
    other = _upload(live.url, "ash-ward.pdf", report_pdf(pages=1))
    assert page.status_code == other.status_code == 201, other.text
    assert page.json()["doc_id"] == "ash-ward" and other.json()["doc_id"] == "ash-ward-2"
    assert other.json()["status"] == "added" and other.json()["source"] == "ash-ward-2.pdf"


def test_writes_from_another_site_are_refused_before_the_body_is_read(live):
    cross = _upload(live.url, "n.txt", b"Some text here.", headers={**EDIT, "Origin": "https://evil.example"})
    assert cross.status_code == 403 and "cross-site" in cross.json()["error"]
    fetch = _upload(live.url, "n.txt", b"Some text here.", headers={**EDIT, "Sec-Fetch-Site": "cross-site"})
    assert fetch.status_code == 403
    same = _upload(live.url, "same-site.txt", b"A note from the Oak ward.", headers={**EDIT, "Origin": live.url})
    assert same.status_code == 201, same.text
    # No key: refused at once, even for a body of several MB that is never read.
    started = time.perf_counter()
    unread = _upload(live.url, "big.txt", b"x" * 2_500_000, headers={})
    assert unread.status_code == 401 and time.perf_counter() - started < 10


@pytest.mark.parametrize(
    "method, path, headers, status",
    [
        ("post", "/documents", {}, 401),
        ("post", "/documents", READ, 403),
        ("post", "/documents", {"Authorization": "Bearer wrong"}, 401),
        ("delete", "/documents/anything", {}, 401),
        ("delete", "/documents/anything", READ, 403),
        ("post", "/admin/reindex", READ, 403),
        ("post", "/admin/reindex", {}, 401),
        ("get", "/documents", {}, 401),
        ("get", "/documents", READ, 200),
        ("get", "/documents", EDIT, 200),
        ("get", "/ask?q=When+was+the+CQC+visit%3F", EDIT, 200),
    ],
)
def test_who_may_write(live, method, path, headers, status):
    kwargs = {"files": {"file": ("k.txt", b"Key test text here.")}} if path == "/documents" and method == "post" else {}
    response = getattr(httpx, method)(live.url + path, headers=headers, timeout=60, **kwargs)
    assert response.status_code == status, response.text


def test_an_open_server_lists_documents_without_a_key(server):
    listed = httpx.get(server.url + "/documents", timeout=30)
    assert listed.status_code == 200 and [d["doc_id"] for d in listed.json()["documents"]] == [SEED_DOC_ID]


def test_uploads_and_removals_survive_a_restart(live, tmp_path):
    rowan = b"date 2025-06-01\nThe Rowan ward has a new matron, Ada Quill, who joined from a hospital in Kent."
    assert _upload(live.url, "rowan-ward.txt", rowan, title="Rowan ward matron").status_code == 201
    assert _upload(live.url, "gone.txt", b"The Yew ward closed in 2020.").status_code == 201
    assert httpx.delete(live.url + "/documents/gone", headers=EDIT, timeout=60).status_code == 200
    listed = _listed(live.url)
    assert "rowan-ward" in listed and "gone" not in listed
    question = "Who is the new matron of the Rowan ward?"
    answer = _ask(live.url, question)["answers"][0]
    assert answer["text"] == "Ada Quill" and answer["citation"]["title"] == "Rowan ward matron"
    env = {**live.env, "QA_INDEX_DIR": str(tmp_path / "index")}
    shutil.copytree(live.env["QA_INDEX_DIR"], env["QA_INDEX_DIR"])
    restarted = LiveServer(env, tmp_path / "restarted.log")
    try:
        restarted.wait_ready(timeout=180)
        assert _listed(restarted.url).keys() == listed.keys()
        again = _ask(restarted.url, question)["answers"][0]
        assert (again["text"], again["citation"]["doc_id"], again["citation"]["title"]) == (
            answer["text"],
            answer["citation"]["doc_id"],
            answer["citation"]["title"],
        )
    finally:
        restarted.stop()


def test_a_server_killed_in_the_middle_of_an_add_restarts_with_the_old_state_or_the_new(tmp_path, seed_index_dir):
    """SIGKILL while a long PDF is being added (its file stored, its passages being embedded): the restarted server
    answers from the corpus folder's state, with the document fully indexed or absent, never half."""
    env = {**_environment(tmp_path, seed_index_dir), "QA_API_KEYS": "[]", "QA_EDITOR_KEYS": "[]"}
    raw = report_pdf(pages=150)
    server = LiveServer(env, tmp_path / "killed.log")
    outcome: dict[str, object] = {}
    try:
        server.wait_ready(timeout=180)

        def upload() -> None:
            try:
                outcome["response"] = _upload(server.url, "long-report.pdf", raw, headers={})
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=upload)
        thread.start()
        deadline = time.time() + 60
        while not (tmp_path / "corpus" / "long-report.pdf").exists() and time.time() < deadline:
            time.sleep(0.02)
        assert (tmp_path / "corpus" / "long-report.pdf").exists(), "the upload never stored its file"
        server.process.send_signal(signal.SIGKILL)
        thread.join(timeout=60)
    finally:
        server.process.kill()
        server.process.wait()
    assert "error" in outcome, "the add finished before the kill: no kill in the middle was tested"
    visible = [p.name for p in (tmp_path / "corpus").iterdir() if not p.name.startswith(".")]
    assert sorted(visible) in ([f"{SEED_DOC_ID}.txt"], sorted([f"{SEED_DOC_ID}.txt", "long-report.pdf"]))

    restarted = LiveServer(env, tmp_path / "restarted.log")
    try:
        restarted.wait_ready(timeout=300)
        listed = httpx.get(restarted.url + "/documents", timeout=30).json()["documents"]
        ids = {d["doc_id"] for d in listed}
        on_disk = (tmp_path / "corpus" / "long-report.pdf").exists()
        assert ("long-report" in ids) == on_disk  # the index is level with the folder
        if on_disk:
            first = _ask_open(restarted.url, next(iter(REPORT_FACTS)))["answers"][0]
            assert first["citation"]["doc_id"] == "long-report" and first["citation"]["page"] == REPORT_ANSWER_PAGE
        # The service goes on taking changes after the kill.
        again = httpx.post(restarted.url + "/documents", files={"file": ("long-report.pdf", raw)}, timeout=300)
        assert again.status_code == 201 and again.json()["status"] in ("added", "unchanged")
    finally:
        restarted.stop()


def _ask_open(url: str, question: str) -> dict:
    return httpx.post(url + "/ask", json={"question": question}, timeout=60).json()
