"""A canary's performance as of a time: arms from decisions, deltas, guard verdict, recommendation (SPEC §11).

Arms: the agent's decisions with ``deployed_at <= decided_at < as_of`` under
the canary's bundle_id (canary arm) and under the stable bundle_id (stable
arm). Decisions under any other bundle are ignored. The sample-ratio test
counts only decisions since the current percent was set
(``Deployment.percent_since``), so a promotion from 10 to 50 % does not look
like a routing fault. The recommendation comes from the guard
(:func:`~learning_loop.domain.canaries.guard.recommend`), so ``performance``,
``active`` and ``check`` can never disagree. A canary is ``stalled`` when it
has run more than ``config.stall_hours`` (72) and the recommendation is
``monitor``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from learning_loop.domain.canaries.arms import ArmComparison, ArmStats, CanaryArms
from learning_loop.domain.canaries.config import GuardConfig
from learning_loop.domain.canaries.deployment import Deployment, as_utc, hours_running
from learning_loop.domain.canaries.errors import CanaryError
from learning_loop.domain.canaries.guard import GuardDecision, Recommendation, guard_decision, recommend

DECISION_COLUMNS = ("bundle_id", "decided_at", "quality", "latency_ms")


@dataclass(frozen=True)
class CanaryPerformance:
    """Everything the views, the guard job and the CLI need about one active canary."""

    agent: str
    canary_bundle_id: str
    stable_bundle_id: str
    canary_percent: int
    deployed_at: datetime
    as_of: datetime
    hours_running: float
    arms: CanaryArms = field(repr=False)
    decision: GuardDecision = field(repr=False)
    recommendation: Recommendation
    stalled: bool

    @property
    def comparison(self) -> ArmComparison:
        return self.decision.comparison

    @property
    def n_canary(self) -> int:
        return self.arms.canary.n

    @property
    def n_stable(self) -> int:
        return self.arms.stable.n

    @property
    def quality_delta(self) -> float | None:
        return self.comparison.quality.value

    @property
    def latency_delta(self) -> float | None:
        return self.comparison.latency.value

    def to_dict(self) -> dict[str, Any]:
        """SPEC §11 ``performance`` object (its five keys first) plus intervals, SRM, stall and guard fields."""
        c = self.comparison
        return {
            "quality_delta": c.quality.value,
            "latency_delta": c.latency.value,
            "n_canary": self.n_canary,
            "n_stable": self.n_stable,
            "recommendation": self.recommendation,
            "quality_delta_interval": c.quality.interval,
            "latency_delta_interval": c.latency.interval,
            "quality_canary": c.quality_canary,
            "quality_stable": c.quality_stable,
            "latency_canary": c.latency_canary,
            "latency_stable": c.latency_stable,
            "canary_share": c.canary_share,
            "expected_share": c.expected_share,
            "srm_p_value": c.srm_p_value,
            "srm_alarm": c.srm_alarm,
            "hours_running": self.hours_running,
            "stalled": self.stalled,
            "guard_action": self.decision.action,
            "guard_reason": self.decision.reason,
        }

    def active_dict(self) -> dict[str, Any]:
        """One entry of SPEC §11 ``canaries active``."""
        return {
            "agent": self.agent,
            "bundle_id": self.canary_bundle_id,
            "canary_percent": self.canary_percent,
            "deployed_at": self.deployed_at.isoformat(),
            "hours_running": self.hours_running,
            "performance": self.to_dict(),
        }

    def check_dict(self) -> dict[str, Any]:
        """One entry of SPEC §11 ``canaries check``: agent, guard action and reason, performance."""
        return {
            "agent": self.agent,
            "action": self.decision.action,
            "reason": self.decision.reason,
            "performance": self.to_dict(),
        }


def _decisions_frame(decisions: pd.DataFrame, agent: str) -> pd.DataFrame:
    missing = [c for c in DECISION_COLUMNS if c not in decisions.columns]
    if missing:
        raise CanaryError(f"decisions lack column(s) {', '.join(missing)}")
    frame = decisions
    if "agent" in frame.columns:
        frame = frame[frame["agent"] == agent]
    frame = frame.loc[:, list(DECISION_COLUMNS)].copy()
    frame["decided_at"] = pd.to_datetime(frame["decided_at"], utc=True)
    return frame


def canary_arms(decisions: pd.DataFrame, deployment: Deployment, as_of: datetime) -> CanaryArms:
    """The canary's arms (and SRM counts) from the agent's decisions; raises without an active canary."""
    if deployment.canary_bundle_id is None or deployment.deployed_at is None:
        raise CanaryError(f"agent {deployment.agent} has no active canary")
    as_of_ts = pd.Timestamp(as_utc(as_of, "as_of"))
    frame = _decisions_frame(decisions, deployment.agent)
    times = frame["decided_at"]
    window = frame[(times >= pd.Timestamp(deployment.deployed_at)) & (times < as_of_ts)]
    arms: dict[str, ArmStats] = {}
    srm: dict[str, int] = {}
    since = pd.Timestamp(deployment.percent_since or deployment.deployed_at)
    for name, bundle in (("canary", deployment.canary_bundle_id), ("stable", deployment.stable_bundle_id)):
        rows = window[window["bundle_id"] == bundle]
        arms[name] = ArmStats.from_values(rows["quality"].to_numpy(float), rows["latency_ms"].to_numpy(float))
        srm[name] = int((rows["decided_at"] >= since).sum())
    return CanaryArms(
        canary=arms["canary"],
        stable=arms["stable"],
        canary_percent=deployment.canary_percent,
        srm_n_canary=srm["canary"],
        srm_n_stable=srm["stable"],
    )


def canary_performance(
    decisions: pd.DataFrame,
    deployment: Deployment,
    as_of: datetime,
    config: GuardConfig | None = None,
) -> CanaryPerformance:
    """Performance of the agent's active canary as of ``as_of`` (decisions before it only).

    ``decisions`` has ``bundle_id``, ``decided_at``, ``quality``,
    ``latency_ms`` (and optionally ``agent``, then filtered to the deployment's
    agent). Raises :class:`CanaryError` when the agent has no active canary.
    """
    config = config or GuardConfig()
    arms = canary_arms(decisions, deployment, as_of)
    decision = guard_decision(arms, config)
    recommendation = recommend(decision, config)
    hours = hours_running(deployment, as_of) or 0.0
    assert deployment.canary_bundle_id is not None and deployment.stable_bundle_id is not None
    assert deployment.deployed_at is not None
    return CanaryPerformance(
        agent=deployment.agent,
        canary_bundle_id=deployment.canary_bundle_id,
        stable_bundle_id=deployment.stable_bundle_id,
        canary_percent=deployment.canary_percent,
        deployed_at=deployment.deployed_at,
        as_of=as_utc(as_of, "as_of"),
        hours_running=hours,
        arms=arms,
        decision=decision,
        recommendation=recommendation,
        stalled=hours > config.stall_hours and recommendation == "monitor",
    )


__all__ = ["DECISION_COLUMNS", "CanaryPerformance", "canary_arms", "canary_performance"]
