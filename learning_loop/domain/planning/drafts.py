"""Jobs before ids (drafts), and finishing a batch: shortfall reason, batch id, job ids."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Sequence

from learning_loop.domain.brief import generation_brief
from learning_loop.domain.exploration import Mutation
from learning_loop.domain.planning.plan import (
    SKIP_DUPLICATE,
    BatchPlan,
    GenerationMode,
    JobChoice,
    NewExperiment,
    PlannedJob,
    SkippedTopic,
    value_text,
)
from learning_loop.domain.planning.request import PlanRequest, format_as_of
from learning_loop.domain.planning.split import sha16
from learning_loop.domain.planning.topics import CleanedTopics, CleanTopic
from learning_loop.domain.recipe import Recipe


@dataclass
class Draft:
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
    choice: JobChoice | None = None


def shortfall_reason(
    n_planned: int, requested: int, n_topics: int, skipped: Sequence[SkippedTopic]
) -> str | None:
    """Why fewer than ``requested`` jobs were planned; None when none are missing."""
    if n_planned >= requested:
        return None
    parts = []
    if n_topics < requested:
        parts.append(f"only {n_topics} usable topic{'s' if n_topics != 1 else ''} for {requested} requested")
    n_dup = sum(1 for s in skipped if s.reason == SKIP_DUPLICATE)
    if n_dup:
        parts.append(f"{n_dup} topic{'s' if n_dup != 1 else ''} skipped as duplicate")
    return f"planned {n_planned} of {requested}: " + "; ".join(parts)


def batch_id_for(request: PlanRequest, drafts: Sequence[Draft], skipped: Sequence[SkippedTopic]) -> str:
    """``batch_`` + 16 hex digits of SHA-256 over the request and the planned jobs and skips."""
    as_of_text = format_as_of(request.as_of)
    digest = hashlib.sha256()
    for part in (request.project_id, as_of_text, request.seed, request.count, repr(float(request.explore_ratio))):
        digest.update(f"{part}\x1e".encode("utf-8"))
    for d in drafts:
        digest.update(f"{d.topic.topic_hash}|{d.recipe_hash}|{d.mode}|{d.experiment_id}\x1e".encode("utf-8"))
    for s in skipped:
        digest.update(f"skip|{s.topic_hash}|{s.reason}\x1e".encode("utf-8"))
    return "batch_" + digest.hexdigest()[:16]


def planned_jobs(batch_id: str, drafts: Sequence[Draft]) -> tuple[PlannedJob, ...]:
    """The drafts as jobs with ``job_`` ids (16 hex digits over batch id, topic and recipe hash)."""
    jobs = []
    for d in drafts:
        mut = d.mutation
        jobs.append(
            PlannedJob(
                job_id="job_" + sha16("job", batch_id, d.topic.topic_hash, d.recipe_hash),
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
                baseline_value=value_text(mut.baseline_value) if mut else None,
                variant_value=value_text(mut.variant_value) if mut else None,
                choice=d.choice,
            )
        )
    return tuple(jobs)


def finish_plan(
    request: PlanRequest,
    cleaned: CleanedTopics,
    drafts: Sequence[Draft],
    skipped: Sequence[SkippedTopic],
    new_experiments: Sequence[NewExperiment],
    reused_experiment_ids: Sequence[str],
    notes: Sequence[str],
    policy: str = "ranking",
    model: dict[str, Any] | None = None,
) -> BatchPlan:
    """The batch plan of a finished planning pass: ids, jobs, shortfall reason (both planners)."""
    batch_id = batch_id_for(request, drafts, skipped)
    return BatchPlan(
        batch_id=batch_id,
        project_id=request.project_id,
        as_of=request.as_of,
        seed=request.seed,
        explore_ratio=float(request.explore_ratio),
        requested=request.count,
        jobs=planned_jobs(batch_id, drafts),
        skipped=tuple(skipped),
        new_experiments=tuple(new_experiments),
        reused_experiment_ids=tuple(reused_experiment_ids),
        collapsed_topics=cleaned.collapsed,
        shortfall_reason=shortfall_reason(len(drafts), request.count, len(cleaned.topics), skipped),
        notes=tuple(notes),
        policy=policy,
        model=dict(model or {}),
    )


__all__ = ["Draft", "batch_id_for", "finish_plan", "planned_jobs", "shortfall_reason"]
