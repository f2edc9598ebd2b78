"""Target policies for off-policy evaluation: the probability each gives a logged action.

Every target policy is **factorised** over the three decisions of a job::

    π(a | x) = π(recipe | x) · π(content type | x) · π(hour | x)

where ``x`` is the job's batch (its as-of moment, its recipe-stats partition, the bandit
arms then, the batch size). The recipe itself is one decision over its six fields (for
``seeds`` the fields are *not* independent: one recipe or its one-field mutations).

- ``uniform`` — every recipe field uniform over its allowed values
  (:data:`learning_loop.domain.recipe.ALLOWED_VALUES`; presets: the presets seen in the
  project's videos by then), content type uniform over the content types seen, hour
  uniform over 0–23. The floor any learner must beat (the simulator's UniformPolicy).
- ``seeds`` — the original fixed policy (``simulate/policies.py`` SeedsPolicy):
  *recipe*: exploit the recipe with the highest raw ``avg_reward`` of the batch's
  recipe-stats partition (ties: lower recipe_hash), except in ``n_explore =
  floor(n · explore_ratio + 1/2)`` of the batch's ``n`` slots (a seeded random set, so
  a job is an explore slot with probability ``n_explore / n`` — explore_ratio up to
  rounding), which take a one-field mutation of it: a field uniformly among the mutable
  ones, a value uniformly among that field's other allowed values (presets among the
  presets seen). Without any scored recipe every field is uniform.
  *content type*: batch-aware Thompson sampling over the batch's content arms
  (:func:`learning_loop.domain.bandits.thompson_select`, one pseudo-failure per pick;
  ``content_unknown`` is never a choice); π(type) is the expected share of the batch's
  ``n`` picks equal to that type, by a seeded Monte Carlo replay of the same algorithm
  (for ``n = 1`` this is P(the type's Beta draw is the largest)). No content arms:
  uniform over the content types seen.
  *hour*: batch-aware UCB1 (:func:`learning_loop.domain.bandits.ucb1_select`, deterministic)
  for the batch's ``n`` jobs; π(hour) = share of the ``n`` picks equal to that hour.
- ``current`` — the logged propensities themselves (handled by ``evaluate``: weight 1).

Each policy also gives its **factor marginals** (``actions.Marginals``): the expectation of
an additive reward model under a factorised policy is the sum of the per-factor
expectations, so DR's ``q̂_π(x)`` needs no enumeration of the joint action space — even for
``seeds``, whose recipe fields are dependent (linearity of expectation needs only marginals).

Pure: no Dagster, no database.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from learning_loop.domain import bandits
from learning_loop.domain.evaluation.actions import CONTENT, HOUR, Action, normalise_value
from learning_loop.domain.recipe import ALLOWED_VALUES, RECIPE_FIELDS

UNIFORM = "uniform"
SEEDS = "seeds"
CURRENT = "current"
POLICIES: tuple[str, ...] = (SEEDS, UNIFORM, CURRENT)

#: The seeds' explore ratio when a batch did not record one (SeedsPolicy's default).
DEFAULT_EXPLORE_RATIO = 0.3
#: Monte Carlo replays of a batch's Thompson sampling (fewer for big batches, see below).
DEFAULT_THOMPSON_SAMPLES = 4000
#: Cap on replays × batch size, so one batch of 1000 jobs still takes well under a second.
_MAX_THOMPSON_PICKS = 2_000_000
HOURS: tuple[int, ...] = tuple(range(24))


# --------------------------------------------------------------------------- recipe distributions


class RecipeDistribution(Protocol):
    """A distribution over recipes: the probability of one, its per-field marginals, its support."""

    def probability(self, recipe: Mapping[str, Any]) -> float: ...

    def field_marginals(self) -> dict[str, dict[Any, float]]: ...

    def support(self) -> Iterator[tuple[dict[str, Any], float]]: ...


def field_values(name: str, presets: Sequence[str]) -> tuple:
    """The values a recipe field can take: the presets given for ``preset``, ALLOWED_VALUES otherwise."""
    values = tuple(presets) if name == "preset" else tuple(ALLOWED_VALUES[name])
    return tuple(normalise_value(name, v) for v in values)


@dataclass(frozen=True)
class ProductRecipe:
    """Independent fields: ``P(recipe) = Π_f P_f(recipe.f)``."""

    fields: Mapping[str, Mapping[Any, float]]

    @classmethod
    def uniform(cls, presets: Sequence[str]) -> "ProductRecipe":
        probs = {}
        for name in RECIPE_FIELDS:
            values = field_values(name, presets)
            probs[name] = {v: 1.0 / len(values) for v in values} if values else {}
        return cls(probs)

    def probability(self, recipe: Mapping[str, Any]) -> float:
        return math.prod(self.fields[f].get(normalise_value(f, recipe[f]), 0.0) for f in RECIPE_FIELDS)

    def field_marginals(self) -> dict[str, dict[Any, float]]:
        return {f: dict(self.fields[f]) for f in RECIPE_FIELDS}

    def support(self) -> Iterator[tuple[dict[str, Any], float]]:
        items = [list(self.fields[f].items()) for f in RECIPE_FIELDS]
        for combo in itertools.product(*items):
            yield {f: v for f, (v, _) in zip(RECIPE_FIELDS, combo)}, math.prod(p for _, p in combo)


@dataclass(frozen=True)
class SeedsRecipe:
    """The seeds' recipe choice: ``top`` with probability ``1 − explore``, else one uniform
    single-field mutation of it (field uniform among the mutable ones, value uniform among
    the field's other values)."""

    top: Mapping[str, Any]
    explore: float
    presets: tuple[str, ...]
    _options: dict[str, tuple] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.explore <= 1.0:
            raise ValueError(f"explore probability must be within [0, 1], got {self.explore}")
        top = {f: normalise_value(f, self.top[f]) for f in RECIPE_FIELDS}
        object.__setattr__(self, "top", top)
        options = {f: tuple(v for v in field_values(f, self.presets) if v != top[f]) for f in RECIPE_FIELDS}
        object.__setattr__(self, "_options", {f: vals for f, vals in options.items() if vals})

    @property
    def mutable_fields(self) -> tuple[str, ...]:
        return tuple(f for f in RECIPE_FIELDS if f in self._options)

    def _mutation_probability(self, name: str) -> float:
        """P(a given other value of field ``name``) under the explore branch."""
        return 1.0 / (len(self._options) * len(self._options[name]))

    def probability(self, recipe: Mapping[str, Any]) -> float:
        values = {f: normalise_value(f, recipe[f]) for f in RECIPE_FIELDS}
        differing = [f for f in RECIPE_FIELDS if values[f] != self.top[f]]
        if not differing:
            return 1.0 - self.explore if self._options else 1.0
        if len(differing) == 1 and values[differing[0]] in self._options.get(differing[0], ()):
            return self.explore * self._mutation_probability(differing[0])
        return 0.0

    def field_marginals(self) -> dict[str, dict[Any, float]]:
        if not self._options:  # nothing can be mutated: always the top recipe
            return {f: {self.top[f]: 1.0} for f in RECIPE_FIELDS}
        m = len(self._options)
        marginals: dict[str, dict[Any, float]] = {}
        for name in RECIPE_FIELDS:
            options = self._options.get(name, ())
            changed = self.explore / m if options else 0.0  # P(this field is the one mutated)
            probs = {self.top[name]: 1.0 - changed}
            for value in options:
                probs[value] = changed / len(options)
            marginals[name] = probs
        return marginals

    def support(self) -> Iterator[tuple[dict[str, Any], float]]:
        top = dict(self.top)
        yield top, self.probability(top)
        for name, options in self._options.items():
            for value in options:
                mutated = {**top, name: value}
                yield mutated, self.probability(mutated)


# --------------------------------------------------------------------------- the factorised policy


@dataclass(frozen=True)
class FactorisedPolicy:
    """``π(a|x) = π(recipe|x) · π(content|x) · π(hour|x)`` for one context (batch)."""

    name: str
    recipe: RecipeDistribution
    content: Mapping[str, float]
    hour: Mapping[int, float]

    def factor_probabilities(self, action: Action) -> tuple[float, float, float]:
        """(π(recipe), π(content), π(hour)); a factor the logged job left undecided (None) is 1."""
        p_recipe = self.recipe.probability(action.recipe)
        p_content = 1.0 if action.content_type is None else float(self.content.get(action.content_type, 0.0))
        p_hour = 1.0 if action.hour is None else float(self.hour.get(action.hour, 0.0))
        return p_recipe, p_content, p_hour

    def probability(self, action: Action) -> float:
        return math.prod(self.factor_probabilities(action))

    def marginals(self, action: Action | None = None) -> dict[str, dict[Any, float]]:
        """Per-factor marginals; with ``action``, its undecided factors become ``{None: 1}``."""
        out = self.recipe.field_marginals()
        out[CONTENT] = {None: 1.0} if action is not None and action.content_type is None else dict(self.content)
        out[HOUR] = {None: 1.0} if action is not None and action.hour is None else dict(self.hour)
        return out


def _uniform(values: Sequence[Any]) -> dict[Any, float]:
    return {v: 1.0 / len(values) for v in values} if values else {}


def _content_types(values: Sequence[Any]) -> list[str]:
    """Normalised content types one can ask for (``unknown`` is not one)."""
    return sorted({bandits.normalize_content_type(v) for v in values} - {bandits.UNKNOWN_CONTENT_TYPE})


def uniform_policy(presets: Sequence[str], content_types: Sequence[str]) -> FactorisedPolicy:
    """Every recipe field, the content type (among ``content_types``) and the hour uniform."""
    recipe = ProductRecipe.uniform(sorted(set(presets)))
    return FactorisedPolicy(UNIFORM, recipe, _uniform(_content_types(content_types)), _uniform(HOURS))


# --------------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class RecipeAverage:
    """One row of a recipe-stats partition: the recipe and its raw average reward (None: unscored)."""

    recipe_hash: str
    recipe: Mapping[str, Any]
    avg_reward: float | None


@dataclass(frozen=True)
class BatchContext:
    """What the seeds' policy saw when a batch was planned.

    ``arms``: bandit arms as of the batch (``stores.models.latest_arms`` rows; may be empty),
    ``presets`` / ``content_types``: the values seen in the project's videos by then.
    """

    batch_id: str
    n_jobs: int
    explore_ratio: float | None
    recipe_stats: tuple[RecipeAverage, ...]
    arms: pd.DataFrame
    presets: tuple[str, ...]
    content_types: tuple[str, ...]


def exploit_recipe(stats: Sequence[RecipeAverage]) -> dict[str, Any] | None:
    """The recipe with the highest raw average reward (ties: lower recipe_hash); None when none is scored."""
    scored = [s for s in stats if s.avg_reward is not None and math.isfinite(s.avg_reward)]
    if not scored:
        return None
    best = min(scored, key=lambda s: (-float(s.avg_reward), s.recipe_hash))  # type: ignore[arg-type]
    return {f: normalise_value(f, best.recipe[f]) for f in RECIPE_FIELDS}


def explore_probability(n_jobs: int, explore_ratio: float) -> float:
    """P(a job of a batch of ``n_jobs`` is an explore slot) = floor(n · ratio + 1/2) / n."""
    if n_jobs < 1:
        raise ValueError(f"a batch has at least one job, got {n_jobs}")
    if not 0.0 <= explore_ratio <= 1.0:
        raise ValueError(f"explore_ratio must be within [0, 1], got {explore_ratio}")
    return math.floor(n_jobs * explore_ratio + 0.5) / n_jobs


def thompson_shares(
    content_arms: pd.DataFrame, n_jobs: int, samples: int = DEFAULT_THOMPSON_SAMPLES, seed: int = 0
) -> dict[str, float]:
    """Expected share of a batch's ``n_jobs`` Thompson picks per content type (arm prefix removed).

    Replays :func:`bandits.thompson_select` (pseudo-failure after each pick, arms ordered by
    name) ``samples`` times at once with ``numpy.random.default_rng(seed)``; at most
    ``_MAX_THOMPSON_PICKS / n_jobs`` replays (but at least 200) so big batches stay fast.
    Monte Carlo error of a share p is about ``sqrt(p (1 − p) / (replays · n_jobs))`` or less.
    """
    if n_jobs < 1:
        raise ValueError(f"a batch has at least one job, got {n_jobs}")
    frame = content_arms.sort_values("arm", kind="stable")
    names = frame["arm"].astype(str).tolist()
    if not names:
        raise ValueError("no content arms")
    replays = max(200, min(samples, _MAX_THOMPSON_PICKS // n_jobs))
    alpha = np.tile(np.asarray(frame["alpha"], dtype=float), (replays, 1))
    beta = np.tile(np.asarray(frame["beta"], dtype=float), (replays, 1))
    rng = np.random.default_rng(seed)
    counts = np.zeros(len(names))
    rows = np.arange(replays)
    for _ in range(n_jobs):
        picks = np.argmax(rng.beta(alpha, beta), axis=1)
        counts += np.bincount(picks, minlength=len(names))
        beta[rows, picks] += 1.0
    shares = counts / (replays * n_jobs)
    return {bandits.arm_content_type(name): float(s) for name, s in zip(names, shares)}


def ucb1_shares(timing_arms: pd.DataFrame, n_jobs: int) -> dict[int, float]:
    """Share of the batch's ``n_jobs`` UCB1 picks per hour (``bandits.ucb1_select``; deterministic)."""
    picks = bandits.ucb1_select(timing_arms, n_jobs)
    counts = pd.Series(picks).value_counts()
    return {int(h): float(c) / n_jobs for h, c in counts.items()}


def _untried_timing() -> pd.DataFrame:
    return pd.DataFrame({"hour": list(HOURS), "pulls": [0] * 24, "successes": [0] * 24})


def seeds_policy(
    context: BatchContext, samples: int = DEFAULT_THOMPSON_SAMPLES, seed: int = 0
) -> FactorisedPolicy:
    """The seeds' fixed policy for one batch (see the module docstring)."""
    presets = tuple(sorted(set(context.presets)))
    top = exploit_recipe(context.recipe_stats)
    if top is None:
        recipe: RecipeDistribution = ProductRecipe.uniform(presets)
    else:
        ratio = DEFAULT_EXPLORE_RATIO if context.explore_ratio is None else float(context.explore_ratio)
        recipe = SeedsRecipe(top, explore_probability(context.n_jobs, ratio), presets)
    arms = context.arms
    has_arms = arms is not None and not arms.empty and "arm_type" in arms.columns
    content_arms = (
        arms[(arms["arm_type"] == "content") & (arms["arm"] != bandits.content_arm(None))] if has_arms else None
    )
    if content_arms is not None and not content_arms.empty:
        content = thompson_shares(content_arms, context.n_jobs, samples, seed)
    else:
        content = _uniform(_content_types(context.content_types))
    timing = arms[arms["arm_type"] == "timing"] if has_arms else None
    if timing is None or timing.empty:
        timing = _untried_timing()
    return FactorisedPolicy(SEEDS, recipe, content, ucb1_shares(timing, context.n_jobs))
