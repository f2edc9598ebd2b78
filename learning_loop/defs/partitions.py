"""Daily partitions from LEARNING_LOOP_START_DATE; backfills run as one run."""


import warnings

import dagster as dg

from learning_loop import settings

daily_partitions = dg.DailyPartitionsDefinition(start_date=settings.start_date(), timezone="UTC")
single_run = dg.BackfillPolicy.single_run()
# single-run backfills are what makes `dagster asset materialize --partition-range` work; the
# beta notice about the parameter would print on every load of the code location
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`", category=dg.BetaWarning)

#: Dagster concurrency pool of every step that touches the warehouse. The
#: embedded instance limits it to 1 (DuckDB has one writer per file).
WAREHOUSE_POOL = "warehouse"
