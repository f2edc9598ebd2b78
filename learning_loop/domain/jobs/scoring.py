"""Scoring a prompt's outputs against `expected_output` (SPEC §13 prompt optimization).

Two metrics, both reported:

- exact match: the normalised output equals the normalised expected output
  (lower case, punctuation dropped, whitespace collapsed); its interval is the
  Wilson score interval of a proportion.
- token-F1: harmonic mean of token precision and recall (bag of normalised
  tokens, the SQuAD definition); its interval is the Student-t interval of
  the mean over examples.

A variant is compared with the current prompt on the same held-out examples
by the paired difference of token-F1 (mean and t-interval): the reviewer sees
whether "best" is better than noise.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")


def normalise(text: str | None) -> str:
    return " ".join(_PUNCT.sub(" ", (text or "").lower()).split())


def tokens(text: str | None) -> list[str]:
    return normalise(text).split()


def exact_match(output: str | None, expected: str | None) -> float:
    return float(normalise(output) == normalise(expected))


def token_f1(output: str | None, expected: str | None) -> float:
    got, want = tokens(output), tokens(expected)
    if not got and not want:
        return 1.0
    if not got or not want:
        return 0.0
    common = sum((Counter(got) & Counter(want)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def wilson_interval(successes: float, n: int, level: float = 0.95) -> tuple[float, float]:
    if n <= 0:
        return (math.nan, math.nan)
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval of the mean; a single value has no interval."""
    n = len(values)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(sum(values) / n)
    if n == 1:
        return (mean, math.nan, math.nan)
    sd = float(np.std(np.asarray(values, dtype=float), ddof=1))
    if sd < 1e-12:
        return (mean, mean, mean)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return (mean, mean - half, mean + half)


@dataclass(frozen=True)
class Score:
    """A prompt's score on n held-out examples."""

    n: int
    exact_match: float
    exact_match_low: float
    exact_match_high: float
    token_f1: float
    token_f1_low: float
    token_f1_high: float

    def to_dict(self) -> dict:
        return asdict(self)


def score_outputs(outputs: Sequence[str | None], expected: Sequence[str | None], level: float = 0.95) -> Score:
    if len(outputs) != len(expected):
        raise ValueError(f"{len(outputs)} outputs for {len(expected)} expected outputs")
    em = [exact_match(o, e) for o, e in zip(outputs, expected)]
    f1 = [token_f1(o, e) for o, e in zip(outputs, expected)]
    n = len(em)
    em_low, em_high = wilson_interval(sum(em), n, level)
    f1_mean, f1_low, f1_high = mean_interval(f1, level)
    return Score(n, (sum(em) / n) if n else math.nan, em_low, em_high, f1_mean, f1_low, f1_high)


@dataclass(frozen=True)
class Comparison:
    """Paired token-F1 difference variant − current on the same examples."""

    n: int
    f1_delta: float
    f1_delta_low: float
    f1_delta_high: float

    @property
    def significantly_better(self) -> bool:
        return not math.isnan(self.f1_delta_low) and self.f1_delta_low > 0

    def to_dict(self) -> dict:
        return {**asdict(self), "significantly_better": self.significantly_better}


def compare(variant_outputs: Sequence[str | None], current_outputs: Sequence[str | None],
            expected: Sequence[str | None], level: float = 0.95) -> Comparison:
    if not (len(variant_outputs) == len(current_outputs) == len(expected)):
        raise ValueError("variant, current and expected outputs differ in length")
    diffs = [token_f1(v, e) - token_f1(c, e) for v, c, e in zip(variant_outputs, current_outputs, expected)]
    mean, low, high = mean_interval(diffs, level)
    return Comparison(len(diffs), mean, low, high)
