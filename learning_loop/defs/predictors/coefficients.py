"""Daily partitioned asset ``predictor_coefficients`` (issue 4, seed 004): the Dagster shell.

The math is :mod:`learning_loop.domain.predictors` (``train_ridge``,
``train_logistic``); this module reads one partition's training rows, writes
one versioned row per (partition, project, model) and reports numbers.

Training rows of partition ``D`` (as of ``T = D + 1 day``, contract §5), per
project: the *mature* videos of the ``outcomes`` partition ``D`` published in
``[T - window_days, T)``, joined with ``videos`` for the features
(quality_score, novelty_score, expertise_level, viral_score and the six recipe
fields; content type and publish hour come from the outcomes row). Targets:
``engagement_rate`` (ridge) and ``follow_through`` (logistic).

Training window (documented policy): **30 days by default**, the same window
as the percentile rewards. Seed 004 trained on the last 7 days of outcomes,
but with a minimum of 20 rows a 7-day window leaves most projects untrained;
set ``window_days: 7`` in the run config to follow the seed literally.

Versions: ``version_id = "<model>:<project>:<D>"``, deterministic, so a
re-materialised partition replaces its own versions. A model that cannot be
trained (fewer than ``min_rows`` usable rows, or a single follow-through class)
is written with ``status = 'skipped'`` and the reason; the *latest* version of a
model as of T is the newest partition ``<= D`` with ``status = 'trained'`` (see
:mod:`learning_loop.stores.models`), so a skip leaves the previous version in
force. Every project with a video published before ``T`` gets a row per model.
Training is deterministic, so re-materialising a past partition after more
data arrived gives the same rows (except ``trained_at``, the wall-clock time).

Steps (issue 14): the asset is a graph of ops, so the per-project fits are
separate steps that several executor workers (Celery) share:

* ``predictor_projects`` lists the projects of every partition of the run and
  fans out one dynamic output per project;
* ``fit_project_predictors[<project>]`` reads that project's training rows and
  fits both models for every partition of the run it appears in (no
  transaction held while fitting), returning the version rows;
* ``write_predictor_coefficients`` collects them and writes each partition in
  one transaction (delete the partition's rows, insert, the check), exactly as
  the single-step asset did, and reports the same metadata.

The run config stays ``ops: predictor_coefficients: config: {...}``
(:class:`PredictorConfig`); a config mapping hands it to the fit and write ops.
Values between the steps go through the run's IO manager (Dagster's default:
pickles under ``$DAGSTER_HOME/storage``), so workers on other machines need
that folder shared or an object-store IO manager.
"""


from collections.abc import Iterator
import json
import math
import re
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import dagster as dg
import pandas as pd

from learning_loop.domain import predictors as predictor_core
from learning_loop.domain.asof import as_of, parse_partition_date, window_start
from learning_loop.domain.predictors import (
    DEFAULT_ALPHAS,
    DEFAULT_C,
    DEFAULT_CALIBRATION_BINS,
    DEFAULT_CV,
    DEFAULT_HOLDOUT_FRACTION,
    DEFAULT_MIN_ROWS,
    InsufficientDataError,
    LogisticResult,
    RidgeResult,
    train_logistic,
    train_ridge,
)
from learning_loop.domain.recipe import RECIPE_FIELDS
from learning_loop.orchestration.code_version import code_version_of
from learning_loop.orchestration.partition_loop import PartitionWrite, outcome_projects, write_daily_partitions
from learning_loop.orchestration.partitions import DAILY_TAG, WAREHOUSE_POOL, daily_partitions, single_run, warehouse_kind
from learning_loop.orchestration.resources import WarehouseResource
from learning_loop.stores.models import LOGISTIC_MODEL, MODELS, RIDGE_MODEL
from learning_loop.warehouse.backend import Transaction

TABLE = "predictor_coefficients"
DEFAULT_WINDOW_DAYS = 30
CHECK_NAME = "one_version_per_project_and_model"


class PredictorConfig(dg.Config):
    """Training window, minimum rows, holdout and hyper-parameter grid (defaults documented above)."""

    window_days: int = DEFAULT_WINDOW_DAYS
    min_rows: int = DEFAULT_MIN_ROWS
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION
    ridge_alphas: list[float] = list(DEFAULT_ALPHAS)
    ridge_cv: int = DEFAULT_CV
    logistic_c: float = DEFAULT_C
    calibration_bins: int = DEFAULT_CALIBRATION_BINS


_FEATURES = ", ".join(
    [f"v.{name}" for name in RECIPE_FIELDS]
    + ["v.narration_wpm", "v.caption_density", "v.quality_score", "v.novelty_score", "v.expertise_level", "v.viral_score"]
)


_TRAINING_SQL = (
    "SELECT o.project_id, o.video_id, o.published_at, o.content_type, o.engagement_rate, o.follow_through, "
    f"{_FEATURES} FROM outcomes o LEFT JOIN videos v ON v.project_id = o.project_id AND v.video_id = o.video_id "
    "WHERE o.partition_date = :d AND o.is_mature AND o.published_at >= :ws AND o.published_at < :t{project} "
    "ORDER BY o.project_id, o.published_at, o.video_id"
)


def _training_params(partition: date, window_days: int) -> dict[str, Any]:
    return {"d": partition, "t": as_of(partition), "ws": window_start(partition, window_days)}


def read_training_rows(tx: Transaction, partition: date, window_days: int) -> tuple[pd.DataFrame, list[str]]:
    """Training rows of every project for one partition, and every project of the partition."""
    rows = tx.query_df(_TRAINING_SQL.format(project=""), _training_params(partition, window_days))
    projects = outcome_projects(tx, partition)
    return rows, projects


def read_project_training_rows(tx: Transaction, partition: date, window_days: int, project: str) -> pd.DataFrame:
    """One project's training rows of one partition: the rows of :func:`read_training_rows` of that project,
    in the same order."""
    params = {**_training_params(partition, window_days), "p": project}
    return tx.query_df(_TRAINING_SQL.format(project=" AND o.project_id = :p"), params)


def _finite(value: Any) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def version_id(model: str, project: str, partition: date) -> str:
    return f"{model}:{project}:{partition.isoformat()}"


def _trained_row(model: str, result: RidgeResult | LogisticResult) -> dict[str, Any]:
    row: dict[str, Any] = {
        "status": "trained",
        "skip_reason": None,
        "n_train": result.n_train,
        "n_holdout": result.n_holdout,
        "coefficients": json.dumps(result.coefficients, sort_keys=True),
        "intercept": result.intercept,
        "model_json": json.dumps(result.to_dict(), sort_keys=True),
    }
    if isinstance(result, RidgeResult):
        row.update(r2=_finite(result.r2), mae=_finite(result.mae), baseline_mae=_finite(result.baseline_mae))
    else:
        row.update(
            log_loss=_finite(result.log_loss),
            auc=_finite(result.roc_auc),
            calibration_error=_finite(result.calibration_error),
        )
    return row


def train_project(rows: pd.DataFrame, config: PredictorConfig) -> dict[str, dict[str, Any]]:
    """Both models for one project's training rows: {model: row fields}; skips carry their reason."""
    trainers = {
        RIDGE_MODEL: (
            lambda: train_ridge(
                rows, alphas=config.ridge_alphas, cv=config.ridge_cv,
                holdout_fraction=config.holdout_fraction, min_rows=config.min_rows,
            ),
            {"alphas": [float(a) for a in config.ridge_alphas], "cv": config.ridge_cv},
        ),
        LOGISTIC_MODEL: (
            lambda: train_logistic(
                rows, C=config.logistic_c, holdout_fraction=config.holdout_fraction,
                min_rows=config.min_rows, n_bins=config.calibration_bins,
            ),
            {"C": float(config.logistic_c), "calibration_bins": config.calibration_bins},
        ),
    }
    out: dict[str, dict[str, Any]] = {}
    common = {"window_days": config.window_days, "min_rows": config.min_rows,
              "holdout_fraction": float(config.holdout_fraction)}
    for model, (train, grid) in trainers.items():
        try:
            result = train()
        except InsufficientDataError as exc:
            out[model] = {"status": "skipped", "skip_reason": exc.reason,
                          "hyperparameters": json.dumps({**common, **grid}, sort_keys=True)}
            continue
        row = _trained_row(model, result)
        row["hyperparameters"] = json.dumps({**common, **result.hyperparameters, **grid,
                                             **({"alpha": result.alpha} if isinstance(result, RidgeResult) else {})},
                                            sort_keys=True)
        out[model] = row
    return out


def version_records(rows: pd.DataFrame, project: str, partition: date, config: PredictorConfig,
                    trained_at: datetime) -> list[dict[str, Any]]:
    """One project's rows of one partition (one per model, trained or skipped) from its training rows."""
    return [
        {
            "partition_date": partition,
            "project_id": project,
            "model": model,
            "version_id": version_id(model, project, partition),
            "trained_at": trained_at,
            **fields,
        }
        for model, fields in train_project(rows, config).items()
    ]


def build_versions(rows: pd.DataFrame, projects: list[str], partition: date, config: PredictorConfig,
                   trained_at: datetime) -> pd.DataFrame:
    """One row per (project, model) of the partition, trained or skipped (all projects in one process)."""
    records = []
    for project in projects:
        part = rows[rows["project_id"] == project].reset_index(drop=True)
        records += version_records(part, project, partition, config, trained_at)
    return pd.DataFrame(records)


def write_partition(tx: Transaction, partition: date, versions: pd.DataFrame) -> int:
    """Replace the partition's rows (delete then insert, inside the caller's transaction)."""
    return tx.replace_partition(TABLE, partition, versions)


def check_partition(tx: Transaction, partition: date) -> tuple[bool, dict[str, Any]]:
    """Each project of the outcomes partition has exactly one row per model; trained rows are complete."""
    params = {"d": partition}
    frame = tx.query_df(
        f"SELECT project_id, model, count(*) AS n, "
        f"count(*) FILTER (WHERE status = 'trained' AND (model_json IS NULL OR n_train IS NULL)) AS incomplete "
        f"FROM {TABLE} WHERE partition_date = :d GROUP BY project_id, model",
        params,
    )
    projects = int(tx.scalar("SELECT count(DISTINCT project_id) FROM outcomes WHERE partition_date = :d", params))
    duplicated = int((frame["n"].astype(int) != 1).sum()) if len(frame) else 0
    incomplete = int(frame["incomplete"].astype(int).sum()) if len(frame) else 0
    expected = projects * len(MODELS)
    passed = duplicated == 0 and incomplete == 0 and len(frame) == expected
    return passed, {"versions": len(frame), "expected": expected, "duplicated": duplicated, "incomplete": incomplete}


def _mean(values: pd.Series) -> float | None:
    finite = pd.to_numeric(values, errors="coerce").dropna()
    return float(finite.mean()) if len(finite) else None


def summarize(versions: pd.DataFrame) -> dict[str, float]:
    """Numbers the UI plots for one partition: held-out quality averaged over the trained projects."""
    if versions.empty:
        return {"trained": 0.0, "skipped": 0.0}
    trained = versions[versions["status"] == "trained"]
    ridge = trained[trained["model"] == RIDGE_MODEL]
    logistic = trained[trained["model"] == LOGISTIC_MODEL]
    col = lambda frame, name: frame[name] if name in frame.columns else pd.Series(dtype="float64")  # noqa: E731
    summary = {
        "trained": float(len(trained)),
        "skipped": float((versions["status"] == "skipped").sum()),
        "ridge_trained": float(len(ridge)),
        "logistic_trained": float(len(logistic)),
        "ridge_heldout_r2": _mean(col(ridge, "r2")),
        "ridge_heldout_mae": _mean(col(ridge, "mae")),
        "logistic_heldout_auc": _mean(col(logistic, "auc")),
        "logistic_heldout_log_loss": _mean(col(logistic, "log_loss")),
        "logistic_calibration_error": _mean(col(logistic, "calibration_error")),
    }
    return {k: v for k, v in summary.items() if v is not None and math.isfinite(v)}


def _versions_table(versions: pd.DataFrame) -> list[dict[str, Any]]:
    keep = [c for c in ("project_id", "model", "status", "skip_reason", "n_train", "r2", "auc") if c in versions.columns]
    frame = versions[keep].astype(object).where(versions[keep].notna(), None)
    return frame.to_dict("records")


CHECK_SPEC = dg.AssetCheckSpec(
    name=CHECK_NAME,
    asset=TABLE,
    blocking=True,
    description="Every project has exactly one version per model per partition; trained ones are complete.",
)


@dataclass(frozen=True)
class ProjectWork:
    """One fit step's work: a project and the partitions of the run it has outcomes in."""

    project: str
    partitions: tuple[date, ...]


def mapping_keys(projects: list[str]) -> dict[str, str]:
    """A distinct dynamic-output key (letters, digits, `_`) per project: its id with other characters as `_`."""
    keys: dict[str, str] = {}
    used: set[str] = set()
    for project in projects:
        base = re.sub(r"[^A-Za-z0-9_]", "_", project) or "project"
        key, n = base, 1
        while key in used:
            n += 1
            key = f"{base}_{n}"
        used.add(key)
        keys[project] = key
    return keys


def plan_projects(plan: dict[date, list[str]]) -> list[ProjectWork]:
    """Per project (in order of first appearance), the partitions of the run it appears in."""
    partitions: dict[str, list[date]] = {}
    for partition, projects in plan.items():
        for project in projects:
            partitions.setdefault(project, []).append(partition)
    return [ProjectWork(project, tuple(days)) for project, days in partitions.items()]


def collect_versions(plan: dict[date, list[str]], fitted: list[list[dict[str, Any]]]) -> dict[date, pd.DataFrame]:
    """Each partition's rows from the fit steps' records, in the order `build_versions` gives them."""
    by_key: dict[tuple[date, str], list[dict[str, Any]]] = {}
    for records in fitted:
        for record in records:
            by_key.setdefault((record["partition_date"], record["project_id"]), []).append(record)
    return {
        partition: pd.DataFrame([r for project in projects for r in by_key[(partition, project)]])
        for partition, projects in plan.items()
    }


@dg.op(
    ins={"outcomes": dg.In(dg.Nothing), "videos": dg.In(dg.Nothing)},
    out={"work": dg.DynamicOut(ProjectWork), "plan": dg.Out(dict)},
    pool=WAREHOUSE_POOL,
    description="The projects of every partition of the run: one fit step per project.",
)
def predictor_projects(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.Output]:
    wh = warehouse.get()
    plan: dict[date, list[str]] = {}
    with wh.transaction() as tx:
        for key in context.partition_keys:
            partition = parse_partition_date(key)
            plan[partition] = outcome_projects(tx, partition)
    work = plan_projects(plan)
    keys = mapping_keys([w.project for w in work])
    context.log.info(f"{len(work)} project(s) over {len(plan)} partition(s): one fit step each")
    for item in work:
        yield dg.DynamicOutput(item, mapping_key=keys[item.project], output_name="work")
    yield dg.Output(plan, output_name="plan")


@dg.op(pool=WAREHOUSE_POOL, description="Fit both models of one project for every partition of the run it is in.")
def fit_project_predictors(
    context: dg.OpExecutionContext, config: PredictorConfig, warehouse: WarehouseResource, work: ProjectWork
) -> list:
    wh = warehouse.get()
    records: list[dict[str, Any]] = []
    with wh.session():
        for partition in work.partitions:
            trained_at = datetime.now(timezone.utc).replace(tzinfo=None)
            with wh.transaction() as tx:
                rows = read_project_training_rows(tx, partition, config.window_days, work.project)
            records += version_records(rows, work.project, partition, config, trained_at)  # no transaction held
    trained = sum(r["status"] == "trained" for r in records)
    context.log.info(f"{work.project}: {len(work.partitions)} partition(s), {trained} trained, "
                     f"{len(records) - trained} skipped")
    return records


@dg.op(
    out={"result": dg.Out(), CHECK_SPEC.get_python_identifier(): dg.Out()},
    pool=WAREHOUSE_POOL,
    description="Write each partition in one transaction (delete its rows, insert, check) and report.",
)
def write_predictor_coefficients(
    context: dg.OpExecutionContext, config: PredictorConfig, warehouse: WarehouseResource,
    plan: dict, fitted: list,
) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization]:
    versions_by_partition = collect_versions(plan, fitted)
    last = pd.DataFrame()

    def write(tx: Transaction, partition: date, versions: pd.DataFrame) -> PartitionWrite:
        nonlocal last
        written = write_partition(tx, partition, versions)
        last = versions
        done = int((versions["status"] == "trained").sum()) if len(versions) else 0
        return PartitionWrite(written, summarize(versions), log=f": {done} trained, {written - done} skipped")

    run = write_daily_partitions(
        context, warehouse.get(), TABLE, write, {CHECK_NAME: check_partition},
        prepare=lambda _wh, partition: versions_by_partition[partition],
    )
    yield from run.results(
        window_days=config.window_days,
        min_rows=config.min_rows,
        versions=dg.MetadataValue.json(_versions_table(last) if len(last) else []),
    )


@dg.config_mapping
def _predictor_config(config: PredictorConfig) -> dict[str, Any]:
    """The asset's run config (`ops: predictor_coefficients: config:`) for the ops that use it."""
    values = {"config": config.model_dump()}
    return {"fit_project_predictors": values, "write_predictor_coefficients": values}


@dg.graph_asset(
    name=TABLE,
    ins={"outcomes": dg.AssetIn(dagster_type=dg.Nothing), "videos": dg.AssetIn(dagster_type=dg.Nothing)},
    config=_predictor_config,
    group_name="predictors",
    kinds={"python", "scikitlearn", warehouse_kind()},
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    code_version=code_version_of(sys.modules[__name__], predictor_core),
    tags=DAILY_TAG,
    description=(
        "Versioned ridge (engagement_rate) and logistic (follow_through) predictors per project, trained on the "
        "mature videos of the trailing window as of T = D + 1 day, with out-of-time held-out quality; "
        "too little data records a skip and the previous trained version stays latest. "
        "One fit step per project."
    ),
    check_specs=[CHECK_SPEC],
)
def predictor_coefficients(outcomes, videos):
    work, plan = predictor_projects(outcomes=outcomes, videos=videos)
    return write_predictor_coefficients(plan=plan, fitted=work.map(fit_project_predictors).collect())
