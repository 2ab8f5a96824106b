"""`qa eval conversations`: follow-up questions answered with and without their conversation.

The set (`eval/conversations/conversations.jsonl`) holds conversations over the news set's validation articles:
a first, self-contained question, then follow-ups that are ambiguous alone ("What was it rated?"), sometimes a
switch to another article (a self-contained question about it) and its own follow-ups. Every turn has its gold
answers and article; every follow-up has a self-contained rewrite. All turns are asked of one index of every news
article, so a follow-up alone competes with 200 similar stories.

Each conversation may also hold unanswerable follow-ups: near misses of a real follow-up that the article does not
answer ("Who led the inspection?" when no inspector is named), each asked after a given turn with the conversation
so far, alone and as its rewrite. They are asked beside the conversation, never inserted into it, so the turns after
them keep their history; the right response is no answer (it scores 1, an answer 0, as in SQuAD 2.0).

Reported per kind of turn: first turns; follow-ups with the conversation (the service as chat clients use it);
the same follow-ups alone (no history: what the service did before); their rewrites (the ceiling a perfect
rewriter would reach); switches; and the unanswerable follow-ups the same three ways. Figures: answer F1 (the
service's decision; an abstention scores 0 on an answerable turn, 1 on an unanswerable one), forced F1 (the best
span, as if it had to answer), right article (the best span's article is the turn's), and the article among the
passages read.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from tqdm.auto import tqdm

from eval.jsonl import read_jsonl
from eval.news_set import NewsSet
from eval.report import markdown_table, write_json, write_markdown
from qa.config import PROJECT_ROOT
from qa.metrics import score_prediction
from qa.pipeline import QAPipeline

log = logging.getLogger(__name__)

CONVERSATIONS_FILE = PROJECT_ROOT / "eval" / "conversations" / "conversations.jsonl"
KINDS = (
    "first",
    "follow-up with conversation",
    "follow-up alone",
    "rewrite",
    "switch",
    "unanswerable follow-up with conversation",
    "unanswerable follow-up alone",
    "unanswerable rewrite",
)


class ConversationSetError(ValueError):
    """The conversation set is malformed; the message names the file, line and turn."""


class Turn(BaseModel):
    question: str = Field(min_length=1)
    article: str = Field(min_length=1)
    answers: list[str] = Field(min_length=1)
    evidence: list[str] = Field(min_length=1)
    kind: Literal["first", "follow-up", "switch"]
    rewrite: str | None = None

    @model_validator(mode="after")
    def _rewrite_for_follow_ups(self) -> "Turn":
        if self.kind == "follow-up" and not (self.rewrite and self.rewrite.strip()):
            raise ValueError("a follow-up needs its self-contained 'rewrite'")
        if self.kind != "follow-up" and self.rewrite:
            raise ValueError("only follow-ups have a rewrite")
        return self


class UnansweredFollowUp(BaseModel):
    """A follow-up the conversation's article does not answer, asked after turn `after_turn` (1-based)."""

    after_turn: int = Field(ge=1)
    question: str = Field(min_length=1)
    rewrite: str = Field(min_length=1, description="the same question made self-contained")
    why_unanswerable: str = Field(min_length=1, description="what the article says instead, quoted")


class Conversation(BaseModel):
    id: str = Field(min_length=1)
    turns: list[Turn] = Field(min_length=2)
    unanswerable: list[UnansweredFollowUp] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape(self) -> "Conversation":
        for item in self.unanswerable:
            if item.after_turn > len(self.turns):
                raise ValueError(f"unanswerable {item.question!r}: after_turn {item.after_turn} is past the last turn")
        if self.turns[0].kind != "first":
            raise ValueError("the first turn's kind must be 'first'")
        for before, turn in zip(self.turns, self.turns[1:]):
            if turn.kind == "first":
                raise ValueError("only the first turn is 'first'")
            if turn.kind == "follow-up" and turn.article != before.article:
                raise ValueError(f"follow-up {turn.question!r} is about another article than the turn before")
        return self


def load_conversations(path: Path, news: NewsSet, split: str = "validation") -> list[Conversation]:
    """Read and check the set: articles of `split` only (validation for the eval set, train for the reader's
    training conversations), answers and evidence verbatim, ids unique."""
    conversations = read_jsonl(Path(path), Conversation, ConversationSetError)
    problems = []
    for name, count in Counter(c.id for c in conversations).items():
        if count > 1:
            problems.append(f"{path}: conversation id {name!r} used {count} times")
    for number, conversation in enumerate(conversations, start=1):
        for position, turn in enumerate(conversation.turns, start=1):
            at = f"{path}:{number} ({conversation.id}, turn {position})"
            article = news.articles.get(turn.article)
            if article is None:
                problems.append(f"{at}: unknown article {turn.article!r}")
                continue
            if article.split != split:
                problems.append(f"{at}: {turn.article} is a {article.split} article; this set uses {split}")
            text = news.documents[turn.article].text
            for answer in turn.answers:
                if answer not in text or not any(answer in e for e in turn.evidence):
                    problems.append(f"{at}: answer {answer!r} is not verbatim in an evidence sentence of the article")
            for sentence in turn.evidence:
                if sentence not in text:
                    problems.append(f"{at}: evidence {sentence[:50]!r} is not verbatim in {turn.article}")
    if problems:
        raise ConversationSetError("\n".join(problems))
    return conversations


def _ask(
    pipeline: QAPipeline, question: str, article: str, gold: list[str], history: list[str], history_turns: int | None
) -> dict:
    """One question as the service answers it; `gold` empty: unanswerable (no answer is right)."""
    reading = pipeline.read(question, history=history, history_turns=history_turns)
    answers = pipeline.decide(reading)
    scored = pipeline.score(reading)
    best = scored[0] if scored else None
    forced: float | None = None  # an unanswerable turn has no span to force: no forced F1 (not 0)
    if gold:
        f1 = score_prediction(answers[0].text, gold)[1] if answers else 0.0
        forced = score_prediction(best.text, gold)[1] if best else 0.0
    else:
        f1 = float(not answers)
    return {
        "question": question,
        "answerable": bool(gold),
        "prediction": answers[0].text if answers else "",
        "predicted_article": answers[0].citation.doc_id if answers else None,
        "f1": f1,
        "best_span": best.text if best else "",
        "best_span_score": best.score if best else None,
        "best_span_article": best.doc_id if best else None,
        "forced_f1": forced,
        "right_article": bool(best and best.doc_id == article),
        "article_read": any(hit.passage.doc_id == article for hit in reading.retrieved),
        "history_used": list(reading.history.questions),
    }


def _mean(values: list[float]) -> float | None:
    """The mean, or None for no values (a kind of turn with nothing to average)."""
    return sum(values) / len(values) if values else None


def _blank(value: float | None) -> float | str:
    return "" if value is None else value


def evaluate_conversations(
    pipeline: QAPipeline,
    conversations: list[Conversation],
    out_dir: Path,
    history_turns: int | None = None,
) -> dict[str, Any]:
    """Ask every turn as a chat client would (with the conversation so far), and each follow-up also alone and as
    its rewrite, and the same for each unanswerable follow-up after its turn; write conversations_eval.json and .md
    to `out_dir`."""
    rows: list[dict[str, Any]] = []
    turns_total = sum(len(c.turns) + len(c.unanswerable) for c in conversations)
    with tqdm(total=turns_total, desc="conversation turns", unit="turn") as progress:
        for conversation in conversations:
            history: list[str] = []
            for position, turn in enumerate(conversation.turns, start=1):
                base = {"conversation": conversation.id, "turn": position, "article": turn.article}
                if turn.kind == "follow-up":
                    assert turn.rewrite is not None  # checked on loading
                    asked = [
                        ("follow-up with conversation", turn.question, history, history_turns),
                        ("follow-up alone", turn.question, [], 0),
                        ("rewrite", turn.rewrite, [], 0),
                    ]
                else:
                    # A first question or a switch is self-contained: asked with the conversation, as in use.
                    asked = [(turn.kind, turn.question, history, history_turns)]
                for kind, question, earlier, turns in asked:
                    rows.append(
                        {**base, "kind": kind, **_ask(pipeline, question, turn.article, turn.answers, earlier, turns)}
                    )
                history.append(turn.question)
                progress.update(1)
                for item in (u for u in conversation.unanswerable if u.after_turn == position):
                    base = {"conversation": conversation.id, "turn": f"after {position}", "article": turn.article}
                    for kind, question, earlier, turns in (
                        ("unanswerable follow-up with conversation", item.question, history, history_turns),
                        ("unanswerable follow-up alone", item.question, [], 0),
                        ("unanswerable rewrite", item.rewrite, [], 0),
                    ):
                        rows.append(
                            {**base, "kind": kind, **_ask(pipeline, question, turn.article, [], earlier, turns)}
                        )
                    progress.update(1)
    summary: dict[str, Any] = {}
    for kind in KINDS:
        group = [r for r in rows if r["kind"] == kind]
        if not group:
            continue
        summary[kind] = {
            "turns": len(group),
            "f1": sum(r["f1"] for r in group) / len(group),
            "forced_f1": _mean([r["forced_f1"] for r in group if r["forced_f1"] is not None]),
            "right_article": sum(r["right_article"] for r in group) / len(group),
            "article_read": sum(r["article_read"] for r in group) / len(group),
            "abstained": sum(not r["prediction"] for r in group) / len(group),
            "history_used": sum(bool(r["history_used"]) for r in group) / len(group),
        }
    follow, rewrite = summary.get("follow-up with conversation"), summary.get("rewrite")
    if follow and rewrite:
        summary["follow_up_f1_share_of_rewrites"] = follow["f1"] / rewrite["f1"] if rewrite["f1"] else None
    # Answerable and unanswerable follow-ups together: what a lower bar for follow-ups gains and costs.
    for name, kinds in (
        (
            "all follow-ups with conversation",
            ("follow-up with conversation", "unanswerable follow-up with conversation"),
        ),
        ("all rewrites", ("rewrite", "unanswerable rewrite")),
    ):
        group = [r for r in rows if r["kind"] in kinds]
        if group and any(not r["answerable"] for r in group):
            summary[name] = {"turns": len(group), "f1": sum(r["f1"] for r in group) / len(group)}
    summary["conversations"] = len(conversations)
    summary["history_turns"] = pipeline.settings.history_turns if history_turns is None else history_turns
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "conversations_eval.json", {"summary": summary, "turns": rows})
    table = [
        (kind, s["turns"], s["f1"], _blank(s["forced_f1"]), s["right_article"], s["article_read"], s["abstained"])
        for kind, s in summary.items()
        if isinstance(s, dict) and "forced_f1" in s
    ]
    table += [(kind, s["turns"], s["f1"], "", "", "", "") for kind, s in summary.items() if kind.startswith("all ")]
    misses = [
        (r["conversation"], r["turn"], r["question"], r["prediction"] or "(no answer)", r["best_span_article"])
        for r in rows
        if r["kind"] in ("follow-up with conversation", "unanswerable follow-up with conversation") and r["f1"] < 0.5
    ]
    write_markdown(
        out_dir / "conversations_eval.md",
        "Conversations: follow-ups with and without their conversation",
        [
            (
                "by kind of turn",
                markdown_table(
                    table,
                    ("turns", "n", "answer F1", "forced F1", "right article", "article read", "abstained"),
                ),
            ),
            (
                "follow-ups with the conversation that missed (F1 < 0.5; unanswerable ones answered)",
                markdown_table(misses, ("conversation", "turn", "question", "answer", "best span's article")),
            ),
        ],
    )
    return summary
