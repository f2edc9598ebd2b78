"""Daily partitioned asset ``bandit_arms`` (issue 4, seed 004): the Dagster shell.

The math is :func:`learning_loop.domain.bandits.arm_table`; this module only
reads the inputs of one partition, writes its rows and reports numbers.

Partition ``D`` (as of ``T = D + 1 day``, contract §5) counts, per project, the
*mature* videos of the ``outcomes`` partition ``D`` published in
``[T - window_days, T)``: each is one pull of its content arm
``content_<content_type>`` and of its timing arm ``timing_<HH>`` (UTC hour of
``published_at``); a pull succeeds when ``engagement_rate > success_threshold``.
``content_type`` and ``published_at`` come from the outcomes row (which copied
them from ``videos`` at the same as-of), so the asset reads only ``outcomes``.

Every project with a video published before ``T`` gets its 24 timing arms
(untried hours have ``pulls = 0``; their UCB1 score, +inf in the domain, is
stored as NULL and read back as "untried, play first"), even when none of its
videos is mature in the window; content arms exist only for observed content
types (a missing content type counts for ``content_unknown``). Each partition is replaced (delete, insert) in one
transaction, with the check that the posterior is consistent with the counts.
"""


from collections.abc import Iterator
import sys
from datetime import date
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from learning_loop.domain import bandits as bandit_core
from learning_loop.domain.asof import as_of, window_start
from learning_loop.domain.bandits import DEFAULT_SUCCESS_THRESHOLD, arm_table
from learning_loop.orchestration.code_version import code_version_of
from learning_loop.orchestration.partition_loop import PartitionWrite, outcome_projects, write_daily_partitions
from learning_loop.orchestration.partitions import DAILY_TAG, WAREHOUSE_POOL, daily_partitions, single_run, warehouse_kind
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop.warehouse.backend import Transaction

TABLE = "bandit_arms"
CHECK_NAME = "posterior_matches_counts"
DEFAULT_WINDOW_DAYS = 7


class BanditConfig(dg.Config):
    """Trailing window of mature videos and the success threshold (seed 004 defaults)."""

    window_days: int = DEFAULT_WINDOW_DAYS
    success_threshold: float = DEFAULT_SUCCESS_THRESHOLD


def read_pulls(tx: Transaction, partition: date, window_days: int) -> tuple[pd.DataFrame, list[str]]:
    """Mature outcomes of partition ``partition`` in the window, and every project of the partition."""
    params = {
        "d": partition,
        "t": as_of(partition),
        "ws": window_start(partition, window_days),
    }
    rows = tx.query_df(
        "SELECT project_id, video_id, content_type, published_at, engagement_rate FROM outcomes "
        "WHERE partition_date = :d AND is_mature AND published_at >= :ws AND published_at < :t "
        "ORDER BY project_id, published_at, video_id",
        params,
    )
    projects = outcome_projects(tx, partition)
    return rows, projects


def build_arms(rows: pd.DataFrame, projects: list[str], config: BanditConfig) -> tuple[pd.DataFrame, int]:
    """The arm table of every project (projects without pulls get untried timing arms) and rows excluded."""
    missing = sorted(set(projects) - set(rows["project_id"].dropna()))
    # a project without any pull still gets its 24 untried timing arms: one placeholder row
    # with a NaN engagement rate makes arm_table list the project without counting anything
    placeholders = pd.DataFrame({"project_id": missing, "engagement_rate": [np.nan] * len(missing)})
    frame = pd.concat([rows, placeholders], ignore_index=True) if missing else rows
    arms = arm_table(frame, success_threshold=config.success_threshold)
    excluded = int(arms.attrs.get("n_excluded", 0)) - len(missing)
    return arms, excluded


def write_partition(tx: Transaction, partition: date, arms: pd.DataFrame, config: BanditConfig) -> int:
    """Replace the partition's rows (delete then insert, inside the caller's transaction)."""
    out = arms.copy()
    if not out.empty:
        out["ucb1"] = out["ucb1"].where(np.isfinite(out["ucb1"].astype("float64")))  # +inf (untried) stored as NULL
        out["window_days"] = config.window_days
        out["success_threshold"] = config.success_threshold
    return tx.replace_partition(TABLE, partition, out)


def check_partition(tx: Transaction, partition: date, config: BanditConfig) -> tuple[bool, dict[str, Any]]:
    """alpha = 1 + successes, beta = 1 + failures, pulls = successes + failures, and each project's
    content and timing pulls both equal its mature videos in the window (with a publish hour)."""
    params = {"d": partition, "t": as_of(partition), "ws": window_start(partition, config.window_days)}
    bad = int(
        tx.scalar(
            f"SELECT count(*) FROM {TABLE} WHERE partition_date = :d AND NOT ("
            "alpha = 1 + successes AND beta = 1 + failures AND pulls = successes + failures "
            "AND successes >= 0 AND failures >= 0)",
            params,
        )
    )
    totals = tx.query_df(
        "WITH expected AS (SELECT project_id, count(*) AS n FROM outcomes WHERE partition_date = :d AND is_mature "
        "AND published_at >= :ws AND published_at < :t AND engagement_rate IS NOT NULL GROUP BY project_id), "
        f"got AS (SELECT project_id, sum(pulls) FILTER (WHERE arm_type = 'content') AS content_pulls, "
        f"sum(pulls) FILTER (WHERE arm_type = 'timing') AS timing_pulls FROM {TABLE} "
        "WHERE partition_date = :d GROUP BY project_id) "
        "SELECT coalesce(e.project_id, g.project_id) AS project_id, coalesce(e.n, 0) AS expected, "
        "coalesce(g.content_pulls, 0) AS content_pulls, coalesce(g.timing_pulls, 0) AS timing_pulls "
        "FROM expected e FULL OUTER JOIN got g ON g.project_id = e.project_id",
        params,
    )
    mismatched = totals[
        (totals["expected"].astype(int) != totals["content_pulls"].astype(int))
        | (totals["expected"].astype(int) != totals["timing_pulls"].astype(int))
    ]
    return bad == 0 and mismatched.empty, {
        "rows_inconsistent": bad,
        "projects_with_wrong_pulls": ", ".join(map(str, mismatched["project_id"])) or "none",
    }


def summarize(arms: pd.DataFrame) -> dict[str, float]:
    """Numbers the UI plots for one partition (over all projects; undefined ones are left out)."""
    if arms.empty:
        return {"arms": 0.0, "pulls": 0.0, "projects": 0.0}
    content = arms[arms["arm_type"] == "content"]
    timing = arms[arms["arm_type"] == "timing"]
    tried = arms[arms["pulls"] > 0]
    tried_timing = timing[timing["pulls"] > 0]
    summary = {
        "arms": float(len(arms)),
        "content_arms": float(len(content)),
        "projects": float(arms["project_id"].nunique()),
        "pulls": float(content["pulls"].sum()),
        "successes": float(content["successes"].sum()),
        "best_content_arm_mean": float(content["mean"].max()) if len(content) else None,
        "best_timing_arm_mean": float(tried_timing["mean"].max()) if len(tried_timing) else None,
        "mean_posterior_sd": float(tried["posterior_sd"].mean()) if len(tried) else None,
    }
    return {k: v for k, v in summary.items() if v is not None and np.isfinite(v)}


def _best_arms(arms: pd.DataFrame) -> dict[str, Any]:
    """Per project: the content and the tried timing arm with the highest posterior mean."""
    best: dict[str, Any] = {}
    for project, part in arms.groupby("project_id"):
        entry = {}
        for arm_type in ("content", "timing"):
            rows = part[(part["arm_type"] == arm_type) & (part["pulls"] > 0)]
            if len(rows):
                top = rows.sort_values(["mean", "arm"], ascending=[False, True]).iloc[0]
                entry[arm_type] = {"arm": top["arm"], "mean": round(float(top["mean"]), 4), "pulls": int(top["pulls"])}
        best[str(project)] = entry
    return best


@dg.asset(
    name=TABLE,
    deps=["outcomes"],
    group_name="bandits",
    kinds={"python", warehouse_kind()},
    pool=WAREHOUSE_POOL,
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    code_version=code_version_of(sys.modules[__name__], bandit_core),
    tags=DAILY_TAG,
    description=(
        "Beta-Bernoulli content arms (content_<type>) and timing arms (timing_HH, with UCB1) per project, "
        "from the mature videos published in the trailing window, as of T = D + 1 day."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            name=CHECK_NAME,
            asset=TABLE,
            blocking=True,
            description="alpha = 1 + successes, beta = 1 + failures, and pulls match the mature videos in the window.",
        )
    ],
    metadata={"columns": "partition_date, project_id, arm_type, arm, hour, pulls, successes, failures, "
              "success_rate, alpha, beta, mean, posterior_sd, ucb1, window_days, success_threshold"},
)
def bandit_arms(
    context: dg.AssetExecutionContext, config: BanditConfig, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization]:
    excluded_total = 0
    last_arms = pd.DataFrame()

    def write(tx: Transaction, partition: date) -> PartitionWrite:
        nonlocal excluded_total, last_arms
        rows, projects = read_pulls(tx, partition, config.window_days)
        arms, excluded = build_arms(rows, projects, config)
        written = write_partition(tx, partition, arms, config)
        excluded_total += excluded
        last_arms = arms
        return PartitionWrite(written, summarize(arms), log=f", {len(rows)} pulls")

    run = write_daily_partitions(
        context, warehouse.get(), TABLE, write, {CHECK_NAME: lambda tx, p: check_partition(tx, p, config)}
    )
    yield from run.results(
        window_days=config.window_days,
        success_threshold=float(config.success_threshold),
        rows_excluded=excluded_total,
        best_arms=dg.MetadataValue.json(_best_arms(last_arms) if not last_arms.empty else {}),
    )
