"""One Dagster asset per SQL model in `dbt_like_sql/`.

Deps come from the model's `ref()`s, `code_version` from the file's hash and
the group from its folder. A daily model writes each partition of the run as
delete-then-insert in one transaction, with the window bound as parameters.
"""


from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any

import dagster as dg

from learning_loop.defs.checks import MODEL_CHECKS, check_specs_for
from learning_loop.defs.partition_runs import combine_check_results, log_progress
from learning_loop.defs.partitions import WAREHOUSE_POOL, daily_partitions, single_run
from learning_loop.defs.resources import WarehouseResource, warehouse_kind
from learning_loop.domain.asof import as_of, parse_partition_date, window_start
from learning_loop.sql_models import SqlModel, load_models
from learning_loop.warehouse.backend import Transaction


class RewardConfig(dg.Config):
    """Reward window and weights (SPEC §4 defaults). Every row records what it used."""

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


def run_partition(tx: Transaction, model: SqlModel, partition: date, config: RewardConfig) -> dict[str, Any]:
    """Materialise one partition of a daily model; returns its row count and summary."""
    params = partition_params(partition, config)
    rows = tx.replace_partition(model.name, partition, model.sql, model.columns, params)
    return {"rows": rows, **_summary(tx, model.name, params)}


def run_full_refresh(tx: Transaction, model: SqlModel) -> int:
    tx.execute(f"DELETE FROM {model.name}")
    params = {"registered_at": datetime.now(timezone.utc).replace(tzinfo=None)}
    tx.execute(f"INSERT INTO {model.name} ({', '.join(model.columns)}) {model.sql}", params)
    return int(tx.scalar(f"SELECT count(*) FROM {model.name}"))


def build_sql_asset(model: SqlModel) -> dg.AssetsDefinition:
    checks: list[Callable] = MODEL_CHECKS.get(model.name, [])
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

    @dg.asset(**common, partitions_def=daily_partitions, backfill_policy=single_run)
    def _daily(
        context: dg.AssetExecutionContext, config: RewardConfig, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        keys = context.partition_keys
        wh = warehouse.get()
        total, last, results = 0, {}, {}
        with wh.session():
            for index, key in enumerate(keys, start=1):
                partition = parse_partition_date(key)
                with wh.transaction() as tx:
                    last = run_partition(tx, model, partition, config)
                    for check in checks:
                        results.setdefault(check.__name__, []).append((key, check(tx, partition, config)))
                total += last["rows"]
                if log_progress(index, len(keys)):  # progress without flooding the event log
                    context.log.info(f"{model.name} {key} ({index}/{len(keys)}): {last['rows']} rows")
        metadata: dict[str, Any] = {
            "partitions_in_run": len(keys),
            "last_partition": keys[-1],
            "rows_written": total,
            "dagster/row_count": last["rows"],
            **{k: float(v) for k, v in last.items() if k != "rows"},
        }
        return dg.MaterializeResult(
            metadata=metadata,
            check_results=[combine_check_results(name, outcomes) for name, outcomes in results.items()],
        )

    return _daily


def sql_assets() -> list[dg.AssetsDefinition]:
    return [build_sql_asset(model) for model in load_models().values()]


ASSETS = sql_assets()
