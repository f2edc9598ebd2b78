"""The Dagster instance the CLI runs on: `DAGSTER_HOME`, default `$LEARNING_LOOP_HOME/dagster`."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from learning_loop import settings


def ensure_dagster_home() -> Path:
    """Point DAGSTER_HOME at the configured folder and give it a dagster.yaml if it has none."""
    home = settings.dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        template = resources.files("learning_loop") / "templates" / "dagster.embedded.yaml"
        config.write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    return home


def get_instance():
    """The configured Dagster instance (created on first use)."""
    import dagster as dg

    ensure_dagster_home()
    return dg.DagsterInstance.get()
