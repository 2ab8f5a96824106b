"""A real browser (Debian's chromium, driven by Playwright) using the page at /."""

from pathlib import Path

import pytest
from conftest import ARTIFACTS, CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def page(server, chromium):
    context = chromium.new_context(viewport={"width": 390, "height": 844})  # a phone-sized screen
    page = context.new_page()
    page.goto(server.url + "/")
    yield page
    context.close()


def test_cqc_question_shows_highlighted_answer_and_source(page):
    page.get_by_label("Your question").fill("When was the CQC visit?")
    page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_selector("article.result")
    highlights = page.locator("mark.highlight").all_inner_texts()
    assert "November 2023" in highlights
    sources = page.locator(".source").all_inner_texts()
    assert any("2025-10-23" in s for s in sources)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-cqc.png"), full_page=True)


def test_unanswerable_question_shows_no_answer_state(page):
    page.get_by_label("Your question").fill("What is the capital of France?")
    page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_selector("#no-answer")
    assert "No answer in the corpus" in page.locator("#no-answer").inner_text()
    page.screenshot(path=str(ARTIFACTS / "browser-no-answer.png"), full_page=True)


def test_errors_are_shown_to_the_user(page):
    page.get_by_label("Your question").fill("?!")
    page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_selector(".card.error")
    assert "letter or digit" in page.locator(".card.error").inner_text()
