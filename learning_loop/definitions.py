"""The code location: every asset, check, job, schedule and sensor of learning-loop."""

from __future__ import annotations

import dagster as dg

from learning_loop.defs.automation import JOBS, SCHEDULES, SENSORS
from learning_loop.defs.checks import quarantine_growth, rows_accounted_for
from learning_loop.defs.ingestion import landing_zone
from learning_loop.defs.resources import warehouse_resource
from learning_loop.defs.sql_assets import sql_assets


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[landing_zone, *sql_assets()],
        asset_checks=[quarantine_growth, rows_accounted_for],
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=SENSORS,
        resources={"warehouse": warehouse_resource()},
        executor=dg.in_process_executor,
    )


defs = build_definitions()
