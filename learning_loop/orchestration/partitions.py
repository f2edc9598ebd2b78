"""Daily partitions from LEARNING_LOOP_START_DATE; backfills run as one run."""

import warnings
from datetime import datetime, timezone

import dagster as dg

from learning_loop.orchestration.location import LOCATION_SETTINGS

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=LOCATION_SETTINGS.start_date, end_date=LOCATION_SETTINGS.end_date, timezone="UTC"
)
single_run = dg.BackfillPolicy.single_run()
# single-run backfills are what makes `dagster asset materialize --partition-range` work; the
# beta notice about the parameter would print on every load of the code location
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`", category=dg.BetaWarning)

#: Dagster concurrency pool of every step that touches the warehouse. The
#: embedded instance limits it to 1 (DuckDB has one writer per file).
WAREHOUSE_POOL = "warehouse"


def warehouse_kind() -> str:
    """`duckdb` or `postgres`: the kind tag of warehouse assets in the UI."""
    return LOCATION_SETTINGS.warehouse_kind

#: Tag of every daily-partitioned asset; the `update_stats` job selects by it.
DAILY_TAG_KEY, DAILY_TAG_VALUE = "learning_loop/cadence", "daily"
DAILY_TAG = {DAILY_TAG_KEY: DAILY_TAG_VALUE}


def tick_time(context: dg.ScheduleEvaluationContext) -> datetime:
    """The moment a schedule tick stands for, in UTC (now when evaluated by hand)."""
    return (context.scheduled_execution_time or datetime.now(timezone.utc)).astimezone(timezone.utc)
