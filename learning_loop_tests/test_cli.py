"""The operator's command (SPEC §8), run in-process on an isolated DuckDB runtime.

One runtime is shared by the whole module (Dagster runs are the slow part):
it is ingested once, then `update-stats` materialises 2024-01-05. Tests that
give bad input check that nothing changed: warehouse row counts and the
number of runs on the Dagster instance are the same before and after.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from learning_loop.cli import main
from learning_loop.domain.recipe import RECIPE_FIELDS, recipe_hash
from learning_loop.warehouse.backend import open_warehouse
from learning_loop.warehouse.schema import TABLES

VIDEO_HEADER = [
    "project_id",
    "video_id",
    "published_at",
    "topic",
    "preset",
    "hook_type",
    "scene_count",
    "ending_type",
    "narration_wpm",
    "caption_density",
]
METRIC_HEADER = [
    "project_id",
    "video_id",
    "observed_at",
    "views",
    "likes",
    "comments",
    "avg_view_duration_s",
    "followers_gained",
]


def _write_landing(home: Path) -> None:
    """proj-a: 6 videos with two recipes + 1 manual video over 2024-01-01..03; proj-b: 1 video.
    One bad video row, one bad metric row and one unreadable (.json) file."""
    videos = []
    for i in range(6):
        day, hour = 1 + i // 2, 8 + 10 * (i % 2)
        hook, scenes = ("question", "7") if i % 2 == 0 else ("story", "6")
        videos.append(
            ["proj-a", f"a{i}", f"2024-01-0{day}T{hour:02d}:00:00Z", f"Topic {i}", "DARK_DYSTOPIAN_ANIME", hook, scenes,
             "cliffhanger", "140", "0.45"]
        )
    videos.append(["proj-a", "a6", "2024-01-03T12:00:00Z", "Manual one", "", "", "", "", "", ""])
    proj_b = ["NEON_NOIR", "visual", "8", "loop", "170", "0.7"]
    videos.append(["proj-b", "b0", "2024-01-02T09:00:00Z", "Other project", *proj_b])
    videos.append(["proj-b", "b1", "2024-01-02T09:00:00Z", "", *proj_b])  # bad: topic missing
    snapshots = []
    for v in videos[:-1]:
        published = datetime.fromisoformat(v[2].replace("Z", ""))
        n = int(v[1][1:]) + 1
        for k, hours in enumerate((3, 7, 26)):
            views = n * 100 * (k + 1)
            observed = (published + timedelta(hours=hours)).isoformat() + "Z"
            snapshots.append([v[0], v[1], observed, views, views // 10, views // 50, 20 + n, k])
    snapshots.append(["proj-a", "a0", "2024-01-01T12:00:00Z", "-4", "1", "1", "3", ""])  # bad: negative views
    for kind, header, rows in (("videos", VIDEO_HEADER, videos), ("metrics", METRIC_HEADER, snapshots)):
        with (home / "landing" / kind / f"2024-01-01_{kind}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    (home / "landing" / "metrics" / "notes.json").write_text("{}")


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A DuckDB-only runtime (like conftest's `runtime`, without the PostgreSQL parametrisation)."""
    home = tmp_path_factory.mktemp("cli") / "runtime"
    (home / "landing" / "videos").mkdir(parents=True)
    (home / "landing" / "metrics").mkdir(parents=True)
    _write_landing(home)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEARNING_LOOP_HOME", str(home))
        mp.setenv("LEARNING_LOOP_WAREHOUSE_URL", f"duckdb:///{home / 'warehouse.duckdb'}")
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        mp.delenv("LEARNING_LOOP_START_DATE", raising=False)
        yield home


def run_cli(*argv: str) -> tuple[int, str, str]:
    """main() with stdout and stderr captured (for module-scoped fixtures, where capsys is unavailable)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def ingested(cli_home: Path) -> dict:
    code, out, err = run_cli("ingest", "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def updated(ingested: dict) -> dict:
    code, out, err = run_cli("update-stats", "--date", "2024-01-05", "--json")
    assert code == 0, err
    return json.loads(out)


def warehouse():
    return open_warehouse(f"duckdb:///{Path(os.environ['LEARNING_LOOP_HOME']) / 'warehouse.duckdb'}")


def table_counts() -> dict[str, int]:
    wh = warehouse()
    with wh.session():
        present = set(wh.query_df("SELECT table_name FROM information_schema.tables")["table_name"])
        names = sorted(t for t in TABLES if t in present)
        sql = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in names)
        return {t: int(n) for t, n in wh.query_df(sql).itertuples(index=False, name=None)}


@pytest.fixture(scope="module")
def instance(ingested: dict) -> Iterator[dg.DagsterInstance]:
    """The instance the CLI ran on, opened from DAGSTER_HOME the way `dagster` itself does."""
    with dg.DagsterInstance.get() as opened:
        yield opened


def get_run(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    run = instance.get_run_by_id(run_id)
    assert run is not None, f"run {run_id} is not on the instance at {os.environ['DAGSTER_HOME']}"
    return run


# --------------------------------------------------------------------------- state-changing commands


def test_ingest_json_reports_counts_and_a_dagster_run(ingested: dict, instance: dg.DagsterInstance):
    assert ingested["files_loaded"] == 2
    assert ingested["files_rejected"] == 1
    assert ingested["files_skipped"] == 0
    assert ingested["rows_read"] == 34
    assert ingested["rows_loaded"] == 32
    assert ingested["rows_quarantined"] == 2
    assert ingested["rows_read"] == ingested["rows_loaded"] + ingested["rows_quarantined"]

    run = get_run(instance, ingested["run_id"])
    assert run.job_name == "ingest_landing"
    assert run.status == dg.DagsterRunStatus.SUCCESS

    counts = table_counts()
    assert (counts["videos"], counts["metric_snapshots"], counts["quarantine"], counts["ingested_files"]) == (8, 24, 2, 3)
    # the recipe registry is refreshed by the same run
    assert counts["recipes"] == 3  # two proj-a recipes, one proj-b recipe


def test_update_stats_json(updated: dict, instance: dg.DagsterInstance):
    assert updated["partition_date"] == "2024-01-05"
    assert updated["window_days"] == 30
    assert {"outcomes", "percentile_rewards", "recipe_stats"} <= set(updated["assets"])
    run = get_run(instance, updated["run_id"])
    assert run.job_name == "update_stats"
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags.get("dagster/partition") == "2024-01-05"

    wh = warehouse()
    rewards = wh.query_df(
        "SELECT project_id, count(*) AS n, avg(reward) AS mean FROM percentile_rewards "
        "WHERE partition_date = DATE '2024-01-05' GROUP BY project_id ORDER BY project_id"
    )
    assert rewards["project_id"].tolist() == ["proj-a", "proj-b"]
    assert rewards["n"].tolist() == [7, 1]
    assert rewards["mean"].tolist() == pytest.approx([0.5, 0.5])  # mid-rank percentiles average 0.5


def test_recipes_json_shape(updated: dict, capsys: pytest.CaptureFixture):
    assert main(["recipes", "--project", "proj-a", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["project_id"] == "proj-a"
    assert payload["partition_date"] == "2024-01-05"
    assert payload["source"] == "recipe_stats"
    recipes = payload["recipes"]
    assert len(recipes) == 2
    for r in recipes:
        stats_keys = {"recipe_hash", "times_used", "scored_videos", "avg_reward", "best_reward", "last_used_at"}
        assert {*RECIPE_FIELDS, *stats_keys} <= set(r)
        assert r["recipe_hash"] == recipe_hash({f: r[f] for f in RECIPE_FIELDS})
        assert r["times_used"] == 3 and r["scored_videos"] == 3
        assert 0 <= r["avg_reward"] <= r["best_reward"] <= 1
    assert [r["avg_reward"] for r in recipes] == sorted((r["avg_reward"] for r in recipes), reverse=True)
    assert {r["hook_type"] for r in recipes} == {"question", "story"}


def test_stats_json_shape(updated: dict, capsys: pytest.CaptureFixture):
    assert main(["stats", "--project", "proj-a", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["project_id"] == "proj-a"
    assert (payload["videos"], payload["videos_with_recipe"], payload["manual_videos"]) == (7, 6, 1)
    assert payload["metric_snapshots"] == 21
    assert payload["recipes"] == 2
    assert payload["first_published_at"] == "2024-01-01T08:00:00"
    assert payload["last_published_at"] == "2024-01-03T18:00:00"
    latest = payload["latest"]
    assert latest["partition_date"] == "2024-01-05"
    assert latest["scored_videos"] == 7
    assert latest["mean_reward"] == pytest.approx(0.5)
    assert set(latest["top_recipe"]) >= {"recipe_hash", "avg_reward", "scored_videos", "score", "preset"}
    # one truth per number: stats' top recipe is the first one `recipes` lists
    assert main(["recipes", "--project", "proj-a", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recipes"][0]["recipe_hash"] == latest["top_recipe"]["recipe_hash"]
    assert "mean_reward_last_7d" in latest and "mean_reward_prior_7d" in latest
    loaded = payload["ingestion"]["loaded"]
    assert loaded == {"files": 2, "rows_loaded": 32, "rows_quarantined": 2}
    assert all(isinstance(v, int) for v in loaded.values())
    assert payload["ingestion"]["rejected"]["files"] == 1


def test_text_output_is_readable(updated: dict, capsys: pytest.CaptureFixture):
    assert main(["recipes", "--project", "proj-a"]) == 0
    text = capsys.readouterr().out
    assert "top recipes of proj-a" in text and "DARK_DYSTOPIAN_ANIME" in text
    assert main(["stats", "--project", "proj-b"]) == 0
    text = capsys.readouterr().out
    assert "project proj-b" in text and "videos: 1" in text


def test_backfill_json(updated: dict, instance: dg.DagsterInstance, capsys: pytest.CaptureFixture):
    assert main(["backfill", "--project", "proj-a", "--json"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["project_id"] == "proj-a"
    assert payload["recipes"] == 2
    # from the first publish to the last snapshot (a5: 2024-01-03 18:00 + 26 h)
    assert payload["partitions"] == ["2024-01-01", "2024-01-04"]
    assert get_run(instance, payload["recipes_run_id"]).job_name == "backfill_recipes"
    stats_run = get_run(instance, payload["stats_run_id"])
    assert stats_run.job_name == "update_stats"
    assert stats_run.status == dg.DagsterRunStatus.SUCCESS
    assert stats_run.tags.get("dagster/asset_partition_range_start") == "2024-01-01"
    assert stats_run.tags.get("dagster/asset_partition_range_end") == "2024-01-04"

    partitions = warehouse().query_df(
        "SELECT DISTINCT partition_date FROM recipe_stats WHERE project_id = 'proj-a' ORDER BY 1"
    )["partition_date"]
    assert [str(d)[:10] for d in partitions] == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]


# --------------------------------------------------------------------------- bad input changes nothing


def _today() -> datetime:
    return datetime.now(timezone.utc)


BAD_INPUT = [
    (["recipes", "--project", "nope", "--json"], "unknown project 'nope'"),
    (["stats", "--project", "nope", "--json"], "unknown project 'nope'"),
    (["backfill", "--project", "nope", "--json"], "unknown project 'nope'"),
    (["recipes", "--project", "proj-", "--json"], "unknown project"),
    (["update-stats", "--date", "2024-13-01", "--json"], "2024-13-01"),
    (["update-stats", "--date", "yesterday", "--json"], "yesterday"),
    (["update-stats", "--date", "2024-1-5", "--json"], "2024-1-5"),
    (["update-stats", "--date", "2023-12-31", "--json"], "before the first partition"),
    (["update-stats", "--date", (_today() + timedelta(days=1)).date().isoformat(), "--json"], "not complete yet"),
    (["update-stats", "--date", (_today() + timedelta(days=400)).date().isoformat()], "not complete yet"),
    (["update-stats", "--date", _today().date().isoformat(), "--json"], "not complete yet"),  # today is incomplete
    (["update-stats", "--date", "2024-01-05", "--days", "0", "--json"], "--days"),
    (["update-stats", "--date", "2024-01-05", "--days", "-3"], "--days"),
    (["recipes", "--project", "proj-a", "--limit", "-1"], "--limit must be at least 1"),
    (["update-stats", "--date", "2024-01-05", "--days", "abc"], "invalid int value"),  # a usage error: one line too
    (["recipes"], "--project"),
    (["no-such-command"], "invalid choice"),
]


@pytest.mark.parametrize("argv, message", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    ingested: dict, instance: dg.DagsterInstance, capsys: pytest.CaptureFixture, argv: list[str], message: str
):
    before = (table_counts(), instance.get_runs_count())
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("learning-loop: error:")
    assert captured.err.count("\n") == 1 and captured.err.endswith("\n")
    assert message in captured.err
    assert captured.out == ""
    assert (table_counts(), instance.get_runs_count()) == before


def test_unknown_project_names_the_known_ones(ingested: dict, capsys: pytest.CaptureFixture):
    assert main(["stats", "--project", "nope"]) == 2
    assert "proj-a" in capsys.readouterr().err


def test_date_before_configured_start_date(
    ingested: dict, instance: dg.DagsterInstance, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("LEARNING_LOOP_START_DATE", "2024-01-03")
    before = (table_counts(), instance.get_runs_count())
    assert main(["update-stats", "--date", "2024-01-02", "--json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("learning-loop: error:") and "2024-01-03" in err and err.count("\n") == 1
    assert (table_counts(), instance.get_runs_count()) == before


def test_unusable_warehouse_url_is_one_line_and_launches_no_run(
    ingested: dict, instance: dg.DagsterInstance, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    before = (table_counts(), instance.get_runs_count())
    monkeypatch.setenv("LEARNING_LOOP_WAREHOUSE_URL", "sqlite:///warehouse.db")
    for argv in (["ingest", "--json"], ["update-stats", "--date", "2024-01-05"], ["stats", "--project", "proj-a"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("learning-loop: error:") and err.count("\n") == 1, err
        assert "LEARNING_LOOP_WAREHOUSE_URL" in err
    monkeypatch.undo()
    assert (table_counts(), instance.get_runs_count()) == before


def test_malformed_start_date_setting_is_one_line(
    ingested: dict, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("LEARNING_LOOP_START_DATE", "2024-02-30")
    assert main(["update-stats", "--date", "2024-03-05"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("learning-loop: error:") and "LEARNING_LOOP_START_DATE" in err and err.count("\n") == 1


def test_project_with_metrics_only_is_unknown_and_not_listed_as_known(
    cli_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    url = f"duckdb:///{tmp_path / 'other.duckdb'}"
    wh = open_warehouse(url)
    wh.ensure_schema()
    with wh.transaction() as tx:
        video = {"project_id": "with-video", "video_id": "v", "topic": "t", "published_at": pd.Timestamp("2024-01-02")}
        snapshot = {"project_id": "metrics-only", "video_id": "x", "views": 1, "observed_at": pd.Timestamp("2024-01-02")}
        tx.insert_df("videos", pd.DataFrame([video]))
        tx.insert_df("metric_snapshots", pd.DataFrame([snapshot]))
    monkeypatch.setenv("LEARNING_LOOP_WAREHOUSE_URL", url)
    assert main(["recipes", "--project", "metrics-only"]) == 2
    err = capsys.readouterr().err
    assert "unknown project 'metrics-only'" in err
    assert "known projects: with-video)" in err


def test_read_only_commands_on_a_new_home_create_nothing(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "new-home"
    monkeypatch.setenv("LEARNING_LOOP_HOME", str(home))
    monkeypatch.delenv("LEARNING_LOOP_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for argv in (["recipes", "--project", "nosuch"], ["stats", "--project", "nosuch"],
                 ["experiments", "--project", "nosuch", "--json"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "learning-loop ingest" in err, err
    assert not (home / "warehouse.duckdb").exists()


def test_topics_file_that_is_a_directory(ingested: dict, tmp_path: Path, capsys):
    assert main(["plan-next", "--project", "proj-a", "--topics-file", str(tmp_path), "--count", "2"]) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err and err.count("\n") == 1


def test_unreachable_postgres_is_found_before_any_run(
    ingested: dict, instance: dg.DagsterInstance, capsys, monkeypatch: pytest.MonkeyPatch
):
    before = instance.get_runs_count()
    monkeypatch.setenv("LEARNING_LOOP_WAREHOUSE_URL", "postgresql://nobody@127.0.0.1:1/nowhere")
    assert main(["ingest"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("learning-loop: error: cannot connect to PostgreSQL warehouse") and err.count("\n") == 1
    monkeypatch.undo()
    assert instance.get_runs_count() == before


def test_root_cause_is_the_first_error_not_the_cleanup_error():
    from learning_loop.orchestration.runner import root_cause

    class Err:
        def __init__(self, message, cause=None, context=None):
            self.message, self.cause, self.context = message, cause, context

    # the error raised while cleaning up names the first one through `context`
    first = Err("psycopg2.OperationalError: terminating connection due to administrator command\nmore")
    wrapped = Err("dagster wrapper", cause=Err("InterfaceError: connection already closed", context=first))
    assert root_cause(wrapped) == "psycopg2.OperationalError: terminating connection due to administrator command"
