"""An evaluator's question set, read from JSONL, CSV (or TSV) or SQuAD JSON v1.1/v2.0 into `EvalQuestion`s.

Fields (JSONL keys, CSV columns): `question` (RAGAS: `user_input`), `answers` (RAGAS: `reference`; an empty list
marks an unanswerable question), optional `id`, `doc_id` (the document that answers it: retrieval figures),
`evidence` (text the cited passage should hold: citation accuracy), `tag` (one or more labels: figures per tag).
In CSV several answers, evidence strings or tags are separated by `|`. In SQuAD JSON `is_impossible` makes a
question unanswerable, and the contexts can serve as the corpus (one document per title: `squad_corpus`).

Every problem is a `QuestionSetError` naming the file and the line (JSONL, CSV) or the place in the JSON.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from eval.squad_data import DatasetError, read_squad_json
from qa.documents import Document
from qa.ingest import Corpus

Format = Literal["jsonl", "csv", "tsv", "squad"]
FORMATS: tuple[str, ...] = ("jsonl", "csv", "tsv", "squad")
_SUFFIX_FORMATS: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "squad",
    ".json.gz": "squad",
}
LIST_SEPARATOR = "|"  # between several answers, evidence strings or tags in one CSV cell


class QuestionSetError(ValueError):
    """A question set that cannot be scored; the message names the file and the line or field."""


class EvalQuestion(BaseModel):
    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answers: list[str] = Field(description="acceptable gold answers; empty: the question is unanswerable")
    doc_id: str | None = Field(None, description="the document that answers the question, if known")
    evidence: list[str] = Field(default_factory=list, description="text the cited passage should hold")
    tags: list[str] = Field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass
class QuestionSet:
    path: Path
    format: str  # jsonl, csv, tsv, squad-v1.1, squad-v2.0
    questions: list[EvalQuestion]
    corpus: Corpus | None = None  # SQuAD: its contexts, one document per title


def detect_format(path: Path) -> Format:
    name = Path(path).name.lower()
    for suffix in sorted(_SUFFIX_FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return _SUFFIX_FORMATS[suffix]
    suffix = "".join(Path(path).suffixes) or "none"
    raise QuestionSetError(
        f"{path}: unknown format (suffix {suffix}); use .jsonl, .csv, .tsv or SQuAD .json (or --format)"
    )


def load_question_set(path: Path, fmt: str | None = None) -> QuestionSet:
    """Read and check a question set; `fmt` overrides the format the file name implies."""
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise QuestionSetError(f"{path}: unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    fmt = fmt or detect_format(path)
    if not path.is_file():
        raise QuestionSetError(f"{path}: no such file")
    if fmt == "squad":
        return _read_squad(path)
    text = _read_text(path)
    rows = _jsonl_rows(path, text) if fmt == "jsonl" else _csv_rows(path, text, "\t" if fmt == "tsv" else ",")
    questions = _unique([(where, _question(fields, where, default_id)) for where, default_id, fields in rows], path)
    return QuestionSet(path, fmt, questions)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # a spreadsheet's export may start with a byte-order mark
    except UnicodeDecodeError as exc:
        raise QuestionSetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise QuestionSetError(f"{path}: unreadable ({exc.strerror or exc})") from exc


def _jsonl_rows(path: Path, text: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            fields = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionSetError(f"{where}: malformed JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(fields, dict):
            raise QuestionSetError(f"{where}: expected a JSON object, not {type(fields).__name__}")
        rows.append((where, f"line-{number}", fields))
    return rows


def _csv_rows(path: Path, text: str, delimiter: str) -> list[tuple[str, str, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise QuestionSetError(f"{path}:1: unreadable header ({exc})") from exc
    if not header:
        raise QuestionSetError(f"{path}: empty")
    columns = [name.strip() for name in header]
    for needed, alias in (("question", "user_input"), ("answers", "reference")):
        if needed not in columns and alias not in columns:
            raise QuestionSetError(f"{path}:1: the header needs a '{needed}' column (or '{alias}'); it has {columns}")
    reader.fieldnames = columns
    rows = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise QuestionSetError(f"{path}:{start}: unreadable CSV ({exc})") from exc
        where = f"{path}:{start}"
        if None in row:
            raise QuestionSetError(f"{where}: more cells than the header has columns")
        fields: dict[str, Any] = {}
        for column, cell in row.items():
            cell = (cell or "").strip()
            if column in ("answers", "reference", "evidence", "tag"):
                fields[column] = _split_cell(cell, column, where)
            elif cell:
                fields[column] = cell
        rows.append((where, f"line-{start}", fields))
    return rows


def _split_cell(cell: str, column: str, where: str) -> list[str]:
    if not cell:
        return []
    pieces = [piece.strip() for piece in cell.split(LIST_SEPARATOR)]
    for number, piece in enumerate(pieces, start=1):
        if not piece:
            raise QuestionSetError(
                f"{where}: {column}: item {number} of {cell!r} is blank (items are separated by '{LIST_SEPARATOR}')"
            )
    return pieces


def _strings(value: Any, name: str, where: str, allow_single: bool) -> list[str]:
    """A list of non-blank strings (or one string, where allowed), else an error naming the field."""
    if allow_single and isinstance(value, str):
        return [value] if value.strip() else []
    if not isinstance(value, list):
        kind = "a list of strings" + (" or a string" if allow_single else "")
        raise QuestionSetError(f"{where}: '{name}' must be {kind}, not {type(value).__name__}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise QuestionSetError(f"{where}: '{name}[{index}]' must be a string, not {type(item).__name__}")
        if not item.strip():
            raise QuestionSetError(f"{where}: '{name}[{index}]' is blank")
    return list(value)


def _one_of(fields: dict[str, Any], name: str, alias: str, where: str) -> tuple[str, Any]:
    if name in fields and alias in fields:
        raise QuestionSetError(f"{where}: give '{name}' or '{alias}', not both")
    if name in fields:
        return name, fields[name]
    if alias in fields:
        return alias, fields[alias]
    return name, None


def _question(fields: dict[str, Any], where: str, default_id: str) -> EvalQuestion:
    """One question from a JSONL object or CSV row (RAGAS's `user_input`/`reference` read as the same fields)."""
    key, question = _one_of(fields, "question", "user_input", where)
    if question is None:
        raise QuestionSetError(f"{where}: missing 'question'")
    if not isinstance(question, str) or not question.strip():
        raise QuestionSetError(f"{where}: '{key}' must be a non-empty string")
    key, answers = _one_of(fields, "answers", "reference", where)
    if answers is None:
        raise QuestionSetError(f"{where}: missing 'answers' (an empty list marks an unanswerable question)")
    # RAGAS's reference is one string; `answers` is always a list, so a lone string there is a mistake.
    gold = _strings(answers, key, where, allow_single=key == "reference")
    qid = fields.get("id", default_id)
    if isinstance(qid, bool) or not isinstance(qid, (str, int)) or not str(qid).strip():
        raise QuestionSetError(f"{where}: 'id' must be a non-empty string or a number")
    doc_id = fields.get("doc_id")
    if doc_id is not None and (not isinstance(doc_id, str) or not doc_id.strip()):
        raise QuestionSetError(f"{where}: 'doc_id' must be a non-empty string")
    answerable = fields.get("answerable")
    if answerable is not None and answerable is not bool(gold):
        raise QuestionSetError(f"{where}: 'answerable' is {json.dumps(answerable)} but 'answers' has {len(gold)}")
    return EvalQuestion(
        id=str(qid).strip(),
        question=question.strip(),
        answers=gold,
        doc_id=doc_id,
        evidence=_strings(fields.get("evidence", []), "evidence", where, allow_single=True),
        tags=_strings(fields.get("tag", []), "tag", where, allow_single=True),
    )


def _unique(placed: list[tuple[str, EvalQuestion]], path: Path) -> list[EvalQuestion]:
    if not placed:
        raise QuestionSetError(f"{path}: no questions")
    first: dict[str, str] = {}
    for where, question in placed:
        if question.id in first:
            raise QuestionSetError(f"{where}: duplicate id {question.id!r} (first at {first[question.id]})")
        first[question.id] = where
    return [question for _, question in placed]


def _doc_id_for(title: str, taken: set[str], index: int) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", title).strip("_.") or f"article-{index}"
    doc_id, n = base, 2
    while doc_id in taken:
        doc_id, n = f"{base}-{n}", n + 1
    taken.add(doc_id)
    return doc_id


def _read_squad(path: Path) -> QuestionSet:
    try:
        payload = read_squad_json(path)
    except DatasetError as exc:
        raise QuestionSetError(str(exc)) from exc
    placed: list[tuple[str, EvalQuestion]] = []
    texts: dict[str, list[str]] = {}  # doc id -> its contexts
    titles: dict[str, str] = {}
    doc_of_title: dict[str, str] = {}
    impossible_seen = False
    for a, article in enumerate(payload["data"]):
        at = f"{path}: data[{a}]"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise QuestionSetError(f"{at}: needs a 'paragraphs' list")
        title = str(article.get("title") or f"article {a}")
        if title not in doc_of_title:  # one document per title
            doc_of_title[title] = _doc_id_for(title, set(doc_of_title.values()), a)
            titles[doc_of_title[title]] = title.replace("_", " ")
        doc_id = doc_of_title[title]
        for p, paragraph in enumerate(article["paragraphs"]):
            at_p = f"{at}.paragraphs[{p}]"
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str):
                raise QuestionSetError(f"{at_p}: needs a 'context' string")
            if not isinstance(paragraph.get("qas"), list):
                raise QuestionSetError(f"{at_p}: needs a 'qas' list")
            texts.setdefault(doc_id, []).append(paragraph["context"])
            for q, qa in enumerate(paragraph["qas"]):
                where = f"{at_p}.qas[{q}]"
                if not isinstance(qa, dict):
                    raise QuestionSetError(f"{where}: expected an object")
                if "id" not in qa:
                    raise QuestionSetError(f"{where}: missing 'id'")
                impossible = qa.get("is_impossible", False)
                if not isinstance(impossible, bool):
                    raise QuestionSetError(f"{where}: 'is_impossible' must be true or false")
                impossible_seen |= impossible
                answers = qa.get("answers", [])
                if not isinstance(answers, list):
                    raise QuestionSetError(f"{where}: 'answers' must be a list, not {type(answers).__name__}")
                gold: list[str] = []
                for n, answer in enumerate(answers):
                    if not isinstance(answer, dict) or not isinstance(answer.get("text"), str):
                        raise QuestionSetError(f"{where}: 'answers[{n}]' needs a 'text' string")
                    if answer["text"].strip():
                        gold.append(answer["text"])
                fields = {"id": qa["id"], "question": qa.get("question"), "answers": [] if impossible else gold}
                placed.append((where, _question({**fields, "doc_id": doc_id}, where, "")))
    questions = _unique(placed, path)
    version = "2.0" if impossible_seen or str(payload.get("version", "")).lstrip("v").startswith("2") else "1.1"
    documents = [
        Document(id=doc_id, title=titles[doc_id], text="\n\n".join(contexts), source=path.name)
        for doc_id, contexts in texts.items()
    ]
    corpus = Corpus(documents=documents, fingerprint=hashlib.sha256(path.read_bytes()).hexdigest())
    return QuestionSet(path, f"squad-v{version}", questions, corpus)
