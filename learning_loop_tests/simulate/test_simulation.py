"""A short closed-loop simulation end to end through Dagster (DuckDB, fast settings)."""

from __future__ import annotations

import csv
from pathlib import Path

import dagster as dg
import pytest

from learning_loop.cli import main as cli_main
from learning_loop.simulate.report import COLUMNS
from learning_loop.warehouse.backend import open_warehouse

SEED = 5


ARGS = ["simulate", "--jobs-per-day", "2", "--warmup-days", "2", "--seed", str(SEED)]


def _isolated_env(mp: pytest.MonkeyPatch, home: Path) -> Path:
    mp.setenv("LEARNING_LOOP_HOME", str(home))
    mp.setenv("DAGSTER_HOME", str(home / "dagster"))
    mp.delenv("LEARNING_LOOP_WAREHOUSE_URL", raising=False)
    return home


@pytest.fixture(scope="module")
def three_days(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    """One 3-day simulation (2 jobs a day, 2 warm-up days) shared by the tests of this module."""
    import contextlib
    import io

    home = tmp_path_factory.mktemp("sim") / "runtime"
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        _isolated_env(mp, home)
        code = cli_main([*ARGS, "--days", "3"])
    return home, code, out.getvalue()


@pytest.fixture
def sim_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _isolated_env(monkeypatch, tmp_path / "runtime")


def _rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_three_day_simulation_runs_through_dagster(three_days):
    sim_env, code, out = three_days
    assert code == 0, out
    sim_home = sim_env / "simulation" / f"seed-{SEED}"
    csv_path, png_path = sim_home / "report" / "report.csv", sim_home / "report" / "regret.png"

    # progress per day and a summary that points at the files and the UI
    assert [line.split()[1] for line in out.splitlines() if line.startswith("day ")] == ["1/3", "2/3", "3/3"]
    assert str(csv_path) in out and str(png_path) in out and "learning-loop ui" in out

    # the report: one row per simulated day, regret growing, baselines alongside
    rows = _rows(csv_path)
    assert list(rows[0]) == list(COLUMNS)
    assert [r["day"] for r in rows] == ["2024-02-01", "2024-02-02", "2024-02-03"]
    regrets = [float(r["cumulative_regret"]) for r in rows]
    assert regrets == sorted(regrets) and regrets[0] > 0
    for r in rows:
        assert int(r["planned"]) == 2
        assert 0 < float(r["mean_true_reward"]) <= float(r["oracle_reward"])
        assert float(r["seeds_policy_cumulative_regret"]) > 0 and float(r["uniform_cumulative_regret"]) > 0
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # every change was a Dagster run on the simulation's own instance (one instance, one warehouse),
    # tagged with the simulation; the operator's instance holds none of them
    assert not (sim_env / "dagster" / "history").exists()
    with dg.DagsterInstance.from_config(str(sim_home / "dagster")) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"learning_loop/simulation": f"seed-{SEED}"}))
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
        jobs = sorted(run.job_name for run in runs)
        assert jobs.count("plan_next_batch") == 3
        assert jobs.count("ingest_landing") == 4 and jobs.count("update_stats") == 4  # warm-up + 3 days
        assert jobs.count("simulation_report_job") == 4  # once per day + once with the plot
        run_ids = {run.run_id for run in runs}

        reports = instance.fetch_materializations(dg.AssetKey("simulation_report"), limit=100).records
        assert len(reports) == 4
        latest = reports[0].asset_materialization.metadata
        for name in ("mean_true_reward", "cumulative_regret", "explore_share", "experiments_decided",
                     "verdicts_correct", "seeds_policy_cumulative_regret", "uniform_cumulative_regret"):
            assert isinstance(latest[name].value, float), name
        assert latest["cumulative_regret"].value == pytest.approx(regrets[-1], abs=1e-6)
        # partitioned by simulated day, so the UI plots by day rather than by wall-clock time
        by_day = {r.partition_key: r.asset_materialization.metadata["cumulative_regret"].value for r in reports[::-1]}
        assert sorted(by_day) == ["2024-02-01", "2024-02-02", "2024-02-03"]
        assert [by_day[d] for d in sorted(by_day)] == pytest.approx(regrets, abs=1e-6)

        # the warehouse tables the simulator relies on were written by those runs
        for key in ("videos", "metric_snapshots", "video_jobs", "planned_batches"):
            records = instance.fetch_materializations(dg.AssetKey(key), limit=100).records
            assert records and {r.run_id for r in records} <= run_ids, key
        assert {"2024-01-31", "2024-02-01", "2024-02-02", "2024-02-03"} <= instance.get_materialized_partitions(
            dg.AssetKey("recipe_stats")
        )

    # its own DuckDB warehouse holds what the landing files and plan-next produced
    wh = open_warehouse(f"duckdb:///{sim_home / 'warehouse.duckdb'}")
    assert wh.scalar("SELECT count(*) FROM planned_batches") == 3
    assert wh.scalar("SELECT count(*) FROM video_jobs") == 6
    assert wh.scalar("SELECT count(*) FROM quarantine") == 0
    assert wh.scalar("SELECT count(*) FROM ingested_files WHERE status <> 'loaded'") == 0
    manual = wh.scalar("SELECT count(*) FROM videos WHERE generation_mode = 'manual' AND job_id IS NULL")
    assert manual == 4  # the warm-up: 2 days x 2 videos
    planned_videos = wh.scalar("SELECT count(*) FROM videos WHERE job_id IS NOT NULL")
    assert 4 <= planned_videos <= 6  # jobs posted before 06:00 go out the next day
    # topics were handed over as files under the simulation's LEARNING_LOOP_HOME
    assert sorted(p.name for p in (sim_home / "topics" / "sim-shorts").iterdir()) == [
        "2024-02-01.txt", "2024-02-02.txt", "2024-02-03.txt",
    ]
    # landing files of a day only hold what was observed by the end of that day
    for path in (sim_home / "landing" / "metrics").glob("sim-*.csv"):
        day = path.stem[len("sim-"):]
        assert all(r["observed_at"][:10] == day for r in _rows(path)), path.name


@pytest.mark.slow
def test_same_seed_gives_the_same_report(three_days, sim_env: Path, capsys: pytest.CaptureFixture):
    """A fresh 1-day run with the same seed reproduces the first day of the 3-day run, byte for byte."""
    home, code, _ = three_days
    assert code == 0
    assert cli_main([*ARGS, "--days", "1", "--fast"]) == 0
    capsys.readouterr()
    first = (home / "simulation" / f"seed-{SEED}" / "report" / "report.csv").read_text().splitlines()[:2]
    again = (sim_env / "simulation" / f"seed-{SEED}" / "report" / "report.csv").read_text().splitlines()
    assert again == first


def test_bad_simulate_input_is_a_one_line_error(sim_env: Path, capsys: pytest.CaptureFixture):
    assert cli_main(["simulate", "--days", "0"]) == 2
    assert cli_main(["simulate", "--jobs-per-day", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("learning-loop: error:") for line in err)
    assert not (sim_env / "simulation").exists()


@pytest.mark.slow
def test_model_planner_learns_faster_than_the_seeds_policy_in_a_short_closed_loop(tmp_path: Path):
    """Issue 12: a short seeded closed loop through the real platform (Dagster, DuckDB): the model
    planner's cumulative regret is below the seeds' policy's, the report carries the posterior's
    best-recipe estimate per day, every planned job logged its propensities, and evaluate-policy
    works on the logged jobs."""
    from datetime import datetime, timedelta, timezone

    from learning_loop.settings import Settings
    from learning_loop.simulate.loop import Simulation, SimulationConfig
    from learning_loop.views.evaluation import policy_evaluation_view

    parent = Settings.for_home(tmp_path / "runtime")
    sim = Simulation(SimulationConfig(days=8, seed=1, jobs_per_day=5, warmup_days=7, fast=True), parent=parent)
    result = sim.run()
    last = result.rows[-1]
    assert last["cumulative_regret"] < last["seeds_policy_cumulative_regret"]
    assert all(row["best_recipe_posterior_sd"] > 0 for row in result.rows)
    assert all(0 < row["best_recipe_true_reward"] <= row["oracle_reward"] for row in result.rows)

    wh = open_warehouse(Settings.for_home(result.home).warehouse_url)
    jobs = wh.query_df("SELECT planner, propensity, recipe_propensity, content_propensity, hour_propensity FROM video_jobs")
    assert len(jobs) == 8 * 5 and set(jobs["planner"]) == {"additive_thompson"}
    for column in ("propensity", "recipe_propensity", "content_propensity", "hour_propensity"):
        assert ((jobs[column] > 0) & (jobs[column] <= 1)).all(), column
    assert (jobs["propensity"] <= jobs["recipe_propensity"] + 1e-12).all()

    as_of = datetime.combine(sim.start + timedelta(days=8), datetime.min.time(), tzinfo=timezone.utc)
    current = policy_evaluation_view(wh, "sim-shorts", "current", 8, as_of)
    assert current["rounds"] >= 20
    assert current["estimates"]["ipw"]["value"] == pytest.approx(current["logged_mean_reward"])
    seeds = policy_evaluation_view(wh, "sim-shorts", "seeds", 8, as_of)
    assert 0.0 <= seeds["estimates"]["dr"]["value"] <= 1.0
