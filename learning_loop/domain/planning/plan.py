"""The planner's output: planned jobs, skipped topics, new experiments, the batch plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from learning_loop.domain.planning.request import format_as_of
from learning_loop.domain.recipe import Recipe

if TYPE_CHECKING:
    from learning_loop.domain.exploration import Candidate, Mutation

SKIP_DUPLICATE = "duplicate"

GenerationMode = Literal["exploit", "explore"]


@dataclass(frozen=True)
class JobChoice:
    """What the model-based planner adds to a job: content type and posting hour (Thompson draws
    from the posterior), the logged propensities of its recipe, content type and hour (the
    probability the planner chose each given its inputs, marginal over the slot's mode) with
    ``propensity`` the probability of the whole (recipe, content type, hour), and the posterior
    value of the job's recipe."""

    content_type: str | None
    posting_hour: int | None
    recipe_propensity: float
    content_propensity: float
    hour_propensity: float
    propensity: float  # of the whole (recipe, content type, hour)
    posterior_mean: float
    posterior_sd: float

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "content_type": self.content_type,
            "posting_hour": self.posting_hour,
            "recipe_propensity": self.recipe_propensity,
            "content_propensity": self.content_propensity,
            "hour_propensity": self.hour_propensity,
            "propensity": self.propensity,
            "posterior_mean": self.posterior_mean,
            "posterior_sd": self.posterior_sd,
        }


def value_text(value: object) -> str:
    """How a recipe field value is printed in a plan (reasons, experiments)."""
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
    choice: JobChoice | None = None

    def to_json_dict(self) -> dict[str, Any]:
        extra = self.choice.to_json_dict() if self.choice else {}
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
            **extra,
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

    @classmethod
    def of_change(cls, experiment_id: str, project_id: str, baseline_hash: str, baseline_recipe: Recipe,
                  change: Candidate | Mutation, started_at: datetime) -> NewExperiment:
        """The experiment that tests `change` (one field of the baseline recipe changed)."""
        return cls(
            experiment_id=experiment_id,
            project_id=project_id,
            variable_tested=change.field,
            baseline_value=value_text(change.baseline_value),
            variant_value=value_text(change.variant_value),
            baseline_recipe_hash=baseline_hash,
            variant_recipe_hash=change.variant_hash,
            baseline_recipe=baseline_recipe,
            variant_recipe=change.variant,
            started_at=started_at,
        )

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
    policy: str = "ranking"
    model: dict[str, Any] = field(default_factory=dict)  # the model planner's summary (best recipe, cap, …)

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
            "policy": self.policy,
            **({"model": self.model} if self.model else {}),
        }

    def experiments_json(self) -> list[dict[str, Any]]:
        return [e.to_json_dict() for e in self.new_experiments]


__all__ = [
    "SKIP_DUPLICATE",
    "BatchPlan",
    "GenerationMode",
    "JobChoice",
    "NewExperiment",
    "PlannedJob",
    "SkippedTopic",
    "value_text",
]
