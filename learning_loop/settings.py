"""Runtime layout (SPEC §1): where state lives, resolved from the environment.

Functions rather than module constants, so tests and the CLI can change the
environment and see the change.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

DEFAULT_START_DATE = "2024-01-01"
LANDING_KINDS: tuple[str, ...] = ("videos", "metrics")


def home() -> Path:
    """`LEARNING_LOOP_HOME`, default `data/runtime` under the working directory."""
    value = os.environ.get("LEARNING_LOOP_HOME")
    return Path(value).resolve() if value else (Path.cwd() / "data" / "runtime").resolve()


def landing_dir(kind: str | None = None) -> Path:
    base = home() / "landing"
    return base / kind if kind else base


def warehouse_url() -> str:
    """`LEARNING_LOOP_WAREHOUSE_URL`, default a DuckDB file under the home."""
    value = os.environ.get("LEARNING_LOOP_WAREHOUSE_URL")
    return value if value else f"duckdb:///{home() / 'warehouse.duckdb'}"


def dagster_home() -> Path:
    """`DAGSTER_HOME`, default `$LEARNING_LOOP_HOME/dagster`."""
    value = os.environ.get("DAGSTER_HOME")
    return Path(value).resolve() if value else home() / "dagster"


def start_date() -> str:
    """`LEARNING_LOOP_START_DATE` (first daily partition), validated as YYYY-MM-DD."""
    value = os.environ.get("LEARNING_LOOP_START_DATE", DEFAULT_START_DATE)
    try:
        date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"LEARNING_LOOP_START_DATE must be YYYY-MM-DD, got {value!r}") from exc
    return value
