"""Benchmark of the core daily graph (issue 2 "Speed and memory").

Generates N synthetic videos with M metric snapshots directly inside a DuckDB
warehouse (pure SQL: ``range()`` + ``hash()``, no Python loops), picks the
partition D = the last generated day, and times one daily partition of
outcomes -> percentile_rewards -> recipe_stats two ways:

* **raw**: the same SQL files through the loader, one transaction per model,
  ``tx.replace_partition(...)`` with ``partition_params(D, RewardConfig())``:
  exactly the statements the assets run, minus Dagster (and minus the asset
  checks and metadata summaries, which are timed separately as diagnostics);
* **dagster**: the ``update_stats`` job executed in process the way
  ``learning_loop.orchestration.runner.run_job`` does it (same job, tags, logger config),
  on a temporary ``DAGSTER_HOME`` (embedded SQLite instance, the project's
  ``dagster.yaml`` template) with ``LEARNING_LOOP_WAREHOUSE_URL`` pointing at
  the bench file: the path of ``learning-loop update-stats`` and of the 02:00
  schedule. Only the three core assets are selected (``asset_selection``), as
  later stages joined the job; ``--whole-job`` also times the unrestricted
  ``runner.run_job("update_stats")``, reported apart. The blocking asset
  checks run inside the assets' transactions, so they are in this time.
* **raw whole job** (``--whole-job``): every asset of ``update_stats`` without
  Dagster: the three SQL models as in *raw*, then experiment verdicts, bandit
  arms and predictor coefficients through the functions their assets call
  (``evaluate_partition``/``_record_decisions``, ``read_pulls``/``build_arms``/
  ``write_partition``, ``read_training_rows``/``build_versions``/
  ``write_partition``), one transaction per asset, the assets' default configs.
  Compared per asset with the Dagster steps of the whole job.

``--backend postgres`` runs the same phases against PostgreSQL: the data is
still generated in DuckDB, then copied into a fresh database ``ll_bench_<hex>``
on ``--pg-url`` (schema by ``ensure_schema()``, rows by psycopg2 ``COPY`` in
Arrow batches; the copy is timed apart), which is dropped at the end unless
``--keep-pg``. The targets are DuckDB's; PostgreSQL figures are for reference.

Every measured run is a fresh child process (like an operator's command), run
alternately raw, dagster, raw, dagster (``--repeat``); the best wall time of
each path is reported, and the peak RSS of each child process (``VmHWM``, and
``ru_maxrss`` beside it: see ``peak_rss_mb``). Data generation runs in its own
child too; its time and memory are reported but are not part of any figure.
Timed: the ``run_job`` call (dagster) and the three transactions including
opening and closing the DuckDB connection (raw); process start, imports and
loading the code location are reported separately.

    python bench/bench_core.py                      # 100k videos / 1M snapshots
    python bench/bench_core.py --large              # 1M / 10M (the issue's target size)
    python bench/bench_core.py --large --keep /tmp/llbench   # keep (and reuse) the file
    python bench/bench_core.py --large --whole-job            # + the whole update_stats job, raw vs Dagster
    python bench/bench_core.py --whole-job --backend postgres --pg-url postgresql://postgres@127.0.0.1:5432/postgres

Targets (issue 2, at 1M / 10M on 2 cores): dagster <= 1.5x raw, < 60 s, < 4 GB peak; with
``--whole-job`` the same three for the whole job (issue 14). The last line is machine-readable:
``RESULT videos=... snapshots=... raw_s=... backend=... [job_raw_s=... job_dagster_s=... job_ratio=...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DAILY_MODELS = ("outcomes", "percentile_rewards", "recipe_stats")
#: every asset of the update_stats job (learning_loop/defs/core/jobs.py selects the daily-tagged assets),
#: in the order the raw whole-job baseline runs them (a topological order of their deps)
JOB_ASSETS = DAILY_MODELS + ("experiment_verdicts", "bandit_arms", "predictor_coefficients")
#: child phases that run the whole job: raw (no Dagster) and runner.run_job("update_stats")
WHOLE_JOB_PHASES = ("rawjob", "job")
#: the tables `generate` fills (the PostgreSQL variant copies exactly these)
GENERATED_TABLES = ("videos", "metric_snapshots")
COPY_CHUNK_ROWS = 500_000
DEFAULT_DATE = "2024-06-30"
TARGET_RATIO = 1.5
TARGET_SECONDS = 60.0
TARGET_RSS_MB = 4096.0
CHILD_MARK = "BENCH_CHILD_JSON "


# --------------------------------------------------------------------------- helpers


def ru_maxrss_mb() -> float:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in MB (the field is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process image, in MB.

    On Linux ``ru_maxrss`` survives fork + exec, so a fresh child reports at
    least its parent's peak; ``VmHWM`` (the same high-water mark, for the
    process's own memory map) does not. The parent of the measured runs stays
    small (it only imports the standard library), so both agree in practice;
    ``ru_maxrss`` is the fallback where /proc is missing.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return ru_maxrss_mb()


def as_of(partition: date) -> datetime:
    return datetime.combine(partition + timedelta(days=1), dtime())


def _label(sql: str) -> str:
    """A short, stable name for a statement (for the per-statement breakdown)."""
    text = " ".join(line for line in sql.split() if line)
    m = re.match(r"(INSERT INTO \w+|DELETE FROM \w+|CREATE (?:TABLE|INDEX) IF NOT EXISTS \w+|ALTER TABLE \w+)", text)
    if m:
        return m.group(1)
    return text[:90]


class SqlTrace:
    """Times every statement the warehouse backend runs (monkeypatched in the bench process only)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def install(self) -> None:
        from learning_loop.warehouse import backend

        trace = self
        for tx_class in (backend._DuckTx, backend._PgTx):
            for name in ("execute", "query_df"):
                original = getattr(tx_class, name)

                def timed(self_, sql, params=None, _original=original):  # noqa: ANN001
                    start = time.perf_counter()
                    try:
                        return _original(self_, sql, params)
                    finally:
                        key = _label(sql)
                        trace.seconds[key] += time.perf_counter() - start
                        trace.calls[key] += 1

                setattr(tx_class, name, timed)

        original_connect = backend.DuckDBWarehouse._connect

        def connect(self_):  # noqa: ANN001
            start = time.perf_counter()
            try:
                return _TimedConnection(original_connect(self_), trace)
            finally:
                trace.seconds["<open DuckDB connection>"] += time.perf_counter() - start
                trace.calls["<open DuckDB connection>"] += 1

        backend.DuckDBWarehouse._connect = connect

    def connection_seconds(self) -> float:
        return sum(v for k, v in self.seconds.items() if k.startswith("<"))

    def top(self, n: int = 12) -> list[tuple[str, float, int]]:
        items = sorted(self.seconds.items(), key=lambda kv: -kv[1])[:n]
        return [(k, round(v, 3), self.calls[k]) for k, v in items]

    def total(self) -> float:
        return sum(self.seconds.values())


class _TimedConnection:
    """A DuckDB connection whose close() (which checkpoints the WAL into the file) is timed."""

    def __init__(self, con: Any, trace: SqlTrace) -> None:
        self._con, self._trace = con, trace

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def execute(self, sql: str, *args: Any) -> Any:
        """Times the backend's BEGIN / COMMIT / ROLLBACK (other statements are timed by SqlTrace)."""
        if sql not in ("BEGIN TRANSACTION", "COMMIT", "ROLLBACK"):
            return self._con.execute(sql, *args)
        start = time.perf_counter()
        try:
            return self._con.execute(sql, *args)
        finally:
            self._trace.seconds[f"<{sql}>"] += time.perf_counter() - start
            self._trace.calls[f"<{sql}>"] += 1

    def close(self) -> None:
        start = time.perf_counter()
        try:
            self._con.close()
        finally:
            self._trace.seconds["<close DuckDB connection (checkpoint)>"] += time.perf_counter() - start
            self._trace.calls["<close DuckDB connection (checkpoint)>"] += 1


# --------------------------------------------------------------------------- data generation


def _recipes_frame(n_recipes: int):
    """A modest set of distinct, valid recipes with their real SPEC §3 hashes."""
    import pandas as pd

    from learning_loop.domain.recipe import (
        CAPTION_BUCKETS,
        ENDING_TYPES,
        HOOK_TYPES,
        SCENE_COUNTS,
        WPM_BUCKETS,
        recipe_hash,
    )

    presets = [f"BENCH_{i}" for i in range(4)]
    radices = [presets, HOOK_TYPES, SCENE_COUNTS, WPM_BUCKETS, CAPTION_BUCKETS, ENDING_TYPES]
    space = 1
    for values in radices:
        space *= len(values)
    rows = []
    for r in range(min(n_recipes, space)):
        rest, picked = r, []
        for values in radices:
            picked.append(values[rest % len(values)])
            rest //= len(values)
        fields = dict(
            zip(
                ("preset", "hook_type", "scene_count", "narration_wpm_bucket", "caption_density_bucket", "ending_type"),
                picked,
            )
        )
        rows.append({"r": r, **fields, "recipe_hash": recipe_hash(fields)})
    return pd.DataFrame(rows)


def generate(db_path: Path, n_videos: int, n_snapshots: int, projects: int, days: int, seed: int,
             partition: date, n_recipes: int) -> dict[str, Any]:
    """Create the contract tables with the project's schema and fill them with SQL inside DuckDB."""
    import duckdb

    from learning_loop.warehouse.backend import open_warehouse

    url = f"duckdb:///{db_path}"
    timings: dict[str, float] = {}
    start = time.perf_counter()
    open_warehouse(url).ensure_schema()
    timings["schema_s"] = time.perf_counter() - start

    t_iso = as_of(partition).isoformat(sep=" ")
    recipes = _recipes_frame(n_recipes)
    con = duckdb.connect(str(db_path))
    try:
        con.execute("DELETE FROM videos")
        con.execute("DELETE FROM metric_snapshots")
        for table in DAILY_MODELS:
            con.execute(f"DELETE FROM {table}")
        con.register("bench_recipes_df", recipes)
        con.execute("CREATE TEMP TABLE bench_recipes AS SELECT * FROM bench_recipes_df")
        n_rec = len(recipes)
        # u(x, k): a deterministic uniform [0, 1) from the row number, the seed and a stream id.
        con.execute(f"CREATE TEMP MACRO u(x, k) AS CAST(hash(x, {int(seed)}, k) % 1000000007 AS DOUBLE) / 1000000007.0")
        # published_at of video v: spread uniformly over the `days` days before T.
        con.execute(
            f"CREATE TEMP MACRO pub(v) AS TIMESTAMP '{t_iso}' "
            f"- to_microseconds(CAST(u(v, 1) * {int(days)} * 86400e6 AS BIGINT)) - INTERVAL 1 MICROSECOND"
        )

        t0 = time.perf_counter()
        con.execute(
            f"""
            INSERT INTO videos (project_id, video_id, published_at, topic, topic_hash, preset, hook_type,
                scene_count, narration_wpm_bucket, caption_density_bucket, ending_type, narration_wpm,
                caption_density, recipe_hash, content_type, quality_score, novelty_score, expertise_level,
                viral_score, job_id, generation_mode, source_file, source_row, loaded_at)
            SELECT
                'p' || lpad(CAST(g.v % {int(projects)} AS VARCHAR), 3, '0'),
                'v' || lpad(CAST(g.v AS VARCHAR), 9, '0'),
                g.published_at,
                g.topic,
                sha256(g.topic),
                r.preset, r.hook_type, r.scene_count, r.narration_wpm_bucket, r.caption_density_bucket,
                r.ending_type,
                CASE r.narration_wpm_bucket WHEN 'slow' THEN 95 + 20 * u(g.v, 4)
                     WHEN 'medium' THEN 122 + 36 * u(g.v, 4) ELSE 165 + 40 * u(g.v, 4) END,
                CASE r.caption_density_bucket WHEN 'sparse' THEN 0.1 + 0.15 * u(g.v, 5)
                     WHEN 'medium' THEN 0.32 + 0.26 * u(g.v, 5) ELSE 0.65 + 0.3 * u(g.v, 5) END,
                r.recipe_hash,
                ['educational', 'factual', 'story', 'trending'][1 + CAST(hash(g.v, {int(seed)}, 6) % 4 AS INTEGER)],
                u(g.v, 7), u(g.v, 8), u(g.v, 9), u(g.v, 20),
                'job_' || CAST(g.v AS VARCHAR),
                CASE WHEN u(g.v, 21) < 0.8 THEN 'exploit' ELSE 'explore' END,
                'bench_videos.parquet',
                g.v,
                g.published_at + INTERVAL 1 HOUR
            FROM (
                SELECT range AS v, pub(range) AS published_at,
                       'topic ' || CAST(hash(range, {int(seed)}, 2) % 5000 AS VARCHAR) AS topic,
                       CAST(floor({n_rec} * u(range, 3) * u(range, 3)) AS BIGINT) AS r
                FROM range({int(n_videos)})
            ) g
            JOIN bench_recipes r ON r.r = g.r
            ORDER BY g.published_at
            """
        )
        timings["videos_s"] = time.perf_counter() - t0

        # Snapshot i belongs to video i % N and is that video's (i // N)-th observation:
        # irregular minutes after publish (20 + f_v * 90 * j (j + 1) + jitter < the gap),
        # cumulative counters growing as base * (1 - exp(-hours / tau)).
        t0 = time.perf_counter()
        con.execute(
            f"""
            INSERT INTO metric_snapshots (project_id, video_id, observed_at, views, likes, comments,
                avg_view_duration_s, followers_gained, shares, source_file, source_row, loaded_at)
            SELECT project_id, video_id, observed_at, views,
                   CAST(floor(views * (0.02 + 0.08 * u(v, 14))) AS BIGINT),
                   CAST(floor(views * (0.002 + 0.02 * u(v, 15))) AS BIGINT),
                   round(8 + 40 * u(v, 18) + 3 * u(i, 19), 1),
                   CAST(floor(views * (0.001 + 0.01 * u(v, 16))) AS BIGINT),
                   CAST(floor(views * 0.005 * u(v, 17)) AS BIGINT),
                   'bench_metrics.parquet', i, observed_at + INTERVAL 10 MINUTE
            FROM (
                SELECT i, v, project_id, video_id, observed_at,
                       CAST(floor(pow(10, 2 + 3 * u(v, 12))
                                  * (1 - exp(-(offset_min / 60.0) / (6 + 42 * u(v, 13))))) AS BIGINT) AS views
                FROM (
                    SELECT i, v,
                           'p' || lpad(CAST(v % {int(projects)} AS VARCHAR), 3, '0') AS project_id,
                           'v' || lpad(CAST(v AS VARCHAR), 9, '0') AS video_id,
                           offset_min,
                           pub(v) + to_microseconds(CAST(offset_min * 60e6 AS BIGINT)) AS observed_at
                    FROM (
                        SELECT range AS i, range % {int(n_videos)} AS v,
                               20 + (0.7 + 0.6 * u(range % {int(n_videos)}, 10)) * 90
                                  * (range // {int(n_videos)}) * (range // {int(n_videos)} + 1)
                                  + 40 * u(range, 11) AS offset_min
                        FROM range({int(n_snapshots)})
                    )
                )
            )
            ORDER BY observed_at
            """
        )
        timings["snapshots_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        con.execute("CHECKPOINT")
        timings["checkpoint_s"] = time.perf_counter() - t0
        facts = con.execute(
            f"""
            SELECT (SELECT count(*) FROM videos), (SELECT count(*) FROM metric_snapshots),
                   (SELECT count(*) FROM videos WHERE published_at < TIMESTAMP '{t_iso}'),
                   (SELECT count(*) FROM metric_snapshots WHERE observed_at < TIMESTAMP '{t_iso}'),
                   (SELECT count(DISTINCT recipe_hash) FROM videos),
                   (SELECT min(published_at) FROM videos), (SELECT max(published_at) FROM videos)
            """
        ).fetchone()
    finally:
        con.close()
    timings["total_s"] = time.perf_counter() - start
    return {
        "videos": int(facts[0]),
        "snapshots": int(facts[1]),
        "videos_before_t": int(facts[2]),
        "snapshots_before_t": int(facts[3]),
        "recipes": int(facts[4]),
        "published_from": str(facts[5]),
        "published_to": str(facts[6]),
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "file_mb": round(db_path.stat().st_size / 2**20, 1),
    }


# --------------------------------------------------------------------------- child processes


def _partition_fingerprint(url: str, partition: date) -> dict[str, Any]:
    from learning_loop.warehouse.backend import open_warehouse

    wh = open_warehouse(url)
    out: dict[str, Any] = {}
    with wh.transaction() as tx:
        for model in DAILY_MODELS:
            out[model] = int(tx.scalar(f"SELECT count(*) FROM {model} WHERE partition_date = :d", {"d": partition}))
        out["sum_reward"] = round(float(
            tx.scalar("SELECT coalesce(sum(reward), 0) FROM percentile_rewards WHERE partition_date = :d", {"d": partition})
        ), 6)  # summation order differs between runs
        out["mature"] = int(
            tx.scalar("SELECT count(*) FROM outcomes WHERE partition_date = :d AND is_mature", {"d": partition})
        )
    return out


def _core_diagnostics(tx: Any, partition: date, params: dict[str, Any], config: Any) -> dict[str, Any]:
    """What the core SQL assets add on top of their statements (summaries and checks), timed one by one;
    not part of any raw figure."""
    from learning_loop.defs.core.checks import MODEL_CHECKS
    from learning_loop.defs.core.sql_assets import _summary

    extra: dict[str, Any] = {}
    for name in DAILY_MODELS:
        t0 = time.perf_counter()
        _summary(tx, name, params)
        extra[f"summary_{name}"] = round(time.perf_counter() - t0, 3)
        for check in MODEL_CHECKS.get(name, []):
            t0 = time.perf_counter()
            passed, _meta = check(tx, partition, config)
            extra[f"check_{check.__name__}"] = round(time.perf_counter() - t0, 3)
            extra[f"check_{check.__name__}_passed"] = bool(passed)
    return extra


def child_raw(url: str, partition: date) -> dict[str, Any]:
    from learning_loop.defs.core.sql_assets import RewardConfig, partition_params
    from learning_loop.warehouse.sql_models import load_models
    from learning_loop.warehouse.backend import open_warehouse

    trace = SqlTrace()
    trace.install()
    models = load_models()
    config = RewardConfig()
    params = partition_params(partition, config)
    wh = open_warehouse(url)
    per_model: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    with wh.session():  # one connection for the three models; closing it (checkpoint) is timed too
        for name in DAILY_MODELS:
            model = models[name]
            t0 = time.perf_counter()
            with wh.transaction() as tx:
                rows = tx.replace_partition(model.name, partition, select_sql=model.sql, columns=model.columns, params=params)
            per_model[name] = {"rows": rows, "seconds": round(time.perf_counter() - t0, 3)}
    raw_s = time.perf_counter() - start
    sql_top = trace.top()
    # Diagnostics, not part of raw_s: what the asset adds on top (checks + summaries).
    with wh.session():
        with wh.transaction() as tx:
            extra: dict[str, Any] = _core_diagnostics(tx, partition, params, config)
        con = getattr(wh, "_con", None)  # the session's DuckDB connection (None on PostgreSQL)
        duck_mem = {} if con is None else {
            "memory_limit": con.execute("SELECT current_setting('memory_limit')").fetchone()[0],
            "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
            "buffer_in_use_mb": round(
                con.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()").fetchone()[0] / 2**20, 1
            ),
        }
    return {
        "seconds": raw_s,
        "per_model": per_model,
        "extra": extra,
        "duckdb": duck_mem,
        "sql_top": sql_top,
    }


def _job_fingerprint(url: str, partition: date) -> dict[str, Any]:
    """What the later assets of update_stats wrote for the partition (compared between raw job and Dagster job)."""
    from learning_loop.warehouse.backend import open_warehouse

    wh = open_warehouse(url)
    params = {"d": partition}
    with wh.transaction() as tx:
        out = {
            table: int(tx.scalar(f"SELECT count(*) FROM {table} WHERE partition_date = :d", params))
            for table in JOB_ASSETS[len(DAILY_MODELS):]
        }
        out["bandit_content_pulls"] = int(tx.scalar(
            "SELECT coalesce(sum(pulls), 0) FROM bandit_arms WHERE partition_date = :d AND arm_type = 'content'", params
        ))
        out["predictors_trained"] = int(tx.scalar(
            "SELECT count(*) FROM predictor_coefficients WHERE partition_date = :d AND status = 'trained'", params
        ))
    return out


#: how the raw whole-job baseline computes each asset beyond the three SQL models (printed with the figures)
RAW_JOB_PATHS = {
    "experiment_verdicts": "verdicts.evaluate_partition + tx.replace_partition + verdicts._record_decisions "
    "(the asset's own functions; _record_decisions is module-private), one transaction",
    "bandit_arms": "arms.read_pulls + build_arms + write_partition, one transaction",
    "predictor_coefficients": "coefficients.read_training_rows (one transaction), build_versions "
    "(train_project per project, no transaction held), write_partition (one transaction), as the asset's prepare/write",
}


def child_raw_job(url: str, partition: date) -> dict[str, Any]:
    """Every asset of update_stats without Dagster: the same store/domain functions the assets call.

    One warehouse session (one DuckDB connection) for the whole job, one transaction per asset
    (predictors: read, fit outside any transaction, write, like the asset's prepare/write); the
    configs are the assets' defaults, as in ``runner.run_job`` without run config. Asset checks and
    metadata summaries are timed apart as diagnostics (not in the total), as in ``child_raw``.
    """
    from learning_loop.defs.bandits import arms as bandit_asset
    from learning_loop.defs.core.checks import MODEL_CHECKS
    from learning_loop.defs.core.sql_assets import RewardConfig, partition_params
    from learning_loop.defs.experiments import verdicts as verdict_asset
    from learning_loop.defs.predictors import coefficients as predictor_asset
    from learning_loop.warehouse.backend import open_warehouse
    from learning_loop.warehouse.sql_models import load_models

    trace = SqlTrace()
    trace.install()
    models = load_models()
    config = RewardConfig()
    bandit_config = bandit_asset.BanditConfig()
    predictor_config = predictor_asset.PredictorConfig()
    params = partition_params(partition, config)
    wh = open_warehouse(url)
    per_asset: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    with wh.session():
        for name in DAILY_MODELS:
            model = models[name]
            t0 = time.perf_counter()
            with wh.transaction() as tx:
                rows = tx.replace_partition(model.name, partition, select_sql=model.sql, columns=model.columns, params=params)
            per_asset[name] = {"rows": rows, "seconds": round(time.perf_counter() - t0, 3)}

        t0 = time.perf_counter()
        with wh.transaction() as tx:
            verdicts = verdict_asset.evaluate_partition(tx, partition)
            rows = tx.replace_partition("experiment_verdicts", partition, verdicts)
            decided = verdict_asset._record_decisions(tx, verdicts, partition)
        per_asset["experiment_verdicts"] = {"rows": rows, "decided": decided, "seconds": round(time.perf_counter() - t0, 3)}

        t0 = time.perf_counter()
        with wh.transaction() as tx:
            pulls, projects = bandit_asset.read_pulls(tx, partition, bandit_config.window_days)
            arms, _excluded = bandit_asset.build_arms(pulls, projects, bandit_config)
            rows = bandit_asset.write_partition(tx, partition, arms, bandit_config)
        per_asset["bandit_arms"] = {"rows": rows, "pulls": len(pulls), "seconds": round(time.perf_counter() - t0, 3)}

        t0 = time.perf_counter()
        trained_at = datetime.now(timezone.utc).replace(tzinfo=None)
        with wh.transaction() as tx:
            training, projects = predictor_asset.read_training_rows(tx, partition, predictor_config.window_days)
        t_read = time.perf_counter() - t0
        versions = predictor_asset.build_versions(training, projects, partition, predictor_config, trained_at)
        t_fit = time.perf_counter() - t0 - t_read
        with wh.transaction() as tx:
            rows = predictor_asset.write_partition(tx, partition, versions)
        per_asset["predictor_coefficients"] = {
            "rows": rows, "training_rows": len(training), "read_s": round(t_read, 3), "fit_s": round(t_fit, 3),
            "seconds": round(time.perf_counter() - t0, 3),
        }
        t_close = time.perf_counter()
    per_asset["<close session>"] = {"seconds": round(time.perf_counter() - t_close, 3)}
    raw_s = time.perf_counter() - start
    sql_top = trace.top()

    # Diagnostics, not part of raw_s: the checks and summaries the assets add on top.
    extra: dict[str, Any] = {}
    with wh.session():
        with wh.transaction() as tx:
            core = _core_diagnostics(tx, partition, params, config)
            for name in DAILY_MODELS:  # per asset: its summary plus its checks
                checks = MODEL_CHECKS.get(name, [])
                extra[name] = round(core[f"summary_{name}"] + sum(core[f"check_{c.__name__}"] for c in checks), 3)
                extra.update({f"check_{c.__name__}_passed": core[f"check_{c.__name__}_passed"] for c in checks})
            t0 = time.perf_counter()
            verdict_asset._summary(verdicts)
            extra["experiment_verdicts"] = round(time.perf_counter() - t0, 3)
            t0 = time.perf_counter()
            passed, _meta = bandit_asset.check_partition(tx, partition, bandit_config)
            bandit_asset.summarize(arms)
            bandit_asset._best_arms(arms)
            extra["bandit_arms"] = round(time.perf_counter() - t0, 3)
            extra["check_posterior_matches_counts_passed"] = bool(passed)
            t0 = time.perf_counter()
            passed, _meta = predictor_asset.check_partition(tx, partition)
            predictor_asset.summarize(versions)
            extra["predictor_coefficients"] = round(time.perf_counter() - t0, 3)
            extra["check_one_version_per_project_and_model_passed"] = bool(passed)
    return {
        "seconds": raw_s,
        "per_asset": per_asset,
        "extra": extra,
        "paths": RAW_JOB_PATHS,
        "sql_seconds": round(trace.total(), 3),
        "sql_top": sql_top,
    }


# --------------------------------------------------------------------------- PostgreSQL variant


def pg_url_for(base_url: str, database: str) -> str:
    """``base_url`` (postgresql://user@host:port/db) pointing at ``database`` instead (libpq form, no driver)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", "postgresql://", base_url))
    return urlunsplit(parts._replace(path="/" + database))


def _maintenance(base_url: str, statement: str) -> None:
    """One statement (CREATE/DROP DATABASE) outside a transaction, on the maintenance database of ``base_url``."""
    import psycopg2

    con = psycopg2.connect(pg_url_for(base_url, "postgres"))
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(statement)
    finally:
        con.close()


def drop_pg_database(base_url: str, database: str) -> None:
    """``DROP DATABASE ... WITH (FORCE)`` through the maintenance database of ``base_url``."""
    _maintenance(base_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def child_pgcopy(duck_path: Path, base_url: str, database: str) -> dict[str, Any]:
    """Create ``database``, the project's schema in it, and COPY the generated DuckDB tables over.

    Schema by ``open_warehouse(url).ensure_schema()`` (indexes included, as the tables are created
    in production); data streamed from DuckDB in Arrow batches of ``COPY_CHUNK_ROWS`` rows, each
    written as CSV by pyarrow and loaded by psycopg2 ``copy_expert`` (DuckDB's postgres extension is
    not installed on this machine and cannot be downloaded offline); then ``ANALYZE``.
    """
    import io

    import duckdb
    import psycopg2
    import pyarrow.csv as pacsv

    from learning_loop.warehouse.backend import open_warehouse
    from learning_loop.warehouse.schema import TABLES

    timings: dict[str, float] = {}
    start = time.perf_counter()
    _maintenance(base_url, f'CREATE DATABASE "{database}"')
    url = pg_url_for(base_url, database)
    open_warehouse(url).ensure_schema()
    timings["create_and_schema_s"] = time.perf_counter() - start

    rows: dict[str, int] = {}
    src = duckdb.connect(str(duck_path), read_only=True)
    dst = psycopg2.connect(url)
    try:
        for table in GENERATED_TABLES:
            t0 = time.perf_counter()
            columns = TABLES[table].column_list
            reader = src.sql(f"SELECT {columns} FROM {table}").to_arrow_reader(COPY_CHUNK_ROWS)
            copied = 0
            with dst.cursor() as cur:
                for batch in reader:
                    buffer = io.BytesIO()
                    pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
                    buffer.seek(0)
                    cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)
                    copied += batch.num_rows
            dst.commit()
            rows[table] = copied
            timings[f"copy_{table}_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        dst.autocommit = True
        with dst.cursor() as cur:
            cur.execute("ANALYZE")
            counts = {}
            for table in GENERATED_TABLES:
                cur.execute(f"SELECT count(*) FROM {table}")
                counts[table] = cur.fetchone()[0]
            cur.execute("SELECT pg_database_size(current_database())")
            size = cur.fetchone()[0]
        timings["analyze_s"] = time.perf_counter() - t0
    finally:
        dst.close()
        src.close()
    if counts != rows:
        raise SystemExit(f"PostgreSQL copy incomplete: copied {rows}, counted {counts}")
    timings["total_s"] = time.perf_counter() - start
    return {
        "database": database,
        "rows": rows,
        "method": "DuckDB Arrow batches -> pyarrow CSV -> psycopg2 copy_expert",
        "chunk_rows": COPY_CHUNK_ROWS,
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "db_mb": round(size / 2**20, 1),
    }


def _step_times(instance: Any, run_id: str) -> dict[str, float]:
    """Wall time per step and for the run, from the run's event log."""
    starts: dict[str, float] = {}
    out: dict[str, float] = {}
    try:
        for record in instance.all_logs(run_id):
            event = record.dagster_event
            if event is None:
                continue
            kind = event.event_type_value
            key = event.step_key or "run"
            if kind in ("STEP_START", "PIPELINE_START", "RUN_START"):
                starts[key] = record.timestamp
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "PIPELINE_SUCCESS", "RUN_SUCCESS") and key in starts:
                out[key] = round(record.timestamp - starts[key], 3)
    except Exception as exc:  # diagnostics only
        out["error"] = str(exc)  # type: ignore[assignment]
    return out


def _run_core_assets(instance: Any, partition: date) -> Any:
    """``runner.run_job("update_stats", ...)`` restricted to the three core SQL assets.

    Same job definition, instance, tags, logger config and in-process executor
    as ``learning_loop.orchestration.runner.run_job``; only ``asset_selection`` is added, so
    later stages that joined the job (bandits, predictors, ...) are not timed.
    """
    from learning_loop.orchestration import runner
    from learning_loop.settings import Settings

    return runner.run_job(
        "update_stats",
        settings=Settings.from_env(),
        partition_key=partition.isoformat(),
        instance=instance,
        tags={"learning_loop/bench": "core"},
        asset_selection=list(DAILY_MODELS),
    )


def child_dagster(url: str, partition: date, whole_job: bool = False) -> dict[str, Any]:
    t0 = time.perf_counter()
    import learning_loop.definitions  # noqa: F401 - the code location, as the CLI loads it
    from learning_loop.orchestration import runner
    from learning_loop.orchestration.instance import get_instance
    from learning_loop.settings import Settings

    instance = get_instance(Settings.from_env())
    startup_s = time.perf_counter() - t0

    trace = SqlTrace()
    trace.install()
    start = time.perf_counter()
    if whole_job:
        outcome = runner.run_job(
            "update_stats", settings=Settings.from_env(), partition_key=partition.isoformat(), instance=instance
        )
    else:
        outcome = _run_core_assets(instance, partition)
    dagster_s = time.perf_counter() - start
    expected = JOB_ASSETS if whole_job else DAILY_MODELS
    missing = [m for m in expected if m not in outcome.materializations]
    if missing:
        raise SystemExit(f"dagster run {outcome.run_id} did not materialize {missing}")
    return {
        "seconds": dagster_s,
        "startup_s": round(startup_s, 3),
        "run_id": outcome.run_id,
        "assets": sorted(outcome.materializations),
        "steps": _step_times(instance, outcome.run_id),
        "sql_seconds": round(trace.total(), 3),
        "connection_seconds": round(trace.connection_seconds(), 3),
        "sql_top": trace.top(),
        "rows": {m: outcome.materializations[m].get("dagster/row_count") for m in expected},
    }


def child_main(args: argparse.Namespace) -> None:
    phase, url, partition = args._child, args._url, args.partition
    if phase == "gen":
        db_path = Path(url[len("duckdb:///"):])
        result = generate(db_path, args.videos, args.snapshots, args.projects, args.days, args.seed, partition, args.recipes)
    elif phase == "pgcopy":
        result = child_pgcopy(Path(args._duck), args.pg_url, args._pg_db)
    else:
        if phase == "raw":
            result = child_raw(url, partition)
        elif phase == "rawjob":
            result = child_raw_job(url, partition)
        else:
            result = child_dagster(url, partition, phase == "job")
        result["fingerprint"] = _partition_fingerprint(url, partition)
        if phase in WHOLE_JOB_PHASES:
            result["job_fingerprint"] = _job_fingerprint(url, partition)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["ru_maxrss_mb"] = round(ru_maxrss_mb(), 1)
    print(CHILD_MARK + json.dumps(result, default=str), flush=True)


def run_child(phase: str, url: str, partition: date, env: dict[str, str], extra: list[str] = ()) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", phase, "--_url", url,
           "--date", partition.isoformat(), *extra]
    wall0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - wall0
    lines = [line for line in proc.stdout.splitlines() if line.startswith(CHILD_MARK)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"{phase} run failed (exit {proc.returncode})")
    result = json.loads(lines[-1][len(CHILD_MARK):])
    result["process_wall_s"] = round(wall, 3)
    return result


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=int, default=100_000, help="videos to generate (default 100000)")
    p.add_argument("--snapshots", type=int, default=1_000_000, help="metric snapshots to generate (default 1000000)")
    p.add_argument("--large", action="store_true", help="1M videos / 10M snapshots (the issue's target size)")
    p.add_argument("--projects", type=int, default=20, help="projects (default 20)")
    p.add_argument("--days", type=int, default=60, help="days of history before T (default 60)")
    p.add_argument("--recipes", type=int, default=300, help="distinct recipes (default 300)")
    p.add_argument("--seed", type=int, default=7, help="data seed (default 7)")
    p.add_argument("--date", default=DEFAULT_DATE, help=f"partition D = the last generated day (default {DEFAULT_DATE})")
    p.add_argument("--repeat", type=int, default=2, help="alternating raw/dagster rounds; best of each (default 2)")
    p.add_argument("--keep", metavar="DIR", help="keep the DuckDB file (and Dagster home) in DIR; default a temp dir")
    p.add_argument("--reuse", action="store_true", help="with --keep: reuse DIR's data when it was made with the same arguments")
    p.add_argument("--whole-job", action="store_true",
                   help="also time the whole update_stats job (every asset in it), raw and via runner.run_job")
    p.add_argument("--backend", choices=("duckdb", "postgres"), default="duckdb",
                   help="warehouse the phases run against (default duckdb); postgres copies the generated tables "
                   "into a fresh database on --pg-url")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                   help="with --backend postgres: server (and credentials) to create the bench database on")
    p.add_argument("--keep-pg", action="store_true", help="with --backend postgres: do not drop the bench database")
    p.add_argument("--json", action="store_true", help="also print the full report as JSON")
    p.add_argument("--_child", choices=("gen", "raw", "dagster", "rawjob", "job", "pgcopy"), help=argparse.SUPPRESS)
    p.add_argument("--_url", help=argparse.SUPPRESS)
    p.add_argument("--_duck", help=argparse.SUPPRESS)
    p.add_argument("--_pg_db", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.large:
        args.videos, args.snapshots = 1_000_000, 10_000_000
    if args.videos < 1 or args.snapshots < 0 or args.projects < 1 or args.days < 1 or args.repeat < 1:
        p.error("sizes, --projects, --days and --repeat must be positive")
    try:
        args.partition = date.fromisoformat(args.date)
    except ValueError:
        p.error(f"--date must be YYYY-MM-DD, got {args.date!r}")
    return args


def _mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    partition: date = args.partition
    if args._child:
        child_main(args)
        return 0

    workdir = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="ll-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "bench.duckdb"
    duck_url = f"duckdb:///{db_path}"
    meta_path = workdir / "bench_meta.json"
    wanted = {k: getattr(args, k) for k in ("videos", "snapshots", "projects", "days", "recipes", "seed", "date")}

    print(f"learning-loop core benchmark: {args.videos:,} videos / {args.snapshots:,} snapshots, "
          f"{args.projects} projects, {args.days} days, partition D={partition} (T={as_of(partition)})")
    print(f"data generated in: {db_path}  backend: {args.backend}  "
          f"(cpus={os.cpu_count()}, load average {_loadavg()})")

    gen: dict[str, Any]
    if args.reuse and db_path.exists() and meta_path.exists() and json.loads(meta_path.read_text()).get("args") == wanted:
        gen = json.loads(meta_path.read_text())["generation"]
        print("generation: reused existing data (--reuse)")
    else:
        if db_path.exists():
            db_path.unlink()
            Path(str(db_path) + ".wal").unlink(missing_ok=True)
        gen = run_child(
            "gen", duck_url, partition, dict(os.environ),
            [f"--{k}={getattr(args, k)}" for k in ("videos", "snapshots", "projects", "days", "recipes", "seed")],
        )
        meta_path.write_text(json.dumps({"args": wanted, "generation": gen}, indent=2))
    print(f"data: videos={gen['videos']:,} (before T {gen['videos_before_t']:,}), "
          f"snapshots={gen['snapshots']:,} (before T {gen['snapshots_before_t']:,}), recipes={gen['recipes']}, "
          f"published {gen['published_from']} .. {gen['published_to']}, file {gen['file_mb']} MB")
    print(f"generation: {gen['timings']['total_s']:.1f} s {gen['timings']}  peak RSS {gen['peak_rss_mb']:.0f} MB")

    pg_db: str | None = None
    try:
        copy: dict[str, Any] | None = None
        url = duck_url
        if args.backend == "postgres":
            import secrets

            pg_db = f"ll_bench_{secrets.token_hex(4)}"
            url = pg_url_for(args.pg_url, pg_db)
            copy = run_child("pgcopy", url, partition, dict(os.environ),
                             [f"--pg-url={args.pg_url}", f"--_duck={db_path}", f"--_pg_db={pg_db}"])
            t = copy["timings"]
            print(f"PostgreSQL: database {pg_db} on {_redact_url(args.pg_url)}; copy {t['total_s']:.1f} s "
                  f"(create + schema {t['create_and_schema_s']:.1f} s, "
                  + ", ".join(f"{k[5:-2]} {v:.1f} s ({copy['rows'][k[5:-2]]:,} rows)" for k, v in t.items()
                              if k.startswith("copy_"))
                  + f", ANALYZE {t['analyze_s']:.1f} s), {copy['db_mb']} MB; method: {copy['method']} "
                  f"in chunks of {copy['chunk_rows']:,} rows; peak RSS {copy['peak_rss_mb']:.0f} MB; not part of any figure")
        env = dict(os.environ)
        env.update(
            {
                "LEARNING_LOOP_WAREHOUSE_URL": url,
                "LEARNING_LOOP_HOME": str(workdir / "home"),
                "DAGSTER_HOME": str(workdir / "dagster_home"),
                "LEARNING_LOOP_START_DATE": (partition - timedelta(days=args.days + 1)).isoformat(),
            }
        )
        measure_and_report(args, url, env, gen, copy, wanted)
    finally:
        if pg_db and args.keep_pg:
            print(f"kept PostgreSQL database: {_redact_url(pg_url_for(args.pg_url, pg_db))} (--keep-pg)")
        elif pg_db:
            drop_pg_database(args.pg_url, pg_db)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _loadavg() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg()) + " (1/5/15 min)"


def _redact_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def measure_and_report(args: argparse.Namespace, url: str, env: dict[str, str], gen: dict[str, Any],
                       copy: dict[str, Any] | None, wanted: dict[str, Any]) -> None:
    """Run the phases alternately in fresh processes, then print the figures (and the RESULT line)."""
    partition: date = args.partition
    phases = ("raw", "dagster", *WHOLE_JOB_PHASES) if args.whole_job else ("raw", "dagster")
    runs: dict[str, list[dict[str, Any]]] = {phase: [] for phase in phases}
    for round_no in range(1, args.repeat + 1):
        for phase in phases:
            result = run_child(phase, url, partition, env)
            runs[phase].append(result)
            print(f"  round {round_no} {phase:<7} {result['seconds']:7.2f} s   "
                  f"(process {result['process_wall_s']:.1f} s, peak RSS {result['peak_rss_mb']:.0f} MB)")

    fps = {json.dumps(r["fingerprint"], sort_keys=True) for rs in runs.values() for r in rs}
    consistent = len(fps) == 1
    best = {phase: min(rs, key=lambda r: r["seconds"]) for phase, rs in runs.items()}
    raw_s, dagster_s = best["raw"]["seconds"], best["dagster"]["seconds"]
    ratio = dagster_s / raw_s if raw_s > 0 else float("inf")
    raw_rss = max(r["peak_rss_mb"] for r in runs["raw"])
    dagster_rss = max(r["peak_rss_mb"] for r in runs["dagster"])
    peak = max(raw_rss, dagster_rss)

    fp = best["raw"]["fingerprint"]
    print(f"\npartition {partition}: outcomes={fp['outcomes']:,} (mature {fp['mature']:,}), "
          f"percentile_rewards={fp['percentile_rewards']:,}, recipe_stats={fp['recipe_stats']:,}; "
          f"every run wrote identical partitions: {consistent}")
    print(f"raw SQL (best of {args.repeat}):  {raw_s:.2f} s  per model "
          + ", ".join(f"{k} {v['seconds']:.2f}s" for k, v in best['raw']['per_model'].items()))
    extra = best["raw"]["extra"]
    extra_s = sum(v for k, v in extra.items() if not k.endswith("_passed"))
    print(f"  not in raw: asset checks + summaries {extra_s:.2f} s "
          + ", ".join(f"{k} {v}" for k, v in extra.items() if not k.endswith('_passed')))
    if best["raw"]["duckdb"]:
        print(f"  DuckDB: {best['raw']['duckdb']}")
    print("  top statements in the raw run (label, seconds, calls):")
    for label, secs, calls in best["raw"]["sql_top"][:6]:
        print(f"    {secs:8.3f}s x{calls:<3} {label}")
    d = best["dagster"]
    print(f"dagster (best of {args.repeat}):  {dagster_s:.2f} s  (job update_stats, assets {', '.join(d['assets'])}, "
          f"in process on the embedded instance, as runner.run_job; includes the blocking asset checks and metadata "
          f"summaries; loading the code location + instance {d['startup_s']:.2f} s not included)")
    print(f"  steps: {d['steps']}")
    print(f"  warehouse time inside the run: {d['sql_seconds']:.2f} s (of which opening/closing DuckDB connections "
          f"and BEGIN/COMMIT {d['connection_seconds']:.2f} s, 0 on PostgreSQL where they are not traced); Dagster/Python overhead {dagster_s - d['sql_seconds']:.2f} s")
    print("  top statements in the dagster run (label, seconds, calls):")
    for label, secs, calls in d["sql_top"][:8]:
        print(f"    {secs:8.3f}s x{calls:<3} {label}")
    print(f"ratio dagster/raw: {ratio:.2f}   (load average now {_loadavg()} on {os.cpu_count()} cpus; "
          "other work on the machine makes single runs noisy: use --repeat 3+ then)")
    print(f"peak RSS: raw {raw_rss:.0f} MB, dagster {dagster_rss:.0f} MB (VmHWM of each fresh process; ru_maxrss "
          f"raw {max(r['ru_maxrss_mb'] for r in runs['raw']):.0f} / dagster {max(r['ru_maxrss_mb'] for r in runs['dagster']):.0f} MB; "
          f"generation {gen['peak_rss_mb']:.0f} MB; this parent {ru_maxrss_mb():.0f} MB)")
    if args.backend == "postgres":
        print("  (PostgreSQL: the RSS figures are the Python client processes only; the server's own memory is not in them)")

    whole = whole_job_report(runs, args.repeat) if args.whole_job else None

    at_target_size = args.videos >= 1_000_000 and args.snapshots >= 10_000_000
    note = "" if at_target_size else "  (targets are defined at 1M videos / 10M snapshots; this run is smaller)"
    if args.backend == "postgres":
        note += "  (PostgreSQL: no targets; shown for reference)"
    print(f"\ntargets{note}:")
    print(f"  {_mark(ratio <= TARGET_RATIO)}  dagster <= {TARGET_RATIO}x raw SQL   ({ratio:.2f}x)")
    print(f"  {_mark(dagster_s < TARGET_SECONDS)}  dagster under {TARGET_SECONDS:.0f} s       ({dagster_s:.1f} s)")
    print(f"  {_mark(peak < TARGET_RSS_MB)}  peak under 4 GB         ({peak:.0f} MB)")
    if whole:
        print(f"  {_mark(whole['ratio'] <= TARGET_RATIO)}  whole job: dagster <= {TARGET_RATIO}x raw   ({whole['ratio']:.2f}x)")
        print(f"  {_mark(whole['dagster_s'] < TARGET_SECONDS)}  whole job: dagster under {TARGET_SECONDS:.0f} s   "
              f"({whole['dagster_s']:.1f} s)")
        print(f"  {_mark(max(whole['raw_rss_mb'], whole['dagster_rss_mb']) < TARGET_RSS_MB)}  whole job: peak under 4 GB "
              f"    (raw {whole['raw_rss_mb']:.0f} MB, dagster {whole['dagster_rss_mb']:.0f} MB)")
    if not consistent:
        print("WARNING: runs wrote different partitions: " + " | ".join(sorted(fps)))
    if whole and not whole["consistent"]:
        print("WARNING: the whole-job runs wrote different partitions: " + " | ".join(whole["fingerprints"]))

    if args.json:
        print(json.dumps({"args": wanted, "backend": args.backend, "generation": gen, "pg_copy": copy,
                          "whole_job": whole, "runs": runs}, indent=2, default=str))
    fields = (
        f"RESULT videos={gen['videos']} snapshots={gen['snapshots']} gen_s={gen['timings']['total_s']:.1f} "
        f"raw_s={raw_s:.2f} dagster_s={dagster_s:.2f} ratio={ratio:.2f} peak_rss_mb={peak:.0f} "
        f"raw_rss_mb={raw_rss:.0f} dagster_rss_mb={dagster_rss:.0f} consistent={consistent} backend={args.backend}"
    )
    if whole:
        fields += (f" job_raw_s={whole['raw_s']:.2f} job_dagster_s={whole['dagster_s']:.2f} job_ratio={whole['ratio']:.2f}"
                   f" job_raw_rss_mb={whole['raw_rss_mb']:.0f} job_dagster_rss_mb={whole['dagster_rss_mb']:.0f}"
                   f" job_consistent={whole['consistent']}")
    if copy:
        fields += f" pg_copy_s={copy['timings']['total_s']:.1f}"
    print(fields)


def whole_job_report(runs: dict[str, list[dict[str, Any]]], repeat: int) -> dict[str, Any]:
    """Print the whole update_stats job, raw (no Dagster) against runner.run_job, per asset; return the figures."""
    raw_best = min(runs["rawjob"], key=lambda r: r["seconds"])
    job_best = min(runs["job"], key=lambda r: r["seconds"])
    raw_s, job_s = raw_best["seconds"], job_best["seconds"]
    ratio = job_s / raw_s if raw_s > 0 else float("inf")
    raw_rss = max(r["peak_rss_mb"] for r in runs["rawjob"])
    job_rss = max(r["peak_rss_mb"] for r in runs["job"])
    fingerprints = sorted({json.dumps([r["fingerprint"], r["job_fingerprint"]], sort_keys=True)
                           for phase in WHOLE_JOB_PHASES for r in runs[phase]})
    per_asset = raw_best["per_asset"]
    steps = job_best["steps"]
    extra = raw_best["extra"]
    jfp = raw_best["job_fingerprint"]
    print(f"\nwhole update_stats job ({len(JOB_ASSETS)} assets), best of {repeat} each: raw = the assets' own "
          "store/domain functions without Dagster, one session, one transaction per asset; dagster = "
          "runner.run_job('update_stats'), every asset, in process")
    print(f"  rows: experiment_verdicts={jfp['experiment_verdicts']:,}, bandit_arms={jfp['bandit_arms']:,} "
          f"(content pulls {jfp['bandit_content_pulls']:,}), predictor_coefficients={jfp['predictor_coefficients']:,} "
          f"(trained {jfp['predictors_trained']:,}); every whole-job run wrote identical partitions: {len(fingerprints) == 1}")
    print(f"  {'asset':<24} {'raw (s)':>9} {'dagster step (s)':>17} {'checks+summaries (s, not in raw)':>34}")
    for asset in JOB_ASSETS:
        step = steps.get(asset)
        print(f"  {asset:<24} {per_asset[asset]['seconds']:9.2f} {step if step is not None else float('nan'):17.2f} "
              f"{extra.get(asset, float('nan')):34.3f}")
    print(f"  {'close session (checkpoint)':<24} {per_asset['<close session>']['seconds']:9.2f} {'':>17}")
    print(f"  {'total':<24} {raw_s:9.2f} {job_s:17.2f}   (dagster total = the run_job call; run {steps.get('run', '?')} s)")
    print(f"  ratio dagster/raw {ratio:.2f} (target <= {TARGET_RATIO}); dagster {job_s:.1f} s (target < {TARGET_SECONDS:.0f} s); "
          f"peak RSS raw {raw_rss:.0f} MB, dagster {job_rss:.0f} MB (target < {TARGET_RSS_MB:.0f} MB)")
    pc = per_asset["predictor_coefficients"]
    print(f"  predictor_coefficients raw: read {pc['read_s']:.2f} s ({pc['training_rows']:,} training rows), "
          f"fit {pc['fit_s']:.2f} s, write {pc['seconds'] - pc['read_s'] - pc['fit_s']:.2f} s")
    print(f"  dagster startup (code location + instance, not timed) {job_best['startup_s']:.2f} s; "
          f"warehouse time inside the dagster run {job_best['sql_seconds']:.2f} s, raw {raw_best['sql_seconds']:.2f} s")
    for asset, path in raw_best["paths"].items():
        print(f"  raw {asset}: {path}")
    if jfp["experiment_verdicts"] == 0:
        print("  note: the generated data has no experiments, so experiment_verdicts writes no rows on either path")
    return {
        "assets": list(JOB_ASSETS),
        "raw_seconds_by_asset": {k: v["seconds"] for k, v in per_asset.items()},
        "dagster_step_seconds": steps,
        "checks_and_summaries_seconds": {k: v for k, v in extra.items() if not k.endswith("_passed")},
        "raw_s": round(raw_s, 3),
        "dagster_s": round(job_s, 3),
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "target_dagster_s": TARGET_SECONDS,
        "raw_rss_mb": raw_rss,
        "dagster_rss_mb": job_rss,
        "target_rss_mb": TARGET_RSS_MB,
        "consistent": len(fingerprints) == 1,
        "fingerprints": fingerprints,
        "raw_paths": raw_best["paths"],
    }


if __name__ == "__main__":
    raise SystemExit(main())
