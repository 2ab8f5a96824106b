"""The Sources panel in a real browser (Debian's chromium, driven by Playwright): listing the documents, uploading
a PDF with an editor key, answering from it with its page, refusing a scanned PDF, and removing a document."""

from pathlib import Path

import httpx
import pytest
from conftest import ARTIFACTS, CHROMIUM, served_copy

from bench.sample_documents import REPORT_FACTS, REPORT_TITLE, report_pdf, scanned_pdf
from bench.server import ServerProcess

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed (apt-get install chromium)"),
]

READER_KEY = "reader-key"
EDITOR_KEY = "editor-key"
VISIT_QUESTION = "When did inspectors visit Westmoor Community Hospital?"
SLOW_MS = 120_000  # an upload is answered once the file is read, embedded and the new index published


@pytest.fixture(scope="module")
def keyed_server(seed_index_dir, tmp_path_factory):
    """A server over its own copy of the seed corpus and index, with a read key and an editor key."""
    live = ServerProcess(
        {
            **served_copy(seed_index_dir, tmp_path_factory, "sources"),
            "QA_API_KEYS": f'["{READER_KEY}"]',
            "QA_EDITOR_KEYS": f'["{EDITOR_KEY}"]',
            "QA_INDEX_POLL_S": "0",
        },
        tmp_path_factory.mktemp("logs") / "sources.log",
    )
    try:
        live.wait_ready(timeout=180)
        yield live
    finally:
        live.stop()


@pytest.fixture
def phone_page(chromium):
    context = chromium.new_context(viewport={"width": 390, "height": 844})  # a phone-sized screen
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()


def seed_title(server) -> str:
    listing = httpx.get(server.url + "/documents", headers={"Authorization": f"Bearer {READER_KEY}"}, timeout=30)
    assert listing.status_code == 200, listing.text
    (seed,) = listing.json()["documents"]
    return seed["title"]


def test_upload_answer_with_page_refuse_scan_and_remove(keyed_server, phone_page, tmp_path):
    from playwright.sync_api import expect

    page = phone_page
    page.set_default_timeout(30_000)
    title = seed_title(keyed_server)
    report = tmp_path / "westmoor-report.pdf"
    report.write_bytes(report_pdf())
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(scanned_pdf())

    page.goto(keyed_server.url + "/")
    sources = page.get_by_role("region", name="Sources")
    expect(sources.get_by_role("heading", name="Sources")).to_be_visible()
    documents = sources.locator("li.doc")
    upload_form = page.locator("#upload-form")
    status = page.locator("#upload-status")

    # No key yet: the panel says why it has no list, and the page still works.
    expect(sources).to_contain_text("missing API key")
    expect(upload_form).to_be_hidden()

    # A key that may ask: the list, but no way to change it.
    page.locator("summary", has_text="Access key").click()
    page.get_by_label("API key").fill(READER_KEY)
    expect(documents).to_have_count(1)
    expect(documents.first).to_contain_text(title)
    expect(documents.first).to_contain_text("2025-10-23")
    expect(documents.first).to_contain_text("text")
    expect(documents.first).to_contain_text("passage")
    expect(upload_form).to_be_hidden()
    expect(sources.get_by_role("button", name="Remove")).to_have_count(0)

    # The editor key: the upload form and a Remove button per document.
    page.get_by_label("Editor key").fill(EDITOR_KEY)
    expect(upload_form).to_be_visible()
    expect(sources.get_by_role("button", name=f"Remove {title}")).to_be_visible()

    # Upload the PDF report: the button is disabled meanwhile; then the status and the list say what was added.
    page.get_by_label("Add a document").set_input_files(str(report))
    upload = page.get_by_role("button", name="Upload", exact=True)
    upload.click()
    expect(upload).to_be_disabled()
    expect(status).to_contain_text(f"Added: {REPORT_TITLE} (", timeout=SLOW_MS)
    expect(status).to_contain_text("passages)")
    expect(upload).to_be_enabled()
    report_item = documents.filter(has_text=REPORT_TITLE)
    expect(documents).to_have_count(2)
    expect(report_item).to_contain_text("PDF, 20 pages")

    # An answer from the report names its page.
    page.get_by_label("Your question").fill(VISIT_QUESTION)
    page.get_by_role("button", name="Ask", exact=True).click()
    top = page.locator("article.result").first
    expect(top.locator("mark.highlight")).to_contain_text(REPORT_FACTS[VISIT_QUESTION])
    expect(top.locator(".source")).to_contain_text(REPORT_TITLE)
    expect(top.locator(".source .page")).to_have_text("page 2")
    expect(top.locator(".source")).to_contain_text("page 2")

    # A scanned PDF is refused with the server's reason, in the error style; nothing is added.
    page.get_by_label("Add a document").set_input_files(str(scan))
    upload.click()
    expect(status).to_contain_text("no text layer", timeout=SLOW_MS)
    expect(status).to_contain_text("scan.pdf")
    expect(status).to_have_class("status failed")
    expect(documents).to_have_count(2)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-sources.png"), full_page=True)

    # Remove the report (accepting the confirmation): it leaves the list.
    page.on("dialog", lambda dialog: dialog.accept())
    sources.get_by_role("button", name=f"Remove {REPORT_TITLE}").click()
    expect(status).to_contain_text(f"Removed: {REPORT_TITLE}", timeout=SLOW_MS)
    expect(report_item).to_have_count(0)
    expect(documents).to_have_count(1)
    expect(documents.first).to_contain_text(title)
    assert page.errors == []


def test_open_service_offers_uploads_without_a_key(server, phone_page):
    """With no keys configured (the local default) the form and the Remove buttons show without a key."""
    from playwright.sync_api import expect

    page = phone_page
    page.goto(server.url + "/")
    sources = page.get_by_role("region", name="Sources")
    expect(sources.locator("li.doc")).to_have_count(1)
    expect(page.locator("#upload-form")).to_be_visible()
    expect(sources.get_by_role("button", name="Remove")).to_have_count(1)
    assert page.get_by_label("Editor key").input_value() == ""
    assert page.errors == []
