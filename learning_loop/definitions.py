"""The code location: every asset, check, job, schedule and sensor of learning-loop.

Definitions live in one folder per domain under `learning_loop/defs/` and are
found by Dagster's own defs-folder loader; this file only binds the resources
(from the settings the location was loaded with) and the executor.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from learning_loop.orchestration.location import LOCATION_SETTINGS
from learning_loop.orchestration.resources import location_resources


def build_definitions() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).resolve().parent),
        dg.Definitions(resources=location_resources(LOCATION_SETTINGS), executor=dg.in_process_executor),
    )


defs = build_definitions()
