"""Choosing which recipe field to mutate, and to what value (issue 3, item 3).

**Exploration rule (epsilon-floored Thompson sampling over single-field
changes).** Every (field, value) pair gets a normal posterior for "the mean
reward of videos whose recipe has this value", pooled over all recipes of
the project: ``n`` = scored videos with that value, mean shrunk toward the
project mean exactly like the exploit ranking, ``(sum + k*prior)/(n + k)``,
and standard deviation ``reward_sd / sqrt(n + k)`` (``reward_sd`` = 0.25, the
per-video spread of percentile rewards). For one explore job and baseline
recipe b, each candidate change "field f: b.f → v" (v any other allowed
value) is scored with one fresh posterior draw per value: ``gain =
theta(f, v) - theta(f, b.f)``, plus ``continue_bonus`` (0.05) when a running
experiment already tests exactly that baseline → variant, so started
experiments fill up. The change with the largest sampled gain is tried
first; the others follow in gain order as alternatives when a change would
repeat an existing (topic, recipe). Values that did well are favoured, and
values with little evidence have wide posteriors, so promising *untested*
directions are drawn often, while well-measured poor values fade out. With
probability ``epsilon`` (0.1) the first choice is instead uniform: a field
uniformly among the mutable ones, then a value uniformly among its
candidates. So every mutable field and every candidate value keeps a
probability of at least ``epsilon / (fields * values of that field)`` no
matter what the data say. Candidates: hook_type, ending_type and the two
buckets range over all their allowed values; scene_count over 5–10;
``preset`` only over presets already seen in the project's recipe stats
(with a single known preset, preset is not mutable). The baseline's own
value is never a candidate. Draws come from a seeded ``numpy.random.Generator``
and candidates have a fixed order, so the same seed gives the same choices.

Pure functions, no Dagster, no database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field as dc_field
from typing import Collection, Iterable, Literal

import numpy as np

from learning_loop.domain.ranking import DEFAULT_PRIOR_MEAN, DEFAULT_PRIOR_STRENGTH, RecipeStat, dedupe_stats
from learning_loop.domain.recipe import ALLOWED_VALUES, RECIPE_FIELDS, Recipe, recipe_hash

#: Per-video standard deviation of percentile rewards assumed by the posteriors.
DEFAULT_REWARD_SD = 0.25
#: Probability that the first choice is uniform instead of Thompson.
DEFAULT_EPSILON = 0.1
#: Extra sampled gain for a change that continues a running experiment.
DEFAULT_CONTINUE_BONUS = 0.05


@dataclass(frozen=True, slots=True)
class ValuePosterior:
    """Posterior of the mean reward of videos whose recipe has ``field = value``."""

    field: str
    value: object
    n: int
    mean: float
    sd: float


@dataclass(frozen=True, slots=True)
class Candidate:
    """One possible single-field change of a baseline recipe."""

    field: str
    baseline_value: object
    variant_value: object
    variant: Recipe
    variant_hash: str


@dataclass(frozen=True, slots=True)
class Mutation:
    """A candidate change with the gain sampled for it in one draw."""

    candidate: Candidate
    sampled_gain: float
    picked_by: Literal["thompson", "uniform"]
    continues_experiment: bool

    @property
    def field(self) -> str:
        return self.candidate.field

    @property
    def baseline_value(self) -> object:
        return self.candidate.baseline_value

    @property
    def variant_value(self) -> object:
        return self.candidate.variant_value

    @property
    def variant(self) -> Recipe:
        return self.candidate.variant

    @property
    def variant_hash(self) -> str:
        return self.candidate.variant_hash


@dataclass(slots=True)
class _BaselineCandidates:
    candidates: tuple[Candidate, ...]
    fields: tuple[str, ...]  # mutable fields, in RECIPE_FIELDS order
    cand_mean: np.ndarray
    cand_sd: np.ndarray
    cand_field_idx: np.ndarray  # index into ``fields``
    base_mean: np.ndarray  # per mutable field: posterior of the baseline's value
    base_sd: np.ndarray
    by_field: tuple[tuple[int, ...], ...]  # candidate indices per mutable field


@dataclass
class ExplorationModel:
    """Per-(field, value) posteriors plus the known presets. Build with
    :func:`build_exploration_model`."""

    posteriors: dict[str, dict[object, ValuePosterior]]
    presets: tuple[str, ...]
    prior_mean: float = DEFAULT_PRIOR_MEAN
    prior_strength: float = DEFAULT_PRIOR_STRENGTH
    reward_sd: float = DEFAULT_REWARD_SD
    epsilon: float = DEFAULT_EPSILON
    continue_bonus: float = DEFAULT_CONTINUE_BONUS
    _cache: dict[str, _BaselineCandidates] = dc_field(default_factory=dict, repr=False, compare=False)

    # ---- vocabulary -------------------------------------------------------
    def allowed_values(self, field: str) -> tuple:
        if field == "preset":
            return self.presets
        return ALLOWED_VALUES[field]

    def candidate_values(self, field: str, baseline: Recipe) -> tuple:
        """Values ``field`` may be mutated to from ``baseline`` (never its own value)."""
        current = getattr(baseline, field)
        return tuple(v for v in self.allowed_values(field) if v != current)

    def mutable_fields(self, baseline: Recipe) -> tuple[str, ...]:
        return tuple(f for f in RECIPE_FIELDS if self.candidate_values(f, baseline))

    def posterior(self, field: str, value: object) -> ValuePosterior:
        found = self.posteriors.get(field, {}).get(value)
        if found is not None:
            return found
        return ValuePosterior(field, value, 0, self.prior_mean, self.reward_sd / math.sqrt(self.prior_strength))

    # ---- candidates -------------------------------------------------------
    def _baseline(self, baseline: Recipe, baseline_hash: str | None) -> _BaselineCandidates:
        key = baseline_hash or baseline.recipe_hash
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        fields: list[str] = []
        candidates: list[Candidate] = []
        cand_field_idx: list[int] = []
        base_post: list[ValuePosterior] = []
        by_field: list[tuple[int, ...]] = []
        base_fields = baseline.fields()
        for name in RECIPE_FIELDS:
            values = self.candidate_values(name, baseline)
            if not values:
                continue
            fi = len(fields)
            fields.append(name)
            base_post.append(self.posterior(name, base_fields[name]))
            start = len(candidates)
            for value in values:
                variant_fields = dict(base_fields)
                variant_fields[name] = value
                variant = Recipe(**variant_fields)
                candidates.append(Candidate(name, base_fields[name], value, variant, recipe_hash(variant_fields)))
                cand_field_idx.append(fi)
            by_field.append(tuple(range(start, len(candidates))))
        posts = [self.posterior(c.field, c.variant_value) for c in candidates]
        built = _BaselineCandidates(
            candidates=tuple(candidates),
            fields=tuple(fields),
            cand_mean=np.array([p.mean for p in posts], dtype=float),
            cand_sd=np.array([p.sd for p in posts], dtype=float),
            cand_field_idx=np.array(cand_field_idx, dtype=np.int64),
            base_mean=np.array([p.mean for p in base_post], dtype=float),
            base_sd=np.array([p.sd for p in base_post], dtype=float),
            by_field=tuple(by_field),
        )
        self._cache[key] = built
        return built

    def candidates(self, baseline: Recipe, baseline_hash: str | None = None) -> tuple[Candidate, ...]:
        """All single-field changes of ``baseline``, in a fixed order."""
        return self._baseline(baseline, baseline_hash).candidates

    def _bonus(
        self, bc: _BaselineCandidates, baseline_hash: str, running_pairs: Collection[tuple[str, str]]
    ) -> np.ndarray:
        if not running_pairs or self.continue_bonus == 0:
            return np.zeros(len(bc.candidates))
        return np.array(
            [self.continue_bonus if (baseline_hash, c.variant_hash) in running_pairs else 0.0 for c in bc.candidates]
        )

    # ---- sampling ---------------------------------------------------------
    def rank_mutations(
        self,
        baseline: Recipe,
        rng: np.random.Generator,
        running_pairs: Collection[tuple[str, str]] = frozenset(),
        baseline_hash: str | None = None,
    ) -> list[Mutation]:
        """All candidate changes of ``baseline``, best first, for one explore job.

        The first element is the chosen mutation; the rest are the
        alternatives in sampled-gain order. Consumes a fixed number of random
        numbers per call (3 uniforms + one normal per candidate and per
        mutable field), so later draws do not depend on which branch ran.
        ``running_pairs`` holds (baseline_hash, variant_hash) of running
        experiments. Empty when nothing is mutable.
        """
        bhash = baseline_hash or baseline.recipe_hash
        bc = self._baseline(baseline, bhash)
        k = len(bc.candidates)
        if k == 0:
            return []
        u, r_field, r_value = rng.random(3)
        z = rng.standard_normal(k + len(bc.fields))
        theta_c = bc.cand_mean + bc.cand_sd * z[:k]
        theta_b = bc.base_mean + bc.base_sd * z[k:]
        bonus = self._bonus(bc, bhash, running_pairs)
        gain = theta_c - theta_b[bc.cand_field_idx] + bonus
        order = [int(i) for i in np.argsort(-gain, kind="stable")]
        picked_by: Literal["thompson", "uniform"] = "thompson"
        if u < self.epsilon:
            fi = min(int(r_field * len(bc.fields)), len(bc.fields) - 1)
            members = bc.by_field[fi]
            first = members[min(int(r_value * len(members)), len(members) - 1)]
            order.remove(first)
            order.insert(0, first)
            picked_by = "uniform"
        result = []
        for pos, i in enumerate(order):
            result.append(
                Mutation(
                    candidate=bc.candidates[i],
                    sampled_gain=float(gain[i]),
                    picked_by=picked_by if pos == 0 else "thompson",
                    continues_experiment=bool(bonus[i] > 0),
                )
            )
        return result

    def choose_mutation(
        self,
        baseline: Recipe,
        rng: np.random.Generator,
        running_pairs: Collection[tuple[str, str]] = frozenset(),
        baseline_hash: str | None = None,
    ) -> Mutation | None:
        """The first choice of :meth:`rank_mutations` (None if nothing is mutable)."""
        ranked = self.rank_mutations(baseline, rng, running_pairs, baseline_hash)
        return ranked[0] if ranked else None

    def mutation_probabilities(
        self,
        baseline: Recipe,
        rng: np.random.Generator,
        draws: int = 20_000,
        running_pairs: Collection[tuple[str, str]] = frozenset(),
        baseline_hash: str | None = None,
    ) -> dict[tuple[str, object], float]:
        """Probability that each change is the first choice.

        The uniform (epsilon) part is exact; the Thompson part is a Monte
        Carlo estimate from ``draws`` vectorised draws. For reports and tests.
        """
        bhash = baseline_hash or baseline.recipe_hash
        bc = self._baseline(baseline, bhash)
        k = len(bc.candidates)
        if k == 0:
            return {}
        z = rng.standard_normal((draws, k + len(bc.fields)))
        theta_c = bc.cand_mean + bc.cand_sd * z[:, :k]
        theta_b = bc.base_mean + bc.base_sd * z[:, k:]
        gain = theta_c - theta_b[:, bc.cand_field_idx] + self._bonus(bc, bhash, running_pairs)
        wins = np.bincount(np.argmax(gain, axis=1), minlength=k) / draws
        probs = {}
        n_fields = len(bc.fields)
        for i, c in enumerate(bc.candidates):
            members = bc.by_field[int(bc.cand_field_idx[i])]
            uniform = 1.0 / (n_fields * len(members))
            probs[(c.field, c.variant_value)] = (1 - self.epsilon) * float(wins[i]) + self.epsilon * uniform
        return probs


def build_exploration_model(
    stats: Iterable[RecipeStat],
    prior_mean: float = DEFAULT_PRIOR_MEAN,
    prior_strength: float = DEFAULT_PRIOR_STRENGTH,
    reward_sd: float = DEFAULT_REWARD_SD,
    epsilon: float = DEFAULT_EPSILON,
    continue_bonus: float = DEFAULT_CONTINUE_BONUS,
) -> ExplorationModel:
    """Pool the project's recipe stats into per-(field, value) posteriors.

    Rows are de-duplicated by recipe_hash and summed in hash order, so the
    result does not depend on the order of ``stats``.
    """
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be within [0, 1], got {epsilon}")
    if reward_sd <= 0 or not math.isfinite(reward_sd):
        raise ValueError(f"reward_sd must be a positive number, got {reward_sd}")
    if prior_strength <= 0 or not math.isfinite(prior_strength):
        raise ValueError(f"prior_strength must be a positive number, got {prior_strength}")
    if continue_bonus < 0 or not math.isfinite(continue_bonus):
        raise ValueError(f"continue_bonus must be a non-negative number, got {continue_bonus}")
    rows = dedupe_stats(stats)
    counts: dict[str, dict[object, list[float]]] = {name: {} for name in RECIPE_FIELDS}
    presets: set[str] = set()
    for stat in rows:
        presets.add(stat.recipe.preset)
        n = stat.n_scored
        if n == 0:
            continue
        total = n * float(stat.avg_reward)  # type: ignore[arg-type]
        for name in RECIPE_FIELDS:
            acc = counts[name].setdefault(getattr(stat.recipe, name), [0, 0.0])
            acc[0] += n
            acc[1] += total
    posteriors: dict[str, dict[object, ValuePosterior]] = {}
    for name, by_value in counts.items():
        posteriors[name] = {
            value: ValuePosterior(
                name,
                value,
                int(n),
                (total + prior_strength * prior_mean) / (n + prior_strength),
                reward_sd / math.sqrt(n + prior_strength),
            )
            for value, (n, total) in by_value.items()
        }
    return ExplorationModel(
        posteriors=posteriors,
        presets=tuple(sorted(presets)),
        prior_mean=prior_mean,
        prior_strength=prior_strength,
        reward_sd=reward_sd,
        epsilon=epsilon,
        continue_bonus=continue_bonus,
    )
