"""Canaries and the guard (SPEC §11), pure core: routing, deployment state, performance, guard.

Modules: ``routing`` (deterministic arm of a request), ``deployment`` (an
agent's stable bundle and canary, and the apply / promote / rollback
transitions), ``arms`` (arm statistics and their always-valid comparison),
``config`` (GuardConfig), ``guard`` (guard_decision, recommend,
auto_promotion_due) and ``performance`` (a canary's performance from its
decisions). No Dagster, no I/O: the shell loads decisions and deployments and
stores what these functions return.
"""

from __future__ import annotations

from learning_loop.domain.canaries.arms import ArmComparison, ArmStats, CanaryArms, RelativeDelta, compare_arms
from learning_loop.domain.canaries.config import GuardConfig
from learning_loop.domain.canaries.deployment import (
    APPLY_PERCENTS,
    PROMOTE_PERCENTS,
    Deployment,
    Transition,
    apply_bundle,
    hours_running,
    promote,
    rollback,
    route,
)
from learning_loop.domain.canaries.errors import CanaryError
from learning_loop.domain.canaries.guard import (
    GuardDecision,
    Recommendation,
    auto_promotion_due,
    guard_decision,
    recommend,
)
from learning_loop.domain.canaries.performance import CanaryPerformance, canary_arms, canary_performance
from learning_loop.domain.canaries.routing import route_arm, route_bucket

__all__ = [
    "APPLY_PERCENTS",
    "PROMOTE_PERCENTS",
    "ArmComparison",
    "ArmStats",
    "CanaryArms",
    "CanaryError",
    "CanaryPerformance",
    "Deployment",
    "GuardConfig",
    "GuardDecision",
    "Recommendation",
    "RelativeDelta",
    "Transition",
    "apply_bundle",
    "auto_promotion_due",
    "canary_arms",
    "canary_performance",
    "compare_arms",
    "guard_decision",
    "hours_running",
    "promote",
    "recommend",
    "rollback",
    "route",
    "route_arm",
    "route_bucket",
]
