"""Simulated canaries with a known truth, checked night after night by the real guard.

Used by ``bench/bench_guard.py`` and the tests to measure the guard's false
rollback rate (no true difference) and its detection rate and speed (true
regressions). Each simulated canary gets ``Poisson(decisions_per_day)``
decisions a day, each routed to the canary with probability
``canary_percent / 100``; a decision's quality is Beta with the arm's mean and
sd ``quality_sd``, its latency log-normal with the arm's mean and log-sd
``latency_sigma``. The canary's means are ``quality_mean · (1 −
quality_drop)`` and ``latency_mean_ms · (1 + latency_rise)``. After each day
:func:`~learning_loop.domain.canaries.guard.guard_decision` sees everything
so far (arm sums → :class:`ArmStats`); a rollback ends that canary.

Data are generated for all canaries at once per night (numpy, vectorised);
only the guard call is per canary and night, so what is measured is the very
function the nightly job runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from learning_loop.domain.canaries.arms import ArmStats, CanaryArms
from learning_loop.domain.canaries.config import GuardConfig
from learning_loop.domain.canaries.errors import CanaryError
from learning_loop.domain.canaries.guard import guard_decision
from learning_loop.domain.experiments import beta_from_moments


@dataclass(frozen=True)
class GuardScenario:
    """The truth and traffic of simulated canaries."""

    quality_drop: float = 0.0
    latency_rise: float = 0.0
    decisions_per_day: float = 200.0
    canary_percent: int = 10
    nights: int = 14
    quality_mean: float = 0.8
    quality_sd: float = 0.15
    latency_mean_ms: float = 800.0
    latency_sigma: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.canary_percent < 100:
            raise CanaryError(f"canary_percent must be from 1 to 99, got {self.canary_percent}")
        if self.nights < 1 or self.decisions_per_day <= 0:
            raise CanaryError("nights and decisions_per_day must be positive")


@dataclass(frozen=True)
class GuardSimulation:
    """Outcome per simulated canary: the night it was rolled back (0 = never) and why."""

    scenario: GuardScenario
    rollback_night: np.ndarray
    rollback_reason: tuple[str | None, ...]
    srm_refused: np.ndarray  # refused at least once for a sample-ratio mismatch

    @property
    def sims(self) -> int:
        return int(self.rollback_night.size)

    @property
    def rollbacks(self) -> int:
        return int((self.rollback_night > 0).sum())

    @property
    def rollback_rate(self) -> float:
        return self.rollbacks / self.sims

    @property
    def median_nights(self) -> float | None:
        """Median night of rollback among the canaries rolled back (None if none)."""
        nights = self.rollback_night[self.rollback_night > 0]
        return float(np.median(nights)) if nights.size else None

    def reason_count(self, reason: str) -> int:
        return sum(r == reason for r in self.rollback_reason)


def _arm_params(scenario: GuardScenario) -> list[tuple[tuple[float, float], float]]:
    """(Beta parameters of quality, log-normal mu of latency) for the canary and the stable arm."""
    sigma = scenario.latency_sigma
    out = []
    for drop, rise in ((scenario.quality_drop, scenario.latency_rise), (0.0, 0.0)):
        beta = beta_from_moments(scenario.quality_mean * (1.0 - drop), scenario.quality_sd)
        mu = math.log(scenario.latency_mean_ms * (1.0 + rise)) - sigma * sigma / 2.0
        out.append((beta, mu))
    return out


def simulate_guard(
    scenario: GuardScenario,
    sims: int,
    config: GuardConfig | None = None,
    seed: int | np.random.Generator = 0,
) -> GuardSimulation:
    """Run ``sims`` canaries of ``scenario`` for ``scenario.nights`` nightly guard checks."""
    if sims < 1:
        raise CanaryError(f"sims must be at least 1, got {sims}")
    config = config or GuardConfig()
    rng = np.random.default_rng(seed)
    params = _arm_params(scenario)
    share = scenario.canary_percent / 100.0
    # sums[arm, stat, canary]: stat 0..4 = n, Σq, Σq², Σlatency, Σlatency²
    sums = np.zeros((2, 5, sims))
    rollback_night = np.zeros(sims, dtype=int)
    reasons: list[str | None] = [None] * sims
    srm_refused = np.zeros(sims, dtype=bool)
    active = np.ones(sims, dtype=bool)
    index = np.arange(sims)
    for night in range(1, scenario.nights + 1):
        total = rng.poisson(scenario.decisions_per_day, sims)
        canary_n = rng.binomial(total, share)
        for arm, counts in enumerate((canary_n, total - canary_n)):
            (a, b), mu = params[arm]
            owner = np.repeat(index, counts)
            quality = rng.beta(a, b, owner.size)
            latency = rng.lognormal(mu, scenario.latency_sigma, owner.size)
            sums[arm, 0] += counts
            sums[arm, 1] += np.bincount(owner, quality, minlength=sims)
            sums[arm, 2] += np.bincount(owner, quality * quality, minlength=sims)
            sums[arm, 3] += np.bincount(owner, latency, minlength=sims)
            sums[arm, 4] += np.bincount(owner, latency * latency, minlength=sims)
        for i in np.flatnonzero(active):
            c, s = sums[0, :, i], sums[1, :, i]
            arms = CanaryArms(
                ArmStats.from_sums(int(c[0]), c[1], c[2], c[3], c[4]),
                ArmStats.from_sums(int(s[0]), s[1], s[2], s[3], s[4]),
                scenario.canary_percent,
            )
            decision = guard_decision(arms, config)
            if decision.action == "rollback":
                rollback_night[i] = night
                reasons[i] = decision.reason
                active[i] = False
            elif decision.reason == "sample_ratio_mismatch":
                srm_refused[i] = True
    return GuardSimulation(scenario, rollback_night, tuple(reasons), srm_refused)


__all__ = ["GuardScenario", "GuardSimulation", "simulate_guard"]
