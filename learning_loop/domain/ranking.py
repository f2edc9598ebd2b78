"""Sample-size-aware ranking of recipes for exploit (issue 3, item 2).

**Ranking rule (empirical-Bayes shrinkage).** A recipe's score is its mean
reward shrunk toward the project mean::

    score = (n * avg_reward + k * prior_mean) / (n + k)

where ``n`` is the recipe's number of scored videos (videos in the 30-day
reference set R), ``prior_mean`` is the project's mean reward (0.5 by
construction of mid-rank percentiles) and ``k`` (``prior_strength``, default
5) is the weight of the prior in "pseudo-videos". This is the posterior mean
of a normal model in which recipe means vary around the project mean with
variance tau^2 and single videos scatter around their recipe's mean with
variance sigma^2; ``k = sigma^2 / tau^2``. Percentile rewards have a per-video
spread of about sigma = 0.18–0.29 and recipe means rarely differ by more than
tau = 0.1, so k = 5 is a conservative middle. One lucky video moves a
recipe only a sixth of the way from 0.5 toward its reward (0.99 → 0.58),
while twenty videos at 0.75 score 0.70, so the proven recipe wins. Recipes
without scored videos score exactly the prior mean. Ties are broken by
scored before unscored, then more uses (``times_used``) first, then
``recipe_hash`` ascending, so the order is total and deterministic.

Pure functions, no Dagster, no database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from learning_loop.domain.recipe import Recipe

#: Default weight of the project mean, in pseudo-videos.
DEFAULT_PRIOR_STRENGTH = 5.0
#: Mean reward of a project under mid-rank percentiles.
DEFAULT_PRIOR_MEAN = 0.5


@dataclass(frozen=True, slots=True)
class RecipeStat:
    """One row of ``recipe_stats`` as the planner needs it (SPEC §4)."""

    recipe: Recipe
    recipe_hash: str
    times_used: int = 0
    scored_videos: int = 0
    avg_reward: float | None = None
    best_reward: float | None = None

    def __post_init__(self) -> None:
        if self.times_used < 0 or self.scored_videos < 0:
            raise ValueError(f"negative count in recipe stats for {self.recipe_hash}")
        for name in ("avg_reward", "best_reward"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} must be finite for {self.recipe_hash}, got {value}")

    @classmethod
    def of(
        cls,
        recipe: Recipe,
        *,
        times_used: int = 0,
        scored_videos: int = 0,
        avg_reward: float | None = None,
        best_reward: float | None = None,
    ) -> "RecipeStat":
        """Build a row, computing ``recipe_hash`` from the recipe."""
        return cls(recipe, recipe.recipe_hash, times_used, scored_videos, avg_reward, best_reward)

    @property
    def n_scored(self) -> int:
        """Scored videos that carry evidence (0 when ``avg_reward`` is unknown)."""
        return self.scored_videos if self.avg_reward is not None else 0


@dataclass(frozen=True, slots=True)
class RankedRecipe:
    """A recipe with its 1-based rank and shrunk score."""

    rank: int
    stat: RecipeStat
    score: float

    @property
    def recipe(self) -> Recipe:
        return self.stat.recipe

    @property
    def recipe_hash(self) -> str:
        return self.stat.recipe_hash

    @property
    def n_scored(self) -> int:
        return self.stat.n_scored

    @property
    def is_scored(self) -> bool:
        return self.stat.n_scored > 0

    def describe(self) -> str:
        """E.g. ``shrunk reward 0.71 over 20 videos`` (used in plan reasons)."""
        n = self.n_scored
        if n == 0:
            return f"no scored videos yet, prior {self.score:.2f}"
        noun = "video" if n == 1 else "videos"
        return f"shrunk reward {self.score:.2f} over {n} {noun}"


def shrunk_reward(
    n: int,
    avg_reward: float | None,
    prior_mean: float = DEFAULT_PRIOR_MEAN,
    prior_strength: float = DEFAULT_PRIOR_STRENGTH,
) -> float:
    """``(n * avg + k * prior_mean) / (n + k)``; the prior mean when ``n == 0``."""
    if n <= 0 or avg_reward is None:
        return prior_mean
    return (n * avg_reward + prior_strength * prior_mean) / (n + prior_strength)


def _evidence(stat: RecipeStat) -> tuple:
    neg_inf = float("-inf")
    return (
        stat.n_scored,
        stat.times_used,
        neg_inf if stat.avg_reward is None else stat.avg_reward,
        neg_inf if stat.best_reward is None else stat.best_reward,
    )


def dedupe_stats(stats: Iterable[RecipeStat]) -> list[RecipeStat]:
    """One row per recipe_hash, sorted by recipe_hash. Of rows repeating a
    hash, the one with the most evidence (scored videos, then uses, then
    rewards) is kept, so the result does not depend on input order."""
    best: dict[str, RecipeStat] = {}
    for stat in stats:
        current = best.get(stat.recipe_hash)
        if current is None or _evidence(stat) > _evidence(current):
            best[stat.recipe_hash] = stat
    return [best[h] for h in sorted(best)]


def rank_recipes(
    stats: Sequence[RecipeStat],
    prior_mean: float = DEFAULT_PRIOR_MEAN,
    prior_strength: float = DEFAULT_PRIOR_STRENGTH,
) -> list[RankedRecipe]:
    """Rank recipes best first by shrunk reward (see module docstring).

    Order: score descending, scored before unscored, ``times_used``
    descending, ``recipe_hash`` ascending. Rows repeating a recipe_hash are
    collapsed to the one with the most scored videos. The result does not
    depend on the order of ``stats``.
    """
    if prior_strength <= 0 or not math.isfinite(prior_strength):
        raise ValueError(f"prior_strength must be a positive number, got {prior_strength}")
    if not math.isfinite(prior_mean):
        raise ValueError(f"prior_mean must be finite, got {prior_mean}")
    keyed = []
    for stat in dedupe_stats(stats):
        n = stat.n_scored
        score = shrunk_reward(n, stat.avg_reward, prior_mean, prior_strength)
        keyed.append(((-score, 0 if n > 0 else 1, -stat.times_used, stat.recipe_hash), score, stat))
    keyed.sort(key=lambda item: item[0])
    return [RankedRecipe(rank=i + 1, stat=stat, score=score) for i, (_, score, stat) in enumerate(keyed)]
