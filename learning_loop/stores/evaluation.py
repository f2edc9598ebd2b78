"""Warehouse side of off-policy evaluation: the logged rounds of a project and their batch context.

A *logged round* is a planned job (``video_jobs``) of a batch (``planned_batches``) whose
``as_of`` lies in ``(as_of − days, as_of]``, with its logged propensities, its video (the
``videos`` row with the same project_id and job_id; the earliest published one if several,
published at or before ``as_of``) and that video's reward: ``percentile_rewards.reward`` of
the **newest** partition that has a reward for it among the partitions usable at ``as_of``
(``D <= as_of's date − 1 day``, SPEC §4). A reward's percentile is relative to its partition's
reference window, so the newest partition is the most mature, most comparable reading.

Jobs are counted, not used, when their propensity is NULL or not in (0, 1] (``no_propensity``),
when no video carries their job_id yet (``no_video``), or when their video has no reward yet
(``no_reward``) — in that order.

Plain functions over a Transaction, bound parameters only; no Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd

from learning_loop.domain.evaluation.target_policies import BatchContext, RecipeAverage
from learning_loop.domain.recipe import RECIPE_FIELDS
from learning_loop.stores.models import latest_arms, latest_usable_partition
from learning_loop.warehouse.backend import Transaction

SKIP_REASONS: tuple[str, ...] = ("no_propensity", "no_video", "no_reward")

_FIELDS = ", ".join(f"j.{f}" for f in RECIPE_FIELDS)
#: The jobs of the window (a CTE shared by the queries below).
_JOBS_CTE = (
    "WITH jobs AS (SELECT j.job_id, j.batch_id, " + _FIELDS + ", j.content_type, j.posting_hour, "
    "j.recipe_propensity, j.content_propensity, j.hour_propensity, j.propensity, j.created_at, "
    "b.as_of AS batch_as_of, b.stats_partition_date, b.explore_ratio, b.planned "
    "FROM video_jobs j JOIN planned_batches b ON b.batch_id = j.batch_id AND b.project_id = j.project_id "
    "WHERE j.project_id = :p AND b.as_of > :start AND b.as_of <= :end) "
)


@dataclass(frozen=True)
class LoggedJobs:
    """The window's jobs: the usable rounds, and how many were skipped for which reason."""

    rounds: pd.DataFrame  # one row per usable job: job and batch columns, video_id, reward, reward_partition
    skipped: dict[str, int]
    jobs_in_window: int
    start: datetime
    end: datetime


def naive_utc(ts: datetime) -> datetime:
    return ts.astimezone(timezone.utc).replace(tzinfo=None) if ts.tzinfo else ts


def window(as_of: datetime, days: int) -> tuple[datetime, datetime]:
    """``(as_of − days, as_of]`` as naive UTC bounds."""
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    end = naive_utc(as_of)
    return end - timedelta(days=days), end


def _propensity_ok(value: Any) -> bool:
    return value is not None and not pd.isna(value) and 0.0 < float(value) <= 1.0


def load_logged_rounds(tx: Transaction, project_id: str, as_of: datetime, days: int) -> LoggedJobs:
    """The logged rounds of ``project_id`` planned in the ``days`` days up to ``as_of`` (module doc)."""
    start, end = window(as_of, days)
    params = {"p": project_id, "start": start, "end": end}
    jobs = tx.query_df(_JOBS_CTE + "SELECT * FROM jobs ORDER BY batch_as_of, batch_id, job_id", params)
    videos = tx.query_df(
        _JOBS_CTE + "SELECT v.job_id, v.video_id, v.published_at FROM videos v JOIN jobs ON jobs.job_id = v.job_id "
        "WHERE v.project_id = :p AND (v.published_at IS NULL OR v.published_at <= :end)",
        params,
    )
    rewards = tx.query_df(
        _JOBS_CTE + "SELECT r.video_id, r.partition_date AS reward_partition, r.reward FROM percentile_rewards r "
        "WHERE r.project_id = :p AND r.reward IS NOT NULL AND r.partition_date <= :last AND r.video_id IN ("
        "SELECT v.video_id FROM videos v JOIN jobs ON jobs.job_id = v.job_id WHERE v.project_id = :p)",
        {**params, "last": latest_usable_partition(end)},
    )
    total = len(jobs)
    has_propensity = jobs["propensity"].map(_propensity_ok) if total else pd.Series([], dtype=bool)
    jobs = jobs[has_propensity.astype(bool)]
    videos = videos.sort_values(["job_id", "published_at", "video_id"], na_position="last", kind="stable")
    videos = videos.drop_duplicates("job_id")[["job_id", "video_id"]]
    rewards = rewards.sort_values(["video_id", "reward_partition", "reward"], kind="stable")
    rewards = rewards.drop_duplicates("video_id", keep="last")
    with_video = jobs.merge(videos, on="job_id", how="inner")
    rounds = with_video.merge(rewards, on="video_id", how="inner").reset_index(drop=True)
    skipped = {
        "no_propensity": int(total - len(jobs)),
        "no_video": int(len(jobs) - len(with_video)),
        "no_reward": int(len(with_video) - len(rounds)),
    }
    return LoggedJobs(rounds=rounds, skipped=skipped, jobs_in_window=total, start=start, end=end)


def _seen_before(seen: pd.DataFrame, column: str, moment: datetime) -> tuple[str, ...]:
    rows = seen[(seen["first_seen"] <= pd.Timestamp(moment)) & seen[column].notna()]
    return tuple(sorted({str(v) for v in rows[column]}))


def _recipe_stats(tx: Transaction, project_id: str, partitions: list) -> dict[Any, tuple[RecipeAverage, ...]]:
    if not partitions:
        return {}
    frame = tx.query_df(
        f"SELECT partition_date, recipe_hash, {', '.join(RECIPE_FIELDS)}, avg_reward FROM recipe_stats "
        "WHERE project_id = :p AND partition_date >= :lo AND partition_date <= :hi "
        "ORDER BY partition_date, recipe_hash",
        {"p": project_id, "lo": min(partitions), "hi": max(partitions)},
    )
    frame["partition_date"] = pd.to_datetime(frame["partition_date"]).dt.date
    out: dict[Any, tuple[RecipeAverage, ...]] = {}
    for day, part in frame.groupby("partition_date"):
        out[day] = tuple(
            RecipeAverage(
                recipe_hash=str(row["recipe_hash"]),
                recipe={f: row[f] for f in RECIPE_FIELDS},
                avg_reward=None if pd.isna(row["avg_reward"]) else float(row["avg_reward"]),
            )
            for row in part.to_dict("records")
        )
    return out


def load_batch_contexts(
    tx: Transaction, project_id: str, rounds: pd.DataFrame, end: datetime
) -> dict[str, BatchContext]:
    """What each batch of ``rounds`` saw when it was planned: its recipe-stats partition, the bandit
    arms as of its ``as_of``, its size and explore ratio, and the presets / content types seen in
    the project's videos published by then (``end`` bounds the lookup)."""
    if rounds.empty:
        return {}
    columns = ["batch_id", "batch_as_of", "stats_partition_date", "explore_ratio", "planned"]
    batches = rounds.drop_duplicates("batch_id")[columns]
    sizes = rounds.groupby("batch_id")["job_id"].size()
    seen = tx.query_df(
        "SELECT preset, content_type, min(published_at) AS first_seen FROM videos "
        "WHERE project_id = :p AND published_at <= :end GROUP BY preset, content_type",
        {"p": project_id, "end": naive_utc(end)},
    )
    seen["first_seen"] = pd.to_datetime(seen["first_seen"])
    partitions = [pd.Timestamp(d).date() for d in batches["stats_partition_date"].dropna().unique()]
    stats = _recipe_stats(tx, project_id, partitions)
    contexts: dict[str, BatchContext] = {}
    for row in batches.to_dict("records"):
        moment = pd.Timestamp(row["batch_as_of"]).to_pydatetime()
        partition = None if pd.isna(row["stats_partition_date"]) else pd.Timestamp(row["stats_partition_date"]).date()
        planned = row["planned"]
        recorded = planned is not None and not pd.isna(planned) and int(planned) > 0
        n_jobs = int(planned) if recorded else int(sizes[row["batch_id"]])  # older rows: the jobs we have
        ratio = row["explore_ratio"]
        contexts[row["batch_id"]] = BatchContext(
            batch_id=row["batch_id"],
            n_jobs=n_jobs,
            explore_ratio=None if ratio is None or pd.isna(ratio) else float(ratio),
            recipe_stats=stats.get(partition, ()),
            arms=latest_arms(tx, project_id, moment),
            presets=_seen_before(seen, "preset", moment),
            content_types=_seen_before(seen, "content_type", moment),
        )
    return contexts
