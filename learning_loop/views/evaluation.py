"""Read-only view of `evaluate-policy`: off-policy estimates of a planning policy from logged jobs."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pandas as pd

from learning_loop.domain import bandits
from learning_loop.domain.evaluation import (
    CURRENT,
    SEEDS,
    UNIFORM,
    Action,
    FactorisedPolicy,
    LoggedRound,
    evaluate_policy,
    seeds_policy,
    uniform_policy,
)
from learning_loop.domain.evaluation.estimators import DEFAULT_LEVEL
from learning_loop.domain.recipe import RECIPE_FIELDS
from learning_loop.stores.evaluation import LoggedJobs, load_batch_contexts, load_logged_rounds, naive_utc
from learning_loop.views.common import plain, require_project
from learning_loop.warehouse.backend import Warehouse

DEFAULT_DAYS = 28


class NoLoggedRounds(ValueError):
    """Nothing to evaluate in the window (a one-line error for the CLI)."""


def format_as_of(as_of: datetime) -> str:
    return naive_utc(as_of).isoformat(timespec="seconds") + "Z"


def _no_rounds_message(project: str, days: int, as_of: datetime, logged: LoggedJobs) -> str:
    where = f"project {project!r} in the {days} days up to {format_as_of(as_of)}"
    with_propensity = logged.jobs_in_window - logged.skipped["no_propensity"]
    if with_propensity == 0:
        return (
            f"no planned jobs with logged propensities for {where} ({logged.jobs_in_window} jobs without): "
            f"plan batches with `learning-loop plan-next --project {project} ...` (it logs propensities), "
            "then evaluate once their videos have rewards"
        )
    return (
        f"none of the {with_propensity} jobs with logged propensities for {where} has a rewarded video yet "
        f"({logged.skipped['no_video']} without a video, {logged.skipped['no_reward']} without a reward): "
        "ingest their videos and metrics and run the daily update first"
    )


def _rounds(frame: pd.DataFrame) -> list[LoggedRound]:
    rounds = []
    for row in frame.to_dict("records"):
        content = row["content_type"]
        content = None if content is None or pd.isna(content) else bandits.normalize_content_type(content)
        hour = row["posting_hour"]
        hour = None if hour is None or pd.isna(hour) else int(hour)
        action = Action.of({f: row[f] for f in RECIPE_FIELDS}, content, hour)
        rounds.append(LoggedRound(action, float(row["reward"]), float(row["propensity"]), str(row["batch_id"])))
    return rounds


def policy_evaluation_view(
    wh: Warehouse,
    project: str,
    policy: str = SEEDS,
    days: int = DEFAULT_DAYS,
    as_of: datetime | None = None,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> dict[str, Any]:
    """IPW, SNIPW and DR estimates of ``policy``'s mean reward over the project's logged jobs of the
    ``days`` days up to ``as_of`` (see docs/off_policy_evaluation.md). Raises UnknownProject, and
    NoLoggedRounds when no job of the window has a propensity and a rewarded video."""
    if policy not in (SEEDS, UNIFORM, CURRENT):
        raise ValueError(f"unknown policy {policy!r} (choose seeds, uniform or current)")
    if days < 1:
        raise ValueError(f"--days must be at least 1, got {days}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"--level must be within (0, 1), got {level}")
    as_of = as_of or datetime.now(timezone.utc)
    require_project(wh, project)
    with wh.transaction() as tx:
        logged = load_logged_rounds(tx, project, as_of, days)
        if logged.rounds.empty:
            raise NoLoggedRounds(_no_rounds_message(project, days, as_of, logged))
        contexts = load_batch_contexts(tx, project, logged.rounds, logged.end) if policy != CURRENT else {}
    policies: dict[str, FactorisedPolicy] | None = None
    if policy == SEEDS:
        policies = {key: seeds_policy(ctx, seed=seed) for key, ctx in contexts.items()}
    elif policy == UNIFORM:
        policies = {key: uniform_policy(ctx.presets, ctx.content_types) for key, ctx in contexts.items()}
    result = evaluate_policy(_rounds(logged.rounds), policies, policy, level=level, seed=seed)
    notes = list(result.notes)
    skipped = sum(logged.skipped.values())
    if skipped:
        notes.append(f"{skipped} of {logged.jobs_in_window} jobs in the window were skipped (see skipped)")
    return {
        "project_id": project,
        "policy": policy,
        "days": days,
        "as_of": format_as_of(as_of),
        "level": level,
        "rounds": result.rounds,
        "batches": int(logged.rounds["batch_id"].nunique()),
        "skipped": dict(logged.skipped),
        "logged_mean_reward": plain(result.logged_mean_reward),
        "estimates": {
            name: {"value": plain(e.value), "ci_low": plain(e.ci_low), "ci_high": plain(e.ci_high)}
            for name, e in result.estimates.items()
        },
        "effective_sample_size": plain(result.weights.effective_sample_size),
        "mean_weight": plain(result.weights.mean_weight),
        "max_weight": plain(result.weights.max_weight),
        "notes": notes,
    }
