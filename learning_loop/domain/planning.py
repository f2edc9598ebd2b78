"""The batch planner behind ``plan-next`` (SPEC §5, issue 3). Pure: no Dagster,
no database; the caller loads recipe stats, existing (topic, recipe) pairs
and running experiments, and writes the returned plan.

How a batch is planned:

1. **Topics** are stripped; blank lines are ignored; a line repeating an
   earlier topic's ``topic_hash`` is collapsed into it (first occurrence
   wins, the dropped lines are listed in ``collapsed_topics``). A line over
   500 characters, or no topic at all, is bad input (``InvalidTopicsError``).
2. **Split.** ``m = min(count, usable topics)`` jobs are aimed for;
   ``n_explore = floor(m * ratio + 1/2)`` computed exactly (the ratio is read
   as the decimal it prints as, so 0.3 * 5 = 1.5 rounds to 2), ``n_exploit =
   m - n_explore``. Without an explorable baseline (no recipe with a scored
   video) every job is exploit. No recipe stats at all raises
   ``NoRecipeStatsError``. Which job slots explore is a seeded random
   permutation, so topic order is not confounded with the mode.
3. **Exploit** ranks recipes by shrunk reward (``ranking.py``). Exploit jobs
   rotate over the top ``exploit_top_k`` (3) *scored* recipes with the ruler
   sequence 1, 2, 1, 3, 1, 2, 1, 3, …: the best recipe gets half of the
   exploit jobs, ranks 2 and 3 a quarter each, so a batch stays mostly the
   best while near-ties keep collecting evidence.
4. **Explore** takes a baseline from the top ``explore_baselines`` (3) scored
   recipes with the same ruler sequence and mutates exactly one field
   (``exploration.py``). Each explore job links an experiment: a running
   experiment with the same baseline and variant hashes is reused; otherwise
   a new one is listed in ``new_experiments`` once, with id ``exp_`` + the
   first 16 hex digits of SHA-256 over (project, baseline hash, variant hash,
   as_of) — as_of is included so a later experiment on the same pair, after
   the first one completed, gets a new id.
5. **Duplicates.** No job repeats a (topic_hash, recipe_hash) of
   ``existing_pairs`` or of an earlier job of the batch. On a clash an
   exploit job tries the next recipes in rank order, an explore job the
   next mutations in sampled order, then the other baselines; when all are
   exhausted the topic is skipped with reason ``duplicate`` and the job
   slot passes to the next topic. Each clash is a distinct existing pair,
   so the search costs at most O(existing pairs + topics) in total.
6. **Fewer jobs than requested** (too few topics, or topics skipped) are
   stated in ``shortfall_reason``.
7. **Determinism.** All randomness comes from
   ``numpy.random.default_rng(seed)``; recipes are sorted by score and hash.
   ``batch_id`` is ``batch_`` + 16 hex digits of SHA-256 over the project,
   as_of, seed, count, ratio and the planned jobs and skips (a function of
   all inputs); ``job_id`` is ``job_`` + 16 hex digits over the batch id,
   topic hash and recipe hash. ``as_of`` is printed as ISO-8601 UTC with a
   ``Z`` suffix, e.g. ``2024-05-01T06:00:00Z``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from typing import Any, Collection, Iterator, Literal, Sequence

import numpy as np

from learning_loop.domain.brief import generation_brief
from learning_loop.domain.exploration import (
    DEFAULT_CONTINUE_BONUS,
    DEFAULT_EPSILON,
    DEFAULT_REWARD_SD,
    ExplorationModel,
    Mutation,
    build_exploration_model,
)
from learning_loop.domain.ranking import (
    DEFAULT_PRIOR_MEAN,
    DEFAULT_PRIOR_STRENGTH,
    RankedRecipe,
    RecipeStat,
    rank_recipes,
)
from learning_loop.domain.recipe import Recipe, topic_hash

DEFAULT_EXPLORE_RATIO = 0.3
MIN_COUNT = 1
MAX_COUNT = 1000
MAX_TOPIC_CHARS = 500
SKIP_DUPLICATE = "duplicate"

GenerationMode = Literal["exploit", "explore"]


# ---------------------------------------------------------------- errors ----
class PlanningError(ValueError):
    """Bad input for the planner. ``str(error)`` is a one-line message."""


class NoRecipeStatsError(PlanningError):
    """The project has no recipe stats to plan from."""

    def __init__(self, project_id: str, message: str | None = None) -> None:
        self.project_id = project_id
        super().__init__(
            message
            or f"no recipe stats for project {project_id!r}: run `learning-loop backfill --project {project_id}` "
            "or `learning-loop update-stats --date D` first"
        )


class InvalidTopicsError(PlanningError):
    """The topics are unusable (none left after cleaning, or a line too long)."""


class InvalidPlanRequestError(PlanningError):
    """A request field is out of range."""


# ---------------------------------------------------------------- inputs ----
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


# ---------------------------------------------------------------- topics ----
@dataclass(frozen=True, slots=True)
class CleanTopic:
    topic: str
    topic_hash: str


@dataclass(frozen=True)
class CleanedTopics:
    topics: tuple[CleanTopic, ...]
    collapsed: tuple[str, ...]  # lines dropped as repeats of an earlier topic


def clean_topics(lines: Sequence[str], max_chars: int = MAX_TOPIC_CHARS) -> CleanedTopics:
    """Strip, drop blank lines, collapse repeats by topic_hash (first wins).

    Raises :class:`InvalidTopicsError` for a line longer than ``max_chars``
    characters (after stripping) or when no topic remains.
    """
    seen: set[str] = set()
    kept: list[CleanTopic] = []
    collapsed: list[str] = []
    line_no = 0
    for raw in lines:
        for line in str(raw).splitlines() or [""]:
            line_no += 1
            text = line.strip()
            if not text:
                continue
            if len(text) > max_chars:
                raise InvalidTopicsError(f"topic on line {line_no} has {len(text)} characters (maximum {max_chars})")
            th = topic_hash(text)
            if th in seen:
                collapsed.append(text)
                continue
            seen.add(th)
            kept.append(CleanTopic(text, th))
    if not kept:
        raise InvalidTopicsError("no topics left after removing blank lines")
    return CleanedTopics(tuple(kept), tuple(collapsed))


def split_counts(n: int, explore_ratio: float = DEFAULT_EXPLORE_RATIO) -> tuple[int, int]:
    """``(n_exploit, n_explore)`` with ``n_explore = floor(n * ratio + 1/2)``, exactly."""
    ratio = Fraction(repr(float(explore_ratio)))
    n_explore = math.floor(n * ratio + Fraction(1, 2))
    return n - n_explore, n_explore


def ruler_index(j: int, k: int) -> int:
    """0-based pool index for the j-th (0-based) job: 0, 1, 0, 2, 0, 1, 0, 3, … capped at k-1."""
    x = j + 1
    return min((x & -x).bit_length() - 1, k - 1)


def _sha16(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:16]


def experiment_id_for(project_id: str, baseline_hash: str, variant_hash: str, as_of: datetime) -> str:
    """Deterministic id of a new experiment (see module docstring)."""
    return "exp_" + _sha16("experiment", project_id, baseline_hash, variant_hash, format_as_of(as_of))


# ---------------------------------------------------------------- outputs ---
def _value(value: object) -> str:
    return str(value)


@dataclass(frozen=True)
class PlannedJob:
    job_id: str
    topic: str
    topic_hash: str
    generation_mode: GenerationMode
    recipe: Recipe
    recipe_hash: str
    experiment_id: str | None
    reason: str
    brief: dict[str, Any]
    rank: int  # rank of the recipe (exploit) or of the baseline (explore)
    baseline_recipe_hash: str | None = None
    variable_tested: str | None = None
    baseline_value: str | None = None
    variant_value: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "topic": self.topic,
            "topic_hash": self.topic_hash,
            "generation_mode": self.generation_mode,
            "recipe": self.recipe.fields(),
            "recipe_hash": self.recipe_hash,
            "experiment_id": self.experiment_id,
            "reason": self.reason,
            "brief": self.brief,
            "baseline_recipe_hash": self.baseline_recipe_hash,
        }


@dataclass(frozen=True)
class SkippedTopic:
    topic: str
    topic_hash: str
    reason: str
    detail: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class NewExperiment:
    """An experiment the caller must create together with the batch."""

    experiment_id: str
    project_id: str
    variable_tested: str
    baseline_value: str
    variant_value: str
    baseline_recipe_hash: str
    variant_recipe_hash: str
    baseline_recipe: Recipe
    variant_recipe: Recipe
    started_at: datetime

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "project_id": self.project_id,
            "variable_tested": self.variable_tested,
            "baseline_value": self.baseline_value,
            "variant_value": self.variant_value,
            "baseline_recipe_hash": self.baseline_recipe_hash,
            "variant_recipe_hash": self.variant_recipe_hash,
            "baseline_recipe": self.baseline_recipe.fields(),
            "variant_recipe": self.variant_recipe.fields(),
            "started_at": format_as_of(self.started_at),
        }


@dataclass(frozen=True)
class BatchPlan:
    batch_id: str
    project_id: str
    as_of: datetime
    seed: int
    explore_ratio: float
    requested: int
    jobs: tuple[PlannedJob, ...]
    skipped: tuple[SkippedTopic, ...]
    new_experiments: tuple[NewExperiment, ...]
    reused_experiment_ids: tuple[str, ...]
    collapsed_topics: tuple[str, ...]
    shortfall_reason: str | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def planned(self) -> int:
        return len(self.jobs)

    @property
    def exploit_count(self) -> int:
        return sum(1 for j in self.jobs if j.generation_mode == "exploit")

    @property
    def explore_count(self) -> int:
        return sum(1 for j in self.jobs if j.generation_mode == "explore")

    def to_json_dict(self) -> dict[str, Any]:
        """The SPEC §5 ``--json`` output (plus a few extra keys)."""
        return {
            "batch_id": self.batch_id,
            "project_id": self.project_id,
            "as_of": format_as_of(self.as_of),
            "requested": self.requested,
            "planned": self.planned,
            "exploit_count": self.exploit_count,
            "explore_count": self.explore_count,
            "jobs": [job.to_json_dict() for job in self.jobs],
            "skipped": [s.to_json_dict() for s in self.skipped],
            "seed": self.seed,
            "shortfall_reason": self.shortfall_reason,
            "notes": list(self.notes),
        }

    def experiments_json(self) -> list[dict[str, Any]]:
        return [e.to_json_dict() for e in self.new_experiments]


# --------------------------------------------------------------- planner ----
@dataclass
class _Draft:
    """A job before ids are assigned."""

    topic: CleanTopic
    mode: GenerationMode
    recipe: Recipe
    recipe_hash: str
    rank: int
    reason: str
    experiment_id: str | None = None
    baseline_recipe_hash: str | None = None
    mutation: Mutation | None = None


def _exploit_candidates(ranked: Sequence[RankedRecipe], first: RankedRecipe) -> Iterator[RankedRecipe]:
    yield first
    for r in ranked:
        if r is not first:
            yield r


def plan_batch(
    request: PlanRequest,
    stats: Sequence[RecipeStat],
    existing_pairs: Collection[tuple[str, str]],
    running_experiments: Sequence[ExperimentRef] = (),
    config: PlannerConfig | None = None,
) -> BatchPlan:
    """Plan a batch (see module docstring).

    ``stats`` is the project's recipe_stats partition; ``existing_pairs``
    holds (topic_hash, recipe_hash) of the project's videos and planned jobs;
    ``running_experiments`` the project's running experiments.
    """
    cfg = config or PlannerConfig()
    if not stats:
        raise NoRecipeStatsError(request.project_id)
    cleaned = clean_topics(request.topics, cfg.max_topic_chars)
    used: Collection[tuple[str, str]] = (
        existing_pairs if isinstance(existing_pairs, (set, frozenset)) else set(existing_pairs)
    )
    batch_pairs: set[tuple[str, str]] = set()

    ranked = rank_recipes(stats, cfg.prior_mean, cfg.prior_strength)
    scored = [r for r in ranked if r.is_scored]
    exploit_pool = (scored or ranked)[: cfg.exploit_top_k]
    baselines = [r for r in scored if r.n_scored >= cfg.min_baseline_scored][: cfg.explore_baselines]

    running: dict[tuple[str, str], str] = {}
    for ref in sorted(running_experiments, key=lambda e: e.experiment_id):
        running.setdefault((ref.baseline_recipe_hash, ref.variant_recipe_hash), ref.experiment_id)

    model: ExplorationModel | None = None
    if baselines:
        model = build_exploration_model(
            stats,
            prior_mean=cfg.prior_mean,
            prior_strength=cfg.prior_strength,
            reward_sd=cfg.reward_sd,
            epsilon=cfg.epsilon,
            continue_bonus=cfg.continue_bonus,
        )

    notes: list[str] = []
    m = min(request.count, len(cleaned.topics))
    n_exploit, n_explore = split_counts(m, request.explore_ratio)
    if n_explore and not baselines:
        notes.append("no recipe has scored videos yet, so there is no baseline to explore from: all jobs exploit")
        n_exploit, n_explore = m, 0
    rng = np.random.default_rng(request.seed)
    slot_is_explore = np.array([True] * n_explore + [False] * n_exploit, dtype=bool)[rng.permutation(m)]

    drafts: list[_Draft] = []
    skipped: list[SkippedTopic] = []
    new_experiments: dict[str, NewExperiment] = {}
    reused: dict[str, None] = {}
    j_exploit = j_explore = 0

    def free(th: str, rh: str) -> bool:
        pair = (th, rh)
        return pair not in used and pair not in batch_pairs

    for topic in cleaned.topics:
        if len(drafts) >= m:
            break
        th = topic.topic_hash
        if not slot_is_explore[len(drafts)]:
            first = exploit_pool[ruler_index(j_exploit, len(exploit_pool))]
            chosen = next((r for r in _exploit_candidates(ranked, first) if free(th, r.recipe_hash)), None)
            if chosen is None:
                skipped.append(SkippedTopic(topic.topic, th, SKIP_DUPLICATE, "every recipe was already used for this topic"))
                continue
            reason = f"exploit: rank {chosen.rank} recipe ({chosen.describe()})"
            if chosen is not first:
                reason += f"; rank {first.rank} was already used for this topic"
            drafts.append(_Draft(topic, "exploit", chosen.recipe, chosen.recipe_hash, chosen.rank, reason))
            batch_pairs.add((th, chosen.recipe_hash))
            j_exploit += 1
            continue

        assert model is not None
        first_b = baselines[ruler_index(j_explore, len(baselines))]
        found: tuple[RankedRecipe, Mutation, bool] | None = None
        for b in [first_b] + [x for x in baselines if x is not first_b]:
            mutations = model.rank_mutations(b.recipe, rng, running, b.recipe_hash)
            for pos, mut in enumerate(mutations):
                if free(th, mut.variant_hash):
                    found = (b, mut, b is not first_b or pos > 0)
                    break
            if found:
                break
        if found is None:
            skipped.append(
                SkippedTopic(topic.topic, th, SKIP_DUPLICATE, "every single-field mutation was already used for this topic")
            )
            continue
        b, mut, alternative = found
        key = (b.recipe_hash, mut.variant_hash)
        exp_id = running.get(key)
        if exp_id is not None:
            reused[exp_id] = None
            exp_note = f"continues running experiment {exp_id}"
        else:
            exp_id = experiment_id_for(request.project_id, b.recipe_hash, mut.variant_hash, request.as_of)
            if exp_id not in new_experiments:
                new_experiments[exp_id] = NewExperiment(
                    experiment_id=exp_id,
                    project_id=request.project_id,
                    variable_tested=mut.field,
                    baseline_value=_value(mut.baseline_value),
                    variant_value=_value(mut.variant_value),
                    baseline_recipe_hash=b.recipe_hash,
                    variant_recipe_hash=mut.variant_hash,
                    baseline_recipe=b.recipe,
                    variant_recipe=mut.variant,
                    started_at=request.as_of,
                )
            exp_note = f"experiment {exp_id}"
        reason = (
            f"explore: {mut.field} {_value(mut.baseline_value)}\u2192{_value(mut.variant_value)} "
            f"on rank-{b.rank} baseline ({b.describe()}; {exp_note})"
        )
        if mut.picked_by == "uniform":
            reason += "; uniform pick"
        if alternative:
            reason += "; first choice was already used for this topic"
        drafts.append(
            _Draft(topic, "explore", mut.variant, mut.variant_hash, b.rank, reason, exp_id, b.recipe_hash, mut)
        )
        batch_pairs.add((th, mut.variant_hash))
        j_explore += 1

    # -- shortfall ---------------------------------------------------------
    shortfall: str | None = None
    if len(drafts) < request.count:
        parts = []
        if len(cleaned.topics) < request.count:
            parts.append(
                f"only {len(cleaned.topics)} usable topic{'s' if len(cleaned.topics) != 1 else ''} "
                f"for {request.count} requested"
            )
        n_dup = sum(1 for s in skipped if s.reason == SKIP_DUPLICATE)
        if n_dup:
            parts.append(f"{n_dup} topic{'s' if n_dup != 1 else ''} skipped as duplicate")
        shortfall = f"planned {len(drafts)} of {request.count}: " + "; ".join(parts)

    # -- ids -----------------------------------------------------------------
    as_of_text = format_as_of(request.as_of)
    digest = hashlib.sha256()
    for part in (request.project_id, as_of_text, request.seed, request.count, repr(float(request.explore_ratio))):
        digest.update(f"{part}\x1e".encode("utf-8"))
    for d in drafts:
        digest.update(f"{d.topic.topic_hash}|{d.recipe_hash}|{d.mode}|{d.experiment_id}\x1e".encode("utf-8"))
    for s in skipped:
        digest.update(f"skip|{s.topic_hash}|{s.reason}\x1e".encode("utf-8"))
    batch_id = "batch_" + digest.hexdigest()[:16]

    jobs = []
    for d in drafts:
        mut = d.mutation
        jobs.append(
            PlannedJob(
                job_id="job_" + _sha16("job", batch_id, d.topic.topic_hash, d.recipe_hash),
                topic=d.topic.topic,
                topic_hash=d.topic.topic_hash,
                generation_mode=d.mode,
                recipe=d.recipe,
                recipe_hash=d.recipe_hash,
                experiment_id=d.experiment_id,
                reason=d.reason,
                brief=generation_brief(d.recipe),
                rank=d.rank,
                baseline_recipe_hash=d.baseline_recipe_hash,
                variable_tested=mut.field if mut else None,
                baseline_value=_value(mut.baseline_value) if mut else None,
                variant_value=_value(mut.variant_value) if mut else None,
            )
        )

    return BatchPlan(
        batch_id=batch_id,
        project_id=request.project_id,
        as_of=request.as_of,
        seed=request.seed,
        explore_ratio=float(request.explore_ratio),
        requested=request.count,
        jobs=tuple(jobs),
        skipped=tuple(skipped),
        new_experiments=tuple(new_experiments.values()),
        reused_experiment_ids=tuple(reused),
        collapsed_topics=cleaned.collapsed,
        shortfall_reason=shortfall,
        notes=tuple(notes),
    )


__all__ = [
    "BatchPlan",
    "CleanTopic",
    "CleanedTopics",
    "ExperimentRef",
    "InvalidPlanRequestError",
    "InvalidTopicsError",
    "NewExperiment",
    "NoRecipeStatsError",
    "PlanRequest",
    "PlannedJob",
    "PlannerConfig",
    "PlanningError",
    "SkippedTopic",
    "clean_topics",
    "experiment_id_for",
    "format_as_of",
    "plan_batch",
    "ruler_index",
    "split_counts",
]
