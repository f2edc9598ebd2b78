"""The guard's rules (SPEC §11): tolerances, level, minimum sample, sample-ratio test."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from learning_loop.domain.canaries.errors import CanaryError, is_integer


def _number(name: str, value: object, low: float, high: float, *, open_high: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CanaryError(f"{name} must be a number, got {value!r}")
    x = float(value)
    if not (low < x < high if open_high else low < x <= high):
        bracket = ")" if open_high else "]"
        raise CanaryError(f"{name} must be in ({low:g}, {high:g}{bracket}, got {value!r}")
    return x


@dataclass(frozen=True)
class GuardConfig:
    """Rules of the canary guard and of the recommendation built on it.

    * ``max_quality_drop`` / ``max_latency_rise``: tolerated relative regression
      (quality_delta below ``-max_quality_drop`` or latency_delta above
      ``max_latency_rise`` is a regression).
    * ``level``: with no true difference, the chance that *any* check of one
      canary ever rolls it back is at most ``1 - level`` (however often it is
      checked). Split evenly between the two metrics.
    * ``min_decisions_per_arm``: below it in either arm the guard refuses.
    * ``srm_alpha``: a sample-ratio mismatch is declared when the chi-square
      p-value of the observed canary share is below it (and each expected count
      is at least 5).
    * ``quality_mixture_sd`` / ``latency_mixture_sd``: prior scale τ of the
      relative effect in the normal-mixture confidence sequence; None means
      twice the tolerance (the boundary is tightest for effects of about τ).
    * ``stall_hours``: a canary still at ``monitor`` after this long is stalled.
    """

    max_quality_drop: float = 0.05
    max_latency_rise: float = 0.10
    level: float = 0.99
    min_decisions_per_arm: int = 50
    srm_alpha: float = 0.001
    quality_mixture_sd: float | None = None
    latency_mixture_sd: float | None = None
    stall_hours: float = 72.0

    def __post_init__(self) -> None:
        _number("max_quality_drop", self.max_quality_drop, 0.0, 1.0)
        _number("max_latency_rise", self.max_latency_rise, 0.0, math.inf)
        _number("level", self.level, 0.0, 1.0)
        _number("srm_alpha", self.srm_alpha, 0.0, 1.0)
        _number("stall_hours", self.stall_hours, 0.0, math.inf)
        for name in ("quality_mixture_sd", "latency_mixture_sd"):
            if getattr(self, name) is not None:
                _number(name, getattr(self, name), 0.0, math.inf)
        n = self.min_decisions_per_arm
        if not is_integer(n) or n < 2:
            raise CanaryError(f"min_decisions_per_arm must be an integer of at least 2, got {n!r}")

    @property
    def alpha(self) -> float:
        """Allowed chance of a false rollback over a canary's whole life, ``1 - level``."""
        return 1.0 - self.level

    @property
    def alpha_per_metric(self) -> float:
        """``alpha / 2``: the two metrics' confidence sequences share the error budget (Bonferroni)."""
        return self.alpha / 2.0

    @property
    def quality_tau(self) -> float:
        return self.quality_mixture_sd if self.quality_mixture_sd is not None else 2.0 * self.max_quality_drop

    @property
    def latency_tau(self) -> float:
        return self.latency_mixture_sd if self.latency_mixture_sd is not None else 2.0 * self.max_latency_rise

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for the audit log's details)."""
        return asdict(self)


__all__ = ["GuardConfig"]
