"""Conversations: which earlier questions help retrieve the passages for a follow-up, and which prompts are a chat
front end's housekeeping rather than a question.

A follow-up ("What was it rated?", "Who said that?") often names nothing that finds its article among many; the
conversation's earlier user questions do. Without a language model to rewrite the follow-up, the method is
history query expansion (as in HQE and the OR-QuAC history window): the question that set the subject (the first,
or the last self-contained one) and the last few questions are searched together with the current one, below it
in weight; the articles those earlier questions find best are the conversation's topic; and these rankings are
fused with the current question's own by reciprocal rank fusion (qa.retriever). Only questions that need it get
this: one that names its own subject is retrieved exactly as without a conversation.

Earlier questions steer retrieval, and the reader reads a follow-up together with the question that named its
subject. The answer is still a span of a corpus passage; assistant turns (the service's own earlier answers) are
never treated as facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words that point back into the conversation ("it", "there", "that one") rather than naming a subject.
_REFERRING = frozenset(
    "it its it's itself they them their theirs themselves he him his himself she her hers herself there "
    "those these former latter".split()
)
# "this"/"that" refer back when they stand for a noun phrase ("Who said that?", "When did this happen?"), not when
# they open a clause ("the drug that was approved") or qualify a time ("this year").
_DEMONSTRATIVE = re.compile(
    r"\b(?:that|this)\b(?=\s*(?:[?.!,]|$|\s+(?:happen|happened|cost|costs|mean|means|take|took|start|started|"
    r"end|ended|open|opened|close|closed|say|said|was|is|will|would|be|been|one|ones|place|decision|plan|scheme|"
    r"project|figure|number|report|person|man|woman|unit|ward|hospital|service)\b))",
    re.IGNORECASE,
)
_CONTINUATION = re.compile(r"^\s*(?:and|but|also|so|then|what about|how about|and what about)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9£$€%]+(?:['’][A-Za-z]+)?")
_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how many much long old did does do is are was were will would can "
    "could should has have had the a an of in on at to for by with from about and or as be been".split()
)

# A chat front end's own prompts (conversation titles, tags, follow-up suggestions, search queries), sent through
# the chat API as a user message: they carry the chat in a block and start with a task header.
_HOUSEKEEPING = re.compile(
    r"^\s*#{1,6}\s*task\s*:|<chat_history>|</chat_history>|^\s*(?:generate|create|suggest)\s+(?:a\s+)?(?:concise\s+)?"
    r"(?:\d+\s*-\s*\d+\s+word\s+)?(?:title|tags?|follow[- ]?up)",
    re.IGNORECASE | re.MULTILINE,
)


def is_housekeeping(text: str) -> bool:
    """True for a chat front end's housekeeping prompt (a title, tags, follow-up suggestions), which gets a quick
    no-answer: it is not a question about the corpus, and reading its pasted chat would answer from the chat."""
    return bool(_HOUSEKEEPING.search(text))


def needs_history(question: str) -> bool:
    """Whether the question leans on the conversation: it refers back ("it", "they", "there", "that"), continues
    ("And in 2024?", "What about the second one?"), or names no subject of its own (nothing capitalised after its
    first word but short abbreviations, or at most two content words)."""
    words = [w.lower() for w in _WORD.findall(question)]
    if not words:
        return False
    if _CONTINUATION.search(question) or _DEMONSTRATIVE.search(question):
        return True
    if any(w in _REFERRING for w in words):
        return True
    content = [w for w in words if w not in _QUESTION_WORDS]
    if len(content) <= 2:
        return True
    return not any(_names(token) for token in _WORD.findall(question)[1:])


def _names(token: str) -> bool:
    """Whether a word names something: a capitalised word ("Wendham", "Windows"), not a short all-capitals
    abbreviation that every article of a kind uses ("CQC", "NHS", "A&E") and not a number ("in 1999")."""
    return token[:1].isupper() and len(token) >= 2 and not (token.isupper() and len(token) <= 4)


@dataclass(frozen=True)
class HistoryWindow:
    """The earlier questions a follow-up is searched with: the one that set the conversation's current subject and
    the most recent ones after it."""

    questions: tuple[str, ...]
    positions: tuple[int, ...]  # 0-based positions in the history given, oldest first


def history_window(history: list[str] | tuple[str, ...], turns: int) -> HistoryWindow:
    """The latest self-contained earlier question (it names the subject: the first question, or the last one that
    changed the subject) and up to `turns` most recent questions after it, oldest first, without repeats; empty when
    `turns` is 0 or there is no history. Questions before the subject changed are left out: they are about
    something else."""
    if turns <= 0 or not history:
        return HistoryWindow((), ())
    anchor = max((i for i, question in enumerate(history) if not needs_history(question)), default=0)
    recent = range(max(anchor + 1, len(history) - turns), len(history))
    seen: set[str] = set()
    questions, positions = [], []
    for position in (anchor, *recent):
        key = " ".join(history[position].lower().split())
        if key in seen:
            continue
        seen.add(key)
        questions.append(history[position])
        positions.append(position)
    return HistoryWindow(tuple(questions), tuple(positions))


def expanded_query(question: str, window: HistoryWindow) -> str:
    """The text searched for a follow-up: the window's questions, then the current one (for the sparse side; the
    dense side weights the vectors instead)."""
    return " ".join([*window.questions, question])


NO_HISTORY = HistoryWindow((), ())


def names_a_new_subject(question: str, window: HistoryWindow) -> bool:
    """Whether the question names something (a capitalised word after its first, or a number) that none of the
    window's questions names: "And what about Healthwatch Kestrelmoor?" moves on, "What was it rated?" does not."""
    earlier = {w.lower() for q in window.questions for w in _WORD.findall(q)}
    tokens = _WORD.findall(question)
    named = [t for t in tokens[1:] if t[:1].isupper() or t[:1].isdigit()]
    return any(t.lower() not in earlier for t in named)


# The asking words of a question ("Which hospital", "How many", "Who"): what it wants, as opposed to what it is about.
_ASKING = re.compile(
    r"\b(?:what|which|who|whom|whose|when|where|why|how(?:\s+(?:many|much|long|old|far|often|soon))?)\b\s*",
    re.IGNORECASE,
)


def reader_question(question: str, window: HistoryWindow) -> str:
    """What the reader reads for a follow-up: the question, then what the question that set the subject was about
    with its asking words taken out ("When did inspectors visit Wendham General Hospital?" adds "did inspectors
    visit Wendham General Hospital"), so the reader knows the subject without being asked the earlier question
    again (asked twice, it answers the earlier one)."""
    if not window.questions:
        return question
    about = [
        " ".join(_ASKING.sub("", q).replace("?", " ").split())
        for q in dict.fromkeys(window.questions[:1] + window.questions[-1:])
    ]
    return " ".join([question, *[a for a in about if a]])


def conversation_context(question: str, history: list[str] | tuple[str, ...], turns: int) -> HistoryWindow:
    """The earlier questions that steer this question's retrieval: the history window when the question needs it,
    else none (a self-contained question, a housekeeping prompt, no history, or `turns` 0)."""
    if turns <= 0 or not history or is_housekeeping(question) or not needs_history(question):
        return NO_HISTORY
    return history_window(history, turns)
