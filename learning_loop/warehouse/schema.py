"""Contract tables (SPEC §7) with portable column types.

One declaration serves both backends: `ddl(dialect)` renders it. Tables are
created with IF NOT EXISTS and missing columns are added, so a warehouse made
by an older version gains new columns without losing rows.
"""

from __future__ import annotations

from dataclasses import dataclass

# portable type -> (duckdb, postgresql)
_TYPES: dict[str, tuple[str, str]] = {
    "text": ("VARCHAR", "TEXT"),
    "int": ("BIGINT", "BIGINT"),
    "float": ("DOUBLE", "DOUBLE PRECISION"),
    "bool": ("BOOLEAN", "BOOLEAN"),
    "ts": ("TIMESTAMP", "TIMESTAMP"),  # naive, always UTC
    "date": ("DATE", "DATE"),
}


def _quoted(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]
    partitioned: bool = False
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def column_list(self) -> str:
        """The columns, quoted, for INSERT/COPY column lists (`at` is a reserved word in DuckDB)."""
        return _quoted(self.column_names)

    def ddl(self, dialect: str) -> list[str]:
        pick = 0 if dialect == "duckdb" else 1
        cols = ", ".join(f'"{name}" {_TYPES[kind][pick]}' for name, kind in self.columns)
        statements = [f"CREATE TABLE IF NOT EXISTS {self.name} ({cols})"]
        for i, index_cols in enumerate(self.indexes):
            statements.append(
                f"CREATE INDEX IF NOT EXISTS ix_{self.name}_{i} ON {self.name} ({_quoted(index_cols)})"
            )
        return statements

    def add_column_ddl(self, dialect: str, column: str) -> str:
        kind = dict(self.columns)[column]
        pick = 0 if dialect == "duckdb" else 1
        return f'ALTER TABLE {self.name} ADD COLUMN "{column}" {_TYPES[kind][pick]}'


RECIPE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("preset", "text"),
    ("hook_type", "text"),
    ("scene_count", "int"),
    ("narration_wpm_bucket", "text"),
    ("caption_density_bucket", "text"),
    ("ending_type", "text"),
)

VIDEOS = Table(
    "videos",
    (
        ("project_id", "text"),
        ("video_id", "text"),
        ("published_at", "ts"),
        ("topic", "text"),
        ("topic_hash", "text"),
        *RECIPE_COLUMNS,
        ("narration_wpm", "float"),
        ("caption_density", "float"),
        ("recipe_hash", "text"),
        ("content_type", "text"),
        ("quality_score", "float"),
        ("novelty_score", "float"),
        ("expertise_level", "float"),
        ("viral_score", "float"),
        ("job_id", "text"),
        ("generation_mode", "text"),
        ("source_file", "text"),
        ("source_row", "int"),
        ("loaded_at", "ts"),
    ),
    indexes=(("project_id", "video_id"),),
)

METRIC_SNAPSHOTS = Table(
    "metric_snapshots",
    (
        ("project_id", "text"),
        ("video_id", "text"),
        ("observed_at", "ts"),
        ("views", "int"),
        ("likes", "int"),
        ("comments", "int"),
        ("avg_view_duration_s", "float"),
        ("followers_gained", "int"),
        ("shares", "int"),
        ("source_file", "text"),
        ("source_row", "int"),
        ("loaded_at", "ts"),
    ),
    indexes=(("project_id", "video_id", "observed_at"),),
)

QUARANTINE = Table(
    "quarantine",
    (
        ("kind", "text"),
        ("file_name", "text"),
        ("row_number", "int"),
        ("reason", "text"),
        ("raw", "text"),
        ("quarantined_at", "ts"),
    ),
)

INGESTED_FILES = Table(
    "ingested_files",
    (
        ("kind", "text"),
        ("file_name", "text"),
        ("sha256", "text"),
        ("status", "text"),
        ("rows_read", "int"),
        ("rows_loaded", "int"),
        ("rows_quarantined", "int"),
        ("reason", "text"),
        ("loaded_at", "ts"),
        # the file's size and modification time when it was hashed (NULL when it was modified less than a
        # second before): an unchanged file is recognised without hashing it again (ingestion/landing.py)
        ("size_bytes", "int"),
        ("mtime_ns", "int"),
    ),
)

OUTCOMES = Table(
    "outcomes",
    (
        ("partition_date", "date"),
        ("project_id", "text"),
        ("video_id", "text"),
        ("published_at", "ts"),
        ("recipe_hash", "text"),
        ("content_type", "text"),
        ("snapshot_count", "int"),
        ("last_observed_at", "ts"),
        ("views_6h", "float"),
        ("is_mature", "bool"),
        ("views", "int"),
        ("likes", "int"),
        ("comments", "int"),
        ("followers_gained", "int"),
        ("avg_view_duration_s", "float"),
        ("engagement_rate", "float"),
        ("follow_through", "bool"),
    ),
    partitioned=True,
    indexes=(("partition_date", "project_id"),),
)

PERCENTILE_REWARDS = Table(
    "percentile_rewards",
    (
        ("partition_date", "date"),
        ("project_id", "text"),
        ("video_id", "text"),
        ("published_at", "ts"),
        ("recipe_hash", "text"),
        ("avg_view_duration_s", "float"),
        ("views_6h", "float"),
        ("engagement_rate", "float"),
        ("avd_pct", "float"),
        ("views_6h_pct", "float"),
        ("engagement_pct", "float"),
        ("reward", "float"),
        ("reference_size", "int"),
        ("weight_avd", "float"),
        ("weight_views_6h", "float"),
        ("weight_engagement", "float"),
        ("window_days", "int"),
    ),
    partitioned=True,
    indexes=(("partition_date", "project_id"),),
)

RECIPE_STATS = Table(
    "recipe_stats",
    (
        ("partition_date", "date"),
        ("project_id", "text"),
        ("recipe_hash", "text"),
        *RECIPE_COLUMNS,
        ("times_used", "int"),
        ("scored_videos", "int"),
        ("avg_reward", "float"),
        ("best_reward", "float"),
        ("last_used_at", "ts"),
        ("window_days", "int"),
    ),
    partitioned=True,
    indexes=(("partition_date", "project_id"),),
)

RECIPES = Table(
    "recipes",
    (
        ("project_id", "text"),
        ("recipe_hash", "text"),
        *RECIPE_COLUMNS,
        ("times_used", "int"),
        ("first_used_at", "ts"),
        ("last_used_at", "ts"),
        ("registered_at", "ts"),
    ),
)

# ---------------------------------------------------------------- planning and experiments (SPEC §5–6)

PLANNED_BATCHES = Table(
    "planned_batches",
    (
        ("batch_id", "text"),
        ("project_id", "text"),
        ("batch_date", "date"),
        ("as_of", "ts"),
        ("seed", "int"),
        ("requested", "int"),
        ("planned", "int"),
        ("exploit_count", "int"),
        ("explore_count", "int"),
        ("jobs_created", "int"),
        ("jobs_completed", "int"),
        ("stats_partition_date", "date"),
        ("skipped", "text"),  # JSON list of {topic, reason}
        ("plan_json", "text"),  # the plan-next --json output
        ("run_id", "text"),
        ("created_at", "ts"),
        ("explore_ratio", "float"),
        ("policy", "text"),  # the planner's policy (additive_thompson, or ranking when no model can be fitted)
        ("propensity_samples", "int"),  # Monte Carlo replays behind the logged propensities
        ("running_experiment_cap", "int"),
    ),
)

VIDEO_JOBS = Table(
    "video_jobs",
    (
        ("job_id", "text"),
        ("batch_id", "text"),
        ("project_id", "text"),
        ("topic", "text"),
        ("topic_hash", "text"),
        ("generation_mode", "text"),
        *RECIPE_COLUMNS,
        ("recipe_hash", "text"),
        ("experiment_id", "text"),
        ("reason", "text"),
        ("brief", "text"),  # JSON generation brief
        ("content_type", "text"),
        ("posting_hour", "int"),
        ("predicted_engagement_rate", "float"),
        ("predicted_follow_through", "float"),
        ("prediction_reason", "text"),
        ("gate_passed", "bool"),
        # logged propensities (issue 12): the probability with which the planner chose this job's
        # recipe / content type / posting hour given its inputs; `propensity` is their product
        ("recipe_propensity", "float"),
        ("content_propensity", "float"),
        ("hour_propensity", "float"),
        ("propensity", "float"),
        ("planner", "text"),  # the policy that planned the job, e.g. additive_thompson
        ("posterior_mean", "float"),  # the model's estimate of the job's value (model target units)
        ("posterior_sd", "float"),
        ("status", "text"),  # planned | completed
        ("video_id", "text"),
        ("completed_at", "ts"),
        ("created_at", "ts"),
    ),
    indexes=(("project_id", "topic_hash"),),
)

EXPERIMENTS = Table(
    "experiments",
    (
        ("experiment_id", "text"),
        ("project_id", "text"),
        ("variable_tested", "text"),
        ("baseline_value", "text"),
        ("variant_value", "text"),
        ("baseline_recipe_hash", "text"),
        ("variant_recipe_hash", "text"),
        ("status", "text"),  # running | completed
        ("winner", "text"),  # baseline | variant | inconclusive (null while running)
        ("started_at", "ts"),
        ("completed_at", "ts"),
        ("level", "float"),  # frozen rules
        ("min_n_per_arm", "int"),
        ("max_duration_days", "int"),
        ("created_batch_id", "text"),
        ("baseline_avg_reward", "float"),
        ("variant_avg_reward", "float"),
    ),
)

EXPERIMENT_VERDICTS = Table(
    "experiment_verdicts",
    (
        ("partition_date", "date"),
        ("experiment_id", "text"),
        ("project_id", "text"),
        ("n_baseline", "int"),
        ("n_variant", "int"),
        ("baseline_mean", "float"),
        ("variant_mean", "float"),
        ("effect", "float"),
        ("ci_low", "float"),
        ("ci_high", "float"),
        ("statistic", "float"),
        ("method", "text"),
        ("mde", "float"),
        ("winner", "text"),
        ("status", "text"),
        ("decided_reason", "text"),
        ("level", "float"),
        ("evaluated_at", "ts"),
    ),
    partitioned=True,
)

# ---------------------------------------------------------------- bandits and predictors (seed 004)

BANDIT_ARMS = Table(
    "bandit_arms",
    (
        ("partition_date", "date"),
        ("project_id", "text"),
        ("arm_type", "text"),  # content | timing
        ("arm", "text"),
        ("hour", "int"),
        ("pulls", "int"),
        ("successes", "int"),
        ("failures", "int"),
        ("success_rate", "float"),
        ("alpha", "float"),
        ("beta", "float"),
        ("mean", "float"),
        ("posterior_sd", "float"),
        ("ucb1", "float"),
        ("window_days", "int"),
        ("success_threshold", "float"),
    ),
    partitioned=True,
)

PREDICTOR_COEFFICIENTS = Table(
    "predictor_coefficients",
    (
        ("partition_date", "date"),
        ("project_id", "text"),
        ("model", "text"),  # ridge_engagement_rate | logistic_follow_through
        ("version_id", "text"),
        ("status", "text"),  # trained | skipped
        ("skip_reason", "text"),
        ("trained_at", "ts"),
        ("n_train", "int"),
        ("n_holdout", "int"),
        ("hyperparameters", "text"),  # JSON
        ("coefficients", "text"),  # JSON {feature: weight}
        ("intercept", "float"),
        ("r2", "float"),
        ("mae", "float"),
        ("baseline_mae", "float"),
        ("log_loss", "float"),
        ("auc", "float"),
        ("calibration_error", "float"),
        ("model_json", "text"),  # everything needed to predict
    ),
    partitioned=True,
)

# --------------------------------------------------------------------------- active learning (SPEC §9–12)

LABELS = Table(
    "labels",
    (
        ("agent", "text"),
        ("example_id", "text"),
        ("source", "text"),
        ("label", "int"),
        ("labeled_at", "ts"),
        ("features", "text"),  # JSON object {feature: number} of the row's f_<name> columns (missing omitted)
        ("confidence", "float"),
        ("labeler", "text"),
        ("input_text", "text"),
        ("expected_output", "text"),
        ("source_file", "text"),
        ("source_row", "int"),
        ("loaded_at", "ts"),
    ),
    indexes=(("agent", "example_id", "source"),),
)

JUDGMENTS = Table(
    "judgments",
    (
        ("agent", "text"),
        ("example_id", "text"),
        ("judge", "text"),
        ("score", "float"),
        ("judged_at", "ts"),
        ("source_file", "text"),
        ("source_row", "int"),
        ("loaded_at", "ts"),
    ),
    indexes=(("agent", "example_id", "judge"),),
)

DECISIONS = Table(
    "decisions",
    (
        ("agent", "text"),
        ("decision_id", "text"),
        ("bundle_id", "text"),
        ("decided_at", "ts"),
        ("quality", "float"),
        ("latency_ms", "float"),
        ("route_key", "text"),
        ("source_file", "text"),
        ("source_row", "int"),
        ("loaded_at", "ts"),
    ),
    indexes=(("agent", "decision_id"), ("agent", "bundle_id", "decided_at")),
)

BUNDLES = Table(
    "bundles",
    (
        ("bundle_id", "text"),
        ("agent", "text"),
        ("model_type", "text"),
        ("source", "text"),  # trained | manual
        ("training_count", "int"),
        ("accuracy", "float"),
        ("thresholds", "text"),  # JSON {param: number}
        ("record", "text"),  # JSON of the whole trained bundle: model, snapshot, holdout ids (reproducible)
        ("base_bundle_id", "text"),
        ("created_at", "ts"),
        ("created_by", "text"),
        ("ran_as", "text"),
    ),
    indexes=(("bundle_id",), ("agent", "created_at")),
)

APPROVALS = Table(
    "approvals",
    (
        ("approval_id", "text"),
        ("agent", "text"),
        ("bundle_id", "text"),
        ("status", "text"),  # pending | approved | rejected | applied
        ("recommendation", "text"),
        ("diff", "text"),  # JSON {"changes": [...], "accuracy_delta": x}
        ("training_count", "int"),
        ("requested_by", "text"),
        ("requested_ran_as", "text"),
        ("created_at", "ts"),
        ("decided_by", "text"),
        ("decided_ran_as", "text"),
        ("decided_at", "ts"),
        ("rationale", "text"),
        ("applied_at", "ts"),
        ("canary_percent", "int"),
    ),
    indexes=(("approval_id",), ("status", "created_at")),
)

CANARIES = Table(
    "canaries",
    (
        ("agent", "text"),
        ("stable_bundle_id", "text"),
        ("canary_bundle_id", "text"),
        ("canary_percent", "int"),
        ("deployed_at", "ts"),
        ("percent_since", "ts"),
        ("updated_at", "ts"),
    ),
    indexes=(("agent",),),
)

CANARY_CHECKS = Table(
    "canary_checks",
    (
        ("checked_at", "ts"),
        ("agent", "text"),
        ("canary_bundle_id", "text"),
        ("stable_bundle_id", "text"),
        ("canary_percent", "int"),
        ("action", "text"),  # rollback | none | refused
        ("reason", "text"),
        ("recommendation", "text"),
        ("quality_delta", "float"),
        ("latency_delta", "float"),
        ("quality_ci_low", "float"),
        ("quality_ci_high", "float"),
        ("latency_ci_low", "float"),
        ("latency_ci_high", "float"),
        ("n_canary", "int"),
        ("n_stable", "int"),
        ("hours_running", "float"),
        ("details", "text"),  # JSON
        ("run_id", "text"),
    ),
    indexes=(("agent", "checked_at"),),
)

JUDGE_WEIGHTS = Table(
    "judge_weights",
    (
        ("partition_date", "date"),
        ("agent", "text"),
        ("judge", "text"),
        ("weight", "float"),
        ("n_gold", "int"),
        ("auc", "float"),
        ("raw_agreement", "float"),
        ("reason", "text"),
        ("window_days", "int"),
        ("computed_at", "ts"),
    ),
    partitioned=True,
)

AUDIT_LOG = Table(
    "audit_log",
    (
        ("at", "ts"),
        ("agent", "text"),
        ("action", "text"),
        ("actor", "text"),
        ("ran_as", "text"),
        ("reason", "text"),
        ("details", "text"),  # JSON object
        ("run_id", "text"),
    ),
    indexes=(("at",), ("agent", "action")),
)

LEARNING_STATE = Table(
    "learning_state",
    (
        ("paused", "bool"),
        ("reason", "text"),
        ("actor", "text"),
        ("ran_as", "text"),
        ("changed_at", "ts"),
    ),
)

TRAINING_RUNS = Table(
    "training_runs",
    (
        ("run_id", "text"),
        ("kind", "text"),
        ("agent", "text"),
        ("status", "text"),  # pending_review | skipped | failed
        ("reason", "text"),
        ("created_at", "ts"),
        ("details", "text"),  # JSON
    ),
)

RETRIEVAL_PAIRS = Table(
    "retrieval_pairs",
    (
        ("query", "text"),
        ("document", "text"),
        ("relevant", "int"),
        ("observed_at", "ts"),
        ("source_file", "text"),
        ("source_row", "int"),
        ("loaded_at", "ts"),
    ),
)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        VIDEOS,
        METRIC_SNAPSHOTS,
        QUARANTINE,
        INGESTED_FILES,
        OUTCOMES,
        PERCENTILE_REWARDS,
        RECIPE_STATS,
        RECIPES,
        PLANNED_BATCHES,
        VIDEO_JOBS,
        EXPERIMENTS,
        EXPERIMENT_VERDICTS,
        BANDIT_ARMS,
        PREDICTOR_COEFFICIENTS,
        LABELS,
        JUDGMENTS,
        DECISIONS,
        BUNDLES,
        APPROVALS,
        CANARIES,
        CANARY_CHECKS,
        JUDGE_WEIGHTS,
        AUDIT_LOG,
        LEARNING_STATE,
        TRAINING_RUNS,
        RETRIEVAL_PAIRS,
    )
}


def register(table: Table) -> Table:
    """Add a table declared by a later stage (planning, bandits, …) to the contract set."""
    TABLES[table.name] = table
    return table
