"""One Dagster asset per SQL model in `dbt_like_sql/`.

Deps come from the model's `ref()`s, `code_version` from the file's hash and
the group from its folder. A daily model writes each partition of the run as
delete-then-insert in one transaction, with the window bound as parameters.
"""


from datetime import date, datetime, timezone
from functools import partial
from typing import Any

from collections.abc import Iterator

import dagster as dg

from learning_loop.defs.core.checks import MODEL_CHECKS, check_specs_for
from learning_loop.domain.asof import as_of, window_start
from learning_loop.orchestration.location import LOCATION_SETTINGS
from learning_loop.orchestration.partition_loop import PartitionWrite, write_daily_partitions
from learning_loop.orchestration.partitions import DAILY_TAG, WAREHOUSE_POOL, daily_partitions, single_run, warehouse_kind
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop.warehouse.backend import Transaction
from learning_loop.warehouse.sql_models import SqlModel, load_models


class RewardConfig(dg.Config):
    """Reward window and weights (contract §5 defaults). Every row records what it used."""

    window_days: int = 30
    weight_avd: float = 0.5
    weight_views_6h: float = 0.3
    weight_engagement: float = 0.2


def partition_params(partition: date, config: RewardConfig) -> dict[str, Any]:
    return {
        "partition_date": partition,
        "as_of": as_of(partition),
        "window_start": window_start(partition, config.window_days),
        "window_days": config.window_days,
        "weight_avd": config.weight_avd,
        "weight_views_6h": config.weight_views_6h,
        "weight_engagement": config.weight_engagement,
    }


# Per-model numbers worth plotting, for the last partition of a run.
SUMMARIES: dict[str, str] = {
    "outcomes": (
        "SELECT count(*) AS videos, count(*) FILTER (WHERE is_mature) AS mature_videos, "
        "count(DISTINCT project_id) AS projects FROM outcomes WHERE partition_date = :partition_date"
    ),
    "percentile_rewards": (
        "SELECT count(*) AS scored_videos, "
        "avg(reward) FILTER (WHERE published_at >= :as_of - INTERVAL '7 days') AS mean_reward_last_7d, "
        "avg(reward) FILTER (WHERE published_at >= :as_of - INTERVAL '14 days' "
        "AND published_at < :as_of - INTERVAL '7 days') AS mean_reward_prior_7d "
        "FROM percentile_rewards WHERE partition_date = :partition_date"
    ),
    "recipe_stats": (
        "SELECT count(*) AS recipes, count(*) FILTER (WHERE scored_videos > 0) AS scored_recipes, "
        "max(avg_reward) AS top_avg_reward FROM recipe_stats WHERE partition_date = :partition_date"
    ),
}


def _summary(tx: Transaction, model: str, params: dict[str, Any]) -> dict[str, float]:
    sql = SUMMARIES.get(model)
    if not sql:
        return {}
    row = tx.query_df(sql, params).iloc[0].to_dict()
    return {k: float(v) for k, v in row.items() if v is not None and v == v}


def run_partition(tx: Transaction, model: SqlModel, partition: date, config: RewardConfig) -> PartitionWrite:
    """Materialise one partition of a daily model; returns its row count and summary."""
    params = partition_params(partition, config)
    rows = tx.replace_partition(model.name, partition, select_sql=model.sql, columns=model.columns, params=params)
    return PartitionWrite(rows, _summary(tx, model.name, params))


def run_full_refresh(tx: Transaction, model: SqlModel) -> int:
    """Replace the model's table. A row that was there before keeps its `registered_at`, so a
    refresh that finds nothing new changes nothing a reader can see."""
    keep = "registered_at" in model.columns
    if keep:
        tx.execute("CREATE TEMP TABLE __ll_registered AS SELECT project_id, recipe_hash, registered_at "
                   f"FROM {model.name}")
    tx.execute(f"DELETE FROM {model.name}")
    params = {"registered_at": datetime.now(timezone.utc).replace(tzinfo=None)}
    tx.execute(f"INSERT INTO {model.name} ({', '.join(model.columns)}) {model.sql}", params)
    if keep:
        tx.execute(
            f"UPDATE {model.name} SET registered_at = (SELECT o.registered_at FROM __ll_registered o "
            f"WHERE o.project_id = {model.name}.project_id AND o.recipe_hash = {model.name}.recipe_hash) "
            f"WHERE EXISTS (SELECT 1 FROM __ll_registered o WHERE o.project_id = {model.name}.project_id "
            f"AND o.recipe_hash = {model.name}.recipe_hash)"
        )
        tx.execute("DROP TABLE __ll_registered")
    return int(tx.scalar(f"SELECT count(*) FROM {model.name}"))


def build_sql_asset(model: SqlModel) -> dg.AssetsDefinition:
    common = dict(
        name=model.name,
        deps=[dg.AssetKey(ref) for ref in model.refs],
        code_version=model.code_version,
        group_name=model.group,
        kinds={"sql", warehouse_kind()},
        description=model.description,
        pool=WAREHOUSE_POOL,
        check_specs=check_specs_for(model.name),
        metadata={"sql_file": dg.MetadataValue.path(str(model.path)), "columns": ", ".join(model.columns)},
    )
    if not model.partitioned:

        @dg.asset(**common)
        def _full_refresh(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
            with warehouse.get().transaction() as tx:
                rows = run_full_refresh(tx, model)
            context.log.info(f"{model.name}: {rows} rows")
            return dg.MaterializeResult(metadata={"rows": rows, "dagster/row_count": rows})

        return _full_refresh

    @dg.asset(**common, partitions_def=daily_partitions, backfill_policy=single_run, tags=DAILY_TAG)
    def _daily(
        context: dg.AssetExecutionContext, config: RewardConfig, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization]:
        run = write_daily_partitions(
            context,
            warehouse.get(),
            model.name,
            lambda tx, partition: run_partition(tx, model, partition, config),
            {check.__name__: partial(check, config=config) for check in MODEL_CHECKS.get(model.name, [])},
        )
        yield from run.results()

    return _daily


def sql_assets(root=None) -> list[dg.AssetsDefinition]:
    return [build_sql_asset(model) for model in load_models(root).values()]


#: every SQL model's asset (a module-level list, found by the defs-folder loader)
SQL_ASSETS = sql_assets(LOCATION_SETTINGS.sql_dir)
