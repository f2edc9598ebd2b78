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

Modules: ``errors`` (bad input), ``request`` (PlanRequest, PlannerConfig,
ExperimentRef, format_as_of), ``topics`` (clean_topics), ``split``
(split_counts, ruler_index, ids), ``plan`` (the output types), ``drafts``
(jobs before ids; shortfall, batch and job ids) and ``planner`` (plan_batch).
"""

from __future__ import annotations

from learning_loop.domain.planning.errors import (
    InvalidPlanRequestError,
    InvalidTopicsError,
    NoRecipeStatsError,
    PlanningError,
)
from learning_loop.domain.planning.plan import (
    SKIP_DUPLICATE,
    BatchPlan,
    GenerationMode,
    NewExperiment,
    PlannedJob,
    SkippedTopic,
)
from learning_loop.domain.planning.planner import plan_batch
from learning_loop.domain.planning.request import (
    DEFAULT_EXPLORE_RATIO,
    MAX_COUNT,
    MAX_TOPIC_CHARS,
    MIN_COUNT,
    ExperimentRef,
    PlannerConfig,
    PlanRequest,
    format_as_of,
)
from learning_loop.domain.planning.split import experiment_id_for, ruler_index, split_counts
from learning_loop.domain.planning.topics import CleanedTopics, CleanTopic, clean_topics

__all__ = [
    "DEFAULT_EXPLORE_RATIO",
    "MAX_COUNT",
    "MAX_TOPIC_CHARS",
    "MIN_COUNT",
    "SKIP_DUPLICATE",
    "BatchPlan",
    "CleanTopic",
    "CleanedTopics",
    "ExperimentRef",
    "GenerationMode",
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
