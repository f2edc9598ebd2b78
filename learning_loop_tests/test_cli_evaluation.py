"""`learning-loop evaluate-policy`: logged rounds from the warehouse, JSON shape, skips, errors (both backends)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from learning_loop import cli
from learning_loop.defs.bandits.arms import BanditConfig
from learning_loop.defs.bandits.arms import write_partition as write_arms
from learning_loop.domain.bandits import arm_table, ucb1_select
from learning_loop.domain.recipe import recipe_hash
from learning_loop_tests.helpers import RECIPE_A, RECIPE_B, load, video

P = "p1"
AS_OF = "2024-02-01T00:00:00Z"
KEYS = {"project_id", "policy", "days", "as_of", "level", "rounds", "batches", "skipped", "logged_mean_reward",
        "estimates", "effective_sample_size", "mean_weight", "max_weight", "notes"}
RECIPE_C = {**RECIPE_A, "scene_count": 9}  # a one-field mutation of RECIPE_A (the exploit recipe below)
RECIPE_D = {**RECIPE_A, "hook_type": "story", "ending_type": "loop"}  # two fields away: the seeds never plan it


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _history(wh) -> None:
    """Older videos (presets and content types seen), recipe stats and bandit arms."""
    old = [video(P, f"old{i}", datetime(2024, 1, 2 + i, 14), RECIPE_A if i % 2 else RECIPE_B,
                 content_type=("edu", "story")[i % 2]) for i in range(6)]
    old.append(video(P, "old_neon", datetime(2024, 1, 3, 9), {**RECIPE_A, "preset": "NEON_NOIR"}, content_type="edu"))
    load(wh, videos=old)
    stats = []
    for day in pd.date_range("2024-01-15", "2024-01-31").date:
        for recipe, avg in ((RECIPE_A, 0.7), (RECIPE_B, 0.4)):
            stats.append({"partition_date": day, "project_id": P, "recipe_hash": recipe_hash(recipe), **recipe,
                          "times_used": 3, "scored_videos": 3, "avg_reward": avg, "window_days": 30})
    with wh.transaction() as tx:
        tx.insert_df("recipe_stats", pd.DataFrame(stats))
        write_arms(tx, date(2024, 1, 15), ARMS, BanditConfig())


def _arms() -> pd.DataFrame:
    """Every hour tried once (a failure) except 9 and 14 (successes), so UCB1 plans 9 and 14 first."""
    hours = list(range(24))
    frame = pd.DataFrame({"project_id": P, "content_type": ["edu", "story"] * 12,
                          "published_at": [pd.Timestamp(2024, 1, 10, h, tz="UTC") for h in hours],
                          "engagement_rate": [0.05 if h in (9, 14) else 0.01 for h in hours]})
    return arm_table(frame)


ARMS = _arms()


def _job(batch: str, i: int, recipe: dict, content: str, hour: int, propensity: float | None) -> dict:
    return {"job_id": f"{batch}_j{i}", "batch_id": batch, "project_id": P, "topic": f"t{i}", "topic_hash": f"h{i}",
            "generation_mode": "exploit", **recipe, "recipe_hash": recipe_hash(recipe), "content_type": content,
            "posting_hour": hour, "recipe_propensity": None if propensity is None else 0.5,
            "content_propensity": None if propensity is None else 0.5,
            "hour_propensity": None if propensity is None else propensity / 0.25,
            "propensity": propensity, "status": "planned", "created_at": datetime(2024, 1, 1)}


def _batches(wh, with_propensities: bool = True) -> list[float]:
    """Three batches of four jobs; returns the rewards the evaluation must use (newest usable partition)."""
    batches, jobs, videos, rewards, used = [], [], [], [], []
    plan = [(RECIPE_A, "edu", 9), (RECIPE_C, "story", 14), (RECIPE_A, "story", 9), (RECIPE_D, "edu", 14)]
    for b, day in enumerate((date(2024, 1, 20), date(2024, 1, 24), date(2024, 1, 28))):
        batch = f"batch{b}"
        as_of = datetime.combine(day, datetime.min.time()) + timedelta(hours=6)
        batches.append({"batch_id": batch, "project_id": P, "batch_date": day, "as_of": as_of, "planned": 4,
                        "stats_partition_date": day - timedelta(days=1), "explore_ratio": 0.3, "created_at": as_of})
        for i, (recipe, content, hour) in enumerate(plan):
            propensity = 0.02 * (i + 1) if with_propensities else None
            jobs.append(_job(batch, i, recipe, content, hour, propensity))
            vid = f"{batch}_v{i}"
            if (b, i) == (2, 3):
                continue  # no video yet
            published = as_of + timedelta(hours=hour)
            videos.append(video(P, vid, published, recipe, content_type=content, job_id=f"{batch}_j{i}"))
            if (b, i) == (2, 2):
                continue  # video, no reward yet
            reward = round(0.1 + 0.07 * i + 0.05 * b, 3)
            for partition, value in ((day + timedelta(days=2), reward / 2), (date(2024, 1, 31), reward),
                                     (date(2024, 2, 1), 0.99)):  # 2024-02-01 is not usable at AS_OF
                rewards.append({"partition_date": partition, "project_id": P, "video_id": vid, "reward": value})
            used.append(reward)
    jobs[0]["propensity"] = None if with_propensities else jobs[0]["propensity"]  # one job without propensity
    if with_propensities:
        used.pop(0)
    load(wh, videos=videos)
    with wh.transaction() as tx:
        tx.insert_df("planned_batches", pd.DataFrame(batches))
        tx.insert_df("video_jobs", pd.DataFrame(jobs))
        tx.insert_df("percentile_rewards", pd.DataFrame(rewards))
    return used


@pytest.fixture
def logged(runtime, warehouse):
    _history(warehouse)
    return _batches(warehouse)


def test_evaluate_policy_json(logged, capsys):
    code, out, err = run_cli(capsys, "evaluate-policy", "--project", P, "--as-of", AS_OF, "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert set(payload) == KEYS
    head = (payload["project_id"], payload["policy"], payload["days"], payload["as_of"])
    assert head == (P, "seeds", 28, "2024-02-01T00:00:00Z")
    assert payload["skipped"] == {"no_propensity": 1, "no_video": 1, "no_reward": 1}
    assert payload["rounds"] == 9 and payload["batches"] == 3
    assert payload["logged_mean_reward"] == pytest.approx(sum(logged) / len(logged))  # newest usable partition
    assert set(payload["estimates"]) == {"ipw", "snipw", "dr"}
    for e in payload["estimates"].values():
        assert set(e) == {"value", "ci_low", "ci_high"}
        assert e["ci_low"] <= e["value"] <= e["ci_high"]
    assert ucb1_select(ARMS[ARMS["arm_type"] == "timing"], 4)[:2] == [9, 14]  # the hours the jobs were planned at
    # the seeds never plan RECIPE_D (two fields from the exploit recipe): those rounds weigh 0
    assert 0 < payload["effective_sample_size"] < 9 and payload["mean_weight"] > 0
    assert 0 <= payload["estimates"]["snipw"]["value"] <= 1
    assert any("weight 0" in note for note in payload["notes"])


def test_current_policy_is_the_logged_mean_and_text_output(logged, capsys):
    code, out, _ = run_cli(capsys, "evaluate-policy", "--project", P, "--policy", "current", "--as-of", AS_OF, "--json")
    payload = json.loads(out)
    assert code == 0 and payload["effective_sample_size"] == pytest.approx(9)
    for e in payload["estimates"].values():
        assert e["value"] == pytest.approx(payload["logged_mean_reward"])
    code, out, _ = run_cli(capsys, "evaluate-policy", "--project", P, "--policy", "uniform", "--as-of", AS_OF)
    assert code == 0 and "policy uniform" in out and "ipw" in out and "dr" in out
    assert "1 without propensity" in out and "effective sample size" in out


def test_window_excludes_older_batches(logged, capsys):
    code, out, _ = run_cli(capsys, "evaluate-policy", "--project", P, "--policy", "current", "--as-of", AS_OF,
                           "--days", "5", "--json")
    payload = json.loads(out)
    assert code == 0 and payload["batches"] == 1 and payload["rounds"] == 2  # only batch2 (01-28), two rewarded


def test_no_propensities_is_a_one_line_error(runtime, warehouse, capsys):
    _history(warehouse)
    _batches(warehouse, with_propensities=False)
    code, out, err = run_cli(capsys, "evaluate-policy", "--project", P, "--as-of", AS_OF, "--json")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "no planned jobs with logged propensities" in err and "plan-next" in err


def test_unknown_project_and_bad_input(runtime, warehouse, capsys):
    _history(warehouse)
    code, _, err = run_cli(capsys, "evaluate-policy", "--project", "nope")
    assert code == 2 and "unknown project 'nope'" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "evaluate-policy", "--project", P, "--as-of", AS_OF)
    assert code == 2 and "no planned jobs" in err
    code, _, err = run_cli(capsys, "evaluate-policy", "--project", P, "--days", "0")
    assert code == 2 and "--days" in err
    code, _, err = run_cli(capsys, "evaluate-policy", "--project", P, "--policy", "greedy")
    assert code == 2 and "invalid choice" in err


def test_never_creates_a_warehouse(runtime, warehouse_url, capsys):
    if not warehouse_url.startswith("duckdb"):
        pytest.skip("only a DuckDB file can be missing")
    code, _, err = run_cli(capsys, "evaluate-policy", "--project", P)
    assert code == 2 and "no warehouse yet" in err
    assert not (runtime.parent / "warehouse.duckdb").exists()
