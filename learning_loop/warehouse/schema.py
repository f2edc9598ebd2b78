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


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]
    partitioned: bool = False
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def ddl(self, dialect: str) -> list[str]:
        pick = 0 if dialect == "duckdb" else 1
        cols = ", ".join(f"{name} {_TYPES[kind][pick]}" for name, kind in self.columns)
        statements = [f"CREATE TABLE IF NOT EXISTS {self.name} ({cols})"]
        for i, index_cols in enumerate(self.indexes):
            statements.append(
                f"CREATE INDEX IF NOT EXISTS ix_{self.name}_{i} ON {self.name} ({', '.join(index_cols)})"
            )
        return statements

    def add_column_ddl(self, dialect: str, column: str) -> str:
        kind = dict(self.columns)[column]
        pick = 0 if dialect == "duckdb" else 1
        return f"ALTER TABLE {self.name} ADD COLUMN {column} {_TYPES[kind][pick]}"


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
    )
}


def register(table: Table) -> Table:
    """Add a table declared by a later stage (planning, bandits, …) to the contract set."""
    TABLES[table.name] = table
    return table
