"""Real files of each type the service reads, made on the spot, for the corpus benchmark and the tests: a news web
page with navigation, a cookie banner, a byline, a "most read" aside and a footer; a multi-page PDF report whose
answers are on page 2; a Word file; and the bad files (a scanned PDF with no text layer, an encrypted PDF, a
corrupt one, a .docx decompression bomb).

Every hospital, place, person and figure here is invented.
"""

from __future__ import annotations

import io
import random
import zipfile

NEWS_PAGE_TITLE = "Harbourside children's ward reopens after £2.4m refit"
NEWS_PAGE_DATE = "2025-03-14"
NEWS_PAGE_FACTS = {
    "Who is the ward manager of the children's ward at Harbourside?": "Priya Okafor",
    "How much did the Harbourside children's ward refit cost?": "£2.4m",
    "How many beds does the Harbourside children's ward have now?": "28",
}
REPORT_TITLE = "Westmoor Community Hospital inspection report"
REPORT_FACTS = {  # every answer is on page 2
    "When did inspectors visit Westmoor Community Hospital?": "12 and 13 March 2024",
    "Who led the inspection of Westmoor Community Hospital?": "Dr Helen Marsh",
}
REPORT_ANSWER_PAGE = 2

_FILLER_TOPICS = [
    "the car park",
    "the volunteer service",
    "the hospital shop",
    "the estates team",
    "the patient transport service",
    "the chaplaincy",
    "the staff canteen",
    "the catering contract",
    "the laundry service",
    "the league of friends",
]
_FILLER_VERBS = ["reviewed", "discussed", "noted", "described", "mentioned", "summarised", "examined", "considered"]


def _filler(seed: int, sentences: int) -> list[str]:
    """Plain sentences about nothing anyone asks, different for each seed (no two pages alike)."""
    rng = random.Random(seed)
    out = []
    for i in range(sentences):
        topic = rng.choice(_FILLER_TOPICS)
        verb = rng.choice(_FILLER_VERBS)
        count = rng.randint(3, 90)
        out.append(
            f"Section {seed}.{i + 1} {verb} {topic}, which had {count} entries in the log for the quarter "
            f"and no change to its opening hours."
        )
    return out


def news_page_html(words: int = 800) -> str:
    """A news page of about `words` words of article text, wrapped in the parts of a page that are not the
    article (navigation, cookie banner, byline, "most read" aside, footer)."""
    facts = [
        "The children's ward at Harbourside General Hospital reopened on Monday after a refit that cost £2.4m.",
        "The ward now has 28 beds, up from 20, and a new playroom for patients waiting for surgery.",
        "Ward manager Priya Okafor said staff had helped to design the new bays.",
        "The work was paid for by the Harbourside Hospitals Charity and took eleven months.",
    ]
    paragraphs = [" ".join(facts[:2]), " ".join(facts[2:])]
    seed = 1
    while sum(len(p.split()) for p in paragraphs) < words:
        paragraphs.append(" ".join(_filler(seed, 3)))
        seed += 1
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{NEWS_PAGE_TITLE} | Harbourside Gazette</title>
<meta property="og:title" content="{NEWS_PAGE_TITLE}">
<meta property="article:published_time" content="{NEWS_PAGE_DATE}T08:30:00+00:00">
<meta name="author" content="Sam Reed">
</head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/weather">Weather</a></li></ul></nav></header>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience. Accept all cookies or
manage your cookie preferences.</div>
<main><article>
<h1>{NEWS_PAGE_TITLE}</h1>
<p class="byline">By Sam Reed, Health correspondent</p>
<time datetime="{NEWS_PAGE_DATE}">14 March 2025</time>
{body}
</article>
<aside class="most-read"><h2>Most read</h2><ol><li><a href="/a">Bus fares to rise in April</a></li>
<li><a href="/b">Council tax bills explained</a></li><li><a href="/c">Pier to close for repairs</a></li></ol></aside>
</main>
<footer><p>Copyright Harbourside Gazette 2025. All rights reserved.</p><a href="/contact">Contact us</a>
<a href="/privacy">Privacy policy</a></footer>
</body></html>
"""


def report_pdf(pages: int = 20, encrypt_with: str | None = None) -> bytes:
    """A PDF report of `pages` pages with a text layer; the inspection's facts are on page 2."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, encrypt=encrypt_with)
    pdf.setTitle(REPORT_TITLE)
    for number in range(1, pages + 1):
        if number == 1:
            lines = [REPORT_TITLE, "", "Published by the Care Quality Commission.", ""]
            lines += _filler(100 + number, 6)
        elif number == REPORT_ANSWER_PAGE:
            lines = [
                "About this inspection",
                "",
                "Inspectors visited Westmoor Community Hospital on 12 and 13 March 2024.",
                "The inspection was led by Dr Helen Marsh, a specialist adviser in community care.",
                "The hospital was rated requires improvement overall.",
                "",
            ] + _filler(100 + number, 4)
        else:
            lines = [f"Part {number}", ""] + _filler(100 + number, 8)
        text = pdf.beginText(56, 780)
        text.setFont("Helvetica", 10)
        for line in lines:
            # Wrap long sentences as a typeset page does: the text layer breaks lines mid-sentence.
            while len(line) > 95:
                cut = line[:95].rsplit(" ", 1)[0]
                text.textLine(cut)
                line = line[len(cut) + 1 :]
            text.textLine(line)
        pdf.drawText(text)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def scanned_pdf() -> bytes:
    """A PDF whose page is a picture only (no text layer), as a scanner makes."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for row in range(40):
        pdf.rect(56, 780 - row * 18, 300 + (row * 37) % 180, 9, stroke=0, fill=1)  # "lines of print"
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def board_paper_docx() -> bytes:
    """A Word file: a heading, a date line, paragraphs and a table."""
    import docx

    document = docx.Document()
    document.core_properties.title = "Northfield Trust board paper: winter plan"
    document.add_paragraph("date 2025-01-20")
    document.add_heading("Winter plan", level=1)
    document.add_paragraph(
        "The board approved a winter plan that opens 36 extra beds at Northfield General Hospital from 1 December."
    )
    document.add_paragraph("The plan was presented by the chief operating officer, Marcus Bell.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Extra beds"
    table.cell(0, 1).text = "36"
    table.cell(1, 0).text = "Cost"
    table.cell(1, 1).text = "£1.1m"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def docx_bomb(expanded_bytes: int = 300_000_000) -> bytes:
    """A .docx-shaped zip whose one part expands to `expanded_bytes` (a few hundred KB on disk)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            block = b"\0" * (1 << 20)
            for _ in range(expanded_bytes // len(block)):
                part.write(block)
    return buffer.getvalue()
