"""Shared pieces of the read-only views: project lookup and JSON-ready records."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from learning_loop.warehouse.backend import Warehouse, finite_or_none


class UnknownProject(LookupError):
    pass


def known_projects(wh: Warehouse) -> list[str]:
    """Projects with at least one video: the ones `require_project` accepts (metrics alone do not
    make a project known; their video may not have arrived yet)."""
    frame = wh.query_df("SELECT DISTINCT project_id FROM videos ORDER BY 1")
    return frame["project_id"].tolist()


def require_project(wh: Warehouse, project: str) -> None:
    if not wh.scalar("SELECT count(*) FROM videos WHERE project_id = :p", {"p": project}):
        projects = known_projects(wh)
        hint = f"known projects: {', '.join(projects[:10])}" if projects else "no videos ingested yet: run `learning-loop ingest`"
        raise UnknownProject(f"unknown project {project!r} ({hint})")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        out.append({k: plain(v) for k, v in row.items()})
    return out


def plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    return finite_or_none(value)


