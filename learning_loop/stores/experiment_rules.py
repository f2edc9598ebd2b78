"""The experiment rules frozen onto an experiment when it is created (SPEC §6).

Level from `AB_TEST_SIGNIFICANCE_LEVEL` (default 0.95), minimum scored videos
per arm from `LEARNING_LOOP_AB_MIN_N` (default 5), maximum duration from
`LEARNING_LOOP_AB_MAX_DAYS` (default 28), all read through the settings.
Changing them later affects only experiments created later.
"""

from __future__ import annotations

from typing import Any

from learning_loop.domain.experiments import ExperimentRules


def frozen_rules(rules: ExperimentRules) -> dict[str, Any]:
    """The columns written onto a new experiment row."""
    return {"level": rules.level, "min_n_per_arm": rules.min_n_per_arm, "max_duration_days": rules.max_duration_days}


def rules_of(row: dict[str, Any]) -> ExperimentRules:
    """The rules frozen on a stored experiment."""
    return ExperimentRules(
        level=float(row["level"]), min_n_per_arm=int(row["min_n_per_arm"]), max_duration_days=int(row["max_duration_days"])
    )
