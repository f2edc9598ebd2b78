"""The daily SQL models on hand-computed examples and against the reference core, on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from learning_loop.domain.outcomes import Snapshot, outcome
from learning_loop.domain.rewards import midrank_percentiles, rewards
from learning_loop_tests.helpers import RECIPE_A, RECIPE_B, load, materialize_daily, snap, table, video

D = "2024-01-10"  # T = 2024-01-11 00:00 UTC
T = datetime(2024, 1, 11)
P = "p1"


def _by_id(frame: pd.DataFrame) -> dict[str, dict]:
    return {row["video_id"]: row for row in frame.to_dict("records")}


@pytest.fixture
def hand_made(warehouse, warehouse_url):
    pub = datetime(2024, 1, 5)
    load(
        warehouse,
        videos=[
            video(P, "exact", pub),
            video(P, "interp", pub),
            video(P, "origin", pub, recipe=RECIPE_B),
            video(P, "young", datetime(2024, 1, 10, 20)),
            video(P, "zero", datetime(2024, 1, 6), recipe=None),
            video(P, "late_snap", datetime(2024, 1, 10, 12)),
            video(P, "at_T", T),
            video(P, "edge_30d", T - timedelta(days=30)),
            video(P, "before_window", T - timedelta(days=30, seconds=1)),
        ],
        snapshots=[
            snap(P, "exact", pub + timedelta(hours=3), 100),
            snap(P, "exact", pub + timedelta(hours=6), 300, likes=30, comments=0),
            snap(P, "exact", pub + timedelta(hours=12), 500, likes=40, comments=10, avd=21.5, followers=3),
            snap(P, "interp", pub + timedelta(hours=4), 200),
            snap(P, "interp", pub + timedelta(hours=8), 600, likes=6, comments=6, followers=0),
            snap(P, "origin", pub + timedelta(hours=12), 1200, likes=12),
            snap(P, "origin", T + timedelta(hours=1), 999_999),  # after T: invisible
            snap(P, "young", datetime(2024, 1, 10, 22), 50),
            snap(P, "zero", datetime(2024, 1, 6, 7), 0),
            snap(P, "late_snap", T + timedelta(hours=1), 10),
            snap(P, "at_T", T + timedelta(hours=7), 10),
            snap(P, "edge_30d", T - timedelta(days=30) + timedelta(hours=6), 60, likes=1),
            snap(P, "before_window", T - timedelta(days=29), 70, likes=2),
        ],
    )
    materialize_daily(warehouse_url, D)
    return warehouse


def test_views_6h_hand_computed(hand_made):
    rows = _by_id(table(hand_made, "outcomes", D))
    assert rows["exact"]["views_6h"] == 300  # a snapshot exactly at +6h
    assert rows["interp"]["views_6h"] == pytest.approx(400)  # 200 + (600-200) * 2h/4h
    assert rows["origin"]["views_6h"] == pytest.approx(600)  # publish counts as (t0, 0 views): 1200 * 6/12
    assert rows["zero"]["views_6h"] == 0
    for not_mature in ("young", "late_snap"):
        assert pd.isna(rows[not_mature]["views_6h"]) and not rows[not_mature]["is_mature"]
    assert "at_T" not in rows  # published exactly at T: not yet in the world of D


def test_latest_snapshot_counters(hand_made):
    rows = _by_id(table(hand_made, "outcomes", D))
    exact = rows["exact"]
    assert (exact["views"], exact["likes"], exact["comments"]) == (500, 40, 10)
    assert exact["avg_view_duration_s"] == 21.5
    assert exact["engagement_rate"] == pytest.approx(50 / 500)
    assert bool(exact["follow_through"]) is True
    assert bool(rows["interp"]["follow_through"]) is False
    assert pd.isna(rows["origin"]["follow_through"])  # followers unknown
    assert rows["origin"]["views"] == 1200  # the snapshot after T is invisible
    assert rows["zero"]["engagement_rate"] == 0.0  # zero views


def test_window_edges(hand_made):
    scored = _by_id(table(hand_made, "percentile_rewards", D))
    assert "edge_30d" in scored  # published exactly T - 30 days is inside
    assert "before_window" not in scored
    assert set(scored) == {"exact", "interp", "origin", "zero", "edge_30d"}
    assert {r["reference_size"] for r in scored.values()} == {5}
    row = scored["exact"]
    assert (row["weight_avd"], row["weight_views_6h"], row["weight_engagement"], row["window_days"]) == (0.5, 0.3, 0.2, 30)


def test_rewards_match_reference(hand_made):
    frame = table(hand_made, "percentile_rewards", D)
    expected = rewards(frame["avg_view_duration_s"], frame["views_6h"], frame["engagement_rate"])
    np.testing.assert_allclose(frame["reward"], expected, atol=1e-12)
    np.testing.assert_allclose(frame["avd_pct"], midrank_percentiles(frame["avg_view_duration_s"]), atol=1e-12)


def test_recipe_stats(hand_made):
    stats = table(hand_made, "recipe_stats", D, order="recipe_hash")
    scored = table(hand_made, "percentile_rewards", D)
    by_recipe = {r["hook_type"]: r for r in stats.to_dict("records")}
    a = by_recipe["question"]
    # recipe A: exact, interp, young, late_snap, edge_30d, before_window published before T (at_T is not)
    assert a["times_used"] == 6
    in_window_a = scored[scored["video_id"].isin(["exact", "interp", "edge_30d"])]
    assert a["scored_videos"] == 3
    assert a["avg_reward"] == pytest.approx(in_window_a["reward"].mean())
    assert a["best_reward"] == pytest.approx(in_window_a["reward"].max())
    assert pd.Timestamp(a["last_used_at"]) == pd.Timestamp("2024-01-10 20:00")
    assert by_recipe["mystery"]["times_used"] == 1 and by_recipe["mystery"]["scored_videos"] == 1
    assert len(stats) == 2  # the manual video has no recipe


def test_lone_video_and_ties(warehouse, warehouse_url):
    pub = datetime(2024, 1, 3)
    load(
        warehouse,
        videos=[video("lone", "only", pub), video("ties", "a", pub), video("ties", "b", pub), video("ties", "c", pub)],
        snapshots=[
            snap("lone", "only", pub + timedelta(hours=7), 70, likes=7),
            snap("ties", "a", pub + timedelta(hours=6), 100, likes=10, avd=12.0),
            snap("ties", "b", pub + timedelta(hours=6), 100, likes=10, avd=12.0),
            snap("ties", "c", pub + timedelta(hours=6), 300, likes=10, avd=30.0),
        ],
    )
    materialize_daily(warehouse_url, D)
    rows = _by_id(table(warehouse, "percentile_rewards", D))
    only = rows["only"]
    assert (only["avd_pct"], only["views_6h_pct"], only["engagement_pct"], only["reward"]) == (0.5, 0.5, 0.5, 0.5)
    assert rows["a"]["avd_pct"] == rows["b"]["avd_pct"] == pytest.approx(1 / 3)  # (0 + 0.5*2)/3
    assert rows["c"]["avd_pct"] == pytest.approx(5 / 6)  # (2 + 0.5)/3
    assert rows["a"]["reward"] == rows["b"]["reward"]


def test_reward_config_recorded(warehouse, warehouse_url):
    pub = datetime(2024, 1, 3)
    load(warehouse, videos=[video(P, "x", pub)], snapshots=[snap(P, "x", pub + timedelta(hours=7), 5)])
    config = {"config": {"window_days": 7, "weight_avd": 0.6, "weight_views_6h": 0.2, "weight_engagement": 0.2}}
    materialize_daily(warehouse_url, D, run_config={"ops": {name: config for name in ("outcomes", "percentile_rewards", "recipe_stats")}})
    assert table(warehouse, "percentile_rewards", D).empty  # published 8 days before T: outside a 7-day window
    materialize_daily(warehouse_url, "2024-01-05", run_config={"ops": {name: config for name in ("outcomes", "percentile_rewards", "recipe_stats")}})
    row = table(warehouse, "percentile_rewards", "2024-01-05").iloc[0]
    assert (row["window_days"], row["weight_avd"], row["weight_views_6h"]) == (7, 0.6, 0.2)


def _random_world(rng: np.random.Generator, n_videos: int = 60):
    videos, snapshots, ref = [], [], {}
    for i in range(n_videos):
        project = f"p{i % 3}"
        pub = datetime(2024, 1, 1) + timedelta(minutes=int(rng.integers(0, 11 * 24 * 60)))
        vid = f"v{i:03d}"
        videos.append(video(project, vid, pub, recipe=RECIPE_A if i % 2 else RECIPE_B))
        views, likes, snaps = 0, 0, []
        for _ in range(int(rng.integers(0, 6))):
            offset = timedelta(minutes=int(rng.integers(0, 48 * 60)))
            views += int(rng.integers(0, 500))
            likes += int(rng.integers(0, 20))
            s = Snapshot(pub + offset, views, likes, int(rng.integers(0, 5)), float(rng.integers(5, 40)), int(rng.integers(0, 3)))
            if all(x.observed_at != s.observed_at for x in snaps):
                snaps.append(s)
        snaps.sort(key=lambda s: s.observed_at)
        for s in snaps:
            snapshots.append(snap(project, vid, s.observed_at, s.views, s.likes, s.comments, s.avg_view_duration_s, s.followers_gained))
        ref[vid] = (project, pub, snaps)
    return videos, snapshots, ref


def test_sql_matches_reference_core_on_random_data(warehouse, warehouse_url):
    rng = np.random.default_rng(42)
    videos, snapshots, ref = _random_world(rng)
    load(warehouse, videos, snapshots)
    materialize_daily(warehouse_url, D)
    out = _by_id(table(warehouse, "outcomes", D))
    expected_mature = {}
    for vid, (project, pub, snaps) in ref.items():
        if pub >= T:
            assert vid not in out
            continue
        exp = outcome(pub, snaps, T)
        got = out[vid]
        assert bool(got["is_mature"]) == exp.is_mature, vid
        if exp.views_6h is None:
            assert pd.isna(got["views_6h"])
        else:
            assert got["views_6h"] == pytest.approx(exp.views_6h, rel=1e-12), vid
        if exp.engagement_rate is not None:
            assert got["engagement_rate"] == pytest.approx(exp.engagement_rate, rel=1e-12)
        if exp.is_mature and pub >= T - timedelta(days=30):
            expected_mature.setdefault(project, []).append((vid, exp))
    scored = table(warehouse, "percentile_rewards", D)
    for project, items in expected_mature.items():
        ids = [vid for vid, _ in items]
        want = rewards([e.avg_view_duration_s for _, e in items], [e.views_6h for _, e in items], [e.engagement_rate for _, e in items])
        got = scored[scored["project_id"] == project].set_index("video_id").loc[ids, "reward"].to_numpy()
        np.testing.assert_allclose(got, want, atol=1e-12)
    assert len(scored) == sum(len(v) for v in expected_mature.values())


def test_point_in_time_rematerialisation(warehouse, warehouse_url):
    rng = np.random.default_rng(7)
    videos, snapshots, _ = _random_world(rng, n_videos=40)
    visible_videos = [v for v in videos if v["published_at"] < T]
    load(warehouse, visible_videos, [s for s in snapshots if s["observed_at"] < T])
    materialize_daily(warehouse_url, D)
    before = {name: table(warehouse, name, D, order="project_id, " + ("recipe_hash" if name == "recipe_stats" else "video_id")) for name in ("outcomes", "percentile_rewards", "recipe_stats")}
    # later data arrives: snapshots after T for known videos, videos published after T
    later_videos = [v for v in videos if v["published_at"] >= T] + [video(P, "future", T + timedelta(hours=2))]
    later_snaps = [s for s in snapshots if s["observed_at"] >= T] + [
        snap(v["project_id"], v["video_id"], T + timedelta(hours=3), 10_000, likes=500) for v in visible_videos[:10]
    ] + [snap(P, "future", T + timedelta(hours=9), 77)]
    load(warehouse, later_videos, later_snaps)
    materialize_daily(warehouse_url, D)
    for name, frame in before.items():
        after = table(warehouse, name, D, order="project_id, " + ("recipe_hash" if name == "recipe_stats" else "video_id"))
        pd.testing.assert_frame_equal(frame, after, check_exact=True)
    # and the later partition does see the new data
    materialize_daily(warehouse_url, "2024-01-11")
    assert len(table(warehouse, "outcomes", "2024-01-11")) > len(before["outcomes"])


def test_rematerialising_is_idempotent(hand_made, warehouse_url):
    first = table(hand_made, "percentile_rewards", D)
    materialize_daily(warehouse_url, D)
    pd.testing.assert_frame_equal(first, table(hand_made, "percentile_rewards", D))
