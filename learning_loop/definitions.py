"""The code location: every asset, check, job, schedule and sensor of learning-loop.

Each stage module under `learning_loop/defs/` exposes what it defines in
module-level lists (ASSETS, CHECKS, JOBS, SCHEDULES, SENSORS); this file only
collects them.
"""

from __future__ import annotations

from types import ModuleType

import dagster as dg

from learning_loop.defs import automation, bandits, checks, experiments, ingestion, planning, predictors, simulation, sql_assets
from learning_loop.defs.resources import warehouse_resource

STAGES: list[ModuleType] = [ingestion, sql_assets, checks, planning, experiments, bandits, predictors, automation, simulation]


def _collect(name: str) -> list:
    return [item for stage in STAGES for item in getattr(stage, name, [])]


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=_collect("ASSETS"),
        asset_checks=_collect("CHECKS"),
        jobs=_collect("JOBS"),
        schedules=_collect("SCHEDULES"),
        sensors=_collect("SENSORS"),
        resources={"warehouse": warehouse_resource()},
        executor=dg.in_process_executor,
    )


defs = build_definitions()
