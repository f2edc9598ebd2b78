"""The bandit_arms asset on hand-made outcomes, on DuckDB and PostgreSQL."""

from __future__ import annotations

import math
import functools
from datetime import datetime, timedelta

import dagster as dg
import pandas as pd
import pytest

from learning_loop.defs.bandits.arms import bandit_arms
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop.defs.core.sql_assets import sql_assets
from learning_loop_tests.helpers import load, snap, table, video

D = "2024-01-10"  # T = 2024-01-11 00:00 UTC; 7-day window [2024-01-04, 2024-01-11)
T = datetime(2024, 1, 11)
P, Q, R = "p1", "q1", "r1"


OUTCOMES = next(a for a in sql_assets() if a.key.to_user_string() == "outcomes")


@functools.cache
def _instance() -> dg.DagsterInstance:
    """One ephemeral instance for the module (creating one costs most of a small run)."""
    return dg.DagsterInstance.ephemeral()


def run(url: str, partition: str, run_config: dict | None = None, outcomes: bool = True) -> dg.ExecuteInProcessResult:
    """outcomes (unless told otherwise) and bandit_arms for one partition, in one run."""
    upstream = [OUTCOMES] if outcomes else []
    result = dg.materialize(
        [*upstream, bandit_arms],
        partition_key=partition,
        resources={"warehouse": WarehouseResource(url=url)},
        instance=_instance(),
        run_config=run_config,
    )
    assert result.success
    return result


def mature(project: str, vid: str, published: datetime, views: int, likes: int, **extra) -> tuple[dict, dict]:
    return video(project, vid, published, **extra), snap(project, vid, published + timedelta(hours=6), views, likes=likes)


def hand_made() -> tuple[list[dict], list[dict]]:
    rows = [
        mature(P, "a1", datetime(2024, 1, 5, 14), 100, 5, content_type="Educational"),  # 0.05: success
        mature(P, "a2", datetime(2024, 1, 6, 14), 100, 2, content_type="educational"),  # 0.02: failure
        mature(P, "a3", datetime(2024, 1, 7, 18), 1000, 31, content_type="educational"),  # 0.031: success
        mature(P, "b1", datetime(2024, 1, 8, 18), 100, 3, content_type="factual"),  # exactly 0.03: failure
        mature(P, "n1", datetime(2024, 1, 9, 9), 100, 10),  # no content type: content_unknown, success
        mature(P, "old", datetime(2024, 1, 3, 23, 59), 100, 50, content_type="factual"),  # before the window
        mature(Q, "q1", datetime(2024, 1, 10, 2), 100, 0, content_type="factual"),
    ]
    videos = [v for v, _ in rows] + [
        video(P, "young", datetime(2024, 1, 10, 20), content_type="factual"),  # not mature at T
        video(P, "at_T", T, content_type="factual"),  # published at T: not in the world of D
        video(R, "r_young", datetime(2024, 1, 10, 21)),  # project without any mature video
    ]
    snapshots = [s for _, s in rows] + [
        snap(P, "young", datetime(2024, 1, 10, 22), 100, likes=90),
        snap(P, "at_T", T + timedelta(hours=6), 100, likes=90),
    ]
    return videos, snapshots


def arms_of(frame: pd.DataFrame, project: str) -> dict[str, dict]:
    return {r["arm"]: r for r in frame[frame["project_id"] == project].to_dict("records")}


def test_posterior_counts_and_ucb1_hand_computed(warehouse, warehouse_url):
    load(warehouse, *hand_made())
    result = run(warehouse_url, D)
    frame = table(warehouse, "bandit_arms", D, order="project_id, arm_type, arm")
    arms = arms_of(frame, P)
    content = {k: v for k, v in arms.items() if v["arm_type"] == "content"}
    assert set(content) == {"content_educational", "content_factual", "content_unknown"}
    edu = content["content_educational"]
    assert (edu["pulls"], edu["successes"], edu["failures"], edu["alpha"], edu["beta"]) == (3, 2, 1, 3.0, 2.0)
    assert edu["mean"] == pytest.approx(3 / 5)
    assert edu["posterior_sd"] == pytest.approx(math.sqrt(3 * 2 / (5**2 * 6)))
    assert pd.isna(edu["hour"]) and pd.isna(edu["ucb1"])
    fact = content["content_factual"]
    assert (fact["pulls"], fact["successes"], fact["alpha"], fact["beta"]) == (1, 0, 1.0, 2.0)  # 0.03 is not > 0.03
    assert (content["content_unknown"]["pulls"], content["content_unknown"]["successes"]) == (1, 1)

    timing = {k: v for k, v in arms.items() if v["arm_type"] == "timing"}
    assert len(timing) == 24 and sum(v["pulls"] for v in timing.values()) == 5
    assert (timing["timing_14"]["pulls"], timing["timing_14"]["successes"], timing["timing_14"]["hour"]) == (2, 1, 14)
    assert (timing["timing_18"]["pulls"], timing["timing_18"]["successes"]) == (2, 1)
    assert (timing["timing_09"]["pulls"], timing["timing_09"]["successes"]) == (1, 1)
    # UCB1 = success rate + sqrt(2 ln N / n), N = 5 pulls of the project
    assert timing["timing_14"]["ucb1"] == pytest.approx(0.5 + math.sqrt(2 * math.log(5) / 2))
    assert timing["timing_09"]["ucb1"] == pytest.approx(1.0 + math.sqrt(2 * math.log(5) / 1))
    assert pd.isna(timing["timing_00"]["ucb1"]) and timing["timing_00"]["pulls"] == 0  # untried: stored NULL
    assert timing["timing_00"]["mean"] == 0.5  # Beta(1, 1) prior

    assert {(r["window_days"], r["success_threshold"]) for r in frame.to_dict("records")} == {(7, 0.03)}
    q = arms_of(frame, Q)
    assert q["content_factual"]["pulls"] == 1 and q["timing_02"]["pulls"] == 1
    r = arms_of(frame, R)  # no mature video: 24 untried hours, no content arm
    assert len(r) == 24 and all(v["arm_type"] == "timing" and v["pulls"] == 0 for v in r.values())

    meta = result.asset_materializations_for_node("bandit_arms")[0].metadata
    assert meta["best_content_arm_mean"].value == pytest.approx(2 / 3)  # p1's content_unknown: Beta(2, 1)
    assert meta["pulls"].value == 6.0 and meta["arms"].value == float(len(frame))
    assert isinstance(meta["mean_posterior_sd"].value, float)
    checks = [c for c in result.get_asset_check_evaluations() if c.asset_key == dg.AssetKey("bandit_arms")]
    assert [c.check_name for c in checks] == ["posterior_matches_counts"] and checks[0].passed

    # configured window and threshold: window [2024-01-09, 2024-01-11) holds only n1 (0.10 > 0.01)
    config = {"ops": {"bandit_arms": {"config": {"window_days": 2, "success_threshold": 0.01}}}}
    run(warehouse_url, D, run_config=config, outcomes=False)
    arms = arms_of(table(warehouse, "bandit_arms", D, order="project_id, arm"), P)
    assert {a for a, v in arms.items() if v["pulls"] > 0} == {"content_unknown", "timing_09"}
    assert {(v["window_days"], v["success_threshold"]) for v in arms.values()} == {(2, 0.01)}


def test_point_in_time_rematerialisation(warehouse, warehouse_url):
    videos, snapshots = hand_made()
    load(warehouse, videos, snapshots)
    run(warehouse_url, D)
    order = "project_id, arm_type, arm"
    before = table(warehouse, "bandit_arms", D, order=order)
    # later data: new likes after T on known videos, a video published after T, a late snapshot of `young`
    load(
        warehouse,
        videos=[video(P, "later", T + timedelta(hours=1), content_type="story")],
        snapshots=[
            snap(P, "a2", T + timedelta(hours=2), 100, likes=90),
            snap(P, "later", T + timedelta(hours=8), 100, likes=90),
            snap(P, "young", T + timedelta(hours=3), 200, likes=1),
        ],
    )
    run(warehouse_url, D)
    pd.testing.assert_frame_equal(before, table(warehouse, "bandit_arms", D, order=order), check_exact=True)
    # (that the next day's outcomes see such data is tested with the SQL models)
