"""Statistics for scores over a question set: seeded bootstrap intervals (one run, or two runs paired by question)
and McNemar's exact test on exact-match disagreements."""

from __future__ import annotations

from fractions import Fraction
from math import comb
from typing import Sequence

import numpy as np
from pydantic import BaseModel

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95


def bootstrap_ci(
    values: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (questions resampled with replacement, a fixed seed:
    the same run always gets the same interval)."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = array[rng.integers(0, array.size, size=(resamples, array.size))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def paired_bootstrap_ci(
    a: Sequence[float], b: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> tuple[float, float]:
    """Interval of mean(b) - mean(a) over the same questions: each resample draws questions, keeping each
    question's pair of scores together (so what two runs share does not count as noise)."""
    if len(a) != len(b):
        raise ValueError("paired scores need the same questions in both runs")
    return bootstrap_ci(np.asarray(b, dtype=float) - np.asarray(a, dtype=float), resamples, seed, level)


class McNemar(BaseModel):
    """Exact-match disagreements between two runs on the same questions, and the exact two-sided p-value."""

    only_a_right: int
    only_b_right: int
    p_value: float


def mcnemar_exact(a_right: Sequence[bool], b_right: Sequence[bool]) -> McNemar:
    """McNemar's test as an exact binomial test: under 'no difference' each discordant question is equally likely to
    favour either run, so the smaller count is a Binomial(n, 1/2) tail; p = min(1, twice that tail)."""
    if len(a_right) != len(b_right):
        raise ValueError("paired outcomes need the same questions in both runs")
    only_a = sum(1 for x, y in zip(a_right, b_right) if x and not y)
    only_b = sum(1 for x, y in zip(a_right, b_right) if y and not x)
    n = only_a + only_b
    tail = Fraction(sum(comb(n, k) for k in range(min(only_a, only_b) + 1)), 2**n) if n else Fraction(1)
    return McNemar(only_a_right=only_a, only_b_right=only_b, p_value=float(min(Fraction(1), 2 * tail)))
