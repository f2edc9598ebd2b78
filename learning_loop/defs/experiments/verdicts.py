"""Daily experiment verdicts (contract §7)."""

import sys
from collections.abc import Iterator
from dataclasses import fields as dataclass_fields
from datetime import date, datetime, timezone

import dagster as dg
import pandas as pd

from learning_loop.domain import experiments as experiment_core
from learning_loop.domain.asof import as_of
from learning_loop.domain.experiments import Verdict, evaluate_verdict
from learning_loop.orchestration.code_version import code_version_of
from learning_loop.orchestration.partition_loop import PartitionWrite, write_daily_partitions
from learning_loop.orchestration.partitions import DAILY_TAG, WAREHOUSE_POOL, daily_partitions, single_run, warehouse_kind
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop.stores.experiment_rules import rules_of
from learning_loop.warehouse.backend import Transaction

_VERDICT_FIELDS = [f.name for f in dataclass_fields(Verdict)]


def _previous_completed(tx: Transaction, partition) -> dict[str, Verdict]:
    """Completed verdicts decided in an earlier partition: they never change."""
    frame = tx.query_df(
        f"SELECT v.experiment_id, {', '.join('v.' + f for f in _VERDICT_FIELDS)} FROM experiment_verdicts v "
        "WHERE v.status = 'completed' AND v.partition_date < :d AND v.partition_date = ("
        "SELECT min(w.partition_date) FROM experiment_verdicts w WHERE w.experiment_id = v.experiment_id "
        "AND w.status = 'completed')",
        {"d": partition},
    )
    out = {}
    for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        out[row["experiment_id"]] = Verdict(**{f: row[f] for f in _VERDICT_FIELDS})
    return out


def evaluate_partition(tx: Transaction, partition) -> pd.DataFrame:
    """Verdict of every experiment started before T, from the partition's rewards."""
    t = as_of(partition)
    experiments = tx.query_df(
        "SELECT * FROM experiments WHERE started_at < :t ORDER BY experiment_id", {"t": t}
    )
    rewards = tx.query_df(
        "SELECT project_id, recipe_hash, published_at, reward FROM percentile_rewards WHERE partition_date = :d",
        {"d": partition},
    )
    previous = _previous_completed(tx, partition)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = []
    for exp in experiments.to_dict("records"):
        started = pd.Timestamp(exp["started_at"]).to_pydatetime()
        mine = rewards[(rewards["project_id"] == exp["project_id"]) & (rewards["published_at"] >= started)]
        baseline = mine.loc[mine["recipe_hash"] == exp["baseline_recipe_hash"], "reward"].tolist()
        variant = mine.loc[mine["recipe_hash"] == exp["variant_recipe_hash"], "reward"].tolist()
        verdict = evaluate_verdict(
            baseline, variant, rules_of(exp), started_at=started, as_of=t, previous=previous.get(exp["experiment_id"])
        )
        rows.append(
            {
                "partition_date": partition,
                "experiment_id": exp["experiment_id"],
                "project_id": exp["project_id"],
                **verdict.to_dict(),
                "level": float(exp["level"]),
                "evaluated_at": now,
            }
        )
    return pd.DataFrame(rows)


def _record_decisions(tx: Transaction, verdicts: pd.DataFrame, partition) -> int:
    """Running experiments whose verdict completed become completed; a completed one is never touched."""
    decided = 0
    for row in verdicts.to_dict("records"):
        params = {
            "e": row["experiment_id"],
            "b": row["baseline_mean"],
            "v": row["variant_mean"],
        }
        tx.execute(
            "UPDATE experiments SET baseline_avg_reward = :b, variant_avg_reward = :v "
            "WHERE experiment_id = :e AND status = 'running'",
            params,
        )
        if row["status"] == "completed":
            before = tx.scalar("SELECT status FROM experiments WHERE experiment_id = :e", params)
            if before == "running":
                tx.execute(
                    "UPDATE experiments SET status = 'completed', winner = :w, completed_at = :t "
                    "WHERE experiment_id = :e AND status = 'running'",
                    {**params, "w": row["winner"], "t": as_of(partition)},
                )
                decided += 1
    return decided


@dg.asset(
    group_name="experiments",
    deps=["percentile_rewards", "experiments"],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    kinds={warehouse_kind()},
    pool=WAREHOUSE_POOL,
    tags=DAILY_TAG,
    code_version=code_version_of(sys.modules[__name__], experiment_core),
    description="Per experiment and day: n and mean reward per arm, effect with an anytime-valid interval, "
    "minimum detectable effect, winner and status (contract §7).",
)
def experiment_verdicts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization]:
    last = pd.DataFrame()
    decided = 0

    def write(tx: Transaction, partition: date) -> PartitionWrite:
        nonlocal last, decided
        verdicts = evaluate_partition(tx, partition)
        written = tx.replace_partition("experiment_verdicts", partition, verdicts)
        decided += _record_decisions(tx, verdicts, partition)
        last = verdicts
        return PartitionWrite(written, _summary(verdicts))

    run = write_daily_partitions(context, warehouse.get(), "experiment_verdicts", write)
    yield from run.results(experiments=len(last), decided_in_run=decided)


def _summary(verdicts: pd.DataFrame) -> dict[str, float]:
    if verdicts.empty:
        return {"running_experiments": 0.0, "completed_experiments": 0.0, "variant_wins": 0.0}
    return {
        "running_experiments": float((verdicts["status"] == "running").sum()),
        "completed_experiments": float((verdicts["status"] == "completed").sum()),
        "variant_wins": float((verdicts["winner"] == "variant").sum()),
    }
