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
from learning_loop.warehouse.backend import Warehouse, open_warehouse

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


def warehouse(args: argparse.Namespace) -> Warehouse:
    """The configured warehouse, with every contract table present."""
    settings = settings_of(args)
    wh = open_warehouse(settings.warehouse_url, lock_timeout_s=settings.duckdb_lock_timeout_s)
    wh.ensure_schema()
    return wh


def check_warehouse_url(args: argparse.Namespace) -> None:
    """An unusable LEARNING_LOOP_WAREHOUSE_URL is a one-line error before any run is launched."""
    open_warehouse(settings_of(args).warehouse_url)  # raises WarehouseError; connects to nothing


def launch(args: argparse.Namespace, job_name: str, **kwargs: Any) -> RunOutcome:
    """Run a job of the code location on the configured instance with this invocation's settings."""
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
    return day
