"""The Dagster instance the CLI runs on: `DAGSTER_HOME`, default `$LEARNING_LOOP_HOME/dagster`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import dagster as dg

from learning_loop.settings import Settings


def ensure_dagster_home(settings: Settings) -> Path:
    """Create the instance folder with the embedded `dagster.yaml` if it has none."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        template = resources.files("learning_loop") / "templates" / "dagster.embedded.yaml"
        config.write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    return home


def get_instance(settings: Settings) -> dg.DagsterInstance:
    """The instance of these settings (created on first use); the caller disposes it."""
    return dg.DagsterInstance.from_config(str(ensure_dagster_home(settings)))
