"""plan_next_batch through Dagster on both backends: writes, rollback, completion, schedule, CLI input checks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import dagster as dg
import pandas as pd
import pytest

from learning_loop.settings import Settings
from learning_loop import cli
from learning_loop.definitions import defs
from learning_loop.defs.planning.schedules import plan_next_daily
from learning_loop.warehouse.backend import Transaction
from learning_loop_tests.helpers import RECIPE_A, RECIPE_B, env_resources, load, materialize_daily, snap, video

D = "2024-01-20"
AS_OF = "2024-01-21T06:00:00+00:00"
P = "proj"


def seed_world(wh, url: str) -> None:
    """Two recipes with scored videos, a manual video, as of partition D."""
    videos, snaps = [], []
    for i in range(12):
        pub = datetime(2024, 1, 5) + timedelta(hours=7 * i)
        recipe = RECIPE_A if i % 3 else RECIPE_B
        videos.append(video(P, f"v{i}", pub, recipe=recipe))
        snaps.append(snap(P, f"v{i}", pub + timedelta(hours=7), 100 + 10 * i, likes=i, avd=10 + i))
    load(wh, videos, snaps)
    materialize_daily(url, D)


def run_plan(count: int = 5, topics: list[str] | None = None, seed: int = 1, instance=None):
    topics = topics or [f"topic number {i}" for i in range(count)]
    config = {"project_id": P, "topics": topics, "count": count, "as_of": AS_OF, "seed": seed}
    return defs.resolve_job_def("plan_next_batch").execute_in_process(
        run_config={"ops": {"plan_next_batch_op": {"config": config}}},
        instance=instance or dg.DagsterInstance.ephemeral(),
        resources=env_resources(),
        raise_on_error=False,
    )


@pytest.fixture
def world(runtime, warehouse, warehouse_url):
    seed_world(warehouse, warehouse_url)
    return warehouse


def test_plan_writes_batch_jobs_and_experiments(world):
    result = run_plan(count=5)
    assert result.success
    plan = result.output_for_node("plan_next_batch_op")
    assert set(plan) >= {"batch_id", "project_id", "as_of", "requested", "planned", "exploit_count", "explore_count", "jobs", "skipped"}
    assert (plan["requested"], plan["planned"], plan["exploit_count"], plan["explore_count"]) == (5, 5, 3, 2)
    batch = world.query_df("SELECT * FROM planned_batches")
    assert batch["batch_id"].tolist() == [plan["batch_id"]] and int(batch["jobs_created"].iat[0]) == 5
    jobs = world.query_df("SELECT * FROM video_jobs ORDER BY job_id")
    assert sorted(jobs["job_id"]) == sorted(j["job_id"] for j in plan["jobs"])
    assert set(jobs["status"]) == {"planned"}
    for job in plan["jobs"]:
        assert set(job) >= {"job_id", "topic", "topic_hash", "generation_mode", "recipe", "recipe_hash", "experiment_id", "reason"}
        assert json.loads(jobs.set_index("job_id").loc[job["job_id"], "brief"])["scene_count"] == job["recipe"]["scene_count"]
        if job["generation_mode"] == "explore":
            assert job["experiment_id"]
        else:
            assert job["experiment_id"] is None
    experiments = world.query_df("SELECT * FROM experiments")
    assert set(experiments["experiment_id"]) == {j["experiment_id"] for j in plan["jobs"] if j["experiment_id"]}
    assert set(experiments["status"]) == {"running"}
    assert experiments["level"].tolist() == [0.95] * len(experiments)  # frozen rules
    materialized = {
        ev.event_specific_data.materialization.asset_key.to_user_string() for ev in result.get_asset_materialization_events()
    }
    assert {"planned_batches", "video_jobs", "experiments"} <= materialized


def test_no_repeat_of_planned_topic_recipe_pairs(world):
    topics = ["same topic"]
    first = run_plan(count=1, topics=topics).output_for_node("plan_next_batch_op")
    second = run_plan(count=1, topics=topics).output_for_node("plan_next_batch_op")
    pairs = {(j["topic_hash"], j["recipe_hash"]) for j in first["jobs"]}
    assert all((j["topic_hash"], j["recipe_hash"]) not in pairs for j in second["jobs"])


def test_forced_failure_leaves_nothing(world, monkeypatch):
    original = Transaction.insert_df

    def failing(self, table_name, df):
        if table_name == "experiments" and not df.empty:
            raise RuntimeError("disk full (forced)")
        return original(self, table_name, df)

    monkeypatch.setattr(Transaction, "insert_df", failing)
    result = run_plan(count=5)
    assert not result.success
    for table in ("planned_batches", "video_jobs", "experiments"):
        assert world.scalar(f"SELECT count(*) FROM {table}") == 0


def test_batch_completion_when_video_with_job_id_arrives(world, warehouse_url):
    plan = run_plan(count=2).output_for_node("plan_next_batch_op")
    job = plan["jobs"][0]
    load(world, [video(P, "made-from-job", datetime(2024, 1, 22, 9), recipe=job["recipe"], job_id=job["job_id"])])
    from learning_loop.defs.planning.batches import batch_completion
    from learning_loop.orchestration.resources import WarehouseResource

    result = dg.materialize([batch_completion], resources={"warehouse": WarehouseResource(url=warehouse_url)},
                            instance=dg.DagsterInstance.ephemeral(), selection=[batch_completion])
    meta = result.get_asset_materialization_events()[0].event_specific_data.materialization.metadata
    jobs = world.query_df("SELECT job_id, status, video_id FROM video_jobs").set_index("job_id")
    assert jobs.loc[job["job_id"], "status"] == "completed" and jobs.loc[job["job_id"], "video_id"] == "made-from-job"
    assert world.scalar("SELECT jobs_completed FROM planned_batches") == 1
    assert meta["job_completion_rate"].value == pytest.approx(0.5)
    assert meta["batch_success_rate"].value == 0.0


def test_schedule_skips_without_topics_file_and_plans_with_one(runtime, monkeypatch):
    monkeypatch.setenv("LEARNING_LOOP_PLAN_PROJECTS", P)
    when = datetime(2024, 1, 21, 6, tzinfo=timezone.utc)
    with dg.instance_for_test() as instance, dg.build_schedule_context(
        instance=instance, scheduled_execution_time=when, resources=env_resources()
    ) as ctx:
        skipped = plan_next_daily(ctx)
        assert isinstance(skipped, dg.SkipReason) and "2024-01-21.txt" in skipped.skip_message
        folder = runtime / "topics" / P
        folder.mkdir(parents=True)
        (folder / "2024-01-21.txt").write_text("a topic\nanother topic\n")
        requests = plan_next_daily(ctx)
        assert len(requests) == 1
        config = requests[0].run_config["ops"]["plan_next_batch_op"]["config"]
        assert config["project_id"] == P and config["topics_file"].endswith("2024-01-21.txt")


# ---------------------------------------------------------------- CLI bad input (DuckDB only)


@pytest.fixture
def cli_world(tmp_path, monkeypatch):
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    monkeypatch.setenv("LEARNING_LOOP_HOME", str(tmp_path / "rt"))
    monkeypatch.setenv("LEARNING_LOOP_WAREHOUSE_URL", url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "rt" / "dagster"))
    from learning_loop.warehouse.backend import open_warehouse

    wh = open_warehouse(url)
    wh.ensure_schema()
    seed_world(wh, url)
    return wh, tmp_path


def _state(wh) -> tuple:
    from learning_loop.orchestration.instance import get_instance

    counts = tuple(wh.scalar(f"SELECT count(*) FROM {t}") for t in ("planned_batches", "video_jobs", "experiments"))
    instance = get_instance(Settings.from_env())
    try:
        return counts, len(instance.get_runs())
    finally:
        instance.dispose()


@pytest.mark.parametrize(
    "make_file, extra, message",
    [
        (None, ["--count", "3"], "topics file not found"),
        (lambda p: p.write_bytes(b"caf\xe9 topic\n"), ["--count", "3"], "not UTF-8"),
        (lambda p: p.write_text("\n   \n\n"), ["--count", "3"], "no topics"),
        (lambda p: p.write_text("x" * 501 + "\n"), ["--count", "3"], "longer than 500"),
        (lambda p: p.write_text("a\n"), ["--count", "0"], "--count"),
        (lambda p: p.write_text("a\n"), ["--count", "1001"], "--count"),
        (lambda p: p.write_text("a\n"), ["--count", "2", "--as-of", "2023-12-01T00:00:00Z"], "No top recipes"),
        (lambda p: p.write_text("a\n"), ["--count", "2", "--as-of", "not-a-time"], "ISO-8601"),
    ],
)
def test_plan_next_bad_input_changes_nothing(cli_world, capsys, make_file, extra, message):
    wh, tmp = cli_world
    path = tmp / "topics.txt"
    if make_file:
        make_file(path)
    before = _state(wh)
    code = cli.main(["plan-next", "--project", P, "--topics-file", str(path), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("learning-loop: error:") and message in err[0]
    assert _state(wh) == before


def test_plan_next_unknown_project(cli_world, capsys):
    wh, tmp = cli_world
    (tmp / "t.txt").write_text("a\n")
    assert cli.main(["plan-next", "--project", "nope", "--topics-file", str(tmp / "t.txt"), "--count", "1"]) == 2
    assert "unknown project" in capsys.readouterr().err


def test_plan_next_and_recommendations_cli(cli_world, capsys):
    wh, tmp = cli_world
    (tmp / "t.txt").write_text("alpha\nbeta\nalpha\n\ngamma\n")
    assert cli.main(["recommendations", "--project", P, "--count", "5", "--topics", "alpha,beta,gamma", "--as-of", AS_OF, "--seed", "3", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert {"top_recipes", "running_experiments", "recent_batches", "jobs"} <= set(rec) and rec["planned"] == 3
    assert wh.scalar("SELECT count(*) FROM planned_batches") == 0  # recommendations create nothing
    assert cli.main(["plan-next", "--project", P, "--topics-file", str(tmp / "t.txt"), "--count", "5", "--as-of", AS_OF, "--seed", "3", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["requested"] == 5 and plan["planned"] == 3  # duplicates collapsed: fewer topics than count
    assert plan["shortfall_reason"]
    assert [j["recipe_hash"] for j in plan["jobs"]] == [j["recipe_hash"] for j in rec["jobs"]]  # same inputs and seed
    from learning_loop.orchestration.instance import get_instance

    instance = get_instance(Settings.from_env())
    run = instance.get_run_by_id(plan["run_id"])
    instance.dispose()
    assert run.job_name == "plan_next_batch" and run.status == dg.DagsterRunStatus.SUCCESS
    assert cli.main(["experiments", "--project", P, "--json"]) == 0
    exps = json.loads(capsys.readouterr().out)["experiments"]
    assert len(exps) == wh.scalar("SELECT count(*) FROM experiments")
    assert cli.main(["stats", "--project", P, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["batches"]["batches"] == 1 and stats["batches"]["jobs_created"] == 3
    # planned after the newest video: none of its jobs could be done yet, so there is no rate (printed "-")
    assert stats["batches"]["batch_success_rate"] is None
    assert cli.main(["stats", "--project", P]) == 0
    text = capsys.readouterr().out
    assert "success rate -," in text and "top recipe (as ranked by `recipes`): DARK_DYSTOPIAN_ANIME" in text
    assert isinstance(pd.Timestamp(stats["batches"]["last_batch_at"]), pd.Timestamp)


def test_jobs_carry_content_type_posting_hour_and_predictions(world, warehouse_url):
    from learning_loop.defs.bandits.arms import bandit_arms
    from learning_loop.defs.predictors.coefficients import predictor_coefficients
    from learning_loop.orchestration.resources import WarehouseResource

    with world.transaction() as tx:  # give the seeded videos content types so content arms exist
        tx.execute("UPDATE videos SET content_type = CASE WHEN video_id IN ('v1', 'v2', 'v5') THEN 'story' ELSE 'factual' END")
    materialize_daily(warehouse_url, D)
    dg.materialize(
        [bandit_arms, predictor_coefficients],
        partition_key=D,
        resources={"warehouse": WarehouseResource(url=warehouse_url)},
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"bandit_arms": {"config": {"window_days": 30}}}},
    )
    plan = run_plan(count=4).output_for_node("plan_next_batch_op")
    hours = [j["posting_hour"] for j in plan["jobs"]]
    assert all(isinstance(h, int) and 0 <= h <= 23 for h in hours)
    # the model planner: exploit jobs take the posterior-mean best hour, explore jobs a Thompson draw
    exploit_hours = {j["posting_hour"] for j in plan["jobs"] if j["generation_mode"] == "exploit"}
    assert len(exploit_hours) == 1 and plan["policy"] == "additive_thompson"
    assert all(0 < j["propensity"] <= 1 for j in plan["jobs"])
    assert {j["content_type"] for j in plan["jobs"]} <= {"story", "factual"}
    for job in plan["jobs"]:
        assert {"predicted_engagement_rate", "predicted_follow_through", "prediction_reason", "gate_passed"} <= set(job)
        # 12 videos are fewer than the predictors' minimum (20): no version, so null with a reason
        assert job["predicted_engagement_rate"] is None and "no trained" in job["prediction_reason"]
    stored = world.query_df("SELECT content_type, posting_hour FROM video_jobs ORDER BY job_id")
    assert sorted(stored["posting_hour"].tolist()) == sorted(hours)
