"""Eval sets as JSONL: one pydantic model per line, every problem reported with its file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

Row = TypeVar("Row", bound=BaseModel)


def read_jsonl(path: Path, model: type[Row], error: type[Exception]) -> list[Row]:
    """Every non-blank line of `path` as `model`; raises `error` naming the file and line of the first problem,
    or the file when it is missing, unreadable or empty."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: unreadable ({exc})") from exc
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(model.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{number}: invalid JSON ({exc.msg})") from exc
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors())
            raise error(f"{path}:{number}: {problems}") from exc
    if not rows:
        raise error(f"{path}: empty")
    return rows
