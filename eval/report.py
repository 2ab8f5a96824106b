"""Report writing shared by every evaluation: JSON (stable keys), Markdown, PNG plots."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    if not values_ms:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0, "count": 0}
    array = np.asarray(values_ms, dtype=float)
    return {
        "p50": float(np.percentile(array, 50)),
        "p95": float(np.percentile(array, 95)),
        "p99": float(np.percentile(array, 99)),
        "mean": float(array.mean()),
        "count": int(array.size),
    }


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _format(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    # A cell's own "|" (in a question or an answer) would end the cell; newlines would end the row.
    return " ".join(str(value).split()).replace("|", "\\|")


def markdown_table(rows: Sequence[Sequence[Any]], headers: Sequence[str] = ("metric", "value")) -> str:
    """A Markdown table: one row per tuple of cells, as many cells as `headers`."""
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(_format(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_markdown(path: Path, title: str, sections: Sequence[tuple[str, str]]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [f"# {title}", ""]
    for heading, body in sections:
        parts += [f"## {heading}", "", body, ""]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_threshold_curve(
    path: Path,
    thresholds: Sequence[float],
    f1: Sequence[float],
    abstain: Sequence[float],
    chosen: float | None = None,
    xlabel: str = "abstain threshold",
    f1_label: str = "F1 (%)",
    abstain_label: str = "abstention rate (%)",
) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(thresholds, f1, label=f1_label)
    ax.plot(thresholds, [100 * a for a in abstain], label=abstain_label)
    if chosen is not None:
        ax.axvline(chosen, color="grey", linestyle="--", label="chosen threshold")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("%")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_recall_at_k(path: Path, recall: dict[int, float]) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ks = sorted(recall)
    ax.plot(ks, [recall[k] for k in ks], marker="o")
    ax.set_xlabel("k (passages retrieved)")
    ax.set_ylabel("recall@k of the gold passage")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_latency(path: Path, latencies_ms: Sequence[float]) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(latencies_ms, bins=40)
    ax.set_xlabel("latency per question (ms)")
    ax.set_ylabel("questions")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
