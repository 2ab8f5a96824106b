"""Follow-ups made from self-contained training questions, so the reader sees many more questions read as the
service reads a follow-up than people have written (`eval/conversations/train.jsonl` holds 800).

A question that names its subject ("How many C. difficile infections did the Wolderton trust have?") becomes a
follow-up by leaving the name out ("... did the trust have?"), or by pointing back to it ("there", "its", "it"),
and is asked after another question of the same article that names the same subject. What the reader trains on is
that follow-up read with the earlier question's subject after it (`qa.conversation.reader_question`, the service's
history window), with the original question's answers and evidence: the answer is still where it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qa.conversation import conversation_context, reader_question

# A name: capitalised words, possibly joined by "of", "and", "upon", "on", "for", "&" ("Kestrelmoor and Wendham NHS
# Foundation Trust", "Stockton-on-Tees"), possibly ending in a possessive.
_NAME = re.compile(
    r"(?<![\w'’-])[A-Z][\w'’.-]*(?:\s+(?:(?:of|and|upon|on|for|&)\s+)?[A-Z][\w'’.-]*)*(?:['’]s)?(?![\w'’-])"
)
# Words that open a question or a clause: capitalised there without naming anything.
_OPENERS = frozenset(
    "what which who whom whose when where why how did does do is are was were will would can could should has have "
    "had in on at by for from after before during since under according".split()
)
_AUXILIARIES = "is|are|was|were|did|does|do|has|have|had|will|would|can|could|should|may|might"
# Words that can follow a name used as a noun ("did the Oller Valley Air Ambulance have", "cost Cresswold each
# year"); any other lower-case word after it makes the name a modifier ("Cresswold families"), left out whole.
_NOT_A_NOUN_AFTER = frozenset(
    "is are was were be been being did does do has have had will would can could should may might must shall "
    "say says said get gets got take takes took make makes made pay pays paid spend spends spent receive receives "
    "received run runs ran open opens opened close closes closed start starts started plan plans planned need needs "
    "needed want wants wanted use uses used give gives gave expect expects expected employ employs employed treat "
    "treats treated see sees saw become became hold holds held cost costs record records recorded "
    "in on at to for from with by of about over under after before during since than and or but as into each every "
    "this that these those the a an its their his her it they them there last next first now still also already "
    "currently when where while if because who which what".split()
)


@dataclass(frozen=True)
class SyntheticFollowUp:
    """A follow-up made from `original`, to be read after `earlier` (a question of the same article)."""

    article: str
    follow_up: str
    earlier: str
    original: str
    name: str  # the name the follow-up leaves out


def names_in(question: str) -> list[str]:
    """The names a question gives, longest first, without the possessive ending and without an opening word
    ("What", "In")."""
    found = []
    for match in _NAME.finditer(question):
        words = match.group(0).split()
        while words and words[0].lower() in _OPENERS:
            words = words[1:]
        name = re.sub(r"['’]s$", "", " ".join(words))
        if len(name) >= 3:
            found.append(name)
    return sorted(dict.fromkeys(found), key=len, reverse=True)


def without_name(question: str, name: str) -> str | None:
    """The question pointing back to `name` instead of giving it, or None when the name is not there:
    "the Wolderton trust" -> "the trust", "at Elverstone County Hospital" -> "there", "Ollerby's" -> "its",
    otherwise "it"."""
    at = question.find(name)
    if at < 0:
        return None
    before, after = question[:at], question[at + len(name) :]
    if re.match(r"['’]s\b", after):
        return _tidy(before + "its" + after[2:])
    following = re.match(r"\s+([a-z][\w'’-]*)", after)
    subject = re.search(rf"\b(?:{_AUXILIARIES})\s+$", before, re.IGNORECASE)  # "does Sallowmere Council support"
    if following and following.group(1) not in _NOT_A_NOUN_AFTER and not subject:
        # A modifier: "the Wolderton trust" -> "the trust", "How many Cresswold families" -> "How many families".
        return _tidy(before.rstrip() + after)
    preposition = re.search(r"\b(?:at|in)\s+(?:the\s+)?$", before, re.IGNORECASE)
    if preposition:
        return _tidy(before[: preposition.start()] + "there" + after)
    return _tidy(re.sub(r"\bthe\s+$", "", before, flags=re.IGNORECASE) + "it" + after)


def _tidy(text: str) -> str:
    text = re.sub(r"\s+([?,.])", r"\1", " ".join(text.split()))
    return text[:1].upper() + text[1:]


def synthetic_follow_ups(
    questions: Sequence[tuple[str, str]], rng: np.random.Generator, history_turns: int
) -> list[SyntheticFollowUp]:
    """For each (article, question) whose longest name another question of the same article also gives: the
    question without that name, after one such question drawn at random. Only follow-ups the service reads as
    follow-ups (with that earlier question as their history) are kept."""
    by_article: dict[str, list[str]] = {}
    for article, question in questions:
        by_article.setdefault(article, []).append(question)
    made = []
    for article, question in questions:
        names = names_in(question)
        if not names:
            continue
        name = names[0]
        earlier = [q for q in by_article[article] if q != question and name in q]
        follow_up = without_name(question, name)
        if not earlier or not follow_up or name in follow_up:
            continue
        chosen = earlier[int(rng.integers(len(earlier)))]
        if not conversation_context(follow_up, (chosen,), history_turns).questions:
            continue  # the service would read it as self-contained: not a follow-up
        made.append(SyntheticFollowUp(article, follow_up, chosen, question, name))
    return made


def read_as(item: SyntheticFollowUp, history_turns: int) -> str:
    """What the reader reads for a synthetic follow-up, as the service reads a follow-up."""
    return reader_question(item.follow_up, conversation_context(item.follow_up, (item.earlier,), history_turns))
