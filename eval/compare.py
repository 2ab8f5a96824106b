"""`qa eval compare RUN_A RUN_B`: two scored runs of the same questions, paired by id.

F1 and exact match over the questions both runs hold, a paired bootstrap interval for the F1 difference, McNemar's
exact test on exact-match disagreements, and the questions that got worse and better. The gate: B fails when its F1
is more than `max_drop` points (0-100) below A's on the paired questions.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from eval.report import markdown_table
from eval.run_files import LoadedRun, RunFilesError, read_run
from eval.stats import LEVEL, RESAMPLES, SEED, McNemar, mcnemar_exact, paired_bootstrap_ci

DEFAULT_MAX_DROP = 1.0
LISTED = 50  # questions listed per direction in the Markdown (the JSON has all)


class RunFigures(BaseModel):
    folder: str
    exact: float
    f1: float


class Change(BaseModel):
    id: str
    question: str
    gold: list[str]
    a_prediction: str
    b_prediction: str
    a_f1: float
    b_f1: float


class Comparison(BaseModel):
    a: RunFigures
    b: RunFigures
    paired: int
    only_in_a: list[str]
    only_in_b: list[str]
    question_differs: list[str]
    f1_difference: float
    f1_difference_ci95: tuple[float, float]
    exact_difference: float
    bootstrap: dict[str, float]
    mcnemar: McNemar
    worse: list[Change]
    better: list[Change]
    max_drop: float
    regression: bool


def compare_runs(folder_a: Path, folder_b: Path, max_drop: float = DEFAULT_MAX_DROP) -> Comparison:
    a, b = read_run(folder_a), read_run(folder_b)
    return compare_loaded(a, b, max_drop)


def compare_loaded(a: LoadedRun, b: LoadedRun, max_drop: float = DEFAULT_MAX_DROP) -> Comparison:
    if max_drop < 0:
        raise RunFilesError(f"--max-drop must be 0 or more points, not {max_drop}")
    by_id_b = {r.id: r for r in b.results}
    ids_a = {r.id for r in a.results}
    pairs = [(r, by_id_b[r.id]) for r in a.results if r.id in by_id_b]
    if not pairs:
        raise RunFilesError(f"{a.folder} and {b.folder} share no question id: not runs of the same set")
    n = len(pairs)
    a_f1 = [x.f1 for x, _ in pairs]
    b_f1 = [y.f1 for _, y in pairs]
    low, high = paired_bootstrap_ci(a_f1, b_f1)
    f1_a, f1_b = 100 * sum(a_f1) / n, 100 * sum(b_f1) / n

    def change(x, y) -> Change:
        return Change(
            id=x.id,
            question=x.question,
            gold=x.gold,
            a_prediction=x.prediction,
            b_prediction=y.prediction,
            a_f1=x.f1,
            b_f1=y.f1,
        )

    worse = sorted((change(x, y) for x, y in pairs if y.f1 < x.f1), key=lambda c: c.b_f1 - c.a_f1)
    better = sorted((change(x, y) for x, y in pairs if y.f1 > x.f1), key=lambda c: c.a_f1 - c.b_f1)
    return Comparison(
        a=RunFigures(folder=str(a.folder), exact=100 * sum(x.exact for x, _ in pairs) / n, f1=f1_a),
        b=RunFigures(folder=str(b.folder), exact=100 * sum(y.exact for _, y in pairs) / n, f1=f1_b),
        paired=n,
        only_in_a=[r.id for r in a.results if r.id not in by_id_b],
        only_in_b=[r.id for r in b.results if r.id not in ids_a],
        question_differs=[x.id for x, y in pairs if x.question != y.question or x.gold != y.gold],
        f1_difference=f1_b - f1_a,
        f1_difference_ci95=(100 * low, 100 * high),
        exact_difference=100 * sum(y.exact - x.exact for x, y in pairs) / n,
        bootstrap={"resamples": RESAMPLES, "seed": SEED, "level": LEVEL},
        mcnemar=mcnemar_exact([x.exact == 1.0 for x, _ in pairs], [y.exact == 1.0 for _, y in pairs]),
        worse=worse,
        better=better,
        max_drop=max_drop,
        regression=f1_b < f1_a - max_drop,
    )


def _changes_table(changes: list[Change]) -> str:
    if not changes:
        return "none"
    rows = [
        (
            c.id,
            c.question,
            " | ".join(c.gold) or "(unanswerable)",
            c.a_prediction or "(abstained)",
            c.b_prediction or "(abstained)",
            f"{c.a_f1:.2f} -> {c.b_f1:.2f}",
        )
        for c in changes[:LISTED]
    ]
    table = markdown_table(rows, ("id", "question", "gold", "A answered", "B answered", "F1"))
    return table + (f"\n\n... and {len(changes) - LISTED} more (`--json` lists all)" if len(changes) > LISTED else "")


def to_markdown(c: Comparison) -> str:
    verdict = (
        f"**REGRESSION**: B's F1 is {-c.f1_difference:.2f} points below A's, more than the {c.max_drop:g} allowed."
        if c.regression
        else f"**OK**: B's F1 minus A's is {c.f1_difference:+.2f} points; a drop of more than {c.max_drop:g} fails."
    )
    low, high = c.f1_difference_ci95
    m = c.mcnemar
    figures = markdown_table(
        [
            ("exact", c.a.exact, c.b.exact, f"{c.exact_difference:+.2f}"),
            ("f1", c.a.f1, c.b.f1, f"{c.f1_difference:+.2f} ({low:+.2f} to {high:+.2f})"),
        ],
        ("figure (0-100)", "A", "B", "B - A (paired 95% bootstrap interval)"),
    )
    lines = [
        "# Comparison of two runs",
        "",
        f"A: `{c.a.folder}`  ",
        f"B: `{c.b.folder}`",
        "",
        verdict,
        "",
        f"{c.paired} questions in both runs.",
        "",
        figures,
        "",
        f"McNemar's exact test on exact match: {m.only_a_right} questions right only in A, {m.only_b_right} right "
        f"only in B, p = {m.p_value:.4g}.",
        "",
    ]
    if c.only_in_a or c.only_in_b:
        lines += [
            "## Questions in one run only (not compared)",
            "",
            f"Only in A ({len(c.only_in_a)}): {', '.join(c.only_in_a) or '-'}  ",
            f"Only in B ({len(c.only_in_b)}): {', '.join(c.only_in_b) or '-'}",
            "",
        ]
    if c.question_differs:
        lines += [
            "## Same id, different question or gold answers (compared anyway)",
            "",
            ", ".join(c.question_differs),
            "",
        ]
    lines += [f"## Worse in B ({len(c.worse)})", "", _changes_table(c.worse), ""]
    lines += [f"## Better in B ({len(c.better)})", "", _changes_table(c.better), ""]
    return "\n".join(lines)
