"""Regenerates eval/seed_qa.jsonl from the hand-written questions below, checking every gold answer
and evidence string is verbatim in the seed article. Run from the repository root: python -m eval.make_seed_qa"""

import json
from typing import Any

from qa.ingest import load_corpus
from qa.paths import PROJECT_ROOT

A: list[tuple[str, list[str], str | list[str]]] = [
    ("How much did the new clinical building cost?", ["£170m"], "a new £170m state-of-the-art clinical building"),
    (
        "How soon is the move into the new clinical building?",
        ["less than three weeks away", "less than three weeks"],
        "the move into a new £170m state-of-the-art clinical building is less than three weeks away",
    ),
    (
        "Which services have already relocated to the new facilities?",
        ["Critical care and surgery and theatres"],
        "Critical care and surgery and theatres have relocated to the five-storey facilities",
    ),
    ("How many storeys does the new facility have?", ["five-storey", "five"], "the five-storey facilities"),
    (
        "On which hospital site are the new facilities?",
        ["the Luton and Dunstable Hospital site", "Luton and Dunstable Hospital"],
        "the five-storey facilities at the Luton and Dunstable Hospital site",
    ),
    (
        "Which group was told about the relocation?",
        [
            "the borough council’s scrutiny health and social care review group",
            "scrutiny health and social care review group",
            "borough council’s scrutiny health and social care review group",
        ],
        "the borough council’s scrutiny health and social care review group was told",
    ),
    (
        "Which trust runs the maternity services?",
        ["Bedfordshire Hospitals NHS Foundation Trust"],
        "An extensive programme of improvement by Bedfordshire Hospitals NHS Foundation Trust",
    ),
    (
        "When was the CQC visit?",
        ["November 2023", "July"],
        ["by the Care Quality Commission (CQC) in November 2023", "The CQC made a two-day visit in July"],
    ),
    (
        "Who made unannounced visits to the maternity service?",
        ["the Care Quality Commission (CQC)", "Care Quality Commission", "CQC", "Care Quality Commission (CQC)"],
        "unannounced visits to its maternity service and units by the Care Quality Commission (CQC)",
    ),
    (
        "When did the Care Quality Commission make unannounced visits to the maternity units?",
        ["November 2023"],
        "by the Care Quality Commission (CQC) in November 2023",
    ),
    (
        "When was the final inspection outcome published?",
        ["July 2024"],
        "the final inspection outcome, published in July 2024",
    ),
    (
        "How were both maternity units rated?",
        ["inadequate", "‘inadequate’"],
        "rated both maternity units as ‘inadequate’",
    ),
    (
        "At which hospitals did outcomes for mothers and babies remain good?",
        ["Bedford Hospital and the Luton and Dunstable"],
        "remained good across Bedford Hospital and the Luton and Dunstable",
    ),
    ("Who is the Trust’s chief nurse?", ["Liz Lees"], "The Trust’s chief nurse Liz Lees"),
    ("What did the Trust seek after the feedback?", ["extra support"], "After the feedback, we sought extra support"),
    (
        "What kind of improvement programme does the Trust have?",
        [
            "a robust perinatal improvement programme",
            "perinatal improvement programme",
            "robust perinatal improvement programme",
            "perinatal",
        ],
        "There’s a robust perinatal improvement programme.",
    ),
    ("How many main themes does the improvement programme have?", ["four"], "There are four main themes"),
    (
        "What are the main themes of the improvement programme?",
        ["strengthening safety, stronger governance, culture and patient experience"],
        "four main themes, strengthening safety, stronger governance, culture and patient experience",
    ),
    (
        "How often are the workstream activities carried out?",
        ["daily and weekly"],
        "four large workstreams with daily and weekly activities",
    ),
    ("How long was the CQC’s July visit?", ["two-day", "two-day visit"], "The CQC made a two-day visit in July"),
    ("When did the CQC make a two-day visit?", ["July"], "The CQC made a two-day visit in July"),
    (
        "Which sites did the CQC visit in July?",
        ["Bedford and Luton", "both sites, Bedford and Luton", "both sites"],
        "a two-day visit in July at both sites, Bedford and Luton",
    ),
    (
        "What did the Trust do to meet service demand?",
        ["another workforce review", "workforce review"],
        "We’ve just done another workforce review to meet service demand.",
    ),
    ("Who is the Trust’s chief executive?", ["David Carter"], "Trust chief executive David Carter"),
    (
        "When will the Trust move into its new maternity and neonatal unit?",
        ["next month"],
        "as we move into our new maternity and neonatal unit next month",
    ),
    (
        "Which local authority has the highest fertility rate in the country?",
        ["Luton"],
        "Luton itself has the highest fertility rate in the country of any local authority.",
    ),
    (
        "What is the largest maternity unit in the east of England?",
        ["Luton"],
        "Luton is the largest maternity unit in the east of England",
    ),
    ("How many births does Luton have annually?", ["around 5,200", "5,200"], "with around 5,200 births annually"),
    ("Who is the Trust’s director of midwifery?", ["Emma Hardwick"], "The Trust’s director of midwifery Emma Hardwick"),
    (
        "How did the director of midwifery describe the new block?",
        ["absolutely beautiful"],
        "described the new block as “absolutely beautiful”",
    ),
    (
        "What provides clear detail of the oversight of governance mechanisms?",
        ["A quality assurance framework", "quality assurance framework"],
        "A quality assurance framework has been developed, which provides clear detail of our oversight of "
        "governance mechanisms.",
    ),
    ("How many newly qualified midwives arrived this week?", ["21"], "21 newly qualified arrived this week"),
    (
        "What has the Trust struggled to maintain in the past?",
        ["our workforce", "workforce"],
        "Clearly our workforce is really important and we’ve struggled in the past to maintain that.",
    ),
    (
        "Whom has the Trust recruited to manage the risk of women going through?",
        ["more midwives and some experienced doctors", "midwives and some experienced doctors"],
        "we’ve recruited more midwives and some experienced doctors to manage that",
    ),
    (
        "Which pregnancies has the Trust been focusing on?",
        ["our complex pregnancies", "complex pregnancies"],
        "We’ve been focusing on our complex pregnancies",
    ),
    ("Where is pregnancy risk high?", ["across the UK", "the UK", "UK"], "Pregnancy risk is high across the UK"),
    (
        "What makes the Trust one of the few Trusts of its kind?",
        ["a growth in our births", "growth in our births"],
        "We’re one of the few Trusts which have a growth in our births.",
    ),
    (
        "What did the final inspection outcome rate as inadequate?",
        ["both maternity units", "maternity units"],
        "rated both maternity units as ‘inadequate’",
    ),
    (
        "What astounds the chief nurse daily?",
        [
            "how proud people are to work there and the desire to deliver high-quality care",
            "how proud people are to work there",
        ],
        "What astounds me daily is how proud people are to work there",
    ),
    ("Who is behind the improvement programme?", ["The whole board", "whole board"], "The whole board is behind it."),
    (
        "How busy is the maternity unit, according to the chief nurse?",
        ["extremely busy", "an extremely busy unit"],
        "It’s an extremely busy unit.",
    ),
    (
        "What is the Trust still waiting for after the July visit?",
        ["some of the feedback", "feedback"],
        "we’re still waiting for some of the feedback from that",
    ),
    (
        "How did outcomes for mothers, birthing people and babies fare?",
        ["remained good", "good"],
        "The CQC confirmed outcomes for mothers, birthing people and babies remained good",
    ),
    (
        "Which conditions has the Trust focused on in women?",
        ["perinatal or mental health conditions", "perinatal or mental health"],
        "women with perinatal or mental health conditions",
    ),
    (
        "What will the vacancy rate be once more midwives arrive?",
        ["quite small", "small"],
        "our vacancy rate will be quite small",
    ),
    (
        "When are more new midwives due?",
        ["over the next few months", "the next few months", "next few months"],
        "With others due over the next few months",
    ),
    (
        "What kind of building are maternity services moving into?",
        ["a new £170m state-of-the-art clinical building", "state-of-the-art clinical building", "clinical building"],
        "the move into a new £170m state-of-the-art clinical building",
    ),
]
U = [
    "Who chairs the borough council’s scrutiny review group?",
    "How many beds does the new maternity unit have?",
    "What was the CQC rating for Bedford Hospital’s emergency department?",
    "Who designed the new clinical building?",
    "Who is the Trust’s chief financial officer?",
    "How many babies died at the Luton and Dunstable in 2023?",
    "What is the fertility rate in Luton?",
    "When will the CQC publish its report on the July visit?",
    "How many doctors did the Trust recruit?",
    "What is the population of Luton?",
    "Which construction company built the new clinical building?",
    "How many births does Bedford Hospital have each year?",
    "Who is the Secretary of State for Health?",
    "What was the maternity unit rated in 2019?",
    "How many staff work in the maternity unit?",
    "What is the name of the new maternity unit?",
    "What is the average waiting time for maternity appointments?",
    "What is the capital of France?",
]


def main() -> None:
    """Check every answer and evidence string against the seed article, then write the set."""
    doc = load_corpus(PROJECT_ROOT / "seeds").documents[0]
    T = doc.text
    rows: list[dict[str, Any]] = []
    for i, (q, answers, evidence) in enumerate(A, 1):
        evidence = evidence if isinstance(evidence, list) else [evidence]  # one string or several
        for e in evidence:
            assert e in T, e
        for a in answers:
            assert a in T, a
        rows.append(
            {
                "id": f"seed-a{i:02d}",
                "question": q,
                "answers": answers,
                "evidence": evidence,
                "doc_id": doc.id,
                "answerable": True,
            }
        )
    for i, q in enumerate(U, 1):
        rows.append(
            {"id": f"seed-u{i:02d}", "question": q, "answers": [], "evidence": [], "doc_id": None, "answerable": False}
        )
    with open(PROJECT_ROOT / "eval" / "seed_qa.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(len(A), len(U))


if __name__ == "__main__":
    main()
