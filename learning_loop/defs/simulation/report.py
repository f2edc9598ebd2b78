"""The ``simulation_report`` asset (issue 5).

`learning-loop simulate` writes its per-day report table (CSV) and, once per
simulated day, materialises that day's partition of this asset through
``simulation_report_job``. The asset reads the day's row and records its
numbers as float metadata, so the Dagster UI plots them by simulated day
(Assets → simulation_report → Plots): the platform's mean true reward and cumulative
regret, the explore share, experiments decided and verdicts that matched the
truth, and the baselines' regret. It touches no warehouse table.
"""

import sys
from pathlib import Path

import dagster as dg

from learning_loop.orchestration.code_version import code_version_of
from learning_loop.orchestration.partitions import daily_partitions
from learning_loop.simulate import report as sim_report

SIMULATION_GROUP = "simulation"


class SimulationReportConfig(dg.Config):
    """Where the simulator wrote its report."""

    report_csv: str
    plot_png: str = ""


def _markdown(rows: list[dict], columns: tuple[str, ...]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = ""
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c, "")
            cells.append(f"{value:.3f}" if isinstance(value, float) else str(value))
        body += "| " + " | ".join(cells) + " |\n"
    return head + body


@dg.asset(
    group_name=SIMULATION_GROUP,
    kinds={"csv"},
    partitions_def=daily_partitions,
    code_version=code_version_of(sys.modules[__name__], sim_report),
    description="One simulated day of `learning-loop simulate` per partition (the simulated date), so the UI "
    "plots by simulated day: mean true reward, regret vs the oracle and the baselines, explore share, "
    "experiments decided and verdicts that matched the truth.",
)
def simulation_report(context: dg.AssetExecutionContext, config: SimulationReportConfig) -> dg.MaterializeResult:
    from learning_loop.simulate.report import METRIC_COLUMNS, read_csv

    path = Path(config.report_csv)
    if not path.is_file():
        raise dg.Failure(f"simulation report not found: {path} (run `learning-loop simulate`)")
    rows = read_csv(path)
    if not rows:
        raise dg.Failure(f"simulation report {path} has no rows yet")
    day = context.partition_key
    matching = [row for row in rows if str(row["day"]) == day]
    if not matching:
        raise dg.Failure(f"simulation report {path} has no row for simulated day {day}")
    last = matching[-1]
    metadata: dict = {name: float(last[name]) for name in METRIC_COLUMNS if name in last}
    oracle = metadata.get("oracle_reward", 0.0)
    base = metadata.get("seeds_policy_cumulative_regret", 0.0)
    metadata["mean_true_reward_share_of_oracle"] = float(metadata["mean_true_reward"] / oracle) if oracle else 0.0
    metadata["regret_ratio_vs_seeds_policy"] = float(metadata["cumulative_regret"] / base) if base else 0.0
    metadata["day"] = str(last["day"])
    metadata["report_csv"] = dg.MetadataValue.path(str(path))
    if config.plot_png and Path(config.plot_png).is_file():
        metadata["regret_plot"] = dg.MetadataValue.path(config.plot_png)
    metadata["last_days"] = dg.MetadataValue.md(
        _markdown(
            [row for row in rows if str(row["day"]) <= day][-7:],
            ("day", "planned", "mean_true_reward", "cumulative_regret", "seeds_policy_cumulative_regret",
             "uniform_cumulative_regret", "experiments_decided", "verdicts_correct"),
        )
    )
    context.log.info(
        f"simulated day {last['day']}: mean true reward {metadata['mean_true_reward']:.3f}, "
        f"cumulative regret {metadata['cumulative_regret']:.2f}"
    )
    return dg.MaterializeResult(metadata=metadata)


simulation_report_job = dg.define_asset_job(
    "simulation_report_job",
    selection=dg.AssetSelection.assets("simulation_report"),
    description="Record the latest day of a `learning-loop simulate` report as simulation_report metadata.",
)
