"""Reference definitions of percentile rewards (SPEC §4): mid-rank percentiles and their weighted sum."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata


@dataclass(frozen=True)
class RewardWeights:
    avd: float = 0.5
    views_6h: float = 0.3
    engagement: float = 0.2

    def __post_init__(self) -> None:
        if min(self.avd, self.views_6h, self.engagement) < 0 or abs(self.avd + self.views_6h + self.engagement - 1) > 1e-9:
            raise ValueError("reward weights must be non-negative and sum to 1")


def midrank_percentiles(values: Sequence[float]) -> np.ndarray:
    """pct(v) = (#{u < v} + 0.5 #{u = v}) / n; ties share a score, a lone value scores 0.5."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return data
    # scipy's average rank is #{u < v} + (#{u = v} + 1) / 2
    return (rankdata(data, method="average") - 0.5) / data.size


def rewards(
    avd: Sequence[float], views_6h: Sequence[float], engagement: Sequence[float], weights: RewardWeights = RewardWeights()
) -> np.ndarray:
    """Weighted mid-rank reward of every video of one project's reference set."""
    return (
        weights.avd * midrank_percentiles(avd)
        + weights.views_6h * midrank_percentiles(views_6h)
        + weights.engagement * midrank_percentiles(engagement)
    )
