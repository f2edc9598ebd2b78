"""Daily partitioned asset ``judge_weights`` (contract §9.6–9.8), its job and its nightly schedule.

Partition ``D`` holds, per agent and judge, how far the judge's scores agree
with gold labels (``labels`` rows with source ``gold``) over the 30 days
before ``T = D + 1 day`` — the math is ``learning_loop.domain.judges``. It is
not in ``update_stats`` (no daily tag): ``judge_weights_job`` computes it, and
``judge_weights_nightly`` (04:30 UTC, yesterday's partition) launches it and
skips while active learning is paused.

Checks (runbook "Check Judge Weights" and "Recommended Alerts"): WARN
``judge_weight_low`` (a weight < 0.3), WARN ``judge_weight_drop`` (more than
0.2 below the judge's highest weight in the 7 partitions before), ERROR
``critical_judge_weight`` (a critical judge — gpt-4, claude-3-opus, or the
agent's ``critical_judges`` — below 0.2). The materialization carries a
markdown table agents × judges (the heat map) and a float ``weight/<agent>/<judge>``
per weight.
"""


import sys
from datetime import date, datetime, timezone
from typing import Any

import dagster as dg
import pandas as pd

from learning_loop.domain import judges as judge_core
from learning_loop.domain.judges import (
    DEFAULT_CRITICAL_JUDGES,
    DEFAULT_PRIOR_N,
    DEFAULT_WINDOW_DAYS,
    WeightAlert,
    weight_alerts,
)
from learning_loop.domain.judges import judge_weights as compute_weights
from learning_loop.orchestration.code_version import code_version_of
from learning_loop.orchestration.partition_loop import PartitionWrite, combine_check_results, write_daily_partitions
from learning_loop.orchestration.partitions import (
    WAREHOUSE_POOL,
    daily_partitions,
    single_run,
    tick_time,
    warehouse_kind,
)
from learning_loop.orchestration.resources import RuntimeResource, WarehouseResource
from learning_loop.stores import canaries as canary_store
from learning_loop.stores import judges as judge_store
from learning_loop.stores.learning_state import pause_reason
from learning_loop.warehouse.backend import Transaction

TABLE = "judge_weights"
LOW_CHECK = "judge_weight_low"
DROP_CHECK = "judge_weight_drop"
CRITICAL_CHECK = "critical_judge_weight"
SEVERITY = {
    LOW_CHECK: dg.AssetCheckSeverity.WARN,
    DROP_CHECK: dg.AssetCheckSeverity.WARN,
    CRITICAL_CHECK: dg.AssetCheckSeverity.ERROR,
}


class JudgeWeightsConfig(dg.Config):
    """Trailing window of gold pairs, shrinkage pseudo-count, default critical judges."""

    window_days: int = DEFAULT_WINDOW_DAYS
    prior_n: float = DEFAULT_PRIOR_N
    critical_judges: list[str] = list(DEFAULT_CRITICAL_JUDGES)


def heat_map(weights: pd.DataFrame) -> str:
    """Markdown table: one row per agent, one column per judge, the weight in each cell ("–": no judge)."""
    if weights.empty:
        return "no judgments yet"
    table = weights.pivot(index="agent", columns="judge", values="weight").sort_index()
    judges = list(table.columns)
    lines = ["| agent | " + " | ".join(judges) + " |", "|---|" + "---:|" * len(judges)]
    for agent, row in table.iterrows():
        cells = ["–" if pd.isna(v) else f"{v:.2f}" for v in row]
        lines.append(f"| {agent} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def alerts_of(
    tx: Transaction, day: date, critical_for: dict[str, tuple[str, ...]], default_critical: tuple[str, ...]
) -> tuple[pd.DataFrame, list[WeightAlert], list[WeightAlert]]:
    """(the partition's weights, WARN alerts, ERROR alerts), per agent with its critical judges."""
    current = judge_store.partition(tx, day)
    before = judge_store.week_before(tx, day)
    warn: list[WeightAlert] = []
    error: list[WeightAlert] = []
    for agent, rows in current.groupby("agent", sort=True):
        critical = critical_for.get(str(agent)) or default_critical
        alerts = weight_alerts(rows, before[before["agent"] == agent], critical)
        warn += alerts.warn
        error += alerts.error
    return current, warn, error


def _check(kind: str, alerts: list[WeightAlert]) -> tuple[bool, dict[str, Any]]:
    mine = [a for a in alerts if a.kind == kind]
    return not mine, {"alerts": len(mine), "messages": "; ".join(a.message for a in mine) or "none"}


@dg.asset(
    name=TABLE,
    deps=["labels", "judgments"],
    group_name="canaries",
    kinds={"python", warehouse_kind()},
    pool=WAREHOUSE_POOL,
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    code_version=code_version_of(sys.modules[__name__], judge_core),
    description=(
        "Per agent and judge: weight in [0,1] from the rank agreement (AUC) of the judge's scores with gold "
        "labels over the trailing 30 days as of T = D + 1 day, shrunk toward 0 with few gold examples."
    ),
    check_specs=[
        dg.AssetCheckSpec(LOW_CHECK, asset=TABLE, description="WARN: a judge's weight is below 0.3 "
                          "(runbook: judge performing poorly, consider removing)."),
        dg.AssetCheckSpec(DROP_CHECK, asset=TABLE, description="WARN: a judge's weight dropped by more than 0.2 "
                          "within 7 days (runbook: investigate calibration issues)."),
        dg.AssetCheckSpec(CRITICAL_CHECK, asset=TABLE, description="ERROR: a critical judge (gpt-4, "
                          "claude-3-opus or the agent's critical_judges) is below 0.2 (runbook critical alert)."),
    ],
    metadata={"columns": "partition_date, agent, judge, weight, n_gold, auc, raw_agreement, reason, window_days, "
              "computed_at"},
)
def judge_weights(
    context: dg.AssetExecutionContext, config: JudgeWeightsConfig, warehouse: WarehouseResource,
    runtime: RuntimeResource,
):
    default_critical = tuple(config.critical_judges)
    critical_for: dict[str, tuple[str, ...]] = {}
    last: dict[str, Any] = {"weights": pd.DataFrame()}

    def write(tx: Transaction, partition: date) -> PartitionWrite:
        as_of = judge_store.as_of_of(partition)
        judgments, gold = judge_store.inputs(tx, as_of, config.window_days)
        weights = compute_weights(judgments, gold, as_of, config.window_days, config.prior_n)
        for agent in weights["agent"].unique():
            if agent not in critical_for:
                critical_for[agent] = canary_store.agent_config(runtime.home, agent).critical_judges
        rows = judge_store.write(tx, partition, weights, window_days=config.window_days,
                                 computed_at=datetime.now(timezone.utc))
        last["weights"] = weights
        metrics = {
            "agents": weights["agent"].nunique(),
            "judges": len(weights),
            "gold_pairs": int(weights["n_gold"].sum()) if len(weights) else 0,
        }
        if len(weights):
            metrics["mean_weight"] = float(weights["weight"].mean())
        metrics.update({f"weight/{r.agent}/{r.judge}": float(r.weight) for r in weights.itertuples(index=False)})
        return PartitionWrite(rows, metrics, log=f", {len(judgments)} judgments, {len(gold)} gold labels")

    alerts: dict[date, list[WeightAlert]] = {}

    def check(kind: str):
        def run(tx: Transaction, partition: date) -> tuple[bool, dict[str, Any]]:
            if partition not in alerts:  # the three checks of a partition share one evaluation
                _, warn, error = alerts_of(tx, partition, critical_for, default_critical)
                alerts[partition] = warn + error
            return _check(kind, alerts[partition])
        return run

    checks = {LOW_CHECK: check("low_weight"), DROP_CHECK: check("weight_drop"),
              CRITICAL_CHECK: check("critical_low_weight")}
    run = write_daily_partitions(context, warehouse.get(), TABLE, write, checks)
    results = []
    for name, outcomes in run.check_outcomes.items():
        combined = combine_check_results(name, outcomes)
        results.append(dg.AssetCheckResult(
            check_name=name, passed=combined.passed, metadata=combined.metadata, severity=SEVERITY[name],
            description=next((meta["messages"] for _, (ok, meta) in reversed(outcomes) if not ok), None),
        ))
    first, *per_partition = run.results(
        window_days=config.window_days, heat_map=dg.MetadataValue.md(heat_map(last["weights"]))
    )
    yield dg.MaterializeResult(metadata=first.metadata, check_results=results)
    yield from per_partition


judge_weights_job = dg.define_asset_job(
    "judge_weights_job",
    selection=dg.AssetSelection.assets(TABLE),
    description="Recompute the judge weights of a day (contract §9.6–9.8).",
)


@dg.schedule(
    job=judge_weights_job,
    cron_schedule="30 4 * * *",
    execution_timezone="UTC",
    name="judge_weights_nightly",
    description="04:30 UTC: judge weights of yesterday's partition; skips while active learning is paused.",
)
def judge_weights_nightly(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
    reason = pause_reason(warehouse.get())
    if reason:
        return dg.SkipReason(reason)
    when = tick_time(context)
    partition = (when - pd.Timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"judge_weights:{partition}", partition_key=partition,
                         tags={"learning_loop/trigger": "judge_weights_nightly"})
