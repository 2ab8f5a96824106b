"""How well a follow-up's retrieval finds its evidence, for a grid of the conversation settings, without reading:
choose the settings on the training conversations (train articles), then read the validation set once with
`qa eval conversations`.

    python -m lab.conversation_retrieval --file eval/conversations/train.jsonl --split train \
        --history-turns 1 2 --history-query-weight 0.75 1.5 2 --history-ranking-weight 2 3

For each combination: the share of follow-ups with an evidence sentence among the first `--passages` passages
(the reader reads 4), among the first 6, and whose first passage is from the conversation's article.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Sequence

from pydantic import BaseModel


class RetrievalFigures(BaseModel):
    history_turns: int
    history_query_weight: float
    history_ranking_weight: float
    topic_ranking_weight: float
    follow_ups: int
    evidence_read: float  # evidence among the first `passages`
    evidence_in_6: float
    first_passage_right_article: float


def _follow_ups(path: Path, news, split: str) -> list[tuple[str, tuple[str, ...], list[str], str]]:
    from eval.conversations import load_conversations

    items = []
    for conversation in load_conversations(path, news, split=split):
        history: list[str] = []
        for turn in conversation.turns:
            if turn.kind == "follow-up":
                items.append((turn.question, tuple(history), list(turn.evidence), turn.article))
            history.append(turn.question)
    return items


def measure(
    path: Path,
    news_dir: Path,
    split: str,
    grid: dict[str, Sequence[float]],
    passages: int = 4,
    index_dir: Path | None = None,
) -> list[RetrievalFigures]:
    """Figures for every combination of the grid's settings (history_turns, history_query_weight,
    history_ranking_weight, topic_ranking_weight), over one index of all the news set's articles."""
    from eval.news import news_settings
    from eval.news_set import load_news_set
    from qa.config import Settings
    from qa.conversation import conversation_context
    from qa.pipeline import QAPipeline

    news = load_news_set(news_dir)
    items = _follow_ups(path, news, split)
    pipeline = QAPipeline.from_settings(news_settings(news, Settings(), index_dir))
    retriever = pipeline.retriever
    depth = max(passages, 6)
    results = []
    names = ("history_turns", "history_query_weight", "history_ranking_weight", "topic_ranking_weight")
    for values in itertools.product(*(grid[name] for name in names)):
        setting = dict(zip(names, values))
        retriever.history_query_weight = setting["history_query_weight"]
        retriever.history_ranking_weight = setting["history_ranking_weight"]
        retriever.topic_ranking_weight = setting["topic_ranking_weight"]
        read = in_6 = right = 0
        for question, history, evidence, article in items:
            window = conversation_context(question, history, int(setting["history_turns"]))
            hits = retriever.retrieve_in_conversation(question, window, depth)
            rank = next(
                (r for r, hit in enumerate(hits, 1) if any(sentence in hit.passage.text for sentence in evidence)),
                depth + 1,
            )
            read += rank <= passages
            in_6 += rank <= 6
            right += bool(hits) and hits[0].passage.doc_id == article
        n = max(1, len(items))
        results.append(
            RetrievalFigures(
                history_turns=int(setting["history_turns"]),
                history_query_weight=setting["history_query_weight"],
                history_ranking_weight=setting["history_ranking_weight"],
                topic_ranking_weight=setting["topic_ranking_weight"],
                follow_ups=len(items),
                evidence_read=read / n,
                evidence_in_6=in_6 / n,
                first_passage_right_article=right / n,
            )
        )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    from qa.config import Settings

    defaults = Settings()
    parser = argparse.ArgumentParser(description="Follow-ups' evidence retrieval over a grid of conversation settings.")
    parser.add_argument("--file", type=Path, default=Path("eval/conversations/train.jsonl"))
    parser.add_argument("--split", choices=("train", "validation"), default="train")
    parser.add_argument("--set", type=Path, default=Path("eval/news"), help="news set folder")
    parser.add_argument("--index-dir", type=Path, help="index of the set's articles (default: the eval's)")
    parser.add_argument("--passages", type=int, default=defaults.passages_read)
    parser.add_argument("--history-turns", type=int, nargs="+", default=[defaults.history_turns])
    parser.add_argument("--history-query-weight", type=float, nargs="+", default=[defaults.history_query_weight])
    parser.add_argument("--history-ranking-weight", type=float, nargs="+", default=[defaults.history_ranking_weight])
    parser.add_argument("--topic-ranking-weight", type=float, nargs="+", default=[defaults.topic_ranking_weight])
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    grid = {
        "history_turns": args.history_turns,
        "history_query_weight": args.history_query_weight,
        "history_ranking_weight": args.history_ranking_weight,
        "topic_ranking_weight": args.topic_ranking_weight,
    }
    results = measure(args.file, args.set, args.split, grid, args.passages, args.index_dir)
    rows = [r.model_dump() for r in results]
    for row in sorted(rows, key=lambda r: -r["evidence_read"]):
        print(json.dumps(row))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
