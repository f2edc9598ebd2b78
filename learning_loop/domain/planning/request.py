"""What the planner is asked for: the request, the tuning knobs, running experiments."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from learning_loop.domain.exploration import (
    DEFAULT_CONTINUE_BONUS,
    DEFAULT_EPSILON,
    DEFAULT_REWARD_SD,
)
from learning_loop.domain.planning.errors import InvalidPlanRequestError
from learning_loop.domain.ranking import DEFAULT_PRIOR_MEAN, DEFAULT_PRIOR_STRENGTH

DEFAULT_EXPLORE_RATIO = 0.3
MIN_COUNT = 1
MAX_COUNT = 1000
MAX_TOPIC_CHARS = 500


def _utc(ts: datetime) -> datetime:
    """Naive timestamps are UTC (SPEC §1); aware ones are converted."""
    if ts.tzinfo is None:
        return ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc)


def format_as_of(ts: datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` suffix."""
    return _utc(ts).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class PlanRequest:
    """What the operator asked for. ``topics`` are raw lines (a line may also
    hold several lines; it is split). ``as_of`` is stored in UTC."""

    project_id: str
    topics: Sequence[str]
    count: int
    as_of: datetime
    seed: int = 0
    explore_ratio: float = DEFAULT_EXPLORE_RATIO

    def __post_init__(self) -> None:
        if not isinstance(self.project_id, str) or not self.project_id.strip():
            raise InvalidPlanRequestError("project_id must be a non-empty string")
        if isinstance(self.topics, str):
            object.__setattr__(self, "topics", (self.topics,))
        else:
            object.__setattr__(self, "topics", tuple(self.topics))
        if isinstance(self.count, bool) or not isinstance(self.count, int):
            raise InvalidPlanRequestError(f"count must be an integer, got {self.count!r}")
        if not MIN_COUNT <= self.count <= MAX_COUNT:
            raise InvalidPlanRequestError(f"count must be within {MIN_COUNT}-{MAX_COUNT}, got {self.count}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InvalidPlanRequestError(f"seed must be a non-negative integer, got {self.seed!r}")
        ratio = self.explore_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not math.isfinite(ratio) or not 0 <= ratio <= 1:
            raise InvalidPlanRequestError(f"explore_ratio must be within [0, 1], got {ratio!r}")
        if not isinstance(self.as_of, datetime):
            raise InvalidPlanRequestError(f"as_of must be a datetime, got {self.as_of!r}")
        object.__setattr__(self, "as_of", _utc(self.as_of))


@dataclass(frozen=True, slots=True)
class ExperimentRef:
    """A running experiment, as far as the planner needs it."""

    experiment_id: str
    baseline_recipe_hash: str
    variant_recipe_hash: str
    variant_jobs: int = 0  # jobs planned with the variant recipe since the experiment started


@dataclass(frozen=True)
class PlannerConfig:
    """Tuning knobs; defaults are the documented behaviour."""

    prior_mean: float = DEFAULT_PRIOR_MEAN
    prior_strength: float = DEFAULT_PRIOR_STRENGTH
    reward_sd: float = DEFAULT_REWARD_SD
    epsilon: float = DEFAULT_EPSILON
    continue_bonus: float = DEFAULT_CONTINUE_BONUS
    exploit_top_k: int = 3
    explore_baselines: int = 3
    min_baseline_scored: int = 1
    max_topic_chars: int = MAX_TOPIC_CHARS

    def __post_init__(self) -> None:
        for name in ("exploit_top_k", "explore_baselines", "min_baseline_scored", "max_topic_chars"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


__all__ = [
    "DEFAULT_EXPLORE_RATIO",
    "MAX_COUNT",
    "MAX_TOPIC_CHARS",
    "MIN_COUNT",
    "ExperimentRef",
    "PlanRequest",
    "PlannerConfig",
    "format_as_of",
]
