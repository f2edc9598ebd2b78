"""What every command module shares: errors, `--json` emission, formatting, warehouse access, launching runs."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from learning_loop.domain.asof import parse_partition_date
from learning_loop.orchestration.runner import RunOutcome, run_job
from learning_loop.settings import Settings
from learning_loop.stores.audit import RAN_AS_TAG, os_identity
from learning_loop.warehouse.backend import DuckDBWarehouse, Warehouse, open_warehouse

EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 1

#: `add(name, func, help, json_flag=True) -> ArgumentParser`, given to every module's `register`.
AddCommand = Callable[..., argparse.ArgumentParser]


class BadInput(ValueError):
    """The operator's input is wrong; nothing was changed."""


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings `main` read once for this invocation."""
    return args.settings


def emit(args: argparse.Namespace, payload: Any, render: Callable[[Any], str]) -> None:
    """`--json`: the payload as JSON; otherwise the rendered text."""
    if getattr(args, "json", False):
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(render(payload))


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a text table: fixed digits for floats, "-" for a missing value."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def warehouse(args: argparse.Namespace, create: bool = False) -> Warehouse:
    """The configured warehouse, with every contract table present.

    A read-only command (`create=False`) never creates a DuckDB file that is not there yet: it says
    what to run first instead."""
    settings = settings_of(args)
    wh = open_warehouse(settings.warehouse_url, lock_timeout_s=settings.duckdb_lock_timeout_s)
    if not create and isinstance(wh, DuckDBWarehouse) and not wh.path.exists():
        raise BadInput(
            f"no warehouse yet at {wh.path} (LEARNING_LOOP_HOME={settings.home}): "
            "run `learning-loop ingest` or `learning-loop demo` first"
        )
    wh.ensure_schema()
    return wh


def check_warehouse_url(args: argparse.Namespace) -> None:
    """An unusable or unreachable warehouse is a one-line error before any run is launched
    (so no failed run is recorded for it)."""
    settings = settings_of(args)
    wh = open_warehouse(settings.warehouse_url)  # raises WarehouseError on a malformed URL
    if not isinstance(wh, DuckDBWarehouse):
        wh.scalar("SELECT 1")  # raises WarehouseError: cannot connect to PostgreSQL warehouse …


def launch(args: argparse.Namespace, job_name: str, **kwargs: Any) -> RunOutcome:
    """Run a job of the code location on the configured instance with this invocation's settings.
    `--verbose` shows Dagster's log lines on the console; otherwise they stay in the UI."""
    kwargs["tags"] = {RAN_AS_TAG: os_identity(), **(kwargs.get("tags") or {})}  # who really ran it (audit log)
    verbose = getattr(args, "verbose", False)
    kwargs.setdefault("log_level", "INFO" if verbose else "CRITICAL")
    if verbose or getattr(args, "json", False):
        kwargs.pop("progress", None)  # Dagster's own lines are shown instead / stdout stays pure JSON
    return run_job(job_name, settings=settings_of(args), **kwargs)


def ui_hint(run_id: str) -> str:
    return f"run {run_id} — see it with `learning-loop ui` (http://127.0.0.1:3000/runs/{run_id})"


def yesterday() -> date:
    return datetime.now(timezone.utc).date() - timedelta(days=1)


def partition_date(args: argparse.Namespace, value: str) -> date:
    """A complete daily partition on or after the first one, or BadInput."""
    try:
        day = parse_partition_date(value)
    except ValueError as exc:
        raise BadInput(f"--date: {exc}") from None
    first = date.fromisoformat(settings_of(args).start_date)
    if day < first:
        raise BadInput(f"--date {value} is before the first partition {first} (LEARNING_LOOP_START_DATE)")
    if day > yesterday():
        raise BadInput(f"--date {value} is not complete yet: the latest partition is {yesterday()}")
    end = settings_of(args).end_date
    if end is not None and day >= date.fromisoformat(end):
        raise BadInput(f"--date {value} is on or after LEARNING_LOOP_END_DATE {end}")
    return day
