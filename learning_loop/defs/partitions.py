"""Daily partitions from LEARNING_LOOP_START_DATE; backfills run as one run."""


import dagster as dg

from learning_loop import settings

daily_partitions = dg.DailyPartitionsDefinition(start_date=settings.start_date(), timezone="UTC")
single_run = dg.BackfillPolicy.single_run()

#: Dagster concurrency pool of every step that touches the warehouse. The
#: embedded instance limits it to 1 (DuckDB has one writer per file).
WAREHOUSE_POOL = "warehouse"
