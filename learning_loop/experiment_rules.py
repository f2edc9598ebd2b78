"""The experiment rules frozen onto an experiment when it is created (SPEC §6).

Level from `AB_TEST_SIGNIFICANCE_LEVEL` (default 0.95), minimum scored videos
per arm from `LEARNING_LOOP_AB_MIN_N` (default 5), maximum duration from
`LEARNING_LOOP_AB_MAX_DAYS` (default 28). Changing them later affects only
experiments created later.
"""

from __future__ import annotations

import os
from typing import Any

from learning_loop.domain.experiments import ExperimentRules


def _int_env(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def current_rules() -> ExperimentRules:
    base = ExperimentRules.from_env()
    return ExperimentRules(
        level=base.level,
        min_n_per_arm=_int_env("LEARNING_LOOP_AB_MIN_N", base.min_n_per_arm, 2),
        max_duration_days=_int_env("LEARNING_LOOP_AB_MAX_DAYS", base.max_duration_days, 1),
    )


def frozen_rules() -> dict[str, Any]:
    """The columns written onto a new experiment row."""
    rules = current_rules()
    return {"level": rules.level, "min_n_per_arm": rules.min_n_per_arm, "max_duration_days": rules.max_duration_days}


def rules_of(row: dict[str, Any]) -> ExperimentRules:
    """The rules frozen on a stored experiment."""
    return ExperimentRules(
        level=float(row["level"]), min_n_per_arm=int(row["min_n_per_arm"]), max_duration_days=int(row["max_duration_days"])
    )
