"""Partition checks of the core SQL models that would catch a wrong loop.

They run inside the asset's transaction for every partition of the run (so a
backfill checks every day it wrote); all are blocking, so bad rewards stop
downstream assets.
"""


from datetime import date
from typing import Any

import dagster as dg

from learning_loop.domain.asof import as_of, window_start
from learning_loop.warehouse.backend import Transaction

TOLERANCE = 1e-9


def rewards_in_unit_interval(tx: Transaction, partition: date, config: Any) -> tuple[bool, dict[str, Any]]:
    """Every reward and percentile lies in [0, 1]."""
    bad = int(
        tx.scalar(
            "SELECT count(*) FROM percentile_rewards WHERE partition_date = :d AND NOT ("
            "reward BETWEEN 0 AND 1 AND avd_pct BETWEEN 0 AND 1 AND views_6h_pct BETWEEN 0 AND 1 "
            "AND engagement_pct BETWEEN 0 AND 1)",
            {"d": partition},
        )
    )
    return bad == 0, {"rows_out_of_range": bad}


def mature_videos_scored_once(tx: Transaction, partition: date, config: Any) -> tuple[bool, dict[str, Any]]:
    """Each mature video in the window has exactly one reward row; nothing else has one."""
    params = {
        "d": partition,
        "t": as_of(partition),
        "ws": window_start(partition, config.window_days),
    }
    expected = int(
        tx.scalar(
            "SELECT count(*) FROM outcomes WHERE partition_date = :d AND is_mature "
            "AND published_at >= :ws AND published_at < :t",
            params,
        )
    )
    frame = tx.query_df(
        "SELECT count(*) AS scored, count(DISTINCT project_id || '/' || video_id) AS distinct_videos "
        "FROM percentile_rewards WHERE partition_date = :d",
        params,
    )
    scored, distinct = int(frame.iat[0, 0]), int(frame.iat[0, 1])
    # a set difference, not a correlated NOT EXISTS: PostgreSQL plans the latter as a nested loop while its
    # statistics do not know the new partition yet (minutes at 100k videos); EXCEPT is hashed or sorted.
    # (Duplicates are caught by scored == distinct above.)
    unmatched = int(
        tx.scalar(
            "SELECT count(*) FROM (SELECT project_id, video_id FROM percentile_rewards WHERE partition_date = :d "
            "EXCEPT SELECT project_id, video_id FROM outcomes WHERE partition_date = :d AND is_mature "
            "AND published_at >= :ws AND published_at < :t) AS unmatched_rewards",
            params,
        )
    )
    passed = scored == expected == distinct and unmatched == 0
    return passed, {"expected": expected, "scored": scored, "distinct_videos": distinct, "unmatched": unmatched}


def percentile_means_half(tx: Transaction, partition: date, config: Any) -> tuple[bool, dict[str, Any]]:
    """Mid-rank percentiles average exactly 0.5 per project (ties included)."""
    frame = tx.query_df(
        "SELECT project_id, avg(avd_pct) AS avd, avg(views_6h_pct) AS views, avg(engagement_pct) AS eng "
        "FROM percentile_rewards WHERE partition_date = :d GROUP BY project_id",
        {"d": partition},
    )
    worst = 0.0 if frame.empty else float((frame[["avd", "views", "eng"]] - 0.5).abs().to_numpy().max())
    return worst <= TOLERANCE, {"projects": len(frame), "max_abs_deviation": worst}


def one_row_per_video(tx: Transaction, partition: date, config: Any) -> tuple[bool, dict[str, Any]]:
    """Outcomes hold each video published before T exactly once."""
    params = {"d": partition, "t": as_of(partition)}
    rows = int(tx.scalar("SELECT count(*) FROM outcomes WHERE partition_date = :d", params))
    videos = int(tx.scalar("SELECT count(*) FROM videos WHERE published_at < :t", params))
    return rows == videos, {"outcome_rows": rows, "videos_before_t": videos}


MODEL_CHECKS = {
    "outcomes": [one_row_per_video],
    "percentile_rewards": [rewards_in_unit_interval, mature_videos_scored_once, percentile_means_half],
}


def check_specs_for(model: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(name=fn.__name__, asset=model, blocking=True, description=fn.__doc__)
        for fn in MODEL_CHECKS.get(model, [])
    ]
