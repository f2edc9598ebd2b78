"""The code location: every asset, check, job, schedule and sensor of learning-loop.

Definitions live in one folder per domain under `learning_loop/defs/` and are
found by Dagster's own defs-folder loader; this file only binds the resources
(from the settings the location was loaded with) and the executor (`LEARNING_LOOP_EXECUTOR`).
"""

from __future__ import annotations

from pathlib import Path

from collections.abc import Mapping
from typing import Any

import dagster as dg

from learning_loop.orchestration.executor import executor_for
from learning_loop.orchestration.location import LOCATION_SETTINGS
from learning_loop.orchestration.resources import location_resources


def build_definitions(resources: Mapping[str, Any] | None = None) -> dg.Definitions:
    """The code location; `resources` replaces the location's own (a run over a subset of a job's assets
    with another invocation's settings needs them bound, not passed at execution)."""
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).resolve().parent),
        dg.Definitions(
            resources=dict(resources) if resources is not None else location_resources(LOCATION_SETTINGS),
            executor=executor_for(LOCATION_SETTINGS),
        ),
    )


defs = build_definitions()
