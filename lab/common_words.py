"""Build `qa/models/common_words.txt`: words that English text also writes in lower case, not only capitalised, such
as "university", "hospital", "trust", "council" (Wikipedia capitalises "university" mid-sentence twice as often as
not, in names; it never writes "luton" or "january" in lower case). The answer decision (qa.decision) uses it
to tell the names a question gives ("Luton", "Brackenford") from ordinary words that a question capitalises as part
of a name ("University" in "Luton and Dunstable University Hospital"), which an article about the thing may leave
out.

    python -m lab.common_words --squad ../shared/data/qa-train/squad_train_v1.1_rest.json.gz

Source: the contexts of SQuAD 1.1 train (Wikipedia, CC BY-SA 4.0); only word counts are kept, and only the words
that pass the rule.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from tqdm.auto import tqdm

from eval.squad_data import DatasetError, iter_articles
from qa.decision import COMMON_WORDS_FILE

_TOKEN = re.compile(r"[A-Za-z]+")
# A word right after one of these (or at the start of a paragraph) is capitalised because it starts a sentence.
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\"“”‘’(\[]\s*)$")
MIN_LOWER = 3  # lower-case uses a word needs: rarer words are not known to be ordinary
# Lower-case uses per capitalised mid-sentence use for an ordinary word: "university" 0.45, "council" 0.32, "cup"
# 0.13; proper names 0 ("luton", "zealand", "january", "english").
MIN_LOWER_SHARE = 0.1


def count_cases(paragraphs: list[str]) -> tuple[Counter, Counter]:
    """Per lower-cased word: its lower-case uses and its capitalised mid-sentence uses."""
    lower: Counter = Counter()
    capitalised: Counter = Counter()
    for paragraph in tqdm(paragraphs, desc="counting", unit="paragraph"):
        for match in _TOKEN.finditer(paragraph):
            word = match.group()
            if word.islower():
                lower[word] += 1
            elif word[0].isupper() and not word.isupper():
                if _SENTENCE_START.search(paragraph[max(0, match.start() - 3) : match.start()]):
                    continue
                capitalised[word.lower()] += 1
    return lower, capitalised


def common_words(lower: Counter, capitalised: Counter) -> list[str]:
    return sorted(w for w, n in lower.items() if n >= MIN_LOWER and n >= MIN_LOWER_SHARE * capitalised[w])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", required=True, type=Path, help="SQuAD-format JSON (.json or .json.gz)")
    parser.add_argument("--out", type=Path, default=COMMON_WORDS_FILE)
    args = parser.parse_args(argv)
    try:
        paragraphs = [p["context"] for article in iter_articles(args.squad) for p in article["paragraphs"]]
    except DatasetError as exc:
        parser.error(str(exc))
    except (KeyError, TypeError) as exc:
        parser.error(f"{args.squad}: a paragraph without a 'context' ({exc})")
    words = common_words(*count_cases(paragraphs))
    args.out.write_text("\n".join(words) + "\n", encoding="utf-8")
    print(f"{len(words)} common words from {len(paragraphs)} paragraphs written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
